"""How an upload's spool file is best flushed while it is written: 1 GiB in 1 MiB ``writev``
calls with ``fdatasync`` every 64 MiB in the writing thread (session 8's write lane), the same
asked of a thread of its own (session 9's ``_Flusher``), or only the final ``fsync``.
Interleaved, repeated; wall time (final fsync included) and the process's CPU time.

    python benchmarks/upload/flush.py DIR [--mib 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

FLUSH_EVERY = 64 << 20


def write_file(path: Path, mib: int, mode: str, buffer: bytes) -> tuple[float, float, float]:
    """Write ``mib`` MiB to ``path`` flushing as ``mode`` says: (wall s, final fsync s, CPU s)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    wanted = threading.Event()
    stopping = False

    def flusher() -> None:
        while True:
            wanted.wait()
            wanted.clear()
            if stopping:
                return
            os.fdatasync(fd)

    thread = threading.Thread(target=flusher) if mode == "thread" else None
    started, cpu = time.monotonic(), time.process_time()
    if thread:
        thread.start()
    unflushed = 0
    for _ in range(mib):
        unflushed += os.writev(fd, [buffer])
        if unflushed >= FLUSH_EVERY:
            if mode == "inline":
                os.fdatasync(fd)
            elif mode == "thread":
                wanted.set()
            unflushed = 0
    if thread:
        stopping = True
        wanted.set()
        thread.join()
    written = time.monotonic()
    os.fsync(fd)
    os.close(fd)
    done = time.monotonic()
    path.unlink()
    return done - started, done - written, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    buffer = os.urandom(1 << 20)
    results: dict[str, list[tuple[float, float, float]]] = {"inline": [], "thread": [], "end": []}
    for _ in range(args.repeats):
        for mode, runs in results.items():
            wall, final, cpu = write_file(args.dir / f"flush-{mode}", args.mib, mode, buffer)
            runs.append((wall, final, cpu))
            print(
                f"{mode:7s} wall {wall:5.2f} s  final fsync {final:5.2f} s  CPU {cpu:4.2f} s"
                f"  loadavg {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    for mode, runs in results.items():
        print(
            f"{mode:7s} median wall {statistics.median(r[0] for r in runs):.2f} s,"
            f" final fsync {statistics.median(r[1] for r in runs):.2f} s,"
            f" CPU {statistics.median(r[2] for r in runs):.2f} s"
        )


if __name__ == "__main__":
    main()
