"""Two ``trustyard serve`` instances on one PostgreSQL and one S3 bucket behave as one index.

Each instance has a data directory of its own (only its spool lives there); both name the
same database and bucket prefix in their ``trustyard.toml``, as two machines behind a load
balancer would. The S3 server is a real SeaweedFS, the database a real PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PYTHON, IndexServer, client_env, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.services import PostgresServer, SeaweedServer
from trustyard.index.storage.s3 import S3Storage
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devkeys import sign

pytestmark = pytest.mark.slow


@dataclass
class Pair:
    """Two instances of one index, and where their shared state lives."""

    a: IndexServer
    b: IndexServer
    database: str
    storage: str
    tmp: Path

    def stored_keys(self) -> set[str]:
        return S3Storage(self.storage, self.tmp / "probe-spool").keys()

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        engine = create_engine(self.database)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql))]
        finally:
            engine.dispose()


def configure(data: Path, database: str, storage: str, extra: str = "") -> None:
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text(
        f"database = {json.dumps(database)}\nstorage = {json.dumps(storage)}\n{extra}"
    )


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    seaweedfs: SeaweedServer,
) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("scale-out")
    database = postgres_server.new_database()
    storage = seaweedfs.new_prefix()
    configure(tmp / "a", database, storage)
    configure(tmp / "b", database, storage)
    a = start_index(tmp / "a")  # creates the schema in the empty database
    b = start_index(tmp / "b")
    try:
        yield Pair(a=a, b=b, database=database, storage=storage, tmp=tmp)
    finally:
        a.stop()
        b.stop()


def test_uploaded_through_one_installed_through_the_other(pair: Pair) -> None:
    pair.a.create_user("alice")
    token = pair.b.create_token("alice")  # the admin CLI works through either configuration
    wheel = build_wheel(pair.tmp / "wheels", "scaled", "1.0")
    answer = upload_file(pair.a, token, wheel, "scaled", "1.0")
    assert answer.status == 200, answer.text

    json_type = "application/vnd.pypi.simple.v1+json"
    page = request(pair.b, "GET", "/simple/scaled/", headers={"Accept": json_type})
    assert page.status == 200
    (listed,) = json.loads(page.body)["files"]
    assert listed["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    path = listed["url"].split("/files/", 1)[1]

    # Files are answered with a redirect to a short-lived presigned URL of the bucket.
    redirect = request(pair.b, "GET", f"/files/{path}")
    assert redirect.status == 302
    assert redirect.headers["location"].startswith(os.environ["AWS_ENDPOINT_URL"] + "/")
    assert "X-Amz-Signature=" in redirect.headers["location"]
    assert redirect.headers["cache-control"] == "no-store"
    assert request(pair.b, "GET", "/files/ab/cd/ef/not-a-file.whl").status == 404

    # B's page cache must notice a change committed by A (no SQLite change probe here).
    wheel_11 = build_wheel(pair.tmp / "wheels", "scaled", "1.1")
    assert upload_file(pair.a, token, wheel_11, "scaled", "1.1").status == 200
    fresh = request(pair.b, "GET", "/simple/scaled/", headers={"Accept": json_type})
    assert len(json.loads(fresh.body)["files"]) == 2
    assert fresh.headers["etag"] != page.headers["etag"]

    target = pair.tmp / "installed"
    env = client_env(pair.tmp)
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(target),
            "--index-url",
            pair.b.simple_url,
            "scaled==1.0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "scaled" / "__init__.py").is_file()


def test_twenty_concurrent_uploads_across_both_leave_one_file(pair: Pair) -> None:
    pair.a.create_user("racer-owner")
    token = pair.a.create_token("racer-owner")
    wheels = [
        build_wheel(
            pair.tmp / f"race{i}", "racer", "1.0", files={"racer/which.py": f"N = {i}\n".encode()}
        )
        for i in range(20)
    ]
    assert len({hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}) == 20

    def send(numbered: tuple[int, Path]) -> Answer:
        i, wheel = numbered
        return upload_file(pair.a if i % 2 else pair.b, token, wheel, "racer", "1.0")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, enumerate(wheels)))

    winners = [w for w, a in zip(wheels, answers, strict=True) if a.status == 200]
    losers = [a for a in answers if a.status != 200]
    assert len(winners) == 1, [(a.status, a.reason) for a in answers]
    assert all(a.status == 400 and a.reason.startswith("File already exists") for a in losers), [
        (a.status, a.reason) for a in losers
    ]

    rows = pair.rows(
        "SELECT f.filename, f.sha256 FROM files f JOIN releases r ON f.release_id = r.id"
        " JOIN projects p ON r.project_id = p.id WHERE p.normalized_name = 'racer'"
    )
    winner = winners[0].read_bytes()
    assert rows == [("racer-1.0-py3-none-any.whl", hashlib.sha256(winner).hexdigest())]
    blake2 = hashlib.blake2b(winner, digest_size=32).hexdigest()
    key = f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/racer-1.0-py3-none-any.whl"
    racer_keys = {k for k in pair.stored_keys() if "/racer-" in k}
    assert racer_keys == {key, key + ".metadata"}
    store = S3Storage(pair.storage, pair.tmp / "probe-spool")
    assert hashlib.sha256(store.read_bytes(key)).hexdigest() == hashlib.sha256(winner).hexdigest()
    for server in (pair.a, pair.b):
        assert list((server.data / "tmp").iterdir()) == []


def _mint_body(issuer: DevIssuer, run: GitHubRun, audience: str) -> bytes:
    """A mint-token request body: a fresh 5-minute token of ``run`` from the dev issuer."""
    now = int(time.time())
    claims = {
        **run.claims(),
        "iss": issuer.url,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return json.dumps({"token": sign(claims, issuer.key_path)}).encode()


def test_a_token_minted_on_one_is_refused_when_replayed_on_the_other(pair: Pair) -> None:
    issuer: DevIssuer = start_dev_issuer(pair.tmp / "issuer")
    try:
        pair.a.create_user("publisher-owner")
        owner = pair.a.create_token("publisher-owner")
        wheel = build_wheel(pair.tmp / "tp", "tp-scaled", "0.1")
        assert upload_file(pair.a, owner, wheel, "tp-scaled", "0.1").status == 200
        pair.b.trust_issuer(issuer.url)  # the allow-list is in the shared database
        # One index, one audience: generated once, kept in the database both instances share.
        assert pair.a.audience == pair.b.audience
        pair.b.cli(
            "publisher",
            "add",
            "tp-scaled",
            "github",
            "--repository",
            "octo/scaled",
            "--workflow",
            "release.yml",
            "--issuer",
            issuer.url,
        )
        run = GitHubRun(repository="octo/scaled", workflow="release.yml", ref="refs/tags/v1")
        body = _mint_body(issuer, run, pair.a.audience)
        headers = {"Content-Type": "application/json"}
        first = request(pair.a, "POST", "/_/oidc/mint-token", body, headers)
        assert first.status == 200, first.text
        replay = request(pair.b, "POST", "/_/oidc/mint-token", body, headers)
        assert replay.status == 422, replay.text
        assert json.loads(replay.body)["errors"][0]["code"] == "invalid-reuse-token"
    finally:
        issuer.stop()


def test_first_mints_of_a_new_issuer_on_both_at_once_all_succeed(pair: Pair) -> None:
    """Both instances fetch a new issuer's keys at the same moment: one key-set row, no 500
    (the soak test once saw a duplicate-key error here)."""
    issuer: DevIssuer = start_dev_issuer(pair.tmp / "issuer-race")
    try:
        pair.a.create_user("race-owner")
        owner = pair.a.create_token("race-owner")
        wheel = build_wheel(pair.tmp / "tp-race", "tp-race", "0.1")
        assert upload_file(pair.a, owner, wheel, "tp-race", "0.1").status == 200
        pair.a.trust_issuer(issuer.url)
        pair.a.cli(
            "publisher", "add", "tp-race", "github",
            "--repository", "octo/race", "--workflow", "release.yml", "--issuer", issuer.url,
        )  # fmt: skip
        run = GitHubRun(repository="octo/race", workflow="release.yml", ref="refs/tags/v1")
        audience = pair.a.audience

        def mint(server: IndexServer) -> int:
            body = _mint_body(issuer, run, audience)
            headers = {"Content-Type": "application/json"}
            return request(server, "POST", "/_/oidc/mint-token", body, headers).status

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(mint, [pair.a, pair.b] * 4))
        assert statuses == [200] * 8
        rows = pair.a.query("SELECT count(*) FROM oidc_key_sets WHERE issuer = :i", i=issuer.url)
        assert rows == [(1,)]
    finally:
        issuer.stop()


def test_a_streaming_instance_relays_files_with_length_ranges_and_caching(pair: Pair) -> None:
    """``serve --s3-serve stream``: a third instance on the same index relays the bytes itself."""
    configure(pair.tmp / "c", pair.database, pair.storage)
    streaming = start_index(pair.tmp / "c", "--s3-serve", "stream")
    try:
        pair.a.create_user("streamer")
        token = pair.a.create_token("streamer")
        wheel = build_wheel(
            pair.tmp / "stream", "streamed", "1.0", files={"streamed/big.py": b"#" * 300_000}
        )
        assert upload_file(pair.a, token, wheel, "streamed", "1.0").status == 200
        data = wheel.read_bytes()
        json_type = "application/vnd.pypi.simple.v1+json"
        page = request(streaming, "GET", "/simple/streamed/", headers={"Accept": json_type})
        (listed,) = json.loads(page.body)["files"]
        path = "/files/" + listed["url"].split("/files/", 1)[1]

        whole = request(streaming, "GET", path)
        assert whole.status == 200
        assert whole.body == data
        assert whole.headers["content-length"] == str(len(data))
        assert "transfer-encoding" not in whole.headers
        assert whole.headers["cache-control"] == "max-age=365000000, immutable, public"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-disposition"] == (
            'attachment; filename="streamed-1.0-py3-none-any.whl"'
        )
        assert whole.headers["content-type"] == "application/zip"

        head = request(streaming, "HEAD", path)
        assert head.status == 200
        assert head.body == b""
        assert head.headers["content-length"] == str(len(data))

        part = request(streaming, "GET", path, headers={"Range": "bytes=10-109"})
        assert part.status == 206
        assert part.body == data[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
        assert part.headers["content-length"] == "100"
        tail = request(streaming, "GET", path, headers={"Range": "bytes=-22"})
        assert tail.status == 206
        assert tail.body == data[-22:]
        beyond = request(streaming, "GET", path, headers={"Range": f"bytes={len(data) + 5}-"})
        assert beyond.status == 416
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        # Several ranges are not relayed: the whole file is a valid answer to them.
        multi = request(streaming, "GET", path, headers={"Range": "bytes=0-1,5-6"})
        assert multi.status == 200
        assert multi.body == data

        metadata = request(streaming, "GET", path + ".metadata")
        assert metadata.status == 200
        assert metadata.body.startswith(b"Metadata-Version")
        assert request(streaming, "GET", "/files/ab/cd/ef/not-a-file.whl").status == 404
        # The redirecting instance still redirects for the same file.
        assert request(pair.a, "GET", path).status == 302

        target = pair.tmp / "installed-streamed"
        result = subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "--target",
                str(target),
                "--index-url",
                streaming.simple_url,
                "streamed==1.0",
            ],
            capture_output=True,
            text=True,
            env=client_env(pair.tmp),
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert (target / "streamed" / "big.py").stat().st_size == 300_000
    finally:
        streaming.stop()


def test_an_unknown_s3_serve_setting_is_refused(pair: Pair) -> None:
    configure(pair.tmp / "d", pair.database, pair.storage, 's3_serve = "teleport"\n')
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "trustyard",
            "admin",
            "export",
            str(pair.tmp / "x"),
            "--data",
            str(pair.tmp / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "s3_serve must be redirect or stream, not 'teleport'" in result.stderr


def _worker_pids(server: IndexServer) -> list[int]:
    """The pids of ``serve --workers N``'s worker processes, as uvicorn logs them."""
    return [
        int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.log.read_text())
    ]


