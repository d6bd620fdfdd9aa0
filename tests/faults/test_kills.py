"""SIGKILL of the index at every point of an upload; after a restart nothing is half there.

Each point of ``inject/sitecustomize.py`` (spool write, before the store, around the file's
put, after its metadata file, around the commit) is armed in turn for one upload. For each
kill: offline, every row has its whole file; after the restart the spool is empty, every row's
file is served whole, a file left without a row is never served, and the real client's retry
(twine every third time, else ``uv publish``) succeeds, the file then listed once with the
right hash.
On both back ends: SQLite + files, and PostgreSQL + S3 (SeaweedFS).

``FAULTS_ROUNDS=N`` kills N times per point (default 1); the counts are in
``docs/reliability.md``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Thread

import pytest

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.faults.conftest import (
    Place,
    check_agreement,
    check_served,
    kill,
    listed,
    local_place,
    publish,
    sha256_of,
    start_faulty,
)
from tests.faults.inject.sitecustomize import POINTS
from tests.index.conftest import basic, multipart, upload_fields
from trustyard.index.services.uploads import storage_key

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("FAULTS_ROUNDS", "1"))
# At least one random kill always runs: FAULTS_RANDOM_KILLS only makes the campaign longer.
RANDOM_KILLS = max(1, int(os.environ.get("FAULTS_RANDOM_KILLS", "3")))
LOCAL_POINTS = tuple(p for p in POINTS if p != "mid-file-put")  # a local put is one rename


def retry_client(i: int) -> str:
    """twine for every third retry, ``uv publish`` (quicker to start) for the others."""
    return "twine" if i % 3 == 0 else "uv"


def victim(tmp: Path, project: str) -> Path:
    """A wheel with 256 KiB of incompressible bytes, so that writes take several chunks."""
    noise = random.Random(project).randbytes(256 * 1024)
    return build_wheel(tmp / project, project, "1.0", files={f"{project}/noise.bin": noise})


def send_raw(server: IndexServer, token: str, wheel: Path, project: str) -> str:
    """Upload as twine does; the connection is expected to die. Returns what the client saw."""
    body, content_type = multipart(
        upload_fields(wheel, project, "1.0"),
        [("content", wheel.name, wheel.read_bytes(), "application/octet-stream")],
    )
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(
            "POST",
            "/legacy/",
            body=body,
            headers={"Content-Type": content_type, "Authorization": basic(token)},
        )
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    else:
        return f"{response.status} {response.reason}"
    finally:
        conn.close()


@dataclass
class Lineage:
    """One index's data, restarted after every kill with the next fault armed."""

    place: Place
    extra: tuple[str, ...]
    tmp: Path
    server: IndexServer | None = None

    def start(self, faults: dict[str, str]) -> IndexServer:
        self.server = start_faulty(self.place.data, faults, *self.extra)
        return self.server


def recover_and_retry(
    lineage: Lineage,
    wheel: Path,
    project: str,
    token: str,
    client: str,
    next_faults: dict[str, str],
) -> None:
    """The checks after one kill: offline agreement, restart, sweep, serving, client retry."""
    place, tmp = lineage.place, lineage.tmp
    data = wheel.read_bytes()
    key = storage_key(hashlib.blake2b(data, digest_size=32).hexdigest(), wheel.name)
    orphans = check_agreement(place)
    assert orphans <= {key, key + ".metadata"}, orphans

    server = lineage.start(next_faults)
    assert place.spool() == [], "the restart left unfinished uploads in the spool"
    check_served(server, place, orphans)
    before = listed(server, project)
    assert before in ({}, {wheel.name: sha256_of(data)}), before

    retry = publish(client, server, token, wheel, tmp)
    assert retry.returncode == 0, f"{client} retry failed:\n{retry.stdout}{retry.stderr}"
    assert listed(server, project) == {wheel.name: sha256_of(data)}
    assert check_agreement(place) == set(), "a file is still stored without its row"
    check_served(server, place, set())


