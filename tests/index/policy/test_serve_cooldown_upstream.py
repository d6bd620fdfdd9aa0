"""A real ``trustyard serve --upstream URL --min-release-age 3d`` in front of an upstream that
answers only PEP 503 HTML (as devpi's ``+simple`` pages and plain file servers do) refuses to
start, saying why (issue 18: a cooldown needs upload times, which only PEP 691 JSON carries);
it never starts listening. ``tests/index/policy/test_probe.py`` covers the decision itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import PYTHON
from tests.services import free_port

pytestmark = pytest.mark.slow


class _HtmlOnly(BaseHTTPRequestHandler):
    """Every page as ``text/html``, whatever the ``Accept`` header asks for."""

    accepts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).accepts.append(self.headers.get("Accept", ""))
        body = b'<!DOCTYPE html><html><body><a href="pip/">pip</a></body></html>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlOnly)
    _HtmlOnly.accepts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()
    server.server_close()
    thread.join()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_with_a_cooldown_refuses_an_html_only_upstream(
    tmp_path: Path, html_upstream: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    command = [
        *(PYTHON, "-m", "trustyard", "serve", "--data", str(tmp_path / "data")),
        *("--port", str(port), "--upstream", html_upstream, "--min-release-age", "3d"),
    ]
    done = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 1, (done.stdout, done.stderr)
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("trustyard: error: min_release_age 3d needs upload times"), error
    assert f"from the upstream {html_upstream}" in error
    assert "not PEP 691 JSON" in error
    assert "--min-release-age 0" in error
    assert not _listening(port)
    # It asked for JSON first, as a client that can use upload times does (PEP 691).
    assert _HtmlOnly.accepts
    assert _HtmlOnly.accepts[0].startswith("application/vnd.pypi.simple.v1+json")


def test_the_same_upstream_without_a_cooldown_is_served(tmp_path: Path, html_upstream: str) -> None:
    """The refusal is the cooldown's, not the upstream's: without it, the index starts."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    command = [
        *(PYTHON, "-m", "trustyard", "serve", "--data", str(tmp_path / "data")),
        *("--port", str(port), "--upstream", html_upstream),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120  # generous: the machine may be busy
        while not _listening(port) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()[1]
        assert _listening(port)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
