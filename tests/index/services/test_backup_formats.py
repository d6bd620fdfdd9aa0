"""``admin import`` reads the exports of older trustyards, not only its own.

``tests/data/exports/format1-schema0008`` was written by ``trustyard admin export`` at commit
c1ee955 (export format 1, schema revision 0008): two users, a project with two releases (one
yanked), an sdist each (no wheels: a checked-in wheel is a binary to Scorecard and to
``trustyard audit``), a publisher and a pending publisher. An import of it must
bring those rows to the newest schema exactly as the migrations would bring an index upgraded
in place, on both backends; what the import cannot read must be refused with the target left
as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from tests.conftest import IndexServer
from tests.index.conftest import import_refused, request, snapshot
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.services.backup import FORMAT_VERSION

OLD_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format1-schema0008"
# Written at aa568f6 (format 2, schema 0010): olga owns format2-demo, mia maintains it.
FORMAT_2_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format2-schema0010"
FORMAT_3_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format3-schema0016"
FORMAT_4_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format4-schema0020"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _manifest(export: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((export / "manifest.json").read_text())
    return manifest


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "old-export"
    shutil.copytree(OLD_EXPORT, copy)
    return copy


def _refused(target: IndexServer, source: Path) -> str:
    stderr = import_refused(target, source)
    assert target.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    return stderr


def test_a_format_1_export_at_schema_0008_is_imported_and_upgraded(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    assert _manifest(OLD_EXPORT)["schema"] == "0008"
    fresh_index.cli("admin", "import", str(OLD_EXPORT))

    assert fresh_index.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    page = request(fresh_index, "GET", "/simple/oldexport-demo/", headers={"Accept": JSON_TYPE})
    assert page.status == 200
    files = {f["filename"]: f for f in json.loads(page.body)["files"]}
    assert sorted(files) == ["oldexport_demo-1.0.tar.gz", "oldexport_demo-1.1.tar.gz"]
    assert files["oldexport_demo-1.0.tar.gz"]["yanked"] == "superseded"
    sdist = files["oldexport_demo-1.1.tar.gz"]
    url = urlsplit(urljoin(f"{fresh_index.url}/simple/oldexport-demo/", sdist["url"]))
    served = request(fresh_index, "GET", url.path)
    assert served.status in (200, 302)  # 302: S3, a presigned URL
    listed = _manifest(OLD_EXPORT)["files"]
    assert isinstance(listed, dict)
    assert sdist["hashes"]["sha256"] in {entry["sha256"] for entry in listed.values()}
    publishers = fresh_index.cli("publisher", "list", "oldexport-demo").stdout
    assert "alice/oldexport-demo" in publishers
    assert fresh_index.query("SELECT pending_name FROM publishers WHERE pending_name IS NOT NULL")

    # An export of the imported index is of this trustyard's format and schema, with every row.
    again = tmp_path / "again"
    fresh_index.cli("admin", "export", str(again))
    manifest = _manifest(again)
    assert (manifest["version"], manifest["schema"]) == (FORMAT_VERSION, SCHEMA_HEAD)
    old_tables = _manifest(OLD_EXPORT)["tables"]
    new_tables = manifest["tables"]
    assert isinstance(old_tables, dict)
    assert isinstance(new_tables, dict)
    for name, entry in old_tables.items():
        assert new_tables[name]["rows"] == entry["rows"], name
    assert manifest["files"] == listed


def test_a_format_2_export_at_schema_0010_is_imported_and_upgraded(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    """Format 3 adds role invitations (schema 0016): a format-2 export has none, and its
    roles come through unchanged."""
    assert (_manifest(FORMAT_2_EXPORT)["version"], _manifest(FORMAT_2_EXPORT)["schema"]) == (
        2,
        "0010",
    )
    fresh_index.cli("admin", "import", str(FORMAT_2_EXPORT))
    assert fresh_index.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    roles = fresh_index.query(
        "SELECT u.username, r.role FROM roles r JOIN users u ON u.id = r.user_id"
        " ORDER BY u.username"
    )
    assert roles == [("mia", "maintainer"), ("olga", "owner")]
    assert fresh_index.query("SELECT COUNT(*) FROM role_invitations") == [(0,)]
    again = tmp_path / "again"
    fresh_index.cli("admin", "export", str(again))
    manifest = _manifest(again)
    assert (manifest["version"], manifest["schema"]) == (FORMAT_VERSION, SCHEMA_HEAD)
    tables = manifest["tables"]
    assert isinstance(tables, dict)
    assert tables["role_invitations"]["rows"] == 0
    assert tables["roles"]["rows"] == 2


def test_a_format_3_export_at_schema_0016_is_imported_and_upgraded(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    """Format 4 adds the upstream cache (schema 0018): a format-3 export has none; its
    invitation comes through, and exporting again writes the new tables, empty."""
    assert (_manifest(FORMAT_3_EXPORT)["version"], _manifest(FORMAT_3_EXPORT)["schema"]) == (
        3,
        "0016",
    )
    fresh_index.cli("admin", "import", str(FORMAT_3_EXPORT))
    assert fresh_index.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    assert fresh_index.query("SELECT role FROM role_invitations") == [("maintainer",)]
    assert fresh_index.query("SELECT COUNT(*) FROM upstream_projects") == [(0,)]
    again = tmp_path / "again"
    fresh_index.cli("admin", "export", str(again))
    tables = _manifest(again)["tables"]
    assert isinstance(tables, dict)
    for name in ("upstream_projects", "upstream_files", "upstream_counters"):
        assert tables[name]["rows"] == 0


def test_a_format_4_export_at_schema_0020_is_imported_and_upgraded(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    """Format 5 adds publisher continuity (schema 0022): a format-4 export has none; its
    project status comes through, and exporting again writes the new tables, empty."""
    assert (_manifest(FORMAT_4_EXPORT)["version"], _manifest(FORMAT_4_EXPORT)["schema"]) == (
        4,
        "0020",
    )
    fresh_index.cli("admin", "import", str(FORMAT_4_EXPORT))
    assert fresh_index.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    assert fresh_index.query("SELECT status FROM project_statuses") == [("archived",)]
    again = tmp_path / "again"
    fresh_index.cli("admin", "export", str(again))
    tables = _manifest(again)["tables"]
    assert isinstance(tables, dict)
    for name in ("publisher_continuity", "file_verdicts"):
        assert tables[name]["rows"] == 0


def test_a_schema_this_trustyard_does_not_know_is_refused(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    copy = _copy(tmp_path)
    manifest = _manifest(copy)
    manifest["schema"] = "9999"
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    assert "schema '9999', which this trustyard" in _refused(fresh_index, copy)


def test_an_unknown_format_version_is_refused(fresh_index: IndexServer, tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    manifest = _manifest(copy)
    manifest["version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    assert "format version 99" in _refused(fresh_index, copy)


def test_a_row_an_old_schema_refuses_leaves_the_target_empty_at_the_newest_schema(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    """The insert fails at the export's revision: the target is moved back up, still empty."""
    copy = _copy(tmp_path)
    path = copy / "catalogue" / "journal.jsonl"
    rows = path.read_text().splitlines(keepends=True)
    data = "".join([*rows, rows[-1]])
    path.write_text(data)
    manifest = _manifest(copy)
    tables = manifest["tables"]
    assert isinstance(tables, dict)
    tables["journal"].update(rows=len(rows) + 1, sha256=hashlib.sha256(data.encode()).hexdigest())
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    before = snapshot(fresh_index)
    result = fresh_index.cli("admin", "import", str(copy), check=False)
    assert result.returncode == 1
    assert "catalogue/journal.jsonl does not fit the schema" in result.stderr
    assert snapshot(fresh_index).tables == before.tables
    assert fresh_index.query("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    # and a good import follows
    fresh_index.cli("admin", "import", str(OLD_EXPORT))
    assert request(fresh_index, "GET", "/simple/oldexport-demo/").status == 200
