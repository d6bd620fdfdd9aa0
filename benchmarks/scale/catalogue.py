"""Scale benchmark: a synthetic catalogue of up to 50,000 projects and 500,000 files.

    uv run python benchmarks/scale/catalogue.py [--sizes 1000,10000,50000] [--postgresql]

For each size N (projects), writes an ``admin export`` directory by hand (N projects x 5
releases x (wheel + sdist) = 10 N files, each a distinct tiny blob of about 40 bytes, so that
every file row has its own content-addressed object as the schema demands), then:

1. times ``trustyard admin import DIR`` (and its peak RSS) into a new index (SQLite + files; with
   ``--postgresql`` also PostgreSQL + S3 on the test suite's private servers);
2. ``GET /simple/`` (the full project list) as HTML and PEP 691 JSON: sizes, the JSON list's
   first render, and the cached lists (median of 5);
3. a project page ``GET /simple/<p>/`` for ``--samples`` random projects, each asked twice in
   a row (first render, then the cached page): p50 and p99 of each.

The figures show whether a project page grows with the catalogue (it must not). Results go
to stdout and ``benchmarks/scale/catalogue-results.md``; everything else to a temporary
directory removed at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import IndexServer, start_index  # noqa: E402

from trustyard.index.db.migrations import SCHEMA_HEAD  # noqa: E402
from trustyard.index.db.models import Base  # noqa: E402
from trustyard.index.services.backup import FORMAT, FORMAT_VERSION, TABLES  # noqa: E402
from trustyard.index.services.uploads import storage_key  # noqa: E402

VERSIONS = 5
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
WHEN = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None).isoformat()


def project_name(number: int) -> str:
    return f"synth-{number:06d}"


def _rows(projects: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) of the whole synthetic catalogue, in foreign-key order."""
    yield "users", {"username": "bench"}
    for p in range(1, projects + 1):
        yield "projects", {"id": p, "name": project_name(p)}
    for p in range(1, projects + 1):
        yield "roles", {"project_id": p}
    for p in range(1, projects + 1):
        for v in range(VERSIONS):
            yield "releases", {"id": (p - 1) * VERSIONS + v + 1, "project_id": p, "v": v}
    for p in range(1, projects + 1):
        for v in range(VERSIONS):
            release = (p - 1) * VERSIONS + v + 1
            yield "files", {"release": release, "name": project_name(p), "v": v, "wheel": True}
            yield "files", {"release": release, "name": project_name(p), "v": v, "wheel": False}


def _write(item: tuple[Path, bytes]) -> None:
    path, data = item
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _filename(name: str, v: int, wheel: bool) -> str:
    stem = name.replace("-", "_")
    return f"{stem}-1.{v}.0-py3-none-any.whl" if wheel else f"{stem}-1.{v}.0.tar.gz"


