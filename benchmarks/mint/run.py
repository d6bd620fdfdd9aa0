"""Trusted Publishing mint-token throughput and latency, with a warm JWKS cache.

Starts the development issuer and a trustyard index (SQLite, one worker), registers a GitHub
publisher, signs N distinct tokens with the issuer's key (each with its own jti, so every
exchange is a real one-time mint), then posts them at a fixed concurrency over keep-alive
connections. Also times the verification step alone, in-process, to show what dominates.

    uv run python benchmarks/mint/run.py [--tokens 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import start_index  # noqa: E402
from tests.oidc.conftest import start_dev_issuer  # noqa: E402

from trustyard.oidc.devclaims import GitHubRun  # noqa: E402
from trustyard.oidc.devkeys import load_signing_key, sign  # noqa: E402
from trustyard.oidc.verify import verify_token  # noqa: E402


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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="trustyard serve --workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        issuer = start_dev_issuer(tmp / "issuer")
        index = start_index(tmp / "data", "--no-access-log", "--workers", str(args.workers))
        try:
            index.trust_issuer(issuer.url)  # the dev issuer, on loopback
            audience = index.audience  # the index's own
            index.create_user("bench")
            index.cli("admin", "project", "create", "widgets", "--owner", "bench")
            index.cli(
                "publisher",
                "add",
                "widgets",
                "github",
                "--repository",
                "bench/widgets",
                "--workflow",
                "release.yml",
                "--issuer",
                issuer.url,
            )
            tokens = [
                sign(claims(issuer.url, audience), issuer.key_path) for _ in range(args.tokens + 1)
            ]
            port = int(index.url.rsplit(":", 1)[1])

            def post(conn: http.client.HTTPConnection, token: str) -> int:
                conn.request(
                    "POST",
                    "/_/oidc/mint-token",
                    json.dumps({"token": token}),
                    {"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                response.read()
                return response.status

            warm = http.client.HTTPConnection("127.0.0.1", port)
            assert post(warm, tokens.pop()) == 200  # fetches and caches the JWKS
            latencies: list[float] = []
            failures = 0
            lock = threading.Lock()
            queue = list(tokens)

            def worker() -> None:
                nonlocal failures
                conn = http.client.HTTPConnection("127.0.0.1", port)
                while True:
                    with lock:
                        if not queue:
                            return
                        token = queue.pop()
                    start = time.perf_counter()
                    status = post(conn, token)
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
                        failures += status != 200

            threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began

            key = load_signing_key(issuer.key_path).public_jwk()
            sample = [sign(claims(issuer.url, audience), issuer.key_path) for _ in range(300)]
            began_verify = time.perf_counter()
            for token in sample:
                verify_token(token, issuer=issuer.url, audience=audience, keys=lambda _i, _k: key)
            verify_ms = (time.perf_counter() - began_verify) / len(sample) * 1000
        finally:
            index.stop()
            issuer.stop()
    print(
        f"mints: {len(latencies)} ({failures} failed) at concurrency {args.concurrency},"
        f" {args.workers} worker(s)"
    )
    print(f"throughput: {len(latencies) / wall:.0f} mints/s")
    print(
        f"latency p50: {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99: {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(f"verification alone (in-process, one core): {verify_ms:.2f} ms per token")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
