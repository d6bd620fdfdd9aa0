"""The spool stream writes and hashes a file in parallel lanes: exact bytes and digests, flat
memory (bounded queues), and nothing left behind when a lane fails or the upload is refused."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import threading
import time
import zipfile
from pathlib import Path

import pytest

from trustyard.dists.zipstream import FollowedMember, ZipFollower
from trustyard.index.storage import spool as spool_module
from trustyard.index.storage.lanes import Lane
from trustyard.index.storage.spool import Spool, SpoolStream


def _batches(data: bytes, sizes: list[int]) -> list[list[bytes | memoryview]]:
    """``data`` cut into batches of uneven buffers, as views of the bytes (never copies)."""
    view = memoryview(data)
    batches, start, rng = [], 0, random.Random(len(data))
    while start < len(data):
        batch: list[bytes | memoryview] = []
        for _ in range(rng.randint(1, 5)):
            size = sizes[rng.randrange(len(sizes))]
            batch.append(view[start : start + size])
            start += size
        batches.append([b for b in batch if len(b)])
    return batches


def test_a_file_of_many_batches_is_written_whole_with_its_three_digests(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(3 * 1024 * 1024 + 4321)
    stream = SpoolStream(*Spool(tmp_path).file())
    for batch in _batches(data, [1, 100, 4096, 65536, 300_000]):
        stream.write(batch)
    digests = stream.finish()

    assert stream.path.read_bytes() == data
    assert digests.size == len(data)
    assert digests.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()


def test_the_disk_is_flushed_as_the_file_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[int] = []
    real = spool_module._datasync
    monkeypatch.setattr(spool_module, "FLUSH_EVERY", 64 * 1024)

    def datasync(fd: int) -> None:
        flushed.append(fd)
        real(fd)

    monkeypatch.setattr(spool_module, "_datasync", datasync)
    stream = SpoolStream(*Spool(tmp_path).file())
    data = random.Random(2).randbytes(1024 * 1024)
    for start in range(0, len(data), 32 * 1024):
        stream.write([data[start : start + 32 * 1024]])
    # The flushes run on their own thread while the file is still being written: not one
    # flush at the end for the whole file (requests made during a flush may share the next).
    deadline = time.monotonic() + 30
    while not flushed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flushed, "no flush before the file was finished"
    stream.finish()
    assert stream.path.read_bytes() == data


def test_a_failing_flush_refuses_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "FLUSH_EVERY", 4096)

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(spool_module, "_datasync", failing)
    spool = Spool(tmp_path)
    stream = SpoolStream(*spool.file())

    def receive() -> None:
        for _ in range(50):  # the error comes back on a later write, or at the end
            stream.write([b"y" * 8192])
        stream.finish()

    with pytest.raises(OSError, match="Input/output error"):
        receive()
    assert list(spool.directory.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("spool-")]


def test_abort_stops_the_lanes_and_removes_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    stream = SpoolStream(*spool.file())
    stream.write([b"x" * 100_000])
    lanes = [t for t in threading.enumerate() if t.name.startswith("spool-")]
    assert len(lanes) == 5  # the write lane, the three digests', the flusher
    stream.abort()
    assert list(spool.directory.iterdir()) == []
    assert not any(t.is_alive() for t in lanes)


def test_a_failing_write_is_raised_and_leaves_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    fd, path = spool.file()
    os.close(fd)
    # A descriptor open for reading only: every writev raises EBADF, as a failing disk would.
    stream = SpoolStream(os.open(path, os.O_RDONLY), path)

    def receive() -> None:
        for _ in range(10):  # the error comes back on a later write, or at the end
            stream.write([b"y" * 4096])
        stream.finish()

    with pytest.raises(OSError, match="Bad file descriptor"):
        receive()
    assert not path.exists()


def test_a_lane_that_falls_behind_makes_the_feeder_wait() -> None:
    gate = threading.Event()
    done: list[int] = []

    def slow(batch: object) -> None:
        gate.wait()
        done.append(1)

    lane = Lane("test-slow", slow, depth=2)
    fed = []

    def feed() -> None:
        for i in range(10):
            lane.feed([b"z"])
            fed.append(i)

    feeder = threading.Thread(target=feed)
    feeder.start()
    feeder.join(timeout=0.5)
    # One batch in the worker, two queued: the fourth feed waits (bounded memory).
    assert feeder.is_alive()
    assert len(fed) <= 3
    gate.set()
    feeder.join()
    lane.finish()
    assert len(done) == 10


def test_a_lane_error_reaches_the_feeder_and_later_batches_are_skipped() -> None:
    seen: list[object] = []

    def work(batch: object) -> None:
        seen.append(batch)
        raise ValueError("disk on fire")

    lane = Lane("test-error", work)
    lane.feed([b"a"])

    def feed_more() -> None:
        for _ in range(100):
            lane.feed([b"b"])

    with pytest.raises(ValueError, match="disk on fire"):
        feed_more()
    with pytest.raises(ValueError, match="disk on fire"):
        lane.finish()
    assert len(seen) == 1


def test_a_spool_file_only_copied_from_is_never_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(spool_module, "FLUSH_EVERY", 1024)
    monkeypatch.setattr(spool_module, "_datasync", synced.append)
    monkeypatch.setattr(os, "fsync", synced.append)
    data = random.Random(3).randbytes(256 * 1024)
    stream = SpoolStream(*Spool(tmp_path).file(), durable=False)
    for start in range(0, len(data), 4096):
        stream.write([data[start : start + 4096]])
    digests = stream.finish()
    assert synced == []
    assert stream.path.read_bytes() == data
    assert digests.sha256 == hashlib.sha256(data).hexdigest()


def test_a_follower_lane_reads_every_byte_beside_the_others(tmp_path: Path) -> None:
    """A zip's follower gets its own lane and sees the file whole, in order, however it was
    cut: its account of every member is the central directory's."""
    archive_path = tmp_path / "a.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("a/blob.bin", random.Random(4).randbytes(700_000))
        archive.writestr("a/text.py", b"x = 1\n" * 50_000, compress_type=zipfile.ZIP_DEFLATED)
    data = archive_path.read_bytes()
    follower = ZipFollower()
    stream = SpoolStream(*Spool(tmp_path / "spool").file(), followers=[("zip", follower.feed)])
    lanes = [t.name for t in threading.enumerate() if t.name.startswith("spool-")]
    assert sorted(lanes) == sorted(
        [
            "spool-write",
            "spool-md5",
            "spool-sha256",
            "spool-blake2_256",
            "spool-zip",
            "spool-flush",
        ]
    )
    for batch in _batches(data, [1, 29, 4096, 65536, 300_000]):
        stream.write(batch)
    stream.finish()
    assert stream.path.read_bytes() == data
    with zipfile.ZipFile(archive_path) as archive:
        assert dict(follower.members) == {
            i.header_offset: FollowedMember(i.compress_type, i.compress_size, i.file_size, i.CRC)
            for i in archive.infolist()
        }


def test_a_failing_follower_refuses_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)

    def broken(batch: object) -> None:
        raise RuntimeError("follower broke")

    stream = SpoolStream(*spool.file(), followers=[("broken", broken)])

    def receive() -> None:
        for _ in range(10):
            stream.write([b"y" * 4096])
        stream.finish()

    with pytest.raises(RuntimeError, match="follower broke"):
        receive()
    assert list(spool.directory.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("spool-")]
