"""Coverage-guided fuzzing of archive inspection (PEP 427 wheels, PEP 625 sdists) with atheris.
Oracle: ``inspect_archive`` and ``metadata_from_file`` may only raise ``trustyard.errors.Error``.

The first input byte picks the container and layout: 0 a wheel (raw zip bytes), 1 an sdist
(raw ``.tar.gz`` bytes), 2 an sdist given as an uncompressed tar that the harness gzips (so the
mutations reach the tar parser instead of breaking the deflate stream), 3 a ``.zip`` sdist.
An archive that inspection accepts must also keep every member inside its root, links
included (checked with the standard library's ``tarfile.data_filter``).

Run through ``fuzz/run.py``; reproduce a saved input with
``uv run python fuzz/fuzz_archives.py fuzz/crashes/archives-crash-...``.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import sys
import tarfile
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["trustyard", "zipfile", "tarfile", "gzip", "email"]):
    from trustyard.dists.archives import ArchiveContents, inspect_archive
    from trustyard.dists.filenames import DistFilename, parse_dist_filename
    from trustyard.dists.metadata import metadata_from_file
    from trustyard.errors import Error

# (filename, gzip the input first?) by mode; the names are valid so the layout rules apply.
MODES: tuple[tuple[str, bool], ...] = (
    ("demo-1.0-py3-none-any.whl", False),
    ("demo-1.0.tar.gz", False),
    ("demo-1.0.tar.gz", True),
    ("demo-1.0.zip", False),
)
# Small budgets so that the decompression-ratio paths are reachable with small inputs.
RATIO_THRESHOLD = 64 * 1024
MAX_MEMBERS = 64

_WORK = Path(
    tempfile.mkdtemp(
        prefix="trustyard-fuzz-archives-", dir=os.environ.get("TRUSTYARD_FUZZ_SCRATCH")
    )
)
_DISTS: dict[str, DistFilename] = {name: parse_dist_filename(name) for name, _ in MODES}


class EscapingMember(AssertionError):
    """An accepted archive holds a member or link that leaves its root: a finding."""


def test_one_input(data: bytes) -> None:
    """One execution: inspect the archive; only our errors may escape, accepted means safe."""
    if not data:
        return
    filename, compress = MODES[data[0] % len(MODES)]
    body = gzip.compress(data[1:], compresslevel=1, mtime=0) if compress else data[1:]
    path = _WORK / filename
    path.write_bytes(body)
    try:
        contents = inspect_archive(
            path, _DISTS[filename], ratio_threshold=RATIO_THRESHOLD, max_members=MAX_MEMBERS
        )
    except Error:
        return
    check_contained(contents, body, is_tar=filename.endswith(".tar.gz"))
    try:
        metadata_from_file(contents.metadata, filename=filename)
    except Error:
        return


def check_contained(contents: ArchiveContents, body: bytes, *, is_tar: bool) -> None:
    """Every member name is relative and stays in the root; tar links stay inside too."""
    for name in contents.members:
        normal = posixpath.normpath(name)
        if name.startswith("/") or normal == ".." or normal.startswith("../"):
            raise EscapingMember(f"accepted member {name!r} escapes the archive root")
    if not is_tar or not hasattr(tarfile, "data_filter"):
        return  # (the standard library's oracle exists from Python 3.11.4)
    destination = str(_WORK / "extract-root")
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        for member in archive.getmembers():
            try:
                tarfile.data_filter(member, destination)
            except tarfile.FilterError as exc:
                raise EscapingMember(f"accepted member {member.name!r}: {exc}") from exc


def main() -> None:
    """Hand the command line (libFuzzer flags, corpus directories) to atheris."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
