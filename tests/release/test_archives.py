"""Normalisation and member-level comparison on hand-made archives."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.dists.builders import build_wheel
from trustyard.release.compare import compare_archives, render_diff
from trustyard.release.normalize import (
    InvalidArchive,
    normalize_archive,
    read_members,
    record_problems,
)

EPOCH = 1700000000
FILES = {
    "pkg-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
    "pkg-1.0/a.py": b"A = 1\n",
}


def make_sdist(
    path: Path, *, order: list[str], mtime: int, mode: int, owner: str, gzip_name: str
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:", format=tarfile.GNU_FORMAT) as archive:
        for name in order:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(FILES[name]), mtime, mode
            info.uname = info.gname = owner
            info.uid = info.gid = 1000
            archive.addfile(info, io.BytesIO(FILES[name]))
    with path.open("wb") as out, gzip.GzipFile(gzip_name, "wb", fileobj=out, mtime=mtime) as gz:
        gz.write(raw.getvalue())
    return path


def test_sdists_differing_only_in_metadata_normalise_to_the_same_bytes(tmp_path: Path) -> None:
    a = make_sdist(
        tmp_path / "a" / "pkg-1.0.tar.gz",
        order=list(FILES),
        mtime=1,
        mode=0o664,
        owner="me",
        gzip_name="x",
    )
    b = make_sdist(
        tmp_path / "b" / "pkg-1.0.tar.gz",
        order=sorted(FILES, reverse=True),
        mtime=2,
        mode=0o600,
        owner="",
        gzip_name="",
    )
    diff = compare_archives(a, b)
    assert not diff.content_differs
    assert {m.kind for m in diff.members} == {"metadata", "order"}
    assert any("gzip.mtime" in c for c in diff.container)
    na = normalize_archive(a, tmp_path / "na.tar.gz", EPOCH)
    nb = normalize_archive(b, tmp_path / "nb.tar.gz", EPOCH)
    assert na.read_bytes() == nb.read_bytes()
    members, facts = read_members(na)
    assert facts == {
        "gzip.mtime": str(EPOCH),
        "gzip.name": "",
        "tar.format": str(tarfile.PAX_FORMAT),
    }
    assert [(m.name, m.mode, m.mtime, m.owner) for m in members] == [
        ("pkg-1.0/PKG-INFO", 0o644, EPOCH, "0/0 /"),
        ("pkg-1.0/a.py", 0o644, EPOCH, "0/0 /"),
    ]
    assert normalize_archive(na, tmp_path / "again.tar.gz", EPOCH).read_bytes() == na.read_bytes()


def test_wheel_normalisation_keeps_record_valid_and_puts_it_last(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in", "demo", "1.0", files={"demo/tool.sh": b"#!/bin/sh\n"})
    out = normalize_archive(wheel, tmp_path / wheel.name, EPOCH)
    assert record_problems(out) == []
    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
    assert infos[-1].filename == "demo-1.0.dist-info/RECORD"
    assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_content_differences_are_explained_with_a_text_diff(tmp_path: Path) -> None:
    a = build_wheel(tmp_path / "a", "demo", "1.0", files={"demo/extra.py": b"x = 1\ny = 2\n"})
    b = build_wheel(
        tmp_path / "b",
        "demo",
        "1.0",
        files={"demo/extra.py": b"x = 1\ny = 3\n", "demo/new.py": b""},
    )
    diff = compare_archives(a, b)
    kinds = {m.name: m.kind for m in diff.members}
    assert kinds["demo/extra.py"] == "content"
    assert kinds["demo/new.py"] == "only-right"
    assert kinds["demo-1.0.dist-info/RECORD"] == "content"
    text = "\n".join(render_diff(diff))
    assert "-y = 2" in text
    assert "+y = 3" in text
    assert "demo/new.py: only in the second" in text


def test_record_problems_finds_tampering(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in", "demo", "1.0")
    tampered = tmp_path / "t" / wheel.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "demo/__init__.py":
                data += b"#"
            dst.writestr(info, data)
        dst.writestr("demo/added.py", b"evil = True\n")
    problems = record_problems(tampered)
    assert any(p.startswith("demo/__init__.py: RECORD says sha256=") for p in problems)
    assert "demo/added.py is in the wheel but not in RECORD" in problems


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.tar.gz", b"not gzip", "x.tar.gz is not gzip-compressed"),
        (
            "x.tar.gz",
            gzip.compress(b"not a tar" * 100, mtime=0),
            "x.tar.gz is not a readable archive",
        ),
        ("x.whl", b"PK not a zip", "x.whl is not a readable archive"),
        ("x.txt", b"", "x.txt: expected a .tar.gz sdist or a .whl wheel"),
    ],
    ids=["not-gzip", "not-tar", "not-zip", "other-extension"],
)
def test_bad_archives(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidArchive, match=message):
        normalize_archive(tmp_path / name, tmp_path / f"out-{name}", EPOCH)


def test_wheel_without_record_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "demo-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr("demo/__init__.py", b"")
    with pytest.raises(InvalidArchive, match=r"exactly one \.dist-info/RECORD"):
        normalize_archive(tmp_path / "demo-1.0-py3-none-any.whl", tmp_path / "o.whl", EPOCH)


def test_duplicate_members_keep_the_last_as_extractors_do(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:") as archive:
        for data in (b"Name: old\n", b"Name: new\n"):
            info = tarfile.TarInfo("pkg-1.0/PKG-INFO")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (tmp_path / "dup.tar.gz").write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    out = normalize_archive(tmp_path / "dup.tar.gz", tmp_path / "o.tar.gz", EPOCH)
    assert [(m.name, m.data) for m in read_members(out)[0]] == [
        ("pkg-1.0/PKG-INFO", b"Name: new\n")
    ]
