"""The index behind a real nginx, configured exactly as docs/deployment.md says.

Files are sent by nginx through X-Accel-Redirect (``serve --accel-redirect``): the index still
decides what may be served, nginx sends the bytes. Real twine uploads and real pip / uv installs
go through the proxy. One backend (the embedded default): X-Accel-Redirect is for files on local
disk; an S3 store sends its files itself (tests of ``s3_serve`` cover that).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IndexServer, client_env, free_port, start_index, tool, twine_command
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import Answer, _send, basic, request, upload_file
from trustyard.index.read_gate import PRIVATE_CACHE

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
PREFIX = "/_trustyard_files/"
# What the doc's block names, and what the test puts in its place.
DOC_UPSTREAM = "server 127.0.0.1:8080;"
DOC_LISTEN = "listen 80;"
DOC_DATA = "/srv/trustyard/data/"
SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "access-control-allow-origin",
)
# The test's own address towards nginx (any 127/8 address is the loopback on Linux): the index
# must log this one, not nginx's 127.0.0.1 and not what a client claims in X-Forwarded-For.
CLIENT_ADDRESS = "127.0.0.3"


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if found is None:
        raise RuntimeError("nginx is not installed: run scripts/services.sh")
    return found


def doc_server_block() -> str:
    """The nginx configuration of docs/deployment.md, as an operator would copy it."""
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/deployment.md should hold exactly one nginx block"
    block: str = blocks[0]
    for needle in (DOC_UPSTREAM, DOC_LISTEN, DOC_DATA, f"location {PREFIX}"):
        assert needle in block, f"the documented block no longer contains {needle!r}"
    return block


@dataclass
class Proxied:
    """An index and the nginx in front of it."""

    index: IndexServer
    url: str
    nginx: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        """One request to nginx, from CLIENT_ADDRESS."""
        return _send(self.url, method, path, None, headers, None, CLIENT_ADDRESS)


def _start_nginx(base: Path, index: IndexServer) -> Proxied:
    port = free_port()
    upstream = index.url.removeprefix("http://")
    block = (
        doc_server_block()
        .replace(DOC_UPSTREAM, f"server {upstream};")
        .replace(DOC_LISTEN, f"listen 127.0.0.1:{port};")
        .replace(DOC_DATA, f"{index.data.resolve()}/")
    )
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / "tmp" / name).mkdir(parents=True, exist_ok=True)
    temp = "\n".join(f"    {n}_temp_path {base}/tmp/{n};" for n in ("proxy", "fastcgi", "uwsgi"))
    conf = base / "nginx.conf"
    conf.write_text(
        "daemon off;\nworker_processes 1;\n"
        f"pid {base}/nginx.pid;\nerror_log {base}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {base}/access.log;\n"
        f"    client_body_temp_path {base}/tmp/body;\n{temp}\n"
        f"    scgi_temp_path {base}/tmp/scgi;\n"
        f"{block}\n}}\n"
    )
    if os.geteuid() == 0:
        # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 tmp dirs.
        conf.write_text("user root;\n" + conf.read_text())
    log = base / "nginx.out"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [_nginx(), "-p", str(base), "-c", str(conf), "-e", str(base / "error.log")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/simple/", timeout=2):
                break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                errors = (base / "error.log").read_text() if (base / "error.log").exists() else ""
                raise RuntimeError(f"nginx did not start:\n{log.read_text()}\n{errors}") from None
            time.sleep(0.05)
    return Proxied(index, url, process, base / "access.log")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    tmp = tmp_path_factory.mktemp("nginx")
    index = start_index(
        tmp / "data", "--accel-redirect", PREFIX, "--forwarded-allow-ips", "127.0.0.1"
    )
    site = None
    try:
        site = _start_nginx(tmp / "nginx", index)
        index.create_user("alice")
        yield site
    finally:
        if site is not None:
            site.nginx.terminate()
            site.nginx.wait(timeout=10)
        index.stop()


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command[0]}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_pip_and_uv_through_nginx(proxied: Proxied, tmp_path: Path) -> None:
    """twine uploads through the proxy (a 2 MiB wheel: past nginx's default body limit), pip
    and uv install through it, and every file they fetched was sent by nginx."""
    dist = tmp_path / "dist"
    payload = hashlib.sha256(b"seed").digest() * (2 * 1024 * 1024 // 32)  # incompressible enough
    wheel = build_wheel(dist, "behind-nginx", "1.0", files={"behind_nginx/blob.bin": payload})
    sdist = build_sdist(dist, "behind-nginx", "1.0")
    token = proxied.index.create_token("alice")
    env = client_env(tmp_path)
    _run(twine_command(proxied.url + "/legacy/", token, [wheel, sdist]), env)
    simple = proxied.url + "/simple/"
    pin, source = ["behind-nginx==1.0"], ["--no-binary", "behind-nginx"]
    downloaded = tmp_path / "downloaded"
    _run(
        [tool("pip"), "download", "--no-deps", "--index-url", simple, "-d", str(downloaded), *pin],
        env,
    )
    (got,) = downloaded.iterdir()
    assert got.read_bytes() == wheel.read_bytes()
    venv = tmp_path / "venv"
    _run([tool("uv"), "venv", "--quiet", str(venv)], env)
    _run(
        [tool("uv"), "pip", "install", "--python", str(venv), "--index-url", simple, *source, *pin],
        env,
    )
    # The index was asked for each file (it decides what may be served); nginx sent them.
    asked = [line for line in proxied.index.log.read_text().splitlines() if "GET /files/" in line]
    assert any(wheel.name in line for line in asked), asked
    assert any(sdist.name in line for line in asked), asked


def _a_file(proxied: Proxied, tmp: Path, version: str) -> tuple[str, bytes]:
    """Upload a wheel straight to the index; return its /files/ path and bytes."""
    wheel = build_wheel(tmp, "nginx-files", version)
    token = proxied.index.create_token("alice")
    assert upload_file(proxied.index, token, wheel, "nginx-files", version).status == 200
    page = request(proxied.index, "GET", "/simple/nginx-files/").text
    match = re.search(rf'href="\.\./\.\.(/files/[^"#]+/{re.escape(wheel.name)})#', page)
    assert match, page
    return match.group(1), wheel.read_bytes()


def test_files_keep_their_headers_ranges_and_head(proxied: Proxied, tmp_path: Path) -> None:
    path, data = _a_file(proxied, tmp_path, "1.0")
    direct = request(proxied.index, "GET", path)
    # Straight from the index: an empty answer telling nginx where the bytes are.
    assert direct.status == 200
    assert direct.body == b""
    assert direct.headers["x-accel-redirect"] == PREFIX + path.removeprefix("/files/")

    whole = proxied.get(path)
    assert whole.status == 200
    assert hashlib.sha256(whole.body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert "x-accel-redirect" not in whole.headers
    assert whole.headers["content-type"] == "application/zip"
    assert whole.headers["content-length"] == str(len(data))
    assert whole.headers["cache-control"] == direct.headers["cache-control"]
    assert "immutable" in whole.headers["cache-control"]
    assert whole.headers["content-disposition"] == direct.headers["content-disposition"]
    for name in SECURITY_HEADERS:
        assert whole.headers.get(name) == direct.headers[name], name

    part = proxied.get(path, {"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = proxied.get(path, {"Range": f"bytes=-{len(data) // 2}"})
    assert tail.body == data[-(len(data) // 2) :]

    head = proxied.get(path, method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["accept-ranges"] == "bytes"

    metadata = proxied.get(path + ".metadata")
    assert metadata.status == 200
    assert metadata.headers["content-type"].startswith("text/plain")
    assert metadata.body.startswith(b"Metadata-Version:")


def test_only_catalogued_files_are_served(proxied: Proxied, tmp_path: Path) -> None:
    path, data = _a_file(proxied, tmp_path, "2.0")
    key = path.removeprefix("/files/")
    # nginx's internal location cannot be asked for directly.
    assert proxied.get(PREFIX + key).status == 404
    # Bytes on disk that the catalogue does not name (a crashed upload) are not served.
    orphan_key = key.rsplit("/", 1)[0] + "/nginx_files-9.9-py3-none-any.whl"
    orphan = proxied.index.data / "files" / orphan_key
    orphan.write_bytes(data)
    assert (proxied.index.data / "files" / key).is_file()  # the layout the doc's alias assumes
    assert proxied.get("/files/" + orphan_key).status == 404
    # Nothing outside the files directory, however the path is spelled.
    for probe in ("/files/../trustyard.sqlite3", "/files/%2e%2e/trustyard.sqlite3"):
        answer = proxied.get(probe)
        assert answer.status in {400, 404}, probe
        assert b"SQLite format" not in answer.body


def test_the_client_address_is_the_one_nginx_saw(proxied: Proxied) -> None:
    """``--forwarded-allow-ips``: the index logs (and rate-limits) the client nginx saw, not
    nginx's own address, and not the address a client claims in its own X-Forwarded-For."""
    marker = "/simple/?who=forwarded"
    assert proxied.get(marker, {"X-Forwarded-For": "203.0.113.7"}).status == 200
    lines = [line for line in proxied.index.log.read_text().splitlines() if "who=forwarded" in line]
    assert len(lines) == 1, lines
    assert f" {CLIENT_ADDRESS}:" in lines[0]
    assert "203.0.113.7" not in lines[0]


def test_a_private_file_goes_through_nginx_only_after_the_read_check(
    proxied: Proxied, tmp_path: Path
) -> None:
    """Issue 20: the index answers the X-Accel-Redirect only to a reader of the private
    project, and nginx keeps the private caching it set."""
    path, data = _a_file(proxied, tmp_path, "3.0")
    proxied.index.cli("admin", "project", "visibility", "nginx-files", "private")
    try:
        anonymous = proxied.get(path)
        assert anonymous.status == 401
        assert anonymous.headers["www-authenticate"] == 'Basic realm="trustyard"'
        assert data not in anonymous.body
        proxied.index.create_user("nginx-outsider")
        outsider = proxied.index.create_token("nginx-outsider")
        assert proxied.get(path, {"Authorization": basic(outsider)}).status == 403
        token = proxied.index.create_token("alice")
        served = proxied.get(path, {"Authorization": basic(token)})
        assert served.status == 200
        assert served.body == data
        assert served.headers["cache-control"] == PRIVATE_CACHE
    finally:
        proxied.index.cli("admin", "project", "visibility", "nginx-files", "public")
