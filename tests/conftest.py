"""Fixtures shared by every test level: a real index process, its admin CLI, client environments."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

PYTHON = sys.executable

# Property tests (tests/**/test_properties*.py): a modest count by default (50 examples), so that each module
# runs in seconds; HYPOTHESIS_PROFILE=long for a deeper run (see docs/reliability.md).
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
VENV_BIN = Path(PYTHON).parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


@dataclass
class IndexServer:
    """A running ``trustyard serve`` and the admin CLI on its data directory."""

    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    ca: Path | None = None  # the CA to trust when the index serves HTTPS

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
        """Run ``trustyard <args> --data DIR`` against this index's data directory."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        result = subprocess.run(
            [PYTHON, "-m", "trustyard", *args, "--data", str(self.data)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"trustyard {' '.join(args)} failed:\n{result.stderr}")
        return result

    def create_user(self, name: str, password: str = "correct horse battery") -> None:
        self.cli("admin", "user", "create", name, "--password-stdin", stdin=password + "\n")

    def create_token(self, user: str, *extra: str) -> str:
        token = self.cli("admin", "token", "create", user, *extra).stdout.strip()
        assert token.startswith("trustyard-"), token
        return token

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_index(data: Path, *extra: str) -> IndexServer:
    """Start ``trustyard serve`` on a free port and wait until it answers."""
    port = free_port()
    log = data.parent / f"{data.name}-server.log"
    data.mkdir(parents=True, exist_ok=True)
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
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"index did not start:\n{log.read_text()}") from None
            time.sleep(0.05)
    return IndexServer(url=url, data=data, process=process, log=log, ca=ca)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """One index process shared by a test module (tests use distinct project names)."""
    server = start_index(tmp_path_factory.mktemp("index") / "data")
    yield server
    server.stop()


@pytest.fixture
def fresh_index(tmp_path: Path) -> Iterator[IndexServer]:
    """An index process of this test's own."""
    server = start_index(tmp_path / "data")
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
