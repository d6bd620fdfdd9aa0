"""The cache's catalogue writes, made after the answer and many in one transaction.

A cold install fills 30 project pages and 40 files within a second or two. Written one by one
before answering, each fill waited for the one writer SQLite admits (and its fsync), holding
a worker thread while it waited: in the timeline of a cold install (benchmarks/proxy/
timeline.py) the page rows alone cost 6-25 s of waiting summed over the requests. The rows
only spare another process (or a restart) a fetch: this process answers from its memory
(listings) and the store (files) already, so the rows may follow the answer.

Jobs submitted while a batch is being written form the next batch; a batch that fails is
written again job by job (one bad row costs only itself), and a job that still fails is
logged and dropped: the cache loses a row, never an answer, and the next process to need it
fetches again. ``settle`` waits until everything submitted is written (a refresh before it
moves the generation, the server's shutdown, tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio
from sqlalchemy.orm import Session

from trustyard.index.db.engine import Database

logger = logging.getLogger(__name__)

Job = Callable[[Session], object]


class WriteBehind:
    """A queue of catalogue writes, drained by one task in as few transactions as it can."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Job, Callable[[], None] | None]] = []
        self._task: asyncio.Future[None] | None = None

    def submit(self, job: Job, done: Callable[[], None] | None = None) -> None:
        """Write ``job(session)`` soon; then call ``done`` (on the event loop), whether the
        write succeeded or not."""
        self._pending.append((job, done))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())

    def __len__(self) -> int:
        return len(self._pending)

    async def settle(self) -> None:
        """Until every job submitted so far is written (or given up)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await anyio.to_thread.run_sync(self._write, [job for job, _ in batch])
            finally:
                for _, done in batch:
                    if done is not None:
                        done()

    def _write(self, jobs: list[Job]) -> None:
        # Durability is not needed: a row lost to a power cut is a fetch again, and WAL keeps
        # the database consistent either way (synchronous=NORMAL, engine.py).
        try:
            with self.db.write(durable=False) as session:
                for job in jobs:
                    job(session)
        except Exception:
            if len(jobs) == 1:
                logger.exception("the upstream cache could not write a row; it will refetch")
                return
            for job in jobs:  # one bad row costs only itself
                self._write([job])