class ExportWriter:
    """Writes catalogue/*.jsonl, files/ and manifest.json as ``admin export`` would."""

    def __init__(self, target: Path) -> None:
        self.target = target
        (target / "catalogue").mkdir(parents=True)
        self.handles = {n: (target / "catalogue" / f"{n}.jsonl").open("wb") for n in TABLES}
        self.digests = {n: hashlib.sha256() for n in TABLES}
        self.counts = dict.fromkeys(TABLES, 0)
        self.files: dict[str, dict[str, Any]] = {}
        self.file_id = 0
        self.pending: list[tuple[Path, bytes]] = []  # files to write, 8 at a time at the end

    def row(self, table: str, values: dict[str, Any]) -> None:
        columns = [c.name for c in Base.metadata.tables[table].columns]
        if list(values) != columns:
            raise RuntimeError(f"{table}: {list(values)} is not the schema's {columns}")
        line = json.dumps(values).encode() + b"\n"
        self.handles[table].write(line)
        self.digests[table].update(line)
        self.counts[table] += 1

    def blob(self, filename: str) -> tuple[str, str, str, str, int]:
        """A distinct tiny file: (key, sha256, blake2b-256, md5, size)."""
        data = f"{filename} synthetic\n".encode()
        blake = hashlib.blake2b(data, digest_size=32).hexdigest()
        sha = hashlib.sha256(data).hexdigest()
        key = storage_key(blake, filename)
        self.pending.append((self.target / "files" / key, data))
        self.files[key] = {"sha256": sha, "size": len(data)}
        return key, sha, blake, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data)

    def add(self, table: str, spec: dict[str, Any]) -> None:
        if table == "users":
            self.row(
                table,
                {
                    "id": 1,
                    "username": "bench",
                    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$synthetic$synthetic",
                    "created": WHEN,
                    "is_admin": False,
                },
            )
        elif table == "projects":
            p = spec["id"]
            self.row(
                table,
                {
                    "id": p,
                    "name": spec["name"],
                    "normalized_name": spec["name"],
                    "created": WHEN,
                    "last_serial": p,
                    "upload_limit": None,
                    "total_size_limit": None,
                },
            )
            self.row(
                "journal",
                {
                    "id": p,
                    "project_name": spec["name"],
                    "version": None,
                    "filename": None,
                    "action": "create",
                    "actor": "bench",
                    "submitted": WHEN,
                },
            )
        elif table == "roles":
            self.row(table, {"user_id": 1, "project_id": spec["project_id"], "role": "owner"})
        elif table == "releases":
            self.row(
                table,
                {
                    "id": spec["id"],
                    "project_id": spec["project_id"],
                    "version": f"1.{spec['v']}.0",
                    "canonical_version": f"1.{spec['v']}",
                    "created": WHEN,
                    "is_prerelease": False,
                    "requires_python": ">=3.9",
                    "yanked": False,
                    "yanked_reason": "",
                    "core_metadata": {"summary": "A synthetic project for the scale benchmark"},
                },
            )
        elif table == "files":
            filename = _filename(spec["name"], spec["v"], spec["wheel"])
            key, sha, blake, md5, size = self.blob(filename)
            self.file_id += 1
            self.row(
                table,
                {
                    "id": self.file_id,
                    "release_id": spec["release"],
                    "filename": filename,
                    "filetype": "bdist_wheel" if spec["wheel"] else "sdist",
                    "python_version": "py3" if spec["wheel"] else "source",
                    "requires_python": ">=3.9",
                    "size": size,
                    "sha256": sha,
                    "blake2_256": blake,
                    "md5": md5,
                    "path": key,
                    "metadata_sha256": None,
                    "upload_time": WHEN,
                    "uploaded_by": "bench",
                    "comment": None,
                },
            )
            self.row("filename_registry", {"filename": filename, "created": WHEN})

    def finish(self) -> None:
        for handle in self.handles.values():
            handle.close()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in pool.map(_write, self.pending):
                pass
        tables = {
            n: {"file": f"catalogue/{n}.jsonl", "rows": self.counts[n], "sha256": d.hexdigest()}
            for n, d in self.digests.items()
        }
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schema": SCHEMA_HEAD,
            "created": datetime.now(UTC).isoformat(),
            "tables": tables,
            "files": self.files,
        }
        (self.target / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def write_export(target: Path, projects: int) -> None:
    writer = ExportWriter(target)
    # Journal rows are written with their projects; the rest table by table.
    for table, spec in _rows(projects):
        writer.add(table, spec)
    writer.finish()


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Figures:
    config: str
    projects: int
    files: int
    import_s: float
    import_rss_mib: float
    import_load: float  # the 1-minute load average when the import ended (a shared machine)
    index_html_bytes: int
    index_json_bytes: int
    index_json_first_ms: float  # the first render: start-up only probed the HTML page
    index_json_cached_ms: float
    index_html_cached_ms: float
    page_first_p50: float
    page_first_p99: float
    page_cached_p50: float
    page_cached_p99: float
    page_bytes: int


def _get(conn: http.client.HTTPConnection, path: str, accept: str = "") -> tuple[float, bytes]:
    began = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept} if accept else {})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - began) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return elapsed, body


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure_server(
    server: IndexServer, projects: int, samples: int, seed: int
) -> dict[str, float | int]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    # start_index's readiness probe already fetched (and so cached) the HTML list; the JSON
    # list is rendered for the first time here.
    json_first, json_body = _get(conn, "/simple/", JSON_TYPE)
    json_cached = statistics.median(_get(conn, "/simple/", JSON_TYPE)[0] for _ in range(5))
    html = _get(conn, "/simple/")[1]
    html_cached = statistics.median(_get(conn, "/simple/")[0] for _ in range(5))
    chosen = random.Random(seed).sample(range(1, projects + 1), min(samples, projects))
    first, cached, size = [], [], 0
    for p in chosen:
        path = f"/simple/{project_name(p)}/"
        elapsed, body = _get(conn, path, JSON_TYPE)
        first.append(elapsed)
        cached.append(_get(conn, path, JSON_TYPE)[0])
        if len(json.loads(body)["files"]) != 2 * VERSIONS:
            raise RuntimeError(f"{path} does not list {2 * VERSIONS} files")
        size = len(body)
    conn.close()
    if html.count(b"<a ") != projects or len(json.loads(json_body)["projects"]) != projects:
        raise RuntimeError("/simple/ does not list every project")
    return {
        "index_html_bytes": len(html),
        "index_json_bytes": len(json_body),
        "index_json_first_ms": json_first,
        "index_json_cached_ms": json_cached,
        "index_html_cached_ms": html_cached,
        "page_first_p50": statistics.median(first),
        "page_first_p99": _pct(first, 0.99),
        "page_cached_p50": statistics.median(cached),
        "page_cached_p99": _pct(cached, 0.99),
        "page_bytes": size,
    }


