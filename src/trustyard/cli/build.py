"""``trustyard build``: a reproducible sdist and wheel from a git commit."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trustyard.release.build import BuildOptions, build_release
from trustyard.release.buildenv.cache import EnvCache
from trustyard.release.check import check_reproducible
from trustyard.release.compare import render_diff


def register(commands: Any) -> None:
    """Add the ``build`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "build",
        help="build a reproducible sdist and wheel from a git commit",
        description=(
            "Build the sdist from a clean export of REF, then the wheel from that sdist, with "
            "SOURCE_DATE_EPOCH from the commit, hash-pinned build requirements (recorded in "
            "DIR/build-env.json) and normalised archives."
        ),
    )
    parser.add_argument("path", nargs="?", default=".", help="the project (default: .)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (PATH/dist)")
    parser.add_argument("--ref", default="HEAD", help="the git commit to build (default HEAD)")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="build REF's committed tree even though the working tree has changes",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build twice in parallel under varied conditions; exit 1 if the bytes differ",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help=(
            "resolve the build requirements now instead of reusing a resolution made in the "
            "last 10 minutes (ready-made venvs are still reused: they are keyed by the pins)"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build (or check) and report."""
    project = Path(args.path)
    out = args.out if args.out is not None else project / "dist"
    options = BuildOptions(
        project=project,
        ref=args.ref,
        allow_dirty=args.allow_dirty,
        envs=EnvCache(refresh=args.refresh),
    )
    with (
        tempfile.TemporaryDirectory(prefix="trustyard-build-") as scratch,
        progress_reporter(quiet=args.json) as progress,
    ):
        work = Path(scratch)
        if not args.check:
            result = build_release(options, out, work / "build", progress=progress)
            built = result
            report: dict[str, Any] = {"reproducible": None, "differences": []}
            commit = result.source.commit
        else:
            check = check_reproducible(options, out, work, progress=progress)
            built = check.first
            commit = check.first.source.commit
            report = {
                "reproducible": check.reproducible,
                "missing": list(check.missing),
                "differences": [
                    {
                        "file": d.left,
                        "archive": list(d.container),
                        "members": [
                            {"name": m.name, "kind": m.kind, "details": list(m.details)}
                            for m in d.members
                        ],
                    }
                    for d in check.differences
                ],
            }
            diff_lines = [line for d in check.differences for line in render_diff(d)]
        digests = {a["filename"]: a["sha256"] for a in built.record.artifacts}  # hashed as written
        files = [
            {"filename": p.name, "sha256": digests[p.name], "path": str(p)} for p in built.artifacts
        ]
        report |= {"commit": commit, "ref": args.ref, "files": files}
        report["build_env"] = str(out / "build-env.json")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for file in files:
            print(f"{file['sha256']}  {file['path']}")
        if args.check:
            if report["reproducible"]:
                print("reproducible: both builds gave identical bytes")
            else:
                for name in report["missing"]:
                    print(f"only one build produced {name}")
                print("\n".join(diff_lines))
    if args.check and not report["reproducible"]:
        print("trustyard: error: the two builds differ", file=sys.stderr)
        return 1
    return 0


@contextmanager
def progress_reporter(*, quiet: bool) -> Iterator[Callable[[str], None]]:
    """Yield a callback taking one step description; safe to call from worker threads."""
    lock = threading.Lock()
    if quiet:
        yield lambda _step: None
        return
    from rich.console import Console  # noqa: PLC0415 - rich costs start-up time; --json skips it

    console = Console(stderr=True)
    if not console.is_terminal:

        def plain(step: str) -> None:
            with lock:
                print(step, file=sys.stderr, flush=True)

        yield plain
        return
    with console.status("starting") as status:

        def live(step: str) -> None:
            with lock:
                console.log(step)
                status.update(step)

        yield live
