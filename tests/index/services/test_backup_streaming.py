"""``admin import`` reads an export a row at a time and still checks all of it first.

The source index (on each backend) has real uploads and a journal of more than two insert
batches, so that an import that inserted as it read would already have committed rows when it
reached the end of the journal, the last table. Every refusal here must leave the target
exactly as it was: an empty catalogue, an empty store, an empty spool (the import's scratch
database included). A failure while inserting leaves at most unreferenced bytes, which the
next import of a good export simply writes again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import import_refused, request, snapshot, upload_file
from tests.services import Backend
from trustyard.index.services.backup import BATCH

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
JOURNAL_EXTRA = 2 * BATCH + 500


@pytest.fixture(scope="module")
def export(index: IndexServer, uploader: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export of an index with two wheels (with metadata), an sdist and a long journal."""
    dists = tmp_path_factory.mktemp("dists")
    for version in ("1.0", "1.1"):
        wheel = build_wheel(dists, "streamed", version)
        assert upload_file(index, uploader, wheel, "streamed", version).status == 200
    sdist = build_sdist(dists, "streamed", "1.1")
    assert upload_file(index, uploader, sdist, "streamed", "1.1").status == 200
    row = "('streamed', NULL, NULL, 'bulk', 'alice', '2026-01-01 00:00:00')"
    index.execute(
        "INSERT INTO journal (project_name, version, filename, action, actor, submitted)"
        " VALUES " + ", ".join([row] * JOURNAL_EXTRA)
    )
    target = tmp_path_factory.mktemp("export") / "export"
    index.cli("admin", "export", str(target))
    return target


