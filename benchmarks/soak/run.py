"""Soak: mixed read and write traffic against two instances on PostgreSQL + S3, for minutes.

    uv run python benchmarks/soak/run.py --minutes 10 [--steady-minutes 2] [--readers 4]
        [--writers 2] [--write-interval 0.5] [--max-requests 2000000] [--sample-every 5]

Starts its own private PostgreSQL and SeaweedFS (the test suite's ``tests/services.py``), two
``trustyard serve`` instances on them and the development OIDC issuer, all on loopback, then
runs ``tests/faults/soak.py``'s traffic mix, then reads alone for ``--steady-minutes`` on the
catalogue the writes left (memory while the data stays the same). Prints progress every
sample, and at the end the error count, RSS per instance over time, and latency percentiles
per request kind of each phase; writes them to ``benchmarks/soak/results.md`` and
``benchmarks/soak/results.json``. Exit status 1 if any request failed. Everything else lives
in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.soak import Setup, prepare, run_soak  # noqa: E402
from tests.services import SeaweedServer, start_postgres, start_seaweedfs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--steady-minutes", type=float, default=2.0, help="reads only, after the mixed phase"
    )
    parser.add_argument("--readers", type=int, default=4, help="reading threads (closed loop)")
    parser.add_argument("--writers", type=int, default=2, help="writing threads")
    parser.add_argument(
        "--write-interval", type=float, default=0.5, help="seconds between one writer's writes"
    )
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="stop after this many")
    parser.add_argument("--sample-every", type=float, default=5.0, help="RSS sampling, seconds")
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        default=80.0,
        help="fail if an instance's RSS grows more than this after warm-up (default 80)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trustyard-soak-") as scratch:
        tmp = Path(scratch)
        postgres = start_postgres()
        seaweed: SeaweedServer | None = None
        setup: Setup | None = None
        try:
            seaweed = start_seaweedfs(tmp / "s3")
            os.environ.update(seaweed.environ)  # the instances find the bucket as an operator's
            setup = prepare(tmp / "run", postgres.new_database(), seaweed.new_prefix())
            print(f"soak: {args.minutes} min, 2 instances on PostgreSQL + S3", flush=True)
            result = run_soak(
                setup,
                seconds=args.minutes * 60,
                readers=args.readers,
                writers=args.writers,
                write_interval=args.write_interval,
                max_requests=args.max_requests,
                sample_every=args.sample_every,
                progress=lambda line: print(line, flush=True),
            )
            steady = None
            if args.steady_minutes > 0:
                print("soak: reads only, on the catalogue the writes left", flush=True)
                steady = run_soak(
                    setup,
                    seconds=args.steady_minutes * 60,
                    readers=args.readers,
                    writers=0,
                    max_requests=args.max_requests,
                    sample_every=args.sample_every,
                    progress=lambda line: print(line, flush=True),
                )
        finally:
            if setup is not None:
                setup.stop()
            if seaweed is not None:
                seaweed.stop()
            postgres.stop()

    header = (
        f"## Run of {time.strftime('%Y-%m-%d %H:%M')} ({platform.machine()},"
        f" {os.cpu_count()} CPUs, all on one machine)\n\n"
        f"`uv run python benchmarks/soak/run.py --minutes {args.minutes:g} --steady-minutes"
        f" {args.steady_minutes:g} --readers {args.readers} --writers {args.writers}"
        f" --write-interval {args.write_interval:g}`\n\n### Mixed reads and writes\n\n"
    )
    report = header + result.markdown()
    if steady is not None:
        report += "\n### Reads only, afterwards\n\n" + steady.markdown()
    print(report)
    (HERE / "results.md").write_text(report)
    figures = {"mixed": result.as_json(), "steady": steady.as_json() if steady else None}
    (HERE / "results.json").write_text(json.dumps(figures, indent=1) + "\n")
    grown = {
        name: row["growth_after_warm"]
        for run in (result, steady)
        if run is not None
        for name, row in run.memory().items()
        if row["growth_after_warm"] >= args.max_growth_mib
    }
    for name, growth in grown.items():
        print(f"soak: {name} grew {growth:.1f} MiB after warm-up (bound {args.max_growth_mib:g})")
    return 1 if result.errors or (steady is not None and steady.errors) or grown else 0


if __name__ == "__main__":
    sys.exit(main())