# The import runs under a small launcher that reports the import's peak RSS: a direct child
# of this process (which holds the whole synthetic catalogue) would count this process's pages
# at the fork, before its exec, in its own maximum (Linux keeps the larger of the two).
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_pid, status, usage = os.wait4(child.pid, 0)
print(f"peak-rss-kib {usage.ru_maxrss}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_import(data: Path, export: Path) -> tuple[float, float, float]:
    """Run ``trustyard admin import``: (seconds, peak RSS MiB of the import process, the load
    average when it ended)."""
    began = time.perf_counter()
    command = [sys.executable, "-m", "trustyard", "admin", "import", str(export)]
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command, "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"import failed:\n{result.stderr}")
    peak_kib = int(result.stderr.rsplit("peak-rss-kib ", 1)[1].split()[0])
    return elapsed, peak_kib / 1024, os.getloadavg()[0]


def run_one(
    config: str, data: Path, export: Path, projects: int, args: argparse.Namespace
) -> Figures:
    seconds, rss, load = timed_import(data, export)
    print(
        f"  {config}: imported {projects} projects in {seconds:.1f} s,"
        f" peak RSS {rss:.0f} MiB, load average {load:.1f}",
        flush=True,
    )
    server = start_index(data, "--no-access-log")
    try:
        found = measure_server(server, projects, args.samples, args.seed)
    finally:
        server.stop()
    return Figures(
        config=config,
        projects=projects,
        files=projects * VERSIONS * 2,
        import_s=seconds,
        import_rss_mib=rss,
        import_load=load,
        **found,  # type: ignore[arg-type]
    )


def render(figures: list[Figures], command: str) -> str:
    lines = [
        f"`{command}` — {platform.node()}, {os.cpu_count()} CPUs,"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "| configuration | projects | files | import | import peak RSS | load"
        " | /simple/ HTML | JSON | /simple/ JSON first render | cached | HTML cached"
        " | project page first p50 | p99 | cached p50 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.config} | {f.projects:,} | {f.files:,} | {f.import_s:.1f} s"
            f" | {f.import_rss_mib:.0f} MiB | {f.import_load:.1f}"
            f" | {f.index_html_bytes / 1e6:.2f} MB | {f.index_json_bytes / 1e6:.2f} MB"
            f" | {f.index_json_first_ms:.0f} ms | {f.index_json_cached_ms:.1f} ms"
            f" | {f.index_html_cached_ms:.1f} ms"
            f" | {f.page_first_p50:.1f} ms | {f.page_first_p99:.1f} ms"
            f" | {f.page_cached_p50:.2f} ms | {f.page_cached_p99:.2f} ms |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="projects per catalogue")
    parser.add_argument("--samples", type=int, default=1000, help="random project pages")
    parser.add_argument("--seed", type=int, default=740)
    parser.add_argument("--postgresql", action="store_true", help="also PostgreSQL + S3")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out", type=Path, default=HERE / "catalogue-results.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="trustyard-scale-"))
    figures: list[Figures] = []
    services: list[Any] = []
    try:
        if args.postgresql:
            from tests.services import start_postgres, start_seaweedfs  # noqa: PLC0415

            services = [start_postgres(), start_seaweedfs(work / "s3")]
            os.environ.update(services[1].environ)  # for the import and serve processes
        for projects in sizes:
            export = work / f"export-{projects}"
            began = time.perf_counter()
            write_export(export, projects)
            print(
                f"{projects} projects: export written in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
            figures.append(run_one("SQLite + files", work / f"sqlite-{projects}", export,
                                   projects, args))  # fmt: skip
            if args.postgresql:
                data = work / f"pg-{projects}"
                data.mkdir()
                (data / "trustyard.toml").write_text(
                    f"database = {json.dumps(services[0].new_database())}\n"
                    f"storage = {json.dumps(services[1].new_prefix())}\n"
                )
                figures.append(run_one("PostgreSQL + S3", data, export, projects, args))
            shutil.rmtree(export)
            print(render(figures[-1:], ""), flush=True)
    finally:
        for service in services:
            service.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    command = "uv run python benchmarks/scale/catalogue.py " + " ".join(sys.argv[1:])
    report = render(figures, command.strip())
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
