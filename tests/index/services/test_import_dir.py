"""``admin import-dir`` on real directories: pypiserver trees (flat and per project) and a devpi
export, files taken as they are (not re-judged by today's upload rules), upload times from
mtimes or one ISO time, idempotent re-runs, refusals that leave nothing behind, namespaces."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import LocalIndex
from tests.index.services.test_namespaces import cli
from trustyard.errors import InvalidInput, NotFound
from trustyard.index.db.models import File, JournalEntry, Project, Release
from trustyard.index.services import accounts, import_dir, namespaces, roles

JSON = "application/vnd.pypi.simple.v1+json"
WHEN = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
# PyPI-era metadata a fresh upload refuses today: License-File under Metadata-Version 2.1
# (PEP 639 came with 2.4), a classifier that is not on the list.
LICENSE_FILE = "License-File: LICENSE\n"
BAD_CLASSIFIER = "Classifier: Framework :: Not A Real One\n"
OLD_METADATA = LICENSE_FILE + BAD_CLASSIFIER


def _touch(paths: list[Path], when: datetime) -> None:
    for path in paths:
        os.utime(path, (when.timestamp(), when.timestamp()))


def _counts(index: LocalIndex) -> tuple[int, int, int, int, list[str]]:
    with index.db.read() as session:
        tables = tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Project, Release, File, JournalEntry)
        )
    stored = sorted(str(p.relative_to(index.data)) for p in (index.data / "files").rglob("*"))
    return (*tables, stored)  # type: ignore[return-value]


@pytest.fixture
def index(local_index: LocalIndex) -> LocalIndex:
    local_index.create_user("olga")
    local_index.create_user("mallory")
    return local_index


def test_a_pypiserver_tree_is_imported_as_it_is(index: LocalIndex, tmp_path: Path) -> None:
    tree = tmp_path / "packages"
    old_sdist = build_sdist(
        tree / "imp-alpha", "imp-alpha", "1.0", metadata_extra=OLD_METADATA, metadata_version="2.1"
    )
    # A fresh upload of it, with the License-File its metadata has in the form (as twine
    # sends it), is refused today, as on PyPI.
    token = index.create_token("mallory")
    fresh = build_sdist(
        tmp_path / "fresh", "imp-alpha", "1.0", metadata_extra=LICENSE_FILE, metadata_version="2.1"
    )
    refused = index.upload(token, fresh, license_file="LICENSE")
    assert refused.status_code == 400, refused.text
    files = [
        old_sdist,
        build_wheel(tree / "imp-alpha", "imp-alpha", "1.0", metadata_extra=BAD_CLASSIFIER),
        build_wheel(tree, "imp-beta", "2.0"),  # flat beside the project directories
    ]
    (tree / "README.txt").write_text("not a distribution")
    (tree / "imp-alpha" / "imp_alpha-1.0.doc.zip").write_bytes(b"devpi docs")
    (tree / "imp-alpha" / "imp_alpha-0.9-py2.7.egg").write_bytes(b"an egg")
    _touch(files, WHEN)

    code, out, err = cli(index, "admin", "import-dir", str(tree), "--owner", "olga")
    assert code == 0, err
    assert "3 imported, 0 already present (skipped), 0 refused, 1 in legacy formats" in err
    assert "2 other files ignored" in err
    assert out.count("imported\t") == 3
    assert "unsupported\t" in out

    page = index.get("/simple/imp-alpha/", headers={"Accept": JSON}).json()
    assert sorted(f["filename"] for f in page["files"]) == [
        "imp_alpha-1.0-py3-none-any.whl",
        "imp_alpha-1.0.tar.gz",
    ]
    assert {f["upload-time"] for f in page["files"]} == {"2021-03-04T05:06:07Z"}
    with index.db.read() as session:
        for name in ("imp-alpha", "imp-beta"):
            project = session.scalar(select(Project).where(Project.normalized_name == name))
            assert project is not None
            olga = accounts.get_user(session, "olga")
            assert roles.roles_of(session, project, olga.id) == {roles.ProjectRole.OWNER}
        release = session.scalar(select(Release).where(Release.version == "1.0"))
        assert release is not None
        assert release.created == WHEN.replace(tzinfo=None)
    info = index.get("/pypi/imp-alpha/json").json()["info"]
    assert info["classifiers"] == ["Framework :: Not A Real One"]
    # the wheel's METADATA is served beside it (PEP 658), byte for byte
    wheel = next(f for f in page["files"] if f["filename"].endswith(".whl"))
    assert wheel["core-metadata"]

    before = _counts(index)
    code, out, err = cli(index, "admin", "import-dir", str(tree), "--owner", "olga")
    assert code == 0, err
    assert "0 imported, 3 already present (skipped), 0 refused" in err
    assert out.count("already-present\t") == 3
    assert _counts(index) == before


def test_refused_files_are_named_and_leave_nothing(index: LocalIndex, tmp_path: Path) -> None:
    first = tmp_path / "first"
    build_wheel(first, "imp-delta", "1.0")
    assert cli(index, "admin", "import-dir", str(first), "--owner", "olga")[0] == 0
    with index.db.write() as session:
        namespaces.add_namespace(session, "corp", ["mallory"], actor=None)

    bad = tmp_path / "bad"
    # the same filename with other bytes
    build_wheel(bad / "other", "imp-delta", "1.0", files={"extra.txt": b"other bytes"})
    # a truncated archive
    truncated = build_wheel(bad / "cut", "imp-epsilon", "1.0")
    truncated.write_bytes(truncated.read_bytes()[:200])
    # a filename that names another project than its metadata
    wrong = build_wheel(tmp_path / "wrong", "imp-zeta", "1.0")
    (bad / "wrong").mkdir()
    shutil.copy(wrong, bad / "wrong" / "imp_eta-1.0-py3-none-any.whl")
    # a name in a namespace olga does not own
    build_sdist(bad / "ns", "corp-tool", "1.0")
    before = _counts(index)

    code, out, err = cli(index, "admin", "import-dir", str(bad), "--owner", "olga")
    assert code == 1
    assert "0 imported, 0 already present (skipped), 4 refused" in err
    lines = {line.split("\t")[1].rsplit("/", 1)[1]: line for line in out.splitlines()}
    assert "already here with other bytes" in lines["imp_delta-1.0-py3-none-any.whl"]
    assert "Invalid distribution file" in lines["imp_epsilon-1.0-py3-none-any.whl"]
    assert "does not match the filename" in lines["imp_eta-1.0-py3-none-any.whl"]
    assert "reserved namespace 'corp'" in lines["corp_tool-1.0.tar.gz"]
    assert _counts(index) == before


def test_the_service_imports_one_file_at_a_chosen_time(index: LocalIndex, tmp_path: Path) -> None:
    """What tests of upload-time cut-offs (uv's exclude-newer) call to publish a release."""
    when = datetime(2024, 5, 1, 12, 0, 0)
    result = index.import_file(
        build_wheel(tmp_path, "imp-theta", "1.0"), owner="olga", upload_time=when
    )
    assert result.outcome == "imported", result.detail
    page = index.get("/simple/imp-theta/", headers={"Accept": JSON}).json()
    assert page["files"][0]["upload-time"] == "2024-05-01T12:00:00Z"
    ctx = index.ctx
    with pytest.raises(NotFound, match="no user named"):
        import_dir.import_directory(
            db=ctx.db,
            storage=ctx.storage,
            settings=ctx.settings,
            descriptions=ctx.descriptions,
            directory=tmp_path,
            owner="nobody",
        )


def test_upload_times_are_parsed_strictly() -> None:
    assert import_dir.parse_upload_time("FROM-MTIME") is None
    assert import_dir.parse_upload_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12)
    assert import_dir.parse_upload_time("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12)
    assert import_dir.parse_upload_time("2024-05-01") == datetime(2024, 5, 1)
    with pytest.raises(InvalidInput, match="neither FROM-MTIME nor an ISO 8601"):
        import_dir.parse_upload_time("yesterday")
    with pytest.raises(InvalidInput, match="in the future"):
        import_dir.parse_upload_time("2999-01-01T00:00:00Z")


def test_the_cli_refuses_bad_arguments_before_importing(index: LocalIndex, tmp_path: Path) -> None:
    build_wheel(tmp_path / "tree", "imp-iota", "1.0")
    for args, problem in [
        ([str(tmp_path / "missing"), "--owner", "olga"], "is not a directory"),
        ([str(tmp_path / "tree"), "--owner", "nobody"], "no user named 'nobody'"),
        ([str(tmp_path / "tree"), "--owner", "olga", "--upload-time", "soon"], "neither"),
    ]:
        code, _, err = cli(index, "admin", "import-dir", *args)
        assert code != 0
        assert problem in err
    assert index.get("/simple/imp-iota/").status_code == 404


def test_a_legacy_zip_sdist_with_an_unnormalized_name_is_imported(
    index: LocalIndex, tmp_path: Path
) -> None:
    """What PyPI took in 2010: ``Imp.Kappa-1.0.zip``, Metadata-Version 1.0; refused by an
    upload today (PEP 625), kept as it is by an import, served under its own filename."""
    tree = tmp_path / "old"
    tree.mkdir()
    path = tree / "Imp.Kappa-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "Imp.Kappa-1.0/PKG-INFO",
            "Metadata-Version: 1.0\nName: Imp.Kappa\nVersion: 1.0\nSummary: old\n",
        )
        archive.writestr("Imp.Kappa-1.0/setup.py", "from distutils.core import setup\n")
    code, out, err = cli(index, "admin", "import-dir", str(tree), "--owner", "olga")
    assert code == 0, out + err
    page = index.get("/simple/imp-kappa/", headers={"Accept": JSON}).json()
    assert [f["filename"] for f in page["files"]] == ["Imp.Kappa-1.0.zip"]


