"""``trustyard publish``: upload distributions and their attestations to an index, idempotently."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustyard.release.publish import FileResult, PublishProgress, publish_files

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def register(commands: Any) -> None:
    """Add the ``publish`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "publish",
        help="upload distributions (and their PEP 740 attestations) to an index",
        description=(
            "Upload wheels before sdists through PyPI's upload API. Files the index already "
            "has with the same sha256 are skipped; a filename it has with other bytes stops "
            "the publish before anything is uploaded. Credentials: --token (or "
            "TRUSTYARD_PUBLISH_TOKEN), or Trusted Publishing from GitHub Actions or GitLab CI."
        ),
    )
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILES",
        help="distributions, <dist>.<kind>.attestation files, or directories of them",
    )
    parser.add_argument(
        "--index", required=True, metavar="URL", help="the upload URL, e.g. https://host/legacy/"
    )
    parser.add_argument(
        "--trusted-publishing",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto: when no token is given and a CI identity exists (default)",
    )
    parser.add_argument(
        "--token", default=None, help="an API token (default: $TRUSTYARD_PUBLISH_TOKEN)"
    )
    parser.add_argument(
        "--check-url",
        default=None,
        metavar="SIMPLE_URL",
        help="the simple API to check for existing files (default: /simple/ beside --index)",
    )
    parser.add_argument(
        "--cacert", type=Path, default=None, help="CA certificates to trust for HTTPS (PEM)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Publish, print a line per file, exit 0 only when every file is on the index."""
    with _progress() as progress:
        report = publish_files(
            args.files,
            upload_url=args.index,
            check_url=args.check_url,
            token=args.token,
            trusted_publishing=args.trusted_publishing,
            cacert=args.cacert,
            progress=progress,
        )
    uploaded = len(report.with_outcome("uploaded"))
    skipped = len(report.with_outcome("skipped"))
    failed = report.with_outcome("failed")
    held = report.with_outcome("held")
    counts = f"{uploaded} uploaded, {skipped} skipped, {len(failed)} failed"
    print(counts + (f", {len(held)} held" if held else ""), file=sys.stderr)
    for result in failed:
        print(f"trustyard: error: {result.filename}: {result.reason}", file=sys.stderr)
    for result in held:
        print(f"trustyard: error: {result.filename} is held: {result.reason}", file=sys.stderr)
    return 0 if report.ok else 1


@contextmanager
def _progress() -> Iterator[PublishProgress]:
    from rich.console import Console  # noqa: PLC0415 - rich costs start-up time

    console = Console(stderr=True)
    if not console.is_terminal:
        yield _PlainLines()
        return
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        yield _Bars(bars)


class _PlainLines:
    """For logs and pipes: one line per event, on stderr."""

    def note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def start(self, filename: str, size: int) -> None:
        print(f"uploading {filename} ({size} bytes)", file=sys.stderr, flush=True)

    def advance(self, filename: str, sent: int) -> None:
        pass

    def finish(self, result: FileResult) -> None:
        line = _finished_line(result)
        if line:
            print(line, file=sys.stderr, flush=True)


def _finished_line(result: FileResult) -> str:
    """``X: uploaded`` or ``X: skipping, already on the index``; failures are listed at the end."""
    if result.outcome == "skipped":
        return f"{result.filename}: skipping, {result.reason}"
    if result.outcome == "uploaded":
        return f"{result.filename}: uploaded"
    return ""


class _Bars:
    """On a terminal: a rich progress bar per file."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}

    def note(self, message: str) -> None:
        self.bars.console.print(message, markup=False, highlight=False)

    def start(self, filename: str, size: int) -> None:
        task = self.tasks.get(filename)
        if task is None:
            self.tasks[filename] = self.bars.add_task(filename, total=size)
        else:  # a retry starts the file again
            self.bars.reset(task, total=size)

    def advance(self, filename: str, sent: int) -> None:
        self.bars.advance(self.tasks[filename], sent)

    def finish(self, result: FileResult) -> None:
        task = self.tasks.get(result.filename)
        if task is not None:
            self.bars.update(task, description=f"{result.filename} ({result.outcome})")
        elif result.outcome == "skipped":  # never started: no bar to label
            self.note(_finished_line(result))
