"""The spool: local files being received (uploads, an import's copies, scratch databases).

Every backend keeps one: for local files it is on the store's filesystem, so that a finished
file is renamed into place (:func:`trustyard.atomicfiles.replace_durably`); for S3 it is where
a file waits for its PUT. A file in the spool is never a stored file, so a crash can only
leave spool files behind, and :meth:`Spool.sweep` removes them at start-up.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from trustyard.dists.digests import StreamingDigests
from trustyard.index.storage.lanes import Batch, Lane

PREFIX = "upload-"


class Spool:
    """A directory of temporary files, each named ``upload-*``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)

    def file(self) -> tuple[int, Path]:
        """A new, empty, private (0600) file: its open descriptor and its path."""
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=PREFIX)
        return fd, Path(name)

    def sweep(self) -> int:
        """Remove files left by a crash (only at start-up: nothing is being received);
        returns how many were removed."""
        removed = 0
        for leftover in self.directory.glob(f"{PREFIX}*"):
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed


FLUSH_EVERY = 64 * 1024 * 1024
"""Bytes written between two requests for an ``fdatasync``: the disk works while the rest is
received, instead of all at once in the final fsync (the kernel alone starts only past its
dirty ratio, gigabytes on a server)."""

# At most this many buffers per writev(2) (POSIX guarantees 16; Linux takes 1024).
_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 16


class SpoolStream:
    """A file being received into the spool: every batch is written and hashed (md5, sha256,
    blake2b-256) by four lanes side by side, the buffers shared, never copied.

    ``followers`` are more whole-file jobs, each a named ``work(batch)`` given a lane of its
    own (a zip's CRC-32s as it arrives: :class:`~trustyard.dists.zipstream.ZipFollower`); they
    must only read the buffers, and an error they raise refuses the file.

    :meth:`finish` leaves the file complete, and durable (fsync) when ``durable`` (a file
    that only waits to be copied elsewhere need not be), with its digests; :meth:`abort` leaves
    nothing behind.
    """

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        durable: bool = True,
        followers: Sequence[tuple[str, Callable[[Batch], None]]] = (),
    ) -> None:
        self.path = path
        self.durable = durable
        self.size = 0
        self._fd = fd
        self._open = True
        self._digests = StreamingDigests()
        self._unflushed = 0
        self._flusher = _Flusher(fd) if durable else None
        self._lanes = [
            Lane("spool-write", self._write),
            *(
                Lane(f"spool-{name}", functools.partial(_hash, update))
                for name, update in self._digests.parts()
            ),
            *(Lane(f"spool-{name}", work) for name, work in followers),
        ]

    def write(self, batch: Batch) -> None:
        """Hand the next buffers of the file to the lanes (waits while they are behind).

        The buffers must be immutable (bytes, or views of bytes): the lanes read them later.
        A lane's error is raised here or by :meth:`finish`, the file then removed.
        """
        if not batch:
            return
        self.size += sum(len(buffer) for buffer in batch)
        try:
            for lane in self._lanes:
                lane.feed(batch)
        except BaseException:
            self.abort()
            raise

    def finish(self) -> StreamingDigests:
        """Wait for the lanes, fsync (if durable) and close the file; its digests. On error,
        :meth:`abort`."""
        try:
            for lane in self._lanes:
                lane.finish()
            if self._flusher is not None:
                self._flusher.stop()
                os.fsync(self._fd)
            self._open = False
            os.close(self._fd)
        except BaseException:
            self.abort()
            raise
        self._digests.count(self.size)
        return self._digests

    def abort(self) -> None:
        """Stop the lanes, close and remove the file."""
        for lane in self._lanes:
            lane.stop()
        if self._flusher is not None:
            self._flusher.stop(raise_error=False)
        if self._open:
            self._open = False
            os.close(self._fd)
        self.path.unlink(missing_ok=True)

    def _write(self, batch: Batch) -> None:
        """The write lane: the batch in as few writev(2) calls as the kernel takes."""
        views = [memoryview(buffer) for buffer in batch]
        first = 0
        while first < len(views):
            written = os.writev(self._fd, views[first : first + _IOV_MAX])
            self._unflushed += written
            while written:  # drop what went out; a partial write leaves a tail to resend
                head = views[first]
                if written >= head.nbytes:
                    written -= head.nbytes
                    first += 1
                else:
                    views[first] = head[written:]
                    written = 0
        if self._flusher is not None and self._unflushed >= FLUSH_EVERY:
            self._flusher.request()
            self._unflushed = 0


class _Flusher:
    """``fdatasync(2)`` of a file being written, on a thread of its own: the write lane asks and
    goes on writing while the disk works. Waiting in the lane for each flush stalls the whole
    upload (its queues fill, the parser waits); writing 1 GiB this way took ~0.8 s against
    ~1.2-1.4 s with the flush inline on the shared machine (``benchmarks/upload/flush.py``,
    noisy: see benchmarks/upload/README.md). Requests made while a flush runs are served by
    one more flush after it; the final ``fsync`` in :meth:`SpoolStream.finish` still makes the
    whole file durable."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wanted = threading.Event()
        self._stopping = False
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="spool-flush", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for a flush; raise the error of an earlier one (a failing disk)."""
        if self._error is not None:
            raise self._error
        self._wanted.set()

    def stop(self, *, raise_error: bool = True) -> None:
        """End the thread once its flush in progress is done; raise its error, if any."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        if raise_error and self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                _datasync(self._fd)
            except OSError as exc:  # raised in the write lane or by finish()
                self._error = exc
                return


def _hash(update: Callable[[bytes | memoryview], None], batch: Batch) -> None:
    for buffer in batch:
        update(buffer)


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
