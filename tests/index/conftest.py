"""Fixtures for the index's HTTP tests: raw uploads and snapshots of catalogue and file store.

Every test here that uses an index server runs on both backends (see ``tests/conftest.py``).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import IndexServer, Snapshot
from tests.services import PostgresServer
from trustyard.index.db.engine import Database
from trustyard.release.publish_inputs import collect_distributions


@dataclass
class Answer:
    """An HTTP answer as the client sees it, status line included."""

    status: int
    reason: str
    body: bytes
    headers: dict[str, str]
    raw_cookies: list[str] = field(default_factory=list)  # every Set-Cookie header

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(
    index: IndexServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Send one raw request and read the whole answer (reason phrase included)."""
    return _send(index.url, method, path, body, headers, index.ssl_context())


def download(index: IndexServer, path: str, headers: dict[str, str] | None = None) -> Answer:
    """GET a stored file as pip does: on S3 storage the index answers with a redirect to a
    presigned URL of the bucket, which is followed (with the same headers, Range included)."""
    answer = request(index, "GET", path, headers=headers)
    if index.storage is None or answer.status != 302:
        return answer
    assert answer.headers["cache-control"] == "no-store"  # the URL expires; the bytes do not
    target = urlsplit(answer.headers["location"])
    return _send(
        f"{target.scheme}://{target.netloc}",
        "GET",
        f"{target.path}?{target.query}",
        None,
        headers,
        None,
    )


def _send(
    base: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str] | None,
    context: ssl.SSLContext | None,
    source_address: str | None = None,
) -> Answer:
    """``source_address``: the local address to connect from (any 127/8 one on Linux)."""
    parts = urlsplit(base)
    host = parts.hostname or "127.0.0.1"
    source = (source_address, 0) if source_address else None
    conn = (
        http.client.HTTPSConnection(
            host, parts.port, timeout=60, context=context, source_address=source
        )
        if parts.scheme == "https"
        else http.client.HTTPConnection(host, parts.port, timeout=60, source_address=source)
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(
            status=response.status,
            reason=response.reason,
            body=response.read(),
            headers={k.lower(): v for k, v in response.getheaders()},
            raw_cookies=response.headers.get_all("set-cookie") or [],
        )
    finally:
        conn.close()


def basic(token: str, username: str = "__token__") -> str:
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


def multipart(
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes, str]],
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """Encode a multipart/form-data body by hand, so tests can also break it on purpose."""
    boundary = boundary or uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    for name, filename, data, content_type in files:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload_fields(
    path: Path, name: str, version: str, **overrides: str | None
) -> list[tuple[str, str]]:
    """The form twine sends for ``path``; ``overrides`` replace (or with None, drop) fields."""
    data = path.read_bytes()
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "sdist" if path.name.endswith(".tar.gz") else "bdist_wheel",
        "pyversion": "source" if path.name.endswith(".tar.gz") else "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
        "summary": "A test package",
    }
    fields.update(overrides)
    return [(k, v) for k, v in fields.items() if v is not None]


def post_upload(
    index: IndexServer,
    token: str | None,
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes, str]],
    *,
    auth: str | None = None,
) -> Answer:
    body, content_type = multipart(fields, files)
    headers = {"Content-Type": content_type}
    if auth is not None:
        headers["Authorization"] = auth
    elif token is not None:
        headers["Authorization"] = basic(token)
    return request(index, "POST", "/legacy/", body, headers)


def upload_file(
    index: IndexServer, token: str, path: Path, name: str, version: str, **overrides: str | None
) -> Answer:
    """Upload ``path`` as twine would."""
    return post_upload(
        index,
        token,
        upload_fields(path, name, version, **overrides),
        [("content", path.name, path.read_bytes(), "application/octet-stream")],
    )


def upload_built(index: IndexServer, token: str, path: Path, **extra: str) -> Answer:
    """Upload a real built distribution with the form uv sends for it: its own metadata (the
    form trustyard's upload client builds), so that the index's checks of the form against the
    file see what a real client sends. ``extra`` adds fields (``attestations``)."""
    (dist,) = collect_distributions([path])
    fields = [
        (":action", "file_upload"),
        ("sha256_digest", dist.sha256),
        ("blake2_256_digest", dist.blake2_256),
        ("protocol_version", "1"),
        *dist.metadata_fields,
        *extra.items(),
    ]
    return post_upload(
        index,
        token,
        fields,
        [("content", path.name, path.read_bytes(), "application/octet-stream")],
    )


def snapshot(index: IndexServer) -> Snapshot:
    """Catalogue, stored files and spool of ``index`` (see :meth:`IndexServer.snapshot`)."""
    return index.snapshot()


def import_refused(target: IndexServer, source: Path) -> str:
    """``admin import`` of ``source`` into ``target`` fails, changes nothing at all, and says
    why (returned: its standard error)."""
    before = snapshot(target)
    result = target.cli("admin", "import", str(source), check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(target) == before
    return result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url_of_each_backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty catalogue database on each backend (SQLite file, PostgreSQL database); the
    PostgreSQL server starts only for the PostgreSQL run (the SQLite run is in the fast tier)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def migrated_db(database_url_of_each_backend: str) -> Iterator[Database]:
    """A catalogue at the newest schema on each backend, for services called in-process."""
    database = Database(database_url_of_each_backend)
    database.migrate()
    yield database
    database.dispose()
