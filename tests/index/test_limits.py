"""Request size and time limits of a real index: 413 before a body is read, 431 for huge heads,
408 and a closed connection for heads or bodies that trickle in (slowloris).

Timings are bounds, never figures: each limit is set to 2 s and a refusal must come well within
a generous multiple of it.

Where the store takes part, both backends: an upload over the file limit leaves nothing in the
spool or the store (files or the S3 bucket), and a slow download outlives the body limits
whether the index sends a file or relays an S3 object (``s3-serve = "stream"``; a redirect
would send the client to the bucket). The other refusals happen before a body is read or while
it is spooled to local disk on either backend, so they run on the embedded one only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import request, upload_file
from tests.services import EMBEDDED, Backend
from trustyard.errors import ConfigurationError
from trustyard.settings import MiB, load_settings

LIMIT = 2  # seconds, for the header and body timeouts of the test index
BOUND = 25.0  # seconds within which a refusal must come; far above LIMIT on a busy machine


STRICT = (
    f'header-timeout = {LIMIT}\nbody-timeout = {LIMIT}\nmax-upload-size = "1MiB"\n'
    'max-header-size = "8KiB"\nmin-upload-rate = "64KiB"\n'
    f"drain-timeout = {LIMIT}\n"
)


def _strict_index(tmp: Path, backend: Backend = EMBEDDED) -> IndexServer:
    data = tmp / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text(STRICT)
    return start_index(data, backend=backend)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    server = _strict_index(tmp_path_factory.mktemp("limits"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def strict_store(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[IndexServer]:
    """The same limits on each backend, for the refusals that could leave bytes in a store."""
    server = _strict_index(tmp_path_factory.mktemp("limits-store"), backend)
    yield server
    server.stop()


def _connect(index: IndexServer) -> socket.socket:
    port = int(index.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=BOUND)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the test fails on a hang)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def _body(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def _head(path: str, *headers: str, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: index", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "length"),
    [
        ("/_/oidc/mint-token", 10 * MiB),
        ("/_/oidc/burn-token", 65 * 1024),
        ("/account/login/", 1 * MiB),
        ("/simple/", 100 * 1024),
        ("/legacy/", 40 * MiB),  # over the upload's 1 MiB file + 32 MiB of fields
    ],
)
def test_announced_oversized_bodies_are_refused_before_a_byte_is_sent(
    strict: IndexServer, path: str, length: int
) -> None:
    with _connect(strict) as sock:
        sock.sendall(_head(path, f"Content-Length: {length}", "Content-Type: application/json"))
        answer = _read_all(sock)  # no body was sent: only an early answer can arrive
    assert _status(answer) == 413, answer[:300]
    assert b"connection: close" in answer.lower()
    if path.startswith("/_/oidc/"):
        document = json.loads(_body(answer))
        assert document["errors"][0]["code"] == "request-too-large"
        assert "65536 bytes" in document["errors"][0]["description"]
    elif path == "/legacy/":
        assert b"an upload may be at most 33 MB (files up to 1 MB)" in answer
    else:
        assert b"Request body too large: the limit here is 65536 bytes." in answer


def _send_chunks(sock: socket.socket, count: int) -> int:
    """Send ``count`` chunks of 8 KiB (no final chunk); how many went before the server hung up."""
    chunk = b"x" * 8192
    for sent in range(count):
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            return sent
    return count


@pytest.mark.slow
def test_a_chunked_body_is_cut_off_once_past_the_limit(strict: IndexServer) -> None:
    """No Content-Length: counted as it comes; a little more is read so the 413 is seen."""
    with _connect(strict) as sock:
        sock.sendall(_head("/_/oidc/mint-token", "Transfer-Encoding: chunked"))
        _send_chunks(sock, 40)  # 320 KiB: over the 64 KiB limit, within the 1 MiB drained
        sock.sendall(b"0\r\n\r\n")
        answer = _read_all(sock)
    assert _status(answer) == 413, answer[:300]
    assert json.loads(_body(answer))["errors"][0]["code"] == "request-too-large"


@pytest.mark.slow
def test_an_endless_chunked_body_is_not_read_for_ever(strict: IndexServer) -> None:
    with _connect(strict) as sock:
        sock.sendall(_head("/_/oidc/mint-token", "Transfer-Encoding: chunked"))
        sent = _send_chunks(sock, 100_000)  # 800 MB if nobody stopped us
    assert sent < 100_000


@pytest.mark.slow
def test_the_upload_file_limit_keeps_pypis_message(strict_store: IndexServer) -> None:
    """Under the early cap, a file over max_upload_size still gets PyPI's 400 and wording,
    and nothing of it stays in the spool or reaches the store."""
    strict = strict_store
    # A file part alone, no name field: PyPI's message still names the (empty) project.
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="big-1.0.tar.gz"'
        "\r\n\r\n"
    ).encode() + b"\0" * (2 * MiB)
    strict.create_user("uploader")
    token = strict.create_token("uploader")
    answer = request(
        strict,
        "POST",
        "/legacy/",
        body,
        {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": "token " + token,
        },
    )
    assert answer.status == 400
    assert answer.reason == "File too large. Limit for project 'big' is 1 MB."
    left = strict.snapshot()
    assert left.files == {}
    assert left.spool == ()
    assert left.tables["files"] == []


@pytest.mark.slow
def test_a_huge_head_is_refused_with_431(strict: IndexServer) -> None:
    for headers in (
        ["X-Big: " + "a" * 9000],
        [f"X-Many-{i}: {'b' * 100}" for i in range(100)],
    ):
        with _connect(strict) as sock:
            sock.sendall(_head("/simple/", *headers, method="GET"))
            answer = _read_all(sock)
        assert _status(answer) == 431, answer[:200]
        assert b"Request headers larger than 8192 bytes." in answer
    with _connect(strict) as sock:
        sock.sendall(_head("/" + "p" * 9000, method="GET"))
        assert _status(_read_all(sock)) == 431


@pytest.mark.slow
def test_a_head_that_trickles_in_is_cut_off(strict: IndexServer) -> None:
    started = time.monotonic()
    with _connect(strict) as sock:
        sock.sendall(b"GET /simple/ HTTP/1.1\r\nHost: index\r\n")
        answer = b""
        for i in range(int(BOUND * 4)):
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)  # never the blank line that ends a head
            except OSError:
                break
            time.sleep(0.25)
            sock.settimeout(0.01)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(BOUND)
        answer += _read_all(sock)
    assert _status(answer) == 408, answer[:200]
    assert time.monotonic() - started < BOUND


@pytest.mark.slow
def test_a_silent_connection_is_closed(strict: IndexServer) -> None:
    started = time.monotonic()
    with _connect(strict) as sock:
        answer = _read_all(sock)
    assert _status(answer) == 408
    assert LIMIT - 0.5 <= time.monotonic() - started < BOUND


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "content_type", "length"),
    [
        ("/_/oidc/mint-token", "application/json", 60000),
        ("/account/login/", "application/x-www-form-urlencoded", 10000),
        ("/legacy/", "multipart/form-data; boundary=xyz", 600_000),
    ],
)
def test_a_body_that_trickles_in_is_cut_off(
    strict: IndexServer, path: str, content_type: str, length: int
) -> None:
    """One byte every 0.2 s: never a stall, but far too slow (uploads: under 64 KiB/s)."""
    headers = [f"Content-Length: {length}", f"Content-Type: {content_type}"]
    if path == "/legacy/":
        strict.create_user("trickler")
        headers.append("Authorization: token " + strict.create_token("trickler"))
    started = time.monotonic()
    with _connect(strict) as sock:
        sock.sendall(_head(path, *headers))
        answer = b""
        for _ in range(int(BOUND * 5)):
            try:
                sock.sendall(b"-")
            except OSError:
                break
            time.sleep(0.2)
            sock.settimeout(0.01)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(BOUND)
        with contextlib.suppress(ConnectionResetError):
            answer += _read_all(sock)
    assert time.monotonic() - started < BOUND
    assert _status(answer) == 408, answer[:300]
    assert b"connection: close" in answer.lower()
    assert b"Request body too slow" in answer


@pytest.mark.slow
def test_an_answer_given_before_the_body_is_read_closes_the_connection(
    strict: IndexServer,
) -> None:
    """Else a client could trickle the unread body on a kept-alive connection for ever."""
    with _connect(strict) as sock:
        sock.sendall(_head("/account/login/", "Content-Length: 10000", "Content-Type: text/plain"))
        answer = _read_all(sock)  # returns only once the server has closed
    assert _status(answer) == 415
    assert b"connection: close" in answer.lower()


@pytest.mark.slow
def test_a_body_that_stalls_is_cut_off(strict: IndexServer) -> None:
    started = time.monotonic()
    with _connect(strict) as sock:
        sock.sendall(_head("/_/oidc/burn-token", "Content-Length: 100") + b'{"tok')
        answer = _read_all(sock)
    assert _status(answer) == 408
    assert json.loads(_body(answer))["errors"][0]["code"] == "request-timeout"
    assert time.monotonic() - started < BOUND


def _paced_upload_answer(index: IndexServer, headers: list[str], length: int) -> bytes:
    """Send an upload's body at ~640 KiB/s (ten times min-upload-rate: never "too slow"),
    watching for an answer; whatever came within BOUND seconds."""
    chunk = b"x" * (64 * 1024)
    answer = b""
    started = time.monotonic()
    with _connect(index) as sock:
        sock.sendall(_head("/legacy/", f"Content-Length: {length}", *headers))
        sent = 0
        while sent < length and time.monotonic() - started < BOUND:
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
            time.sleep(0.1)  # pacing the client; the server's clock is what is tested
            sock.settimeout(0.001)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(BOUND)
        with contextlib.suppress(ConnectionResetError):
            if answer:
                answer += _read_all(sock)
    return answer


@pytest.mark.slow
def test_a_refused_upload_body_is_not_drained_for_long(strict: IndexServer) -> None:
    """An unauthenticated upload of 30 MB (under the 33 MB cap), sent steadily above the
    minimum rate: its refusal comes once drain-timeout has passed, not after the whole body
    (before: up to 64 MB read at the client's pace, ~2 h at the default minimum rate)."""
    started = time.monotonic()
    answer = _paced_upload_answer(
        strict, ["Content-Type: multipart/form-data; boundary=xyz"], 30 * MiB
    )
    assert answer, "no answer while the body was still being sent"
    assert time.monotonic() - started < BOUND
    assert _status(answer) == 403, answer[:300]
    assert b"Invalid or non-existent authentication information." in answer
    assert b"connection: close" in answer.lower()


def _held(index: IndexServer, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """``count`` connections that have each sent nothing yet (the server has accepted them:
    a request on each one of them would be answered)."""
    port = int(index.url.rsplit(":", 1)[1])
    return [
        socket.create_connection(("127.0.0.1", port), timeout=BOUND, source_address=(source, 0))
        for _ in range(count)
    ]


def _get(index: IndexServer, source: str = "127.0.0.1") -> bytes:
    port = int(index.url.rsplit(":", 1)[1])
    with socket.create_connection(
        ("127.0.0.1", port), timeout=BOUND, source_address=(source, 0)
    ) as sock:
        sock.sendall(_head("/simple/", "Connection: close", method="GET"))
        with contextlib.suppress(ConnectionResetError):
            return _read_all(sock)
    return b""


def _until_served(index: IndexServer, source: str = "127.0.0.1") -> bytes:
    """A request repeated (bounded) until the server has seen earlier connections close."""
    answer = b""
    for _ in range(100):
        answer = _get(index, source)
        if answer and _status(answer) == 200:
            break
        time.sleep(0.05)
    return answer


@pytest.mark.slow
def test_connections_per_address_are_capped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text("max-connections-per-address = 3\n")
    index = start_index(data)
    try:
        held = _held(index, 3)
        refused = _get(index)
        assert _status(refused) == 429, refused[:300]
        assert b"Too many connections from your address" in refused
        assert b"connection: close" in refused.lower()
        assert _status(_get(index, "127.0.0.2")) == 200  # another client is served
        for sock in held:
            sock.close()
        assert _status(_until_served(index)) == 200  # and the first one again, once it left
    finally:
        index.stop()


@pytest.mark.slow
def test_connections_from_a_trusted_proxy_are_not_capped_per_address(tmp_path: Path) -> None:
    """Behind a load balancer every client arrives from its address: the cap would hold them
    all, so the proxy (``forwarded-allow-ips``) keeps its own per-client limit instead."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text(
        'max-connections-per-address = 2\nforwarded-allow-ips = "127.0.0.1"\n'
    )
    index = start_index(data)
    try:
        held = _held(index, 3)
        assert _status(_get(index)) == 200
        held += _held(index, 2, "127.0.0.3")
        assert _status(_get(index, "127.0.0.3")) == 429  # not a proxy: capped
        for sock in held:
            sock.close()
    finally:
        index.stop()


@pytest.mark.slow
def test_limit_concurrency_caps_every_connection(tmp_path: Path) -> None:
    """``trustyard serve --limit-concurrency N`` (uvicorn's limit): beyond N connections or
    requests at once, 503."""
    index = start_index(tmp_path / "data", "--limit-concurrency", "3")
    try:
        held = _held(index, 2, "127.0.0.4")
        refused = _get(index, "127.0.0.5")
        assert _status(refused) == 503, refused[:300]
        for sock in held:
            sock.close()
        assert _status(_until_served(index, "127.0.0.5")) == 200
    finally:
        index.stop()


@pytest.mark.slow
def test_the_index_still_serves_after_the_refusals(strict: IndexServer) -> None:
    assert request(strict, "GET", "/simple/").status == 200
    answer = request(strict, "POST", "/_/oidc/burn-token", b'{"token": "nope"}')
    assert answer.status == 422
    assert json.loads(answer.body)["errors"][0]["code"] == "invalid-token"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_request_size": "0"}, "max_request_size must be positive"),
        ({"header_timeout": "0"}, "header_timeout must be positive"),
        ({"body_timeout": "-1"}, "body_timeout must be positive"),
        ({"max_header_size": "0"}, "max_header_size must be positive"),
        ({"min_upload_rate": "-5"}, "min_upload_rate must not be negative"),
        ({"drain_timeout": "0"}, "drain_timeout must be positive"),
        ({"limit_concurrency": "-1"}, "limit_concurrency must not be negative"),
        ({"max_connections_per_address": "-1"}, "max_connections_per_address must not be"),
    ],
)
def test_limit_settings_are_checked(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(overrides, environ={})


def test_limit_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "TRUSTYARD_DATA": str(tmp_path),
            "TRUSTYARD_MAX_REQUEST_SIZE": "16KiB",
            "TRUSTYARD_HEADER_TIMEOUT": "5",
            "TRUSTYARD_MIN_UPLOAD_RATE": "0",
        }
    )
    assert (settings.max_request_size, settings.header_timeout) == (16 * 1024, 5)
    assert settings.min_upload_rate == 0


@pytest.mark.slow
def test_a_slow_download_is_not_cut_by_the_body_limits(tmp_path: Path, backend: Backend) -> None:
    """The time limits are for request bodies only: a file read for longer than them (Starlette
    listens for a disconnect on ``receive`` while it sends) still arrives whole, whether the
    index sends it from disk or relays it from S3."""
    data = tmp_path / "data"
    data.mkdir()
    relay = 's3-serve = "stream"\n' if backend.seaweedfs else ""
    (data / "trustyard.toml").write_text("body-timeout = 1\n" + relay)
    server = start_index(data, backend=backend)
    try:
        server.create_user("alice")
        blob = os.urandom(12 * MiB)  # more than the socket buffers hold
        wheel = build_wheel(tmp_path, "slowread", "1.0", files={"slowread/blob": blob})
        assert (
            upload_file(server, server.create_token("alice"), wheel, "slowread", "1.0").status
            == 200
        )
        path = json.loads(request(server, "GET", "/pypi/slowread/json").body)["urls"][0]["url"]
        path = path[path.index("/files/") :]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.settimeout(BOUND)
        sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        with sock:
            sock.sendall(_head(path, "Connection: close", method="GET"))
            started = time.monotonic()
            received = b""
            while True:
                chunk = sock.recv(64 * 1024)
                if not chunk:
                    break
                received += chunk
                if time.monotonic() - started < 3:  # slow for three body timeouts, then fast
                    time.sleep(0.01)
        assert _status(received) == 200
        assert _body(received) == wheel.read_bytes()
        assert time.monotonic() - started > 2
    finally:
        server.stop()
