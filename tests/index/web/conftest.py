"""Fixtures of the web interface's tests: an index with projects to show, a real browser,
and HTTP helpers that sign in and submit forms as a browser would."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.index.web.webdriver import Browser
from tests.services import Backend

PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
XSS_DESCRIPTION = (
    "# Hostile\n\n"
    "<script>window.__pwned = 'script'</script>\n\n"
    '<img src="x" onerror="window.__pwned = \'img\'">\n\n'
    "[click me](javascript:window.__pwned='link')\n\n"
    '<iframe src="https://example.invalid/"></iframe>\n\n'
    "</div></main><b>unclosed <i>tags\n\n"
    "Plain words survive.\n"
)
HOSTILE_SUMMARY = "<script>window.__pwned='summary'</script> summary"


@dataclass
class Site:
    """An index holding two projects, their users, and facts the tests check against."""

    index: IndexServer
    sha256: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def _upload(site: Site, token: str, tmp: Path, name: str, version: str, **extra: str) -> None:
    wheel = build_wheel(tmp, name, version)
    data = wheel.read_bytes()
    site.sha256[wheel.name] = hashlib.sha256(data).hexdigest()
    site.sizes[wheel.name] = len(data)
    answer = upload_file(site.index, token, wheel, name, version, **extra)
    assert answer.status == 200, answer.reason


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[Site]:
    """``webdemo`` 1.0 (yanked, with a reason) and 2.0 by alice; ``hostile`` with an XSS
    description; bob owns ``bobs-thing``; carol exists to be rate-limited."""
    tmp = tmp_path_factory.mktemp("web")
    index = start_index(tmp / "data", backend=backend)
    site = Site(index)
    try:
        for user in ("alice", "bob", "carol"):
            index.create_user(user, PASSWORD)
        alice = index.create_token("alice")
        _upload(site, alice, tmp / "d1", "webdemo", "1.0", summary="A demonstration project")
        _upload(site, alice, tmp / "d2", "webdemo", "2.0", summary="A demonstration project")
        index.cli("admin", "project", "yank", "webdemo", "1.0", "--reason", "broken <b>build</b>")
        _upload(
            site,
            alice,
            tmp / "d3",
            "hostile",
            "0.1",
            summary=HOSTILE_SUMMARY,
            description=XSS_DESCRIPTION,
            description_content_type="text/markdown",
        )
        _upload(site, index.create_token("bob"), tmp / "d4", "bobs-thing", "1.0")
        yield site
    finally:
        index.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; tests start signed out (cookies cleared)."""
    driver = Browser(SCREENSHOTS)
    yield driver
    driver.quit()


@pytest.fixture
def fresh_browser(browser: Browser) -> Browser:
    browser.delete_cookies()
    browser.set_window(1280, 900)
    return browser


# -- HTTP helpers ----------------------------------------------------------------------------


_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@dataclass
class HttpSession:
    """A cookie jar and the CSRF token its pages carry: a browser without the browser."""

    index: IndexServer
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, path: str) -> Answer:
        answer = request(self.index, "GET", path, headers=self.header())
        self._remember(answer)
        if "csrf_token" in answer.text:
            self.csrf = csrf_in(answer.text)
        return answer

    def post(
        self,
        path: str,
        fields: dict[str, str] | list[tuple[str, str]],
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        if csrf:
            pairs.append(("csrf_token", self.csrf))
        data = body if body is not None else urlencode(pairs).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **self.header()}
        sent.update(headers or {})
        answer = request(self.index, "POST", path, data, sent)
        self._remember(answer)
        return answer

    def _remember(self, answer: Answer) -> None:
        for header in answer.raw_cookies:
            name, _, rest = header.partition("=")
            value = rest.split(";")[0]
            if value and "max-age=0" not in header.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)


def signed_in(index: IndexServer, username: str) -> HttpSession:
    """An HTTP session signed in as ``username`` (with its session's CSRF token)."""
    http = HttpSession(index)
    http.get("/account/login/")
    answer = http.post("/account/login/", {"username": username, "password": PASSWORD})
    assert answer.status == 303, answer.text
    assert "trustyard_session" in http.cookies
    http.get("/manage/account/")
    return http
