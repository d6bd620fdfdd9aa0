"""The export manifest read and written one file entry at a time (backup_manifest).

Pure functions on files: the streamed reading must see exactly what ``json.loads`` sees, on any
JSON layout and across the reader's 1 MiB window, and the streamed writing must produce the
bytes ``admin export`` always wrote (``json.dumps(indent=1, sort_keys=True)``), so that
exports stay readable by earlier trustyards.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from trustyard.index.services.backup_manifest import (
    CHUNK,
    MAX_VALUE,
    read_manifest,
    write_manifest,
)


def a_manifest(files: int) -> dict[str, Any]:
    """A manifest with ``files`` entries (keys as an export has them, some not ASCII)."""
    entries = {}
    for number in range(files):
        blake = hashlib.blake2b(str(number).encode(), digest_size=32).hexdigest()
        name = f"proj_{number}-1.0-py3-none-any.whl" if number % 7 else f"prøj-{number}.tar.gz"
        entries[f"{blake[:2]}/{blake[2:4]}/{blake[4:]}/{name}"] = {
            "sha256": hashlib.sha256(name.encode()).hexdigest(),
            "size": number * 1009,
        }
    return {
        "created": "2026-11-21T15:00:00+00:00",
        "files": entries,
        "format": "trustyard-index-export",
        "schema": "0011",
        "tables": {"users": {"file": "catalogue/users.jsonl", "rows": 2, "sha256": "ab" * 32}},
        "version": 1,
    }


def streamed(path: Path) -> tuple[Any, list[tuple[str, Any]]]:
    entries: list[tuple[str, Any]] = []
    members = read_manifest(path, lambda key, entry: entries.append((key, entry)))
    return members, entries


@pytest.mark.parametrize(
    "layout",
    [
        {"indent": 1, "sort_keys": True},  # as admin export writes it
        {},  # one line, as a script might rewrite it
        {"indent": "\t", "separators": (" ,", " : ")},  # other whitespace everywhere
        {"ensure_ascii": False},
    ],
    ids=["export", "compact", "spaced", "utf-8"],
)
def test_reads_what_json_loads_reads_across_the_window(tmp_path: Path, layout: Any) -> None:
    manifest = a_manifest(30_000)  # several MiB: values straddle the reader's window
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, **layout), encoding="utf-8")
    assert path.stat().st_size > 3 * CHUNK
    loaded = json.loads(path.read_text(encoding="utf-8"))
    members, entries = streamed(path)
    assert entries == list(loaded["files"].items())  # in file order
    assert members == {**loaded, "files": {}}


def test_a_number_cut_by_the_window_is_read_whole(tmp_path: Path) -> None:
    """A number is complete only when a character follows it: 12345678 must not be read as
    1234 when the window ends inside it (a member's value, or the whole file)."""
    path = tmp_path / "manifest.json"
    head = '{"files": {"a": {"size": 1}}, "x": "'
    middle = '", "version": '
    for cut in range(10):  # the window ends after ``cut`` digits
        pad = CHUNK - len(head) - len(middle) - cut
        path.write_text(head + "y" * pad + middle + "12345678}")
        members, entries = streamed(path)
        assert members["version"] == 12345678, cut
        assert entries == [("a", {"size": 1})]
    path.write_text(" " * (CHUNK - 2) + "12")
    assert streamed(path) == (12, [])


def test_duplicate_entries_each_reach_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"files": {"a": {"size": 1}, "a": {"size": 2}}, "version": 1}')
    assert streamed(path) == ({"files": {}, "version": 1}, [("a", {"size": 1}), ("a", {"size": 2})])


def test_files_that_is_not_an_object_is_returned_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"files": ["a"], "version": 1}')
    assert streamed(path) == ({"files": ["a"], "version": 1}, [])
    path.write_text("[1, 2]")
    assert streamed(path) == ([1, 2], [])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"files": {"a": {"size": 1}}',
        '{"files": {"a": {"size": 1},}}',
        '{"files": {"a" {"size": 1}}}',
        '{"files": {1: {}}}',
        '{"version": 1} {"version": 2}',
        '{"version": 1,}',
        '{"version": tru}',
    ],
)
def test_not_json_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError or ours, both ValueError
        streamed(path)


def test_a_huge_member_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"created": "' + "x" * (MAX_VALUE + 2 * CHUNK) + '"}')
    with pytest.raises(ValueError, match="a value of more than"):
        streamed(path)


@pytest.mark.parametrize("files", [0, 1, 5000])
def test_writes_the_bytes_json_dumps_writes(tmp_path: Path, files: int) -> None:
    manifest = a_manifest(files)
    path = tmp_path / "manifest.json"
    members = {k: v for k, v in manifest.items() if k != "files"}
    write_manifest(path, members, iter(sorted(manifest["files"].items())))
    assert path.read_text() == json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left


def test_a_failed_write_leaves_no_manifest(tmp_path: Path) -> None:
    def entries() -> Any:
        yield "a", {"sha256": "0" * 64, "size": 1}
        raise OSError("the store went away")

    with pytest.raises(OSError, match="went away"):
        write_manifest(tmp_path / "manifest.json", {"version": 1}, entries())
    assert list(tmp_path.iterdir()) == []
