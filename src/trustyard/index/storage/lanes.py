"""A lane: one worker thread doing one job to every batch of buffers it is handed, in order.

A big upload is written to the spool and hashed three ways; on one core that is ~300 MB/s, so
each job gets a lane of its own and they run side by side (``os.writev`` and :mod:`hashlib`
release the GIL for large buffers). The queue in front of a lane is bounded: a lane that falls
behind makes :meth:`Lane.feed` wait, which stops the reading of the request, so memory stays
flat whatever the size of the file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

Batch = Sequence[bytes | memoryview]

_END = None


class Lane:
    """One thread applying ``work`` to each batch fed to it; the first error is kept and
    raised by the next :meth:`feed` or by :meth:`finish` (later batches are then skipped)."""

    def __init__(self, name: str, work: Callable[[Batch], None], depth: int = 4) -> None:
        self._work = work
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not _END:
            if self._error is None and not self._stopped:
                try:
                    self._work(batch)
                except BaseException as exc:  # noqa: BLE001 - raised in the feeding thread
                    self._error = exc

    def feed(self, batch: Batch) -> None:
        """Queue ``batch`` (its buffers must not change until the lane is done with them);
        waits while the lane is ``depth`` batches behind."""
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def finish(self) -> None:
        """Wait until every batch fed so far is done; raise the lane's error, if any."""
        self._join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Drop what is still queued and end the thread (a refused upload)."""
        self._stopped = True
        self._join()

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
