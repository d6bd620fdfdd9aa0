"""SHA256SUMS files: sha256sum's own output is read back exactly; anything else is refused."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from trustyard.dists.sha256sums import (
    InvalidSums,
    parse_sha256sums,
    render_sha256sums,
    sums_differences,
)

A = "a" * 64
B = "b" * 64


def test_round_trip_and_sorting() -> None:
    files = {"p-1.0.tar.gz": A, "p-1.0-py3-none-any.whl": B}
    text = render_sha256sums(files)
    assert text == f"{B}  p-1.0-py3-none-any.whl\n{A}  p-1.0.tar.gz\n"
    assert parse_sha256sums(text, "x") == files


def test_reads_what_sha256sum_writes(tmp_path: Path) -> None:
    for name, data in {"one.whl": b"1", "two.tar.gz": b"22"}.items():
        (tmp_path / name).write_bytes(data)
    for flag in ("--text", "--binary"):
        out = subprocess.run(
            ["sha256sum", flag, "one.whl", "two.tar.gz"],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert parse_sha256sums(out, "sha256sum") == {
            "one.whl": hashlib.sha256(b"1").hexdigest(),
            "two.tar.gz": hashlib.sha256(b"22").hexdigest(),
        }


def test_what_we_write_passes_sha256sum_check(tmp_path: Path) -> None:
    (tmp_path / "f.whl").write_bytes(b"wheel")
    (tmp_path / "SHA256SUMS").write_text(
        render_sha256sums({"f.whl": hashlib.sha256(b"wheel").hexdigest()})
    )
    subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path, check=True)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("nonsense\n", "line 1 is not"),
        (f"{A[:-1]}  p.tar.gz\n", "line 1 is not"),
        (f"{A.upper()}  p.tar.gz\n", "line 1 is not"),
        (f"{A}  \n", "line 1 is not"),
        (f"{A}  ../p.tar.gz\n", "line 1 is not"),
        (f"{A}  dir\\p.tar.gz\n", "line 1 is not"),
        (f"{A}  ..\n", "line 1 is not"),
        (f"{A}p.tar.gz\n", "line 1 is not"),
        (f"\n{A}  p.tar.gz\n{B}  p.tar.gz\n", "line 3 lists p.tar.gz a second time"),
    ],
)
def test_malformed_sums_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(InvalidSums, match=complaint):
        parse_sha256sums(text, "F")


def test_differences_name_each_file() -> None:
    assert sums_differences({"a": A}, {"a": A}) == []
    assert sums_differences({"a": A, "b": B}, {"a": B, "c": A}) == [
        f"a: listed as {A}, but the file is {B}",
        "b: listed, but there is no such file",
        "c: not listed",
    ]
