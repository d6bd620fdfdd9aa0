"""PostgreSQL stopped and started again under upload and read traffic.

A private cluster (not the session's, which other tests share) is stopped for a few seconds
while uploads and simple-page reads keep coming. While it is away every answer is a clear error
(503 naming the database) and never a hang; once it is back the same process serves again
without a restart; every upload answered 200 is there, whole, and the ones refused succeed on
retry.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.faults.conftest import Place, check_agreement, check_served, listed, sha256_of
from tests.index.conftest import Answer, request, upload_file
from tests.services import PostgresServer, start_postgres

pytestmark = pytest.mark.slow

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
DOWN_SECONDS = 3.0


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def start_command(cluster: PostgresServer) -> list[str]:
    """``pg_ctl start`` with the options the cluster was first started with (same port)."""
    assert cluster.root is not None, "needs a cluster of our own"
    assert cluster.stop_command
    port = make_url(cluster.admin_url).port
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {cluster.root}"
        " -c fsync=off -c max_connections=300"
    )
    base = cluster.stop_command[:-3]  # [prefix..., pg_ctl, -D, DATA]
    return [*base, "-l", str(cluster.root / "postgres.log"), "-o", options, "-w", "start"]


def pg_ctl(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


class Load:
    """Uploads of fresh wheels and page reads, in threads, until stopped; every answer kept."""

    def __init__(self, server: IndexServer, token: str, tmp: Path) -> None:
        self.server, self.token, self.tmp = server, token, tmp
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[float, str, int, str, float]] = []  # t, kind, status, reason, s
        self.accepted: dict[str, Path] = {}  # project -> wheel
        self.refused: dict[str, Path] = {}
        self.count = 0

    def _note(self, kind: str, began: float, answer: Answer | None, error: str = "") -> None:
        took = time.monotonic() - began
        with self.lock:
            status = answer.status if answer else 0
            reason = answer.reason if answer else error
            self.answers.append((began, kind, status, reason, took))

    def uploader(self, n: int) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.count += 1
                project = f"pg{n}x{self.count}"
            wheel = build_wheel(self.tmp / project, project, "1.0")
            began = time.monotonic()
            try:
                answer = upload_file(self.server, self.token, wheel, project, "1.0")
            except (OSError, http.client.HTTPException) as exc:
                self._note("upload", began, None, type(exc).__name__)
                self.refused[project] = wheel
                continue
            self._note("upload", began, answer)
            (self.accepted if answer.status == 200 else self.refused)[project] = wheel
            time.sleep(0.05)

    def reader(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                answer = request(self.server, "GET", "/simple/", headers={"Accept": JSON_TYPE})
            except (OSError, http.client.HTTPException) as exc:
                self._note("read", began, None, type(exc).__name__)
                continue
            self._note("read", began, answer)
            time.sleep(0.02)


def test_postgresql_restarted_under_load(own_postgres: PostgresServer, tmp_path: Path) -> None:
    database = own_postgres.new_database()
    data = tmp_path / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text(f"database = {json.dumps(database)}\n")
    server = start_index(data)
    place = Place(data=data, database=database, storage=None)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        load = Load(server, token, tmp_path / "wheels")
        threads = [threading.Thread(target=load.uploader, args=(i,)) for i in range(2)]
        threads += [threading.Thread(target=load.reader) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)
            down_at = time.monotonic()
            pg_ctl([*own_postgres.stop_command])
            time.sleep(DOWN_SECONDS)
            up_at = time.monotonic()
            pg_ctl(start_command(own_postgres))
            time.sleep(3)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=120)

        during = [a for a in load.answers if down_at + 0.5 < a[0] < up_at]
        after = [a for a in load.answers if a[0] > up_at + 1.5]
        outcomes = Counter((kind, status, reason[:60]) for _, kind, status, reason, _ in during)
        print(f"answers while the database was away: {dict(outcomes)}")
        print(f"slowest answer while away: {max((a[4] for a in during), default=0):.2f} s")
        assert during, "no request was made while the database was away"
        assert all(status == 503 for _, _, status, _, _ in during), outcomes
        assert all("database" in reason.lower() for _, _, _, reason, _ in during), outcomes
        assert after, "no request was made after the database came back"
        assert all(status == 200 for _, _, status, _, _ in after), Counter(
            (kind, status, reason[:60]) for _, kind, status, reason, _ in after
        )

        # Nothing lost: what was accepted is there; what was refused goes in on retry.
        assert load.accepted
        assert load.refused
        for project, wheel in load.refused.items():
            answer = upload_file(server, token, wheel, project, "1.0")
            assert answer.status == 200, (project, answer.status, answer.reason)
        for project, wheel in {**load.accepted, **load.refused}.items():
            assert listed(server, project) == {wheel.name: sha256_of(wheel.read_bytes())}
        assert check_agreement(place) == set()
        check_served(server, place, set())
    finally:
        server.stop()
