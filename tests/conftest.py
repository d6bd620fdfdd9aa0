"""Fixtures shared by every test level: a real index process, its admin CLI, client environments.

The index-server fixtures (``index``, ``fresh_index``, and every fixture that asks for
``backend``) run each test of the index suite twice: on the embedded default (``sqlite-files``)
and on PostgreSQL + S3 (``postgresql-s3``); the test ids name the backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, inspect, text
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling
from xdist.scheduler.protocol import Scheduling

from tests.services import (
    BACKENDS,
    EMBEDDED,
    POSTGRESQL_S3,
    VENV_BIN,
    Backend,
    database_url,
    free_port,
    parse_bucket_url,
    postgres_server,
    seaweedfs,
    storage_url,
)
from tests.tiers import require_slow, running
from tests.trustyard_cli import run_trustyard

__all__ = ["VENV_BIN", "database_url", "free_port", "postgres_server", "seaweedfs", "storage_url"]

PYTHON = sys.executable
# Where every test that uses an index server runs on both backends (the index's own suite and
# the real clients against it); elsewhere ``backend`` is the embedded default.
BOTH_BACKENDS = ("tests/index/", "tests/e2e/test_clients.py")

# Property tests (tests/**/test_properties*.py): a modest count by default (50 examples), so that each module
# runs in seconds; HYPOTHESIS_PROFILE=long for a deeper run (see docs/reliability.md).
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def client_env(tmp: Path) -> dict[str, str]:
    """An environment for pip, uv and twine that sees only what the test gives them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "TRUSTYARD_", "PYTHON"))
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CACHE_DIR": str(tmp / "pip-cache"),
            "PIP_NO_INPUT": "1",
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def build_caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment that points every ``trustyard build`` of this run at one uv cache and one
    build-environment cache, shared by all workers (both are safe under concurrent use): build
    requirements are resolved and installed once per run, and never in the user's ``~/.cache``."""
    root = tmp_path_factory.getbasetemp().parent
    return {
        "UV_CACHE_DIR": str(root / "release-uv-cache"),
        "TRUSTYARD_BUILD_ENV_CACHE": str(root / "release-build-envs"),
    }


def _configured(data: Path, extra: tuple[str, ...]) -> tuple[str, str | None]:
    """The database URL and storage URL an index on ``data`` uses (flags, then trustyard.toml)."""
    settings_file = data / "trustyard.toml"
    found = tomllib.loads(settings_file.read_text()) if settings_file.exists() else {}
    for flag in ("--database", "--storage"):
        if flag in extra:
            found[flag[2:]] = extra[extra.index(flag) + 1]
    database = found.get("database") or f"sqlite:///{(data / 'trustyard.sqlite3').resolve()}"
    return str(database), found.get("storage") or None


def _read_only(database: str) -> str:
    """SQLite opened read-only (a test must not change what it observes); others as they are."""
    if database.startswith("sqlite:///"):
        return f"sqlite:///file:{database.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return database


@dataclass(frozen=True)
class Snapshot:
    """Everything an upload could change: every catalogue table and every stored file."""

    tables: dict[str, list[tuple[object, ...]]]
    files: dict[str, str]  # storage key -> sha256 of its bytes
    spool: tuple[str, ...]


