"""Fixtures for the index's HTTP tests: raw uploads and snapshots of catalogue and file store.

Every test here that uses an index server runs on both backends (see ``tests/conftest.py``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import re
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from tests.conftest import IndexServer, Snapshot
from tests.dists.builders import build_wheel
from tests.services import PostgresServer
from trustyard.index.app import create_app
from trustyard.index.context import IndexContext
from trustyard.index.db.engine import Database
from trustyard.index.services import accounts, import_dir, issuers
from trustyard.oidc.devclaims import request_token
from trustyard.oidc.devissuer import DevIssuerServer, make_server
from trustyard.release.publish_inputs import collect_distributions
from trustyard.settings import Settings


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


# -- the fast tier: the real app in this process -------------------------------------------------
#
# ``create_app`` on real SQLite and real local files in tmp_path, called through httpx's ASGI
# transport: no server process, no socket. The event loop runs in a thread of its own (anyio's
# blocking portal), so tests and fixtures stay synchronous; the app's blocking work goes to
# its own threads exactly as under uvicorn.

PASSWORD = "correct horse battery"
LOCAL_BASE_URL = "http://index.test"


class LocalIndex:
    """An index app in this process, its HTTP client, and the admin's helpers (through the
    same service functions the admin CLI calls)."""

    def __init__(self, data: Path, portal: BlockingPortal, **settings: Any) -> None:
        self.data = data
        self.settings = Settings(data_dir=data, **settings)
        self.app = create_app(self.settings)
        self.portal = portal
        self.client = self.new_client()

    def new_client(self, **options: Any) -> httpx.AsyncClient:
        """Another client (its own cookie jar) on the same app."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=LOCAL_BASE_URL,
            **options,
        )

    @property
    def ctx(self) -> IndexContext:
        return context_of_app(self.app)

    @property
    def db(self) -> Database:
        return self.ctx.db

    def request(
        self, method: str, path: str, *, client: httpx.AsyncClient | None = None, **options: Any
    ) -> httpx.Response:
        """One request through the ASGI transport (``options`` as for ``httpx``)."""
        send = (client or self.client).request
        return self.portal.call(functools.partial(send, method, path, **options))

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def create_user(self, name: str, password: str = PASSWORD, *, admin: bool = False) -> None:
        with self.db.write() as session:
            accounts.create_user(session, name, password)
            if admin:
                accounts.set_admin(session, name, admin=True, actor=None)

    def create_token(
        self, user: str, project: str | None = None, *, read_only: bool = False
    ) -> str:
        with self.db.write() as session:
            return accounts.create_token(session, user, project=project, read_only=read_only)

    def trust_issuer(self, url: str) -> None:
        with self.db.write() as session:
            issuers.add_issuer(session, url, allow_private_address=True, actor=None)

    def post_upload(
        self,
        token: str | None,
        fields: list[tuple[str, str]],
        files: list[tuple[str, str, bytes, str]],
        *,
        auth: str | None = None,
    ) -> httpx.Response:
        body, content_type = multipart(fields, files)
        headers = {"Content-Type": content_type}
        if auth is not None:
            headers["Authorization"] = auth
        elif token is not None:
            headers["Authorization"] = basic(token)
        return self.post("/legacy/", content=body, headers=headers)

    def upload(self, token: str, path: Path, **overrides: str | None) -> httpx.Response:
        """Upload a real built distribution with the form uv sends for it (its own metadata,
        as :func:`upload_built` does); ``overrides`` replace fields (None drops one)."""
        (dist,) = collect_distributions([path])
        fields: dict[str, str | None] = {
            ":action": "file_upload",
            "sha256_digest": dist.sha256,
            "blake2_256_digest": dist.blake2_256,
            "protocol_version": "1",
        }
        pairs = [*fields.items(), *dist.metadata_fields]
        kept = [(k, v) for k, v in pairs if k not in overrides]
        kept += [(k, v) for k, v in overrides.items()]
        return self.post_upload(
            token,
            [(k, v) for k, v in kept if v is not None],
            [("content", path.name, path.read_bytes(), "application/octet-stream")],
        )

    def import_file(
        self, path: Path, *, owner: str, upload_time: datetime | None = None
    ) -> import_dir.FileResult:
        """Publish a built file as ``admin import-dir`` does, with a chosen upload time (None:
        its mtime): a release "uploaded" in the past, for upload-time cut-offs."""
        ctx = self.ctx
        result = import_dir.import_file(
            db=ctx.db,
            storage=ctx.storage,
            settings=ctx.settings,
            descriptions=ctx.descriptions,
            path=path,
            owner=owner,
            upload_time=upload_time,
        )
        assert result.outcome in {"imported", "already-present"}, result.detail
        return result

    def close(self) -> None:
        self.portal.call(self.client.aclose)
        self.ctx.descriptions.close()
        self.ctx.db.dispose()


