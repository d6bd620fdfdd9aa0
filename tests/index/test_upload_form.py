"""The upload form parser spools off the event loop, a batch at a time, and cleans up on refusal."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from trustyard.dists.zipstream import ZipFollower
from trustyard.errors import TooLarge
from trustyard.index.storage.spool import Spool
from trustyard.index.upload_form import SPOOL_BATCH, MalformedForm, UploadForm, read_upload_form

BOUNDARY = "trustyard-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
CHUNK = 4096


def _body(content: bytes, filename: str = "demo-1.0-py3-none-any.whl") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="name"\r\n\r\n'
            "demo\r\n"
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="content"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


class _Recorder:
    """Opens real spool files and notes the thread that did."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.opened_on: list[int] = []
        self.path: Path | None = None

    def open(self) -> tuple[int, Path]:
        self.opened_on.append(threading.get_ident())
        fd, self.path = self.spool.file()
        return fd, self.path

    async def chunks(self, body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]


def _parse(
    recorder: _Recorder,
    body: bytes,
    max_file_size: int,
    follow_zip: Callable[[], ZipFollower] | None = None,
) -> tuple[UploadForm, int]:
    async def run() -> tuple[UploadForm, int]:
        loop_thread = threading.get_ident()
        form = await read_upload_form(
            recorder.chunks(body),
            CONTENT_TYPE,
            open_spool=recorder.open,
            max_file_size=max_file_size,
            limit_message=lambda name: f"{name} is too large",
            follow_zip=follow_zip,
        )
        return form, loop_thread

    return asyncio.run(run())


def test_the_file_is_spooled_whole_off_the_event_loop_a_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    writev = os.writev

    def counted(fd: int, buffers: Any) -> int:
        writes.append(fd)
        return writev(fd, buffers)

    # Counted at the system call: the write lane runs beside the parser, so the file's size
    # seen from here may be caught in the middle of one writev(2).
    monkeypatch.setattr(os, "writev", counted)
    content = random.Random(7).randbytes(3 * SPOOL_BATCH + 12345)
    recorder = _Recorder(Spool(tmp_path / "spool"))
    form, loop_thread = _parse(recorder, _body(content), max_file_size=10 * SPOOL_BATCH)

    assert form.first("name") == "demo"
    assert form.file is not None
    assert form.file.path.read_bytes() == content
    assert form.file.digests.size == len(content)
    assert form.file.digests.sha256 == hashlib.sha256(content).hexdigest()
    assert form.file.digests.md5 == hashlib.md5(content, usedforsecurity=False).hexdigest()
    assert form.file.digests.blake2_256 == hashlib.blake2b(content, digest_size=32).hexdigest()
    assert recorder.opened_on
    assert loop_thread not in recorder.opened_on
    # The spool is written once per batch, not once per 4 KiB chunk received.
    assert 0 < len(writes) <= len(content) // SPOOL_BATCH + 2, len(writes)


def test_a_file_over_the_limit_is_refused_and_leaves_no_spool_file(tmp_path: Path) -> None:
    content = random.Random(8).randbytes(3 * SPOOL_BATCH)
    spool = Spool(tmp_path / "spool")
    recorder = _Recorder(spool)
    with pytest.raises(TooLarge, match="demo is too large"):
        _parse(recorder, _body(content), max_file_size=SPOOL_BATCH + 1)
    assert recorder.path is not None
    assert list(spool.directory.iterdir()) == []


def test_a_body_cut_off_in_the_file_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    content = random.Random(9).randbytes(2 * SPOOL_BATCH)
    spool = Spool(tmp_path / "spool")
    recorder = _Recorder(spool)
    cut = _body(content)[: SPOOL_BATCH + 777]
    with pytest.raises(MalformedForm, match="truncated"):
        _parse(recorder, cut, max_file_size=10 * SPOOL_BATCH)
    assert recorder.path is not None
    assert list(spool.directory.iterdir()) == []
    # The spool's lanes are gone too.
    assert not [t for t in threading.enumerate() if t.name.startswith("spool-")]


def test_the_sweep_removes_only_spool_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for _ in range(2):
        fd, _path = spool.file()
        os.close(fd)
    (spool.directory / "keep.txt").write_text("not ours")
    assert spool.sweep() == 2
    assert [p.name for p in spool.directory.iterdir()] == ["keep.txt"]
    assert spool.sweep() == 0


def test_a_zip_is_followed_as_it_arrives_and_nothing_else_is(tmp_path: Path) -> None:
    """Files named as zips (.whl, .zip) get a follower lane whose account comes with the
    spooled file; an sdist's tar.gz gets none (its check reads it after the stream)."""
    archive_path = tmp_path / "demo.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("demo/blob.bin", random.Random(10).randbytes(2 * SPOOL_BATCH))
    content = archive_path.read_bytes()
    spool = Spool(tmp_path / "spool")
    form, _ = _parse(_Recorder(spool), _body(content), 10 * SPOOL_BATCH, ZipFollower)
    assert form.file is not None
    with zipfile.ZipFile(archive_path) as archive:
        (info,) = archive.infolist()
    assert form.file.followed_zip is not None
    assert form.file.followed_zip[0].crc == info.CRC
    form.discard()

    form, _ = _parse(
        _Recorder(spool), _body(content, "demo-1.0.tar.gz"), 10 * SPOOL_BATCH, ZipFollower
    )
    assert form.file is not None
    assert form.file.followed_zip is None
    form.discard()
