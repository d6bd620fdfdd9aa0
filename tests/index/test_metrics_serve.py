"""``trustyard serve --workers 2 --metrics-bind``: one scrape adds up both workers (issue 19).

A real server, real requests on its public port, the scrape on its own address parsed with
prometheus_client's parser; then a worker killed, replaced by uvicorn, and its gauges gone
from the sums while its counters stay.
"""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import request, upload_file
from tests.services import free_port

pytestmark = pytest.mark.slow

POOL_SIZE = 20  # index/db/engine.py: each worker's pool


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample of the scrape, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def count(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples: Samples, surface: str, status: str) -> float:
    return count(
        samples, "trustyard_http_request_duration_seconds_count", surface=surface, status=status
    )


def worker_pids(server: IndexServer) -> list[int]:
    return [int(p) for p in re.findall(r"Started server process \[(\d+)\]", server.log.read_text())]


def wait_for(condition: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {condition}")
        time.sleep(0.2)


def multiproc_directory(server: IndexServer) -> Path:
    """The directory the workers write their values to (their environment says which)."""
    environ = Path(f"/proc/{worker_pids(server)[0]}/environ").read_bytes().decode()
    (directory,) = [
        line.split("=", 1)[1]
        for line in environ.split("\0")
        if line.startswith("PROMETHEUS_MULTIPROC_DIR=")
    ]
    return Path(directory)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[IndexServer, int]]:
    port = free_port()
    server = start_index(tmp_path / "data", "--workers", "2", "--metrics-bind", f"127.0.0.1:{port}")
    try:
        wait_for("both workers started", lambda: len(worker_pids(server)) == 2)
        yield server, port
    finally:
        server.stop()


def test_one_scrape_adds_up_every_worker(served: tuple[IndexServer, int], tmp_path: Path) -> None:
    server, port = served
    # each worker opens its own pool once it starts: both are in the sum
    wait_for(
        "both pools counted", lambda: count(scrape(port), "trustyard_db_pool_size") == 2 * POOL_SIZE
    )
    before = scrape(port)

    pages, missing = 40, 12
    with ThreadPoolExecutor(8) as pool:  # many connections at once, so both workers take some
        answers = list(pool.map(lambda _: request(server, "GET", "/simple/").status, range(pages)))
        answers += list(
            pool.map(lambda _: request(server, "GET", "/no/such/path").status, range(missing))
        )
    assert answers.count(200) == pages
    assert answers.count(404) == missing

    server.create_user("alice")
    token = server.create_token("alice")
    wheel = build_wheel(tmp_path / "w", "scraped", "1.0")
    assert upload_file(server, token, wheel, "scraped", "1.0").status == 200
    assert upload_file(server, "pypi-not-a-token", wheel, "scraped", "1.0").status == 403

    after = scrape(port)
    assert requests_of(after, "simple", "2xx") - requests_of(before, "simple", "2xx") == pages
    assert requests_of(after, "none", "4xx") - requests_of(before, "none", "4xx") == missing
    assert requests_of(after, "upload", "2xx") - requests_of(before, "upload", "2xx") == 1
    assert requests_of(after, "upload", "4xx") - requests_of(before, "upload", "4xx") == 1
    assert count(after, "trustyard_uploads_total", outcome="stored") == 1
    assert count(after, "trustyard_uploads_total", outcome="refused") == 1
    assert count(after, "trustyard_upload_bytes_total", outcome="stored") == wheel.stat().st_size
    assert count(after, "trustyard_db_pool_size") == 2 * POOL_SIZE

    # The files of each worker, read separately, add up to the scrape: it is their sum.
    per_worker = [
        sum(
            sample.value
            for family in MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
            for sample in family.samples
            if sample.name == "trustyard_http_request_duration_seconds_count"
            and sample.labels["surface"] == "simple"
        )
        for path in multiproc_directory(server).glob("histogram_*.db")
    ]
    assert sum(per_worker) == requests_of(after, "simple", "2xx")

    # A worker dies: uvicorn starts another; the dead one's gauges leave the sums (else the
    # pools would count three), its counters stay.
    os.kill(worker_pids(server)[0], signal.SIGKILL)
    wait_for("a third worker", lambda: len(worker_pids(server)) == 3)
    wait_for(
        "the dead worker's pool forgotten",
        lambda: count(scrape(port), "trustyard_db_pool_size") == 2 * POOL_SIZE,
    )
    time.sleep(1)  # the supervisor's next rounds change nothing more
    final = scrape(port)
    assert count(final, "trustyard_db_pool_size") == 2 * POOL_SIZE
    assert requests_of(final, "simple", "2xx") == requests_of(after, "simple", "2xx")
    assert count(final, "trustyard_uploads_total", outcome="stored") == 1


def test_the_public_port_does_not_serve_the_metrics(served: tuple[IndexServer, int]) -> None:
    server, port = served
    assert request(server, "GET", "/metrics").status == 404
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/simple/", timeout=10)
    assert refused.value.code == 404


def test_the_directory_of_the_run_is_removed_at_the_end(tmp_path: Path) -> None:
    port = free_port()
    server = start_index(tmp_path / "data", "--workers", "2", "--metrics-bind", f"127.0.0.1:{port}")
    try:
        wait_for("both workers started", lambda: len(worker_pids(server)) == 2)
        directory = multiproc_directory(server)
        assert directory.is_dir()
        assert directory.name.startswith("trustyard-metrics-")
    finally:
        server.stop()
    assert not directory.exists()