def test_a_devpi_export_keeps_devpi_upload_times_and_leaves_its_docs_out(
    index: LocalIndex, tmp_path: Path
) -> None:
    """``devpi-server --export``: ``dataindex.json`` lists each index's files (devpi-server's
    ``importexport.py``); release files carry devpi's ``last_modified``, doc zips are left out
    (an old export names them ``project.zip``, which is no distribution)."""
    export = tmp_path / "devpi-export"
    sdist = build_sdist(export / "root" / "dev" / "imp-gamma" / "3.0", "imp-gamma", "3.0")
    docs = export / "root" / "dev" / "imp-gamma.zip"
    with zipfile.ZipFile(docs, "w") as archive:
        archive.writestr("index.html", "<p>docs</p>")
    attachment = export / "attach" / "0123" / "toxresult" / "0"
    attachment.parent.mkdir(parents=True)
    attachment.write_text("{}")
    index_entry = {
        "indexconfig": {"type": "stage", "bases": []},
        "projects": {"imp-gamma": {"3.0": {"name": "imp-gamma", "version": "3.0"}}},
        "files": [
            {
                "type": "releasefile",
                "projectname": "imp-gamma",
                "relpath": str(sdist.relative_to(export)),
                "entrymapping": {"last_modified": "Tue, 01 Jun 2021 10:00:00 GMT"},
            },
            {"type": "doczip", "projectname": "imp-gamma", "relpath": "root/dev/imp-gamma.zip"},
        ],
    }
    (export / "dataindex.json").write_text(
        json.dumps({"dumpversion": "2", "users": {}, "indexes": {"root/dev": index_entry}})
    )
    code, out, err = cli(index, "admin", "import-dir", str(export), "--owner", "olga")
    assert code == 0, out + err
    assert "1 imported, 0 already present (skipped), 0 refused" in err
    assert "3 other files ignored" in err  # dataindex.json, the attachment, the doc zip
    page = index.get("/simple/imp-gamma/", headers={"Accept": JSON}).json()
    assert [f["upload-time"] for f in page["files"]] == ["2021-06-01T10:00:00Z"]

    (export / "dataindex.json").write_text("{not json")
    code, _, err = cli(index, "admin", "import-dir", str(export), "--owner", "olga")
    assert code != 0
    assert "is not a devpi export's index" in err
