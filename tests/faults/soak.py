"""A soak of mixed traffic against two index instances on one PostgreSQL and one S3 bucket.

Shared by ``benchmarks/soak/run.py`` (ten minutes, figures) and ``tests/faults/test_soak.py``
(under a minute, zero errors and bounded memory). Readers fetch simple pages (HTML and PEP 691
JSON), PyPI's JSON API, files and their PEP 658 metadata (following the redirect to the bucket
and checking the bytes' sha256); writers upload new versions with an API token, and exchange
development-issuer OIDC tokens at ``/_/oidc/mint-token`` and upload with what they get.
Every request goes to one of the two instances in turn, as behind a load balancer. The run is
bounded by time and by a request count; everything listens on loopback.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import random
import statistics
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import basic, multipart, upload_fields
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from trustyard.errors import Error
from trustyard.oidc.devclaims import GitHubRun

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
SEED_PROJECTS = 20
RUN = GitHubRun(repository="octo/soak", workflow="release.yml", ref="refs/tags/v1")
TP_PROJECT = "soak-tp"


class SoakError(Exception):
    """One request that did not answer as it should (the message says how)."""


@dataclass
class Setup:
    """Two instances of one index, the issuer, and what the traffic needs to start."""

    instances: list[IndexServer]
    issuer: DevIssuer
    token: str  # a user-wide API token of the user ``soak``
    tmp: Path

    @property
    def audience(self) -> str:
        """The audience both instances announce (the index's own, in the shared database)."""
        return self.instances[0].audience

    def stop(self) -> None:
        for server in self.instances:
            server.stop()
        self.issuer.stop()


@dataclass(frozen=True)
class Stored:
    """A file the index accepted: where it is served and the hash it must have."""

    project: str
    path: str  # under /files/
    sha256: str


@dataclass
class Recorder:
    """Latencies per request kind, errors, and the files available for reading."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    files: list[Stored] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_version(self) -> int:
        """A number no other writer gets (two writers must never build the same wheel file)."""
        with self.lock:
            return next(self.versions)

    def timed(self, kind: str, action: Callable[[], Any]) -> Any:
        """Run one request; an exception or a wrong answer counts as an error of ``kind``."""
        start = time.perf_counter()
        try:
            result = action()
        except (SoakError, Error, OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            with self.lock:
                self.requests += 1
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
            return None
        elapsed = time.perf_counter() - start
        with self.lock:
            self.requests += 1
            self.latencies[kind].append(elapsed)
        return result


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def call(
    server: IndexServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def expect(answer: Answer, status: int, what: str) -> Answer:
    if answer.status != status:
        raise SoakError(f"{what}: {answer.status} {answer.body[:200]!r}")
    return answer


def upload(server: IndexServer, token: str, wheel: Path, project: str, version: str) -> Stored:
    body, content_type = multipart(
        upload_fields(wheel, project, version),
        [("content", wheel.name, wheel.read_bytes(), "application/octet-stream")],
    )
    headers = {"Content-Type": content_type, "Authorization": basic(token)}
    expect(call(server, "POST", "/legacy/", body, headers), 200, f"upload {wheel.name}")
    data = wheel.read_bytes()
    blake2 = hashlib.blake2b(data, digest_size=32).hexdigest()
    path = f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/{wheel.name}"
    return Stored(project, path, hashlib.sha256(data).hexdigest())


def prepare(tmp: Path, database: str, storage: str) -> Setup:
    """Start the two instances (own data dirs, shared database and bucket) and the issuer.

    On any failure, whatever was already started is stopped before the error goes on.
    """
    instances: list[IndexServer] = []
    issuer: DevIssuer | None = None
    try:
        for name in ("a", "b"):
            data = tmp / name
            data.mkdir(parents=True)
            (data / "trustyard.toml").write_text(
                f"database = {json.dumps(database)}\nstorage = {json.dumps(storage)}\n"
            )
            instances.append(start_index(data, "--no-access-log"))
        issuer = start_dev_issuer(tmp / "issuer")
        first = instances[0]
        first.create_user("soak")
        token = first.create_token("soak")
        wheel = build_wheel(tmp / "wheels", TP_PROJECT, "0.0")
        upload(first, token, wheel, TP_PROJECT, "0.0")
        first.trust_issuer(issuer.url)
        first.cli(
            "publisher",
            "add",
            TP_PROJECT,
            "github",
            "--repository",
            RUN.repository,
            "--workflow",
            RUN.workflow,
            "--issuer",
            issuer.url,
        )
    except BaseException:
        for server in instances:
            server.stop()
        if issuer is not None:
            issuer.stop()
        raise
    return Setup(instances=instances, issuer=issuer, token=token, tmp=tmp)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SoakError(f"no VmRSS for {pid}")


@dataclass
class Result:
    """What a soak measured."""

    seconds: float
    requests: int
    errors: list[str]
    latencies: dict[str, list[float]]
    rss: dict[str, list[tuple[float, int]]]  # instance -> (seconds since start, KiB)

    def percentiles(self) -> dict[str, dict[str, float]]:
        """Per kind: count and p50/p90/p99/max in milliseconds."""
        table = {}
        for kind, values in sorted(self.latencies.items()):
            ms = sorted(v * 1000 for v in values)
            cuts = (
                statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
            )
            table[kind] = {
                "count": float(len(ms)),
                "p50": cuts[49],
                "p90": cuts[89],
                "p99": cuts[98],
                "max": ms[-1],
            }
        return table

    def memory(self) -> dict[str, dict[str, float]]:
        """Per instance, in MiB: RSS after the first quarter (warm), at the end, the peak."""
        summary = {}
        for name, series in self.rss.items():
            warm = [kib for t, kib in series if t >= self.seconds / 4] or [series[-1][1]]
            summary[name] = {
                "start": series[0][1] / 1024,
                "warm": warm[0] / 1024,
                "end": series[-1][1] / 1024,
                "peak": max(kib for _, kib in series) / 1024,
                "growth_after_warm": (series[-1][1] - warm[0]) / 1024,
            }
        return summary

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "requests": self.requests,
            "errors": len(self.errors),
            "error_samples": self.errors[:20],
            "latency_ms": self.percentiles(),
            "rss_mib": self.memory(),
            "rss_series_kib": self.rss,
        }

    def markdown(self) -> str:
        """The figures as the tables of the README."""
        lines = [
            f"{self.requests} requests in {self.seconds:.0f} s, **{len(self.errors)} errors**.",
            "",
            "| request | count | p50 ms | p90 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
        ]
        for kind, row in self.percentiles().items():
            lines.append(
                f"| {kind} | {row['count']:.0f} | {row['p50']:.1f} | {row['p90']:.1f}"
                f" | {row['p99']:.1f} | {row['max']:.1f} |"
            )
        lines += [
            "",
            "| instance | RSS at start MiB | after warm-up | at end | peak | end - warm-up |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in self.memory().items():
            lines.append(
                f"| {name} | {row['start']:.1f} | {row['warm']:.1f} | {row['end']:.1f}"
                f" | {row['peak']:.1f} | {row['growth_after_warm']:+.1f} |"
            )
        if self.errors:
            lines += ["", "First errors:", "", *(f"- `{e}`" for e in self.errors[:10])]
        return "\n".join(lines) + "\n"


class Traffic:
    """The request mix; each method is one unit of work of one kind."""

    def __init__(self, setup: Setup, recorder: Recorder, seed: int) -> None:
        self.setup = setup
        self.recorder = recorder
        self.chance = random.Random(seed)
        self.turn = itertools.count(seed)

    def server(self) -> IndexServer:
        return self.setup.instances[next(self.turn) % len(self.setup.instances)]

    def pick(self) -> Stored:
        with self.recorder.lock:
            return self.chance.choice(self.recorder.files)

    # reads ------------------------------------------------------------------------------------
    def read(self) -> None:
        stored = self.pick()
        server = self.server()
        kind = self.chance.choice(["simple-html", "simple-json", "json-api", "file", "metadata"])
        timed = self.recorder.timed
        if kind == "simple-html":
            timed(kind, lambda: self._page(server, stored, "text/html"))
        elif kind == "simple-json":
            timed(kind, lambda: self._page(server, stored, JSON_TYPE))
        elif kind == "json-api":
            timed(
                kind,
                lambda: expect(
                    call(server, "GET", f"/pypi/{stored.project}/json"), 200, "JSON API"
                ),
            )
        else:
            suffix = ".metadata" if kind == "metadata" else ""
            location = timed(
                f"{kind} (index redirect)", lambda: self._redirect(server, stored, suffix)
            )
            if location is not None:
                timed(f"{kind} (bucket)", lambda: self._fetch(location, stored, suffix))

    def _page(self, server: IndexServer, stored: Stored, accept: str) -> None:
        answer = expect(
            call(server, "GET", f"/simple/{stored.project}/", headers={"Accept": accept}),
            200,
            f"/simple/{stored.project}/",
        )
        filename = stored.path.rsplit("/", 1)[1]
        if filename.encode() not in answer.body:
            raise SoakError(f"/simple/{stored.project}/ does not list {filename}")

    def _redirect(self, server: IndexServer, stored: Stored, suffix: str) -> str:
        answer = expect(call(server, "GET", f"/files/{stored.path}{suffix}"), 302, "file")
        return answer.headers["location"]

    def _fetch(self, location: str, stored: Stored, suffix: str) -> None:
        with urllib.request.urlopen(location, timeout=60) as response:
            body = response.read()
        if suffix:
            if not body.startswith(b"Metadata-Version"):
                raise SoakError(f"{stored.path}.metadata is not core metadata")
        elif hashlib.sha256(body).hexdigest() != stored.sha256:
            raise SoakError(f"{stored.path} served with other bytes")

    # writes -----------------------------------------------------------------------------------
    def upload(self) -> None:
        project = f"soak-{self.chance.randrange(SEED_PROJECTS):02d}"
        version = f"1.{self.recorder.next_version()}"
        wheel = build_wheel(self.setup.tmp / "wheels" / project / version, project, version)
        server = self.server()
        stored = self.recorder.timed(
            "upload", lambda: upload(server, self.setup.token, wheel, project, version)
        )
        if stored is not None:
            with self.recorder.lock:
                self.recorder.files.append(stored)

    def publish_trusted(self) -> None:
        """An OIDC token from the issuer, exchanged at one instance, used at the other."""
        id_token = self.recorder.timed(
            "issuer token (not the index)",
            lambda: self.setup.issuer.mint(self.setup.audience, RUN.claims()),
        )
        if id_token is None:
            return
        minting, uploading = self.server(), self.server()
        body = json.dumps({"token": id_token}).encode()
        answer = self.recorder.timed(
            "mint",
            lambda: expect(
                call(
                    minting,
                    "POST",
                    "/_/oidc/mint-token",
                    body,
                    {"Content-Type": "application/json"},
                ),
                200,
                "mint",
            ),
        )
        if answer is None:
            return
        token = json.loads(answer.body)["token"]
        version = f"0.{self.recorder.next_version()}"
        wheel = build_wheel(self.setup.tmp / "wheels" / TP_PROJECT / version, TP_PROJECT, version)
        stored = self.recorder.timed(
            "upload (trusted publishing)",
            lambda: upload(uploading, token, wheel, TP_PROJECT, version),
        )
        if stored is not None:
            with self.recorder.lock:
                self.recorder.files.append(stored)


def run_soak(
    setup: Setup,
    *,
    seconds: float,
    readers: int = 4,
    writers: int = 2,
    write_interval: float = 0.5,
    max_requests: int = 1_000_000,
    sample_every: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Drive the mix for ``seconds`` (or ``max_requests``); sample both instances' RSS."""
    recorder = Recorder()
    seeder = Traffic(setup, recorder, seed=0)
    for i in range(SEED_PROJECTS):
        project = f"soak-{i:02d}"
        wheel = build_wheel(setup.tmp / "wheels" / project / "1.0", project, "1.0")
        recorder.files.append(upload(seeder.server(), setup.token, wheel, project, "1.0"))
    start = time.monotonic()
    deadline = start + seconds
    stop = threading.Event()
    rss: dict[str, list[tuple[float, int]]] = {
        f"instance {chr(97 + i)}": [] for i in range(len(setup.instances))
    }

    def done() -> bool:
        return stop.is_set() or time.monotonic() >= deadline or recorder.requests >= max_requests

    reported = [0]

    def sample() -> None:
        while True:
            now = time.monotonic() - start
            for (_name, series), server in zip(rss.items(), setup.instances, strict=True):
                series.append((round(now, 1), rss_kib(server.process.pid)))
            if progress is not None:
                for error in recorder.errors[reported[0] :]:
                    progress(f"error: {error}")
                reported[0] = len(recorder.errors)
                progress(
                    f"{now:6.0f} s  {recorder.requests} requests  {len(recorder.errors)} errors  "
                    + "  ".join(f"{n} {s[-1][1] / 1024:.0f} MiB" for n, s in rss.items())
                )
            if done() or stop.wait(sample_every):
                return

    def reader(seed: int) -> None:
        traffic = Traffic(setup, recorder, seed)
        while not done():
            traffic.read()

    def writer(seed: int) -> None:
        traffic = Traffic(setup, recorder, seed)
        for n in itertools.count():
            if done():
                return
            began = time.monotonic()
            if n % 4 == 3:
                traffic.publish_trusted()
            else:
                traffic.upload()
            stop.wait(max(0.0, write_interval - (time.monotonic() - began)))

    threads = [threading.Thread(target=sample)]
    threads += [threading.Thread(target=reader, args=(100 + i,)) for i in range(readers)]
    threads += [threading.Thread(target=writer, args=(200 + i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            threads[0].join(timeout=0.5)  # short waits: Ctrl-C reaches this thread
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    for (_name, series), server in zip(rss.items(), setup.instances, strict=True):
        series.append((round(time.monotonic() - start, 1), rss_kib(server.process.pid)))
    return Result(
        seconds=time.monotonic() - start,
        requests=recorder.requests,
        errors=recorder.errors,
        latencies=dict(recorder.latencies),
        rss=rss,
    )