def run_every_point(
    lineage: Lineage, points: tuple[str, ...], make_token: Callable[[IndexServer], str]
) -> Counter[str]:
    """Kill at each point ``ROUNDS`` times; the count of kills survived per point."""
    plan = [(point, r) for r in range(ROUNDS) for point in points]
    mark = {step: f"kill{i}r{step[1]}-" for i, step in enumerate(plan)}

    def armed(i: int) -> dict[str, str]:
        if i >= len(plan):
            return {}
        return {"FAULTS_KILL_AT": f"{plan[i][0]}:{mark[plan[i]]}"}

    server = lineage.start(armed(0))
    token = make_token(server)
    survived: Counter[str] = Counter()
    for i, step in enumerate(plan):
        point = step[0]
        project = mark[step].rstrip("-")
        wheel = victim(lineage.tmp, project)
        seen = send_raw(server, token, wheel, project)
        code = server.process.wait(timeout=60)
        assert code == -signal.SIGKILL, f"{point}: not killed ({code}); client saw {seen}"
        if point == "spool-write":
            assert lineage.place.spool(), "killed while spooling, yet the spool is empty"
        recover_and_retry(lineage, wheel, project, token, retry_client(i), next_faults=armed(i + 1))
        assert lineage.server is not None
        server = lineage.server
        survived[point] += 1
    server.stop()
    return survived


def test_kills_at_every_upload_point_on_sqlite_and_files(tmp_path: Path) -> None:
    lineage = Lineage(place=local_place(tmp_path / "data"), extra=(), tmp=tmp_path)

    def make_token(server: IndexServer) -> str:
        server.create_user("alice")
        return server.create_token("alice")

    try:
        survived = run_every_point(lineage, LOCAL_POINTS, make_token)
    finally:
        if lineage.server is not None:
            kill(lineage.server)
    assert survived == Counter(dict.fromkeys(LOCAL_POINTS, ROUNDS))
    print(f"kills survived (SQLite + files): {dict(survived)}")


def test_kills_at_every_upload_point_on_postgresql_and_s3(
    tmp_path: Path, database_url: str, storage_url: str
) -> None:
    place = Place(data=tmp_path / "data", database=database_url, storage=storage_url)
    extra = ("--database", database_url, "--storage", storage_url)
    lineage = Lineage(place=place, extra=extra, tmp=tmp_path)

    def make_token(server: IndexServer) -> str:
        for args in (("admin", "user", "create", "alice", "--password-stdin"),):
            server.cli(*args, "--database", database_url, stdin="correct horse battery\n")
        token = server.cli(
            "admin", "token", "create", "alice", "--database", database_url
        ).stdout.strip()
        assert token.startswith("trustyard-"), token
        return token

    try:
        survived = run_every_point(lineage, POINTS, make_token)
    finally:
        if lineage.server is not None:
            kill(lineage.server)
    assert survived == Counter(dict.fromkeys(POINTS, ROUNDS))
    print(f"kills survived (PostgreSQL + S3): {dict(survived)}")


def trickle(server: IndexServer, token: str, wheel: Path, project: str) -> None:
    """Send an upload slowly (16 KiB every 5 ms), as over a slow link; any failure is fine."""
    body, content_type = multipart(
        upload_fields(wheel, project, "1.0"),
        [("content", wheel.name, wheel.read_bytes(), "application/octet-stream")],
    )
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/legacy/")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Authorization", basic(token))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        for start in range(0, len(body), 16 * 1024):
            conn.send(body[start : start + 16 * 1024])
            time.sleep(0.005)
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()


def test_kills_at_random_moments_of_slow_uploads(tmp_path: Path) -> None:
    """No hook decides: SIGKILL after a random delay; the trace says which point it followed."""
    trace = tmp_path / "trace.txt"
    lineage = Lineage(place=local_place(tmp_path / "data"), extra=(), tmp=tmp_path)
    tracing = {"FAULTS_TRACE": str(trace)}
    server = lineage.start(tracing)
    server.create_user("alice")
    token = server.create_token("alice")
    chance = random.Random(8)
    after: Counter[str] = Counter()
    try:
        for i in range(RANDOM_KILLS):
            project = f"random{i}"
            wheel = victim(tmp_path, project)
            delay = chance.uniform(0.02, 0.35)
            sender = Thread(target=trickle, args=(server, token, wheel, project))
            sender.start()
            time.sleep(delay)
            kill(server)
            sender.join(timeout=60)
            lines = trace.read_text().splitlines() if trace.exists() else []
            reached = [ln.split()[0] for ln in lines if ln.endswith(" " + wheel.name)]
            after[reached[-1] if reached else "receiving"] += 1
            recover_and_retry(lineage, wheel, project, token, retry_client(i + 1), tracing)
            assert lineage.server is not None
            server = lineage.server
    finally:
        if lineage.server is not None:
            lineage.server.stop()
    assert sum(after.values()) == RANDOM_KILLS
    print(f"random kills survived, by the last point passed: {dict(after)}")