@dataclass
class IndexServer:
    """A running ``trustyard serve`` and the admin CLI on its data directory."""

    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    ca: Path | None = None  # the CA to trust when the index serves HTTPS
    flags: tuple[str, ...] = ()  # what ``serve`` was given beyond --data and --port

    @property
    def database(self) -> str:
        """The catalogue's SQLAlchemy URL (from the flags, then DATA/trustyard.toml)."""
        return _configured(self.data, self.flags)[0]

    @property
    def storage(self) -> str | None:
        """``s3://BUCKET/PREFIX``, or None for the embedded DATA/files."""
        return _configured(self.data, self.flags)[1]

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else None

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    @property
    def upload_url(self) -> str:
        return f"{self.url}/legacy/"

    def cli(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``trustyard <args> --data DIR`` against this index's data directory (forked from
        a process that has imported the CLI already: see ``tests/trustyard_cli.py``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        result = run_trustyard([*args, "--data", str(self.data)], env, stdin=stdin)
        if check and result.returncode != 0:
            raise AssertionError(f"trustyard {' '.join(args)} failed:\n{result.stderr}")
        return result

    def create_user(self, name: str, password: str = "correct horse battery") -> None:
        self.cli("admin", "user", "create", name, "--password-stdin", stdin=password + "\n")

    def trust_issuer(self, url: str) -> None:
        """Put ``url`` on the index's allow-list of OIDC issuers (``admin issuer add``), with
        private addresses allowed: the development issuer listens on loopback. Every test and
        benchmark that adds publishers naming the development issuer calls this once."""
        self.cli("admin", "issuer", "add", url, "--allow-private-address")

    @property
    def audience(self) -> str:
        """The Trusted Publishing audience the index announces (its own, kept in its database,
        unless it was started with ``--audience``)."""
        with urllib.request.urlopen(
            f"{self.url}/_/oidc/audience", timeout=30, context=self.ssl_context()
        ) as answer:
            audience: str = json.load(answer)["audience"]
        return audience

    def create_token(self, user: str, *extra: str) -> str:
        token = self.cli("admin", "token", "create", user, *extra).stdout.strip()
        assert token.startswith("trustyard-"), token
        return token

    def query(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        """Rows of a read-only query on the catalogue, whichever database holds it."""
        engine = create_engine(_read_only(self.database))
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: object) -> None:
        """Change the catalogue behind the server's back (to make time pass, say)."""
        engine = create_engine(self.database)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), params)
        finally:
            engine.dispose()

    def stored_files(self) -> dict[str, str]:
        """Every key in the file store, with the sha256 of its bytes."""
        if self.storage is None:
            root = self.data / "files"
            return {
                p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*")
                if p.is_file()
            }
        bucket, prefix = parse_bucket_url(self.storage)
        client = boto3.session.Session().client(
            "s3", config=Config(s3={"addressing_style": "path"})
        )
        start = f"{prefix}/" if prefix else ""
        found: dict[str, str] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"].removeprefix(start)] = hashlib.sha256(body).hexdigest()
        return found

    def snapshot(self) -> Snapshot:
        """The whole catalogue, the file store and the upload spool, comparable across time."""
        engine = create_engine(_read_only(self.database))
        try:
            with engine.connect() as conn:
                tables = {
                    name: sorted(
                        (tuple(row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))),
                        key=repr,
                    )
                    for name in inspect(conn).get_table_names()
                }
        finally:
            engine.dispose()
        spool = tuple(sorted(p.name for p in (self.data / "tmp").iterdir()))
        return Snapshot(tables=tables, files=self.stored_files(), spool=spool)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_index(data: Path, *extra: str, backend: Backend = EMBEDDED) -> IndexServer:
    """Start ``trustyard serve`` on ``backend`` on a free port and wait until it answers."""
    require_slow("trustyard serve")
    port = free_port()
    log = data.parent / f"{data.name}-server.log"
    data.mkdir(parents=True, exist_ok=True)
    backend.configure(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [PYTHON, "-m", "trustyard", "serve", "--data", str(data), "--port", str(port), *extra],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    tls = "--tls" in extra
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    ca = data / "tls" / "ca.pem" if tls else None
    deadline = time.monotonic() + 90  # generous: CI machines can be busy
    while True:
        try:
            if ca is not None and not ca.exists():
                raise ConnectionError("no CA yet")
            context = ssl.create_default_context(cafile=str(ca)) if ca else None
            with urllib.request.urlopen(url + "/simple/", timeout=2, context=context):
                break
        except urllib.error.HTTPError:
            break  # an answer all the same (a private index's 401): the server is up
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"index did not start:\n{log.read_text()}") from None
            time.sleep(0.05)
    return IndexServer(url=url, data=data, process=process, log=log, ca=ca, flags=extra)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test under BOTH_BACKENDS that asks for ``backend`` (directly or through an
    index fixture) once per backend, grouped by module so module-scoped indexes are shared."""
    if "backend" not in metafunc.fixturenames:
        return
    where = metafunc.definition.path.relative_to(metafunc.config.rootpath).as_posix()
    if where.startswith(BOTH_BACKENDS):
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="module")


# The tiers (README, "Tests"): a test that uses one of these fixtures starts (or needs) a server
# process, so it carries ``slow`` and the finer marker named here, if any. Modules that start
# processes by hand say so themselves (``pytestmark``); what is left is the fast tier.
SERVER_FIXTURES: dict[str, str | None] = {
    "backend": None,  # asked for by every `trustyard serve` fixture (index, fresh_index, site)
    "index": None,
    "fresh_index": None,
    "dev_issuer": None,  # the development OIDC issuer, a process of its own
    "postgres_server": "backends",
    "seaweedfs": "backends",
    "playwright": "browser",
}
# Parameter values that select PostgreSQL or SeaweedFS (the both-backend tests' second run,
# the storage contract's S3 run, ...): such a test starts them through a fixture.
BACKEND_PARAMETERS = {POSTGRESQL_S3, "postgresql", "s3"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what the fast tier (``-m "not slow"``) leaves out, by the fixtures each test uses."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        finer = {SERVER_FIXTURES[name] for name in fixtures if name in SERVER_FIXTURES}
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(isinstance(value, str) and value in BACKEND_PARAMETERS for value in params.values()):
            finer.add("backends")
        if finer:
            item.add_marker(pytest.mark.slow)
        for name in sorted(name for name in finer if name is not None):
            item.add_marker(getattr(pytest.mark, name))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Keep tests.tiers.running up to date for :func:`tests.tiers.require_slow`."""
    running.append(item)
    try:
        return (yield)
    finally:
        running.pop()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers ``-n auto`` (the default, pyproject.toml) starts: twice the CPUs, at
    most 8 (each worker may start its own PostgreSQL and SeaweedFS), as the tests wait on the
    processes, servers, git and the disk as much as they compute; on 2 CPUs that is the 4 the
    suite always used, and measured faster than 2 for the fast tier too. ``-n N`` on the
    command line, or PYTEST_XDIST_AUTO_NUM_WORKERS, overrides it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2 * (cpus or 1), 8)


