"""Trusted Publishing mint-token throughput and latency, with a warm JWKS cache.

Starts the development issuer and a trustyard index (SQLite) per binary measured: this
checkout's, and with ``--peer`` another one (today's main, checked out beside it) in the same
run. Both run with the mint rate limits off (``mint-rate-per-address`` and
``mint-rate-per-publisher`` set to ``off`` in the data directory's ``trustyard.toml``): the
benchmark measures exchanges, not refusals. Each index gets a GitHub publisher; every request
carries its own freshly signed ID token (its own ``jti``), so every exchange is a real
one-time mint. Rounds alternate between the binaries (ours first in odd rounds, the peer first
in even ones), at concurrency 16 and at concurrency 1, over keep-alive connections from Python
threads on the same machine; the figures are the medians over rounds, with the load average
read before and after each round.

A run in which any exchange was not a 200 is not reported: the failures are printed (status
and a sample body) and the exit status is 1.

    uv run python benchmarks/mint/run.py --peer /work/wt/baseline/.venv/bin/trustyard \\
        [--tokens 1000] [--tokens-c1 300] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jwt  # noqa: E402
from tests.oidc.conftest import start_dev_issuer  # noqa: E402

from trustyard.oidc.devclaims import GitHubRun  # noqa: E402
from trustyard.oidc.devkeys import load_signing_key  # noqa: E402
from trustyard.oidc.verify import verify_token  # noqa: E402

OURS = ROOT / ".venv" / "bin" / "trustyard"
# The benchmark measures exchanges: with the default limits most of them would be 429s.
CONFIG = 'mint-rate-per-address = "off"\nmint-rate-per-publisher = "off"\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Index:
    """One ``trustyard serve`` of one binary, on its own data directory."""

    name: str
    binary: Path
    data: Path
    workers: int
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    audience: str = ""

    def cli(self, *args: str, stdin: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        result = subprocess.run(
            [str(self.binary), *args, "--data", str(self.data)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}: trustyard {' '.join(args)}:\n{result.stderr}")
        return result.stdout

    def start(self, issuer: str) -> None:
        self.data.mkdir(parents=True)
        (self.data / "trustyard.toml").write_text(CONFIG)
        self.cli("admin", "user", "create", "bench", "--password-stdin", stdin="x" * 20 + "\n")
        self.cli("admin", "issuer", "add", issuer, "--allow-private-address")
        self.cli("admin", "project", "create", "widgets", "--owner", "bench")
        self.cli(
            *("publisher", "add", "widgets", "github", "--repository", "bench/widgets"),
            *("--workflow", "release.yml", "--issuer", issuer),
        )
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        log = (self.data.parent / f"{self.name}-server.log").open("ab")
        self.process = subprocess.Popen(
            [
                *(str(self.binary), "serve", "--data", str(self.data), "--port", str(self.port)),
                *("--no-access-log", "--workers", str(self.workers)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/_/oidc/audience"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    self.audience = json.load(answer)["audience"]
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start") from None
                time.sleep(0.1)
            else:
                return

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def claims(issuer: str, audience: str) -> dict[str, object]:
    run = GitHubRun(repository="bench/widgets", workflow="release.yml", ref="refs/tags/v1.0.0")
    now = int(time.time())
    return {
        **run.claims(),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }


class Signer:
    """Signs ID tokens with the development issuer's key, loaded once (``devkeys.sign`` loads
    it per token: tens of milliseconds of RSA key checks, minutes for a run's tokens)."""

    def __init__(self, key_path: Path) -> None:
        self.key = load_signing_key(key_path)

    def __call__(self, claims: dict[str, object]) -> str:
        return jwt.encode(
            claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid}
        )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def post(conn: http.client.HTTPConnection, token: str) -> tuple[int, bytes]:
    body = json.dumps({"token": token})
    conn.request("POST", "/_/oidc/mint-token", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


@dataclass
class Round:
    """One burst of exchanges against one index."""

    index: str
    concurrency: int
    mints: int
    wall: float
    latencies: list[float]
    load_before: float
    load_after: float
    server_cpu: float  # seconds of CPU the server's processes used during the burst
    client_cpu: float  # seconds of CPU this load generator used during the burst
    failures: collections.Counter[int] = field(default_factory=collections.Counter)
    sample: dict[int, bytes] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    def line(self) -> str:
        return (
            f"{self.index:>8} c={self.concurrency:<2} {self.rate:6.0f} mints/s"
            f"  p50 {statistics.median(self.latencies) * 1000:6.1f} ms"
            f"  p99 {percentile(self.latencies, 0.99) * 1000:6.1f} ms"
            f"  CPU/mint server {self.server_cpu / self.mints * 1000:.2f} ms"
            f" client {self.client_cpu / self.mints * 1000:.2f} ms"
            f"  load {self.load_before:.2f}->{self.load_after:.2f}"
            + (f"  FAILED {dict(self.failures)}" if self.failures else "")
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (``--workers``), from /proc (Linux):
    CPU per mint is far less sensitive to other load on the machine than wall time."""
    total = 0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for process in (pid, *map(int, children)):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5): fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def burst(index: Index, tokens: list[str], concurrency: int) -> Round:
    latencies: list[float] = []
    failures: collections.Counter[int] = collections.Counter()
    sample: dict[int, bytes] = {}
    lock = threading.Lock()
    queue = list(tokens)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", index.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    return
                token = queue.pop()
            start = time.perf_counter()
            try:
                status, body = post(conn, token)
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc).encode()
                conn = http.client.HTTPConnection("127.0.0.1", index.port, timeout=60)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    failures[status] += 1
                    sample.setdefault(status, body[:300])

    load_before = os.getloadavg()[0]
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    if index.process is None:
        raise RuntimeError(f"{index.name} is not running")
    server_before, client_before = cpu_seconds(index.process.pid), time.process_time()
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    server_cpu = cpu_seconds(index.process.pid) - server_before
    client_cpu = time.process_time() - client_before
    return Round(
        index.name,
        concurrency,
        len(tokens),
        wall,
        latencies,
        load_before,
        os.getloadavg()[0],
        server_cpu,
        client_cpu,
        failures,
        sample,
    )


def commit_of(binary: Path) -> str:
    """The commit of the checkout a ``.venv/bin/trustyard`` belongs to, when it is one."""
    checkout = binary.resolve().parents[2] if binary.parent.name == "bin" else binary.parent
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1000, help="exchanges per round at c=16")
    parser.add_argument("--tokens-c1", type=int, default=300, help="exchanges per round at c=1")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="trustyard serve --workers")
    parser.add_argument("--binary", type=Path, default=OURS, help="the trustyard measured")
    parser.add_argument(
        "--peer", type=Path, help="another trustyard (e.g. today's main) measured interleaved"
    )
    args = parser.parse_args()
    binaries = {"ours": args.binary} | ({"peer": args.peer} if args.peer else {})
    for name, binary in binaries.items():
        print(f"{name}: {binary} (commit {commit_of(binary)})")
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        issuer = start_dev_issuer(tmp / "issuer")
        sign = Signer(issuer.key_path)
        indexes = [Index(name, path, tmp / name, args.workers) for name, path in binaries.items()]
        try:
            for index in indexes:
                index.start(issuer.url)
                conn = http.client.HTTPConnection("127.0.0.1", index.port)
                status, body = post(conn, sign(claims(issuer.url, index.audience)))
                if status != 200:  # the warm-up fetches and caches the JWKS
                    print(f"{index.name}: warm-up exchange failed: {status} {body[:300]!r}")
                    return 1
            for number in range(args.rounds):
                order = indexes if number % 2 == 0 else indexes[::-1]
                for concurrency, count in ((args.concurrency, args.tokens), (1, args.tokens_c1)):
                    for index in order:
                        tokens = [sign(claims(issuer.url, index.audience)) for _ in range(count)]
                        done = burst(index, tokens, concurrency)
                        print(f"round {number + 1}: {done.line()}", flush=True)
                        rounds.append(done)
            key = load_signing_key(issuer.key_path).public_jwk()
            audience = indexes[0].audience
            sample = [sign(claims(issuer.url, audience)) for _ in range(300)]
            began_verify = time.perf_counter()
            for token in sample:
                verify_token(token, issuer=issuer.url, audience=audience, keys=lambda _i, _k: key)
            verify_ms = (time.perf_counter() - began_verify) / len(sample) * 1000
        finally:
            for index in indexes:
                index.stop()
            issuer.stop()
    failed = [done for done in rounds if done.failures]
    if failed:
        print("\nNOT REPORTED: exchanges failed (a refused mint is never counted as done)")
        for done in failed:
            for status, body in done.sample.items():
                print(f"  {done.index} c={done.concurrency}: {done.failures[status]} x {status}")
                print(f"    {body!r}")
        return 1
    print(f"\nmedians over {args.rounds} rounds, {args.workers} worker(s), rate limits off:")
    summary: dict[tuple[str, int], float] = {}
    for concurrency in (args.concurrency, 1):
        for index in indexes:
            mine = [r for r in rounds if r.index == index.name and r.concurrency == concurrency]
            rate = statistics.median(r.rate for r in mine)
            summary[index.name, concurrency] = rate
            p50 = statistics.median(statistics.median(r.latencies) for r in mine) * 1000
            p99 = statistics.median(percentile(r.latencies, 0.99) for r in mine) * 1000
            server = statistics.median(r.server_cpu / r.mints for r in mine) * 1000
            client = statistics.median(r.client_cpu / r.mints for r in mine) * 1000
            print(
                f"  {index.name:>5} c={concurrency:<2} {rate:6.0f} mints/s  p50 {p50:6.1f} ms"
                f"  p99 {p99:6.1f} ms  CPU/mint server {server:.2f} ms client {client:.2f} ms"
                f"  ({sum(r.mints for r in mine)} mints, 0 failed)"
            )
    if args.peer:
        for concurrency in (args.concurrency, 1):
            ratio = summary["ours", concurrency] / summary["peer", concurrency]
            print(f"  ours / peer at c={concurrency}: {ratio:.2f}x")
    loads = [r.load_before for r in rounds] + [r.load_after for r in rounds]
    print(f"  load average (1 min) during the run: {min(loads):.2f} to {max(loads):.2f}")
    print(f"  verification alone (in-process, one core): {verify_ms:.2f} ms per token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
