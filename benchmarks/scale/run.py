"""Scale-out benchmark: ``/simple/<p>/`` and uploads on PostgreSQL + S3, with 1 and 2 instances.

    uv run python benchmarks/scale/run.py [--files 300] [--seconds 8] [--uploads 120]

Starts its own private PostgreSQL and SeaweedFS (the test suite's ``tests/services.py``, so
``scripts/services.sh`` installs what is missing) and, for comparison, the embedded default.
For each configuration (SQLite + files x1, PostgreSQL + S3 x1, PostgreSQL + S3 x2):

1. Fills project ``bigproj`` with ``--files`` wheels through ``/legacy/``.
2. ``/simple/bigproj/`` as HTML and as PEP 691 JSON with ``wrk -t2 -c16 -d<seconds>s
   --latency`` (with two instances, one wrk per instance at the same time; requests/s are
   summed, the worse p50/p99 is shown).
3. Uploads: ``--uploads`` small wheels of distinct projects, 8 at a time, spread round-robin
   over the instances: uploads/s and p50/p99 of one upload.

Results go to stdout and ``benchmarks/scale/results.md``. Everything else lives in a temporary
directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import IndexServer, start_index  # noqa: E402
from tests.dists.builders import build_wheel  # noqa: E402
from tests.index.conftest import upload_file  # noqa: E402
from tests.services import start_postgres, start_seaweedfs  # noqa: E402

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Figures:
    name: str
    html_rps: float
    html_p50: float
    html_p99: float
    json_rps: float
    json_p50: float
    json_p99: float
    uploads_per_s: float
    upload_p50: float
    upload_p99: float


def revision() -> str:
    """The commit measured (and whether the source differs from it)."""
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return rev + ("-dirty" if dirty else "")


def _ms(text: str, out: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"cannot read wrk's latency {text!r}:\n{out}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(urls: list[str], seconds: int, accept: str | None) -> tuple[float, float, float]:
    """Run one wrk per URL at once: (summed requests/s, worst p50 ms, worst p99 ms)."""
    header = ["-H", f"Accept: {accept}"] if accept else []
    procs = [
        subprocess.Popen(
            ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *header, url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    rps, p50, p99 = 0.0, 0.0, 0.0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        if "Non-2xx" in out:
            raise RuntimeError(f"wrk saw errors:\n{out}")
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = max(p50, _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1), out))  # type: ignore[union-attr]
        p99 = max(p99, _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1), out))  # type: ignore[union-attr]
    return rps, p50, p99


def fill(servers: list[IndexServer], token: str, work: Path, count: int) -> None:
    """``count`` wheels of bigproj (one per version), uploaded through the first instance."""
    for i in range(count):
        wheel = build_wheel(work / "big", "bigproj", f"1.0.{i}")
        answer = upload_file(servers[0], token, wheel, "bigproj", f"1.0.{i}")
        assert answer.status == 200, answer.text


def uploads(
    servers: list[IndexServer], token: str, work: Path, count: int
) -> tuple[float, float, float]:
    wheels = [build_wheel(work / f"up{i}", f"up-{i}", "1.0") for i in range(count)]

    def send(i: int) -> float:
        start = time.perf_counter()
        answer = upload_file(servers[i % len(servers)], token, wheels[i], f"up-{i}", "1.0")
        assert answer.status == 200, answer.text
        return (time.perf_counter() - start) * 1000

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        times = sorted(pool.map(send, range(count)))
    elapsed = time.perf_counter() - began
    return count / elapsed, statistics.median(times), times[int(len(times) * 0.99) - 1]


def read_figures(urls: list[str], seconds: int) -> tuple[float, ...]:
    return (*wrk(urls, seconds, None), *wrk(urls, seconds, JSON_TYPE))


def visibility_lag(servers: list[IndexServer], token: str, work: Path, count: int) -> list[float]:
    """Milliseconds from an upload's answer on the first instance until the second instance's
    (cached) page of that project lists the new file: how promptly instances see each other's
    changes (issue 19: PostgreSQL LISTEN/NOTIFY)."""
    a, b = servers[0], servers[1]
    page = b.url + "/simple/lagproj/"
    lags = []
    for i in range(count):
        wheel = build_wheel(work / "lag", "lagproj", f"2.0.{i}")
        if i:  # b renders the page, then holds it as current
            for _ in range(2):
                urllib.request.urlopen(page).read()
        answer = upload_file(a, token, wheel, "lagproj", f"2.0.{i}")
        assert answer.status == 200, answer.text
        done = time.perf_counter()
        while wheel.name.encode() not in urllib.request.urlopen(page).read():
            if time.perf_counter() - done > 30:
                raise RuntimeError(f"instance b never listed {wheel.name}")
            time.sleep(0.001)
        lags.append((time.perf_counter() - done) * 1000)
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="files of bigproj")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per measurement")
    parser.add_argument("--uploads", type=int, default=120, help="uploads to time")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of reads")
    parser.add_argument("--lag-uploads", type=int, default=20, help="uploads timed for lag")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trustyard-scale-") as tmp:
        root = Path(tmp)
        postgres = start_postgres()
        seaweed = start_seaweedfs(root / "seaweedfs")
        os.environ.update(seaweed.environ)
        started: list[IndexServer] = []
        try:

            def scaled(work: Path, count: int) -> list[IndexServer]:
                database, storage = postgres.new_database(), seaweed.new_prefix()
                servers = []
                for i in range(count):
                    data = work / f"data{i}"
                    data.mkdir(parents=True)
                    (data / "trustyard.toml").write_text(
                        f"database = {json.dumps(database)}\nstorage = {json.dumps(storage)}\n"
                    )
                    servers.append(start_index(data))
                return servers

            configurations = {
                "SQLite + files, 1 instance": [start_index(root / "embedded" / "data")],
                "PostgreSQL + S3, 1 instance": scaled(root / "pg1", 1),
                "PostgreSQL + S3, 2 instances": scaled(root / "pg2", 2),
            }
            tokens = {}
            for name, servers in configurations.items():
                started += servers
                print(f"== {name}: filling", file=sys.stderr)
                servers[0].create_user("bench")
                tokens[name] = servers[0].create_token("bench")
                fill(servers, tokens[name], root / name.replace(" ", "_"), args.files)
                read_figures([s.url + "/simple/bigproj/" for s in servers], 2)  # warm caches
            # Reads interleaved, so that the machine's other load falls on every configuration
            # alike; the median of the rounds.
            reads: dict[str, list[tuple[float, ...]]] = {name: [] for name in configurations}
            loads = []
            for round_ in range(args.rounds):
                for name, servers in configurations.items():
                    urls = [s.url + "/simple/bigproj/" for s in servers]
                    reads[name].append(read_figures(urls, args.seconds))
                    loads.append(os.getloadavg()[0])
                    print(f"round {round_ + 1} {name}: {reads[name][-1]}", file=sys.stderr)
            results = []
            for name, servers in configurations.items():
                up = uploads(servers, tokens[name], root / name.replace(" ", "_"), args.uploads)
                median = [statistics.median(r[i] for r in reads[name]) for i in range(6)]
                results.append(Figures(name, *median, *up))
            two = configurations["PostgreSQL + S3, 2 instances"]
            lags = sorted(
                visibility_lag(
                    two, tokens["PostgreSQL + S3, 2 instances"], root / "lag", args.lag_uploads
                )
            )
        finally:
            for server in started:
                server.stop()
            seaweed.stop()
            postgres.stop()

    lines = [
        "# Scale-out benchmark results",
        "",
        f"`uv run python benchmarks/scale/run.py --files {args.files} --seconds {args.seconds}"
        f" --uploads {args.uploads}"
        f" --rounds {args.rounds}` on {platform.platform()}, {os.cpu_count()} CPUs,"
        f" {time.strftime('%Y-%m-%d')}, trustyard {revision()}. wrk -t2 -c16 per instance, the"
        f" three configurations interleaved, median of {args.rounds} rounds; uploads 8 at a time."
        f" Load average during the reads: {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "| configuration | /simple/bigproj/ HTML req/s | p50 | p99 | JSON req/s | p50 | p99"
        " | uploads/s | upload p50 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.html_rps:.0f} | {r.html_p50:.1f} ms | {r.html_p99:.1f} ms"
            f" | {r.json_rps:.0f} | {r.json_p50:.1f} ms | {r.json_p99:.1f} ms"
            f" | {r.uploads_per_s:.1f} | {r.upload_p50:.0f} ms | {r.upload_p99:.0f} ms |"
        )
    embedded, pg1 = results[0], results[1]
    lines += [
        "",
        "PostgreSQL + S3 (1 instance) / SQLite + files:"
        f" HTML {pg1.html_rps / embedded.html_rps:.2f}x,"
        f" JSON {pg1.json_rps / embedded.json_rps:.2f}x.",
        "",
        f"Two instances: from an upload's answer on one instance until the other instance's cached"
        f" page lists the file, over {len(lags)} uploads: median {statistics.median(lags):.1f} ms,"
        f" max {lags[-1]:.1f} ms.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