def _bytes_written(pid: int) -> int:
    """Bytes the process has written so far (files and sockets): ``wchar`` of /proc/PID/io."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar in /proc/{pid}/io")


def test_two_workers_on_postgresql_and_s3_take_uploads_side_by_side(pair: Pair) -> None:
    """``serve --workers 2`` on PostgreSQL + S3: both workers spool and store uploads, agree on
    a race, and each one's cached pages notice what the other committed."""
    configure(pair.tmp / "w", pair.database, pair.storage)
    server = start_index(pair.tmp / "w", "--workers", "2")
    try:
        deadline = time.monotonic() + 60
        while len(pids := _worker_pids(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the second worker may start after the first answers
        assert len(pids) == 2, server.log.read_text()
        server.create_user("worker-owner")
        token = server.create_token("worker-owner")
        before = {pid: _bytes_written(pid) for pid in pids}
        payload = 256 * 1024  # incompressible: each upload spools at least this much
        uploaded: list[str] = []
        # Rounds of 12 concurrent distinct uploads until both workers have spooled one (the
        # kernel hands each connection to whichever worker accepts first; one round suffices
        # nearly always, the bound keeps the test from hanging on a bug).
        for round_ in range(5):
            wheels = [
                build_wheel(
                    pair.tmp / f"workers{round_}-{i}",
                    "workers-pg",
                    f"{round_}.{i}",
                    files={"workers_pg/blob.bin": os.urandom(payload)},
                )
                for i in range(12)
            ]
            with ThreadPoolExecutor(max_workers=12) as pool:
                answers = list(
                    pool.map(
                        lambda w: upload_file(server, token, w, "workers-pg", w.name.split("-")[1]),
                        wheels,
                    )
                )
            assert [(a.status, a.reason) for a in answers] == [(200, "OK")] * 12
            uploaded += [w.name for w in wheels]
            if all(_bytes_written(pid) - before[pid] >= payload for pid in pids):
                break
        grown = {pid: _bytes_written(pid) - before[pid] for pid in pids}
        assert all(growth >= payload for growth in grown.values()), grown

        rows = pair.rows(
            "SELECT f.filename FROM files f JOIN releases r ON f.release_id = r.id"
            " JOIN projects p ON r.project_id = p.id WHERE p.normalized_name = 'workers-pg'"
        )
        assert sorted(str(r[0]) for r in rows) == sorted(uploaded)
        keys = {k.rsplit("/", 1)[1] for k in pair.stored_keys() if "/workers_pg-" in k}
        assert keys == set(uploaded) | {f"{name}.metadata" for name in uploaded}

        # A race between the two workers (and instance A) on one filename: one winner.
        racers = [
            build_wheel(pair.tmp / f"wrace{i}", "wrace", "1.0", files={"wrace/n.py": b"%d\n" % i})
            for i in range(10)
        ]
        with ThreadPoolExecutor(max_workers=10) as pool:
            raced = list(
                pool.map(
                    lambda n: upload_file(
                        pair.a if n % 3 == 0 else server, token, racers[n], "wrace", "1.0"
                    ),
                    range(10),
                )
            )
        statuses = sorted((a.status, a.reason.split(" (")[0]) for a in raced)
        assert statuses == [(200, "OK")] + [(400, "File already exists")] * 9, statuses

        # Both workers' page caches follow commits made by the other worker (or instance).
        json_type = "application/vnd.pypi.simple.v1+json"
        for _ in range(8):
            page = request(server, "GET", "/simple/workers-pg/", headers={"Accept": json_type})
            assert len(json.loads(page.body)["files"]) == len(uploaded)
        late = build_wheel(pair.tmp / "workers-late", "workers-pg", "9.0")
        assert upload_file(pair.a, token, late, "workers-pg", "9.0").status == 200
        for _ in range(8):
            page = request(server, "GET", "/simple/workers-pg/", headers={"Accept": json_type})
            assert len(json.loads(page.body)["files"]) == len(uploaded) + 1
        for worker in (pair.tmp / "w" / "tmp").iterdir():
            raise AssertionError(f"spool not empty: {worker}")
    finally:
        server.stop()