@pytest.fixture(scope="module")
def empty_target(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[IndexServer]:
    """One new index for every refusal: each must leave it as empty as it found it, so the
    next refusal still meets an empty target."""
    server = start_index(tmp_path_factory.mktemp("target") / "data", backend=backend)
    yield server
    server.stop()


def damaged(export: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(export, copy)
    damage(copy)
    return copy


def lines(export: Path, table: str) -> list[str]:
    return (export / "catalogue" / f"{table}.jsonl").read_text().splitlines(keepends=True)


def rewrite(export: Path, table: str, rows: list[str], *, manifest: bool = True) -> None:
    """Replace a table's lines; with ``manifest``, make its SHA-256 and row count agree."""
    data = "".join(rows).encode()
    (export / "catalogue" / f"{table}.jsonl").write_bytes(data)
    if manifest:
        path = export / "manifest.json"
        content = json.loads(path.read_text())
        content["tables"][table].update(rows=len(rows), sha256=hashlib.sha256(data).hexdigest())
        path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")


def change(line: str, **values: object) -> str:
    row = json.loads(line)
    row.update(values)
    return json.dumps(row) + "\n"


def test_round_trip_of_tables_larger_than_a_batch(export: Path, fresh_index: IndexServer) -> None:
    result = fresh_index.cli("admin", "import", str(export))
    journal = json.loads((export / "manifest.json").read_text())["tables"]["journal"]["rows"]
    assert journal > JOURNAL_EXTRA
    assert f"{journal} journal" in result.stderr
    assert "5 files" in result.stderr  # two wheels, their metadata, the sdist
    assert snapshot(fresh_index).spool == ()  # the scratch database is gone

    again = fresh_index.data.parent / "again"
    fresh_index.cli("admin", "export", str(again))
    for name in sorted((export / "catalogue").iterdir()):
        assert (again / "catalogue" / name.name).read_bytes() == name.read_bytes(), name.name
    first, second = (json.loads((d / "manifest.json").read_text()) for d in (export, again))
    assert {**second, "created": None} == {**first, "created": None}
    # The manifest is written as it always was: earlier trustyards read it unchanged.
    text = (again / "manifest.json").read_text()
    assert text == json.dumps(second, indent=1, sort_keys=True) + "\n"

    page = request(fresh_index, "GET", "/simple/streamed/", headers={"Accept": JSON_TYPE})
    assert page.status == 200
    assert len(json.loads(page.body)["files"]) == 3


def _bad_date_in_the_last_row(export: Path) -> None:
    rows = lines(export, "journal")
    rewrite(export, "journal", [*rows[:-1], change(rows[-1], submitted="yesterday")])


def _last_row_altered(export: Path) -> None:
    rows = lines(export, "journal")
    rewrite(export, "journal", [*rows[:-1], change(rows[-1], actor="mallory")], manifest=False)


def _middle_row_altered(export: Path) -> None:
    rows = lines(export, "journal")
    middle = len(rows) // 2
    rows[middle] = change(rows[middle], action="delete")
    rewrite(export, "journal", rows, manifest=False)


def _middle_file_row_with_other_digest(export: Path) -> None:
    rows = lines(export, "files")
    rows[1] = change(rows[1], sha256="0" * 64)
    rewrite(export, "files", rows)


def _a_row_missing_at_the_end(export: Path) -> None:
    path = export / "manifest.json"
    content = json.loads(path.read_text())
    content["tables"]["journal"]["rows"] += 1
    path.write_text(json.dumps(content))


def _a_file_listed_twice(export: Path) -> None:
    path = export / "manifest.json"
    content = json.loads(path.read_text())
    key, entry = next(iter(content["files"].items()))
    text = json.dumps(content, indent=1, sort_keys=True)
    twice = f'"files": {{\n  {json.dumps(key)}: {json.dumps(entry)},'
    path.write_text(text.replace('"files": {', twice, 1))


def _a_file_named_by_two_rows(export: Path) -> None:
    rows = lines(export, "files")
    copy = change(rows[0], id=999, filename="streamed-9.9-py3-none-any.whl")
    rewrite(export, "files", [*rows, copy])


def _an_unlisted_file(export: Path) -> None:
    (export / "files" / "zz").mkdir()
    (export / "files" / "zz" / "stray.whl").write_bytes(b"not listed")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_bad_date_in_the_last_row, "submitted is not a date"),
        (_last_row_altered, "catalogue/journal.jsonl does not match its SHA-256"),
        (_middle_row_altered, "catalogue/journal.jsonl does not match its SHA-256"),
        (_middle_file_row_with_other_digest, "does not match the catalogue's SHA-256"),
        (_a_row_missing_at_the_end, "rows, the manifest says"),
        (_a_file_listed_twice, "more than once"),
        (_a_file_named_by_two_rows, "in more than one row"),
        (_an_unlisted_file, "files/zz/stray.whl is not listed in the manifest"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_a_damaged_export_is_refused_before_anything_changes(
    export: Path,
    empty_target: IndexServer,
    tmp_path: Path,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    assert message in import_refused(empty_target, damaged(export, tmp_path, damage))
    assert not snapshot(empty_target).tables["files"]  # still a new, empty index


def test_a_row_the_database_refuses_leaves_no_row_and_a_good_import_follows(
    export: Path, fresh_index: IndexServer, tmp_path: Path
) -> None:
    """The last journal row repeats an id: only the insert finds out, at its last batch."""

    def duplicate_id(copy: Path) -> None:
        rows = lines(copy, "journal")
        rewrite(copy, "journal", [*rows, rows[-1]])

    before = snapshot(fresh_index)
    result = fresh_index.cli(
        "admin", "import", str(damaged(export, tmp_path, duplicate_id)), check=False
    )
    assert result.returncode == 1
    assert "catalogue/journal.jsonl does not fit the schema" in result.stderr
    after = snapshot(fresh_index)
    assert after.tables == before.tables  # no row at all, in any table
    assert after.spool == ()
    # Only bytes were left, each under its content address; the next import writes them again.
    listed = json.loads((export / "manifest.json").read_text())["files"]
    assert after.files == {key: entry["sha256"] for key, entry in listed.items()}
    fresh_index.cli("admin", "import", str(export))
    page = request(fresh_index, "GET", "/simple/streamed/", headers={"Accept": JSON_TYPE})
    assert len(json.loads(page.body)["files"]) == 3
