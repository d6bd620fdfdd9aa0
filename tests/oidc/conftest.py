"""The development OIDC issuer as a real ``trustyard issuer serve`` process, for any test.

Other test folders import :func:`start_dev_issuer` and :class:`DevIssuer` from here, or use the
``dev_issuer`` fixture (one issuer per test module).
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, client_env
from tests.tiers import require_slow
from tests.trustyard_cli import run_trustyard
from trustyard.oidc.devclaims import DEFAULT_LIFETIME, request_token
from trustyard.oidc.devissuer import KEY_FILE, fetch_token

_URL_LINE = re.compile(rb"trustyard dev issuer at (http://\S+)")
# Variables that would make a client believe it runs in some real CI system.
_CI_PREFIXES = (
    "GITHUB_",
    "GITLAB_",
    "ACTIONS_",
    "CI_",
    "BUILDKITE",
    "CIRCLE",
    "GOOGLE_",
    "RUNNER_",
)


def ci_free_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`client_env` without any CI identity of the machine running the tests, plus ``extra``."""
    env = {
        name: value
        for name, value in client_env(tmp).items()
        if not name.startswith(_CI_PREFIXES) and not name.endswith("_ID_TOKEN") and name != "CI"
    }
    env.update(extra or {})
    return env


def trustyard_env() -> dict[str, str]:
    """The environment for running ``trustyard`` itself: no settings leaking in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTYARD_", "PIP_", "UV_"))}


def parse_exports(text: str) -> dict[str, str]:
    """Read ``export NAME=value`` lines back as a shell would."""
    environ: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) != 2 or words[0] != "export" or "=" not in words[1]:
            raise AssertionError(f"not an export line: {line!r}")
        name, _, value = words[1].partition("=")
        environ[name] = value
    return environ


@dataclass
class DevIssuer:
    """A running ``trustyard issuer serve``, and its CLI and Python helpers."""

    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def key_path(self) -> Path:
        """The issuer's RSA signing key (for :func:`trustyard.oidc.devkeys.sign` forgeries)."""
        return self.data / KEY_FILE

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``trustyard issuer <args>`` (``--issuer`` is added for ``env`` and ``token``)."""
        command = ["issuer", *args]
        if args and args[0] in {"env", "token"}:
            command += ["--issuer", self.url]
        result = run_trustyard(command, trustyard_env())
        if check and result.returncode != 0:
            raise AssertionError(f"trustyard issuer {shlex.join(args)} failed:\n{result.stderr}")
        return result

    def env(self, *args: str) -> dict[str, str]:
        """The variables ``trustyard issuer env <args>`` exports (GitHub mode unless --gitlab)."""
        return parse_exports(self.cli("env", *args).stdout)

    def token(self, audience: str, *args: str) -> str:
        """One JWT from ``trustyard issuer token --audience A <args>``."""
        return self.cli("token", "--audience", audience, *args).stdout.strip()

    def mint(
        self,
        audience: str,
        claims: Mapping[str, Any],
        *,
        drop: Iterable[str] = (),
        lifetime: int = DEFAULT_LIFETIME,
        shift: int = 0,
    ) -> str:
        """One JWT for ``claims`` straight from the token endpoint (no CLI process)."""
        token = request_token(claims, drop=drop, lifetime=lifetime, shift=shift)
        return fetch_token(self.url, audience, token)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_dev_issuer(data_dir: Path, *extra: str) -> DevIssuer:
    """Start ``trustyard issuer serve --port 0`` and wait for the URL it prints."""
    require_slow("the development issuer")
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}-issuer.log"
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "trustyard",
                "issuer",
                "serve",
                "--port",
                "0",
                "--data",
                str(data_dir),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=trustyard_env(),
        )
    assert process.stdout is not None
    deadline = time.monotonic() + 90  # generous: CI machines can be busy
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(timeout=remaining):
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    found = _URL_LINE.search(line)
    if found is None:
        process.kill()
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"dev issuer did not start:\n{line.decode()}\n{log.read_text()}")
    return DevIssuer(url=found.group(1).decode(), data=data_dir, process=process, log=log)


@pytest.fixture(scope="module")
def dev_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    """One development issuer shared by a test module."""
    issuer = start_dev_issuer(tmp_path_factory.mktemp("dev-issuer") / "data")
    yield issuer
    issuer.stop()