# Modules whose parameters each need a long module-scoped set-up of their own (a build per
# backend): ``--dist=loadfile`` gives each parameter's tests to a worker of their own, instead
# of the whole module to one worker.
SPREAD_BY_PARAMETER = ("tests/release/backends/test_backends.py",)


class _LoadFileSpreadingParameters(LoadFileScheduling):  # type: ignore[misc] # untyped
    def _split_scope(self, nodeid: str) -> str:
        module: str = super()._split_scope(nodeid)
        if module in SPREAD_BY_PARAMETER and nodeid.endswith("]"):
            return f"{module}[{nodeid.rsplit('[', 1)[1]}"
        return module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """``--dist=loadfile`` (the default in pyproject.toml), with SPREAD_BY_PARAMETER."""
    if config.getvalue("dist") == "loadfile":
        return _LoadFileSpreadingParameters(config, log)
    return None


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend of this module's indexes: the embedded default unless parametrised.

    PostgreSQL and SeaweedFS start once per test process, on first use; each index then gets
    a database and a bucket prefix of its own.
    """
    if getattr(request, "param", None) == POSTGRESQL_S3:
        return Backend(
            POSTGRESQL_S3,
            postgres=request.getfixturevalue("postgres_server"),
            seaweedfs=request.getfixturevalue("seaweedfs"),
        )
    return EMBEDDED


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[IndexServer]:
    """One index process shared by a test module (tests use distinct project names)."""
    server = start_index(tmp_path_factory.mktemp("index") / "data", backend=backend)
    yield server
    server.stop()


@pytest.fixture
def fresh_index(tmp_path: Path, backend: Backend) -> Iterator[IndexServer]:
    """An index process of this test's own."""
    server = start_index(tmp_path / "data", backend=backend)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def uploader(index: IndexServer) -> str:
    """A user-wide token of a user called ``alice`` on the module's index."""
    index.create_user("alice")
    return index.create_token("alice")


def tool(name: str) -> str:
    """The path of a client tool installed from the lock file."""
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `uv sync`")
    return found


def twine_command(upload_url: str, token: str, files: list[Path]) -> list[str]:
    """``twine upload`` of ``files`` to ``upload_url`` with an API token, as CI runs it."""
    return [
        tool("twine"),
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        upload_url,
        "-u",
        "__token__",
        "-p",
        token,
        *map(str, files),
    ]
