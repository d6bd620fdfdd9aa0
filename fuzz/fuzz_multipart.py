"""Coverage-guided fuzzing of the legacy upload API's streaming multipart parser with atheris.
Oracle: ``read_upload_form`` then ``metadata_from_form`` raise only ``trustyard.errors.Error``.

The first input byte is a control byte: its two low bits choose the Content-Type (the fixed
boundary, the same quoted, or the body's first line taken as the Content-Type header), the
other six pick the chunk size the body arrives in (1 to 64 bytes, or all at once). The rest is
the request body. On top of "only our errors", the parser's promises are checked: nothing is
left in the spool after an error, and an accepted file's digests are those of its spooled bytes.

Run through ``fuzz/run.py``; reproduce a saved input with
``uv run python fuzz/fuzz_multipart.py fuzz/crashes/multipart-crash-...``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import atheris

with atheris.instrument_imports(include=["trustyard", "python_multipart"]):
    from trustyard.dists.metadata import metadata_from_form
    from trustyard.errors import Error
    from trustyard.index.upload_form import UploadForm, read_upload_form

BOUNDARY = "trustyardfuzzboundary"
MAX_FILE_SIZE = 16 * 1024  # small, so that the size limit is reachable
LIMIT_MESSAGE = "File too large. Limit for project {name!r} is 16 KiB."
_T = TypeVar("_T")

# python-multipart logs every malformed byte as a warning: noise at thousands of inputs a second.
logging.disable(logging.WARNING)
_SPOOL = Path(
    tempfile.mkdtemp(prefix="trustyard-fuzz-spool-", dir=os.environ.get("TRUSTYARD_FUZZ_SCRATCH"))
)


class BrokenPromise(AssertionError):
    """The parser broke one of its documented promises: a finding."""


def open_spool() -> tuple[int, Path]:
    """A new spool file, as the upload route makes one."""
    fd, name = tempfile.mkstemp(dir=_SPOOL)
    return fd, Path(name)


async def chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The body as the server receives it: in pieces of ``size`` bytes."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


# One event loop for the whole run: the parser does its blocking work (hashing, spool writes)
# in a worker thread, as under the server, and a loop per input would dominate the run.
_LOOP = asyncio.new_event_loop()


def run_now(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``read_upload_form`` to its end on the fuzz run's event loop."""
    return _LOOP.run_until_complete(coroutine)


def split_input(data: bytes) -> tuple[str, bytes, int]:
    """The Content-Type, the body and the chunk size that ``data`` encodes."""
    control, body = data[0], data[1:]
    mode, size_code = control & 0b11, control >> 2
    chunk_size = (len(body) or 1) if size_code == 0 else size_code
    if mode == 2:
        header, _, body = body.partition(b"\n")
        return header.decode("latin-1"), body, chunk_size
    quoted = f'"{BOUNDARY}"' if mode == 1 else BOUNDARY
    return f"multipart/form-data; boundary={quoted}", body, chunk_size


def test_one_input(data: bytes) -> None:
    """One execution: parse the body; only our errors escape; the parser keeps its promises."""
    if not data:
        return
    content_type, body, chunk_size = split_input(data)
    try:
        form = run_now(
            read_upload_form(
                chunks(body, chunk_size),
                content_type,
                open_spool=open_spool,
                max_file_size=MAX_FILE_SIZE,
                limit_message=LIMIT_MESSAGE,
            )
        )
    except Error:
        if any(_SPOOL.iterdir()):
            raise BrokenPromise("a refused body left a file in the spool") from None
        return
    try:
        check_spooled_file(form)
        metadata_from_form(form.fields)
    except Error:
        return
    finally:
        form.discard()


def check_spooled_file(form: UploadForm) -> None:
    """An accepted file's size and digests are those of the bytes in the spool."""
    if form.file is None:
        return
    content = form.file.path.read_bytes()
    if (form.file.digests.size, form.file.digests.sha256) != (
        len(content),
        hashlib.sha256(content).hexdigest(),
    ):
        raise BrokenPromise("the digests do not describe the spooled file")


def main() -> None:
    """Hand the command line (libFuzzer flags, corpus directories) to atheris."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