def context_of_app(app: Any) -> IndexContext:
    ctx: IndexContext = app.state.index
    return ctx


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    """One event loop, in a thread, for every in-process request of this test process."""
    with start_blocking_portal("asyncio") as running:
        yield running


@pytest.fixture
def local_index(tmp_path: Path, portal: BlockingPortal) -> Iterator[LocalIndex]:
    """A new, empty index of this test's own, in this process."""
    index = LocalIndex(tmp_path / "data", portal)
    yield index
    index.close()


@pytest.fixture(scope="module")
def shared_index(
    tmp_path_factory: pytest.TempPathFactory, portal: BlockingPortal
) -> Iterator[LocalIndex]:
    """One in-process index shared by a test module (tests use distinct project names)."""
    index = LocalIndex(tmp_path_factory.mktemp("local") / "data", portal)
    yield index
    index.close()


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """Real wheels built once per session: ``wheels(name, version)``."""
    root = tmp_path_factory.mktemp("wheels")
    built: dict[tuple[str, str], Path] = {}

    def wheel(name: str, version: str) -> Path:
        if (name, version) not in built:
            built[name, version] = build_wheel(root / f"{name}-{version}", name, version)
        return built[name, version]

    return wheel


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class LocalBrowser:
    """A browser without the browser: its own cookie jar on a :class:`LocalIndex`, and the
    CSRF token of the last page that carried a form."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self.client = index.new_client(follow_redirects=True)
        self.csrf = ""

    def get(self, path: str, **options: Any) -> httpx.Response:
        answer = self.index.request("GET", path, client=self.client, **options)
        found = _CSRF_FIELD.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(
        self, path: str, fields: dict[str, str] | None = None, *, csrf: bool = True, **options: Any
    ) -> httpx.Response:
        """Submit a form (with this browser's CSRF token unless ``csrf`` is False)."""
        data = dict(fields or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.index.request("POST", path, client=self.client, data=data, **options)

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/account/login/")
        answer = self.post("/account/login/", {"username": username, "password": password})
        self.get("/manage/account/")  # the signed-in session's own CSRF token
        return answer

    def close(self) -> None:
        self.index.portal.call(self.client.aclose)


@pytest.fixture
def web_client(shared_index: LocalIndex) -> Iterator[LocalBrowser]:
    """A fresh browser (no cookies) on the module's in-process index."""
    opened = LocalBrowser(shared_index)
    yield opened
    opened.close()


@dataclass
class LocalIssuer:
    """The development OIDC issuer on loopback, served from a thread of this process: the
    index fetches its JWKS over real HTTP; tests mint through its own minting code."""

    server: DevIssuerServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def key_path(self) -> Path:
        return self.server.app.key_path

    def mint(self, audience: str, claims: Mapping[str, Any]) -> str:
        """An ID token for ``claims`` (filled in as the issuer's token endpoint does)."""
        return self.server.app.mint(f"Bearer {request_token(claims)}", audience)


@pytest.fixture(scope="session")
def local_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    server = make_server(tmp_path_factory.mktemp("issuer"), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LocalIssuer(server)
    server.shutdown()
    server.server_close()
    thread.join()
