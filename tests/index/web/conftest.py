"""Fixtures of the web interface's tests: an index with projects to show, a real browser
(Playwright driving Debian's Chromium, as issue 7 asks), and HTTP helpers that sign in and
submit forms as a browser would."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.services import SQLITE_FILES, Backend
from tests.tiers import require_slow

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


# -- the browser -------------------------------------------------------------------------------

# Issue 7's flags; Playwright adds its usual ones for automation (no first-run, sync, component
# updates, ...). The browser is the system's: Playwright never downloads one here, because every
# launch names its executable and nothing runs ``playwright install``.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = ViewportSize(width=1280, height=900)
# Auto-waiting assertions may take their time on a busy machine; no test measures time.
expect.set_options(timeout=30_000)

Screenshot = Callable[[Page, str], Path]


def chromium_executable() -> str:
    """The system's Chromium, or a failure that says how to install it."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is not installed: run scripts/install-browser.sh", pytrace=False)
    return found


def launch_chromium(playwright: Playwright, *args: str) -> Browser:
    """Debian's Chromium, headless, with issue 7's flags and ``args``."""
    require_slow("Chromium")
    return playwright.chromium.launch(
        executable_path=chromium_executable(),
        chromium_sandbox=False,
        args=[*CHROMIUM_ARGS, *args],
    )


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright for one module, not the session: while it runs, its sync API marks the
    thread's asyncio loop as running, so ``asyncio.run`` would fail in the worker's other tests."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the module."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A fresh context for each test (no cookies: it starts signed out), at the module's index."""
    fresh = browser.new_context(base_url=site.index.url, viewport=DESKTOP)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Save a whole page as ``build/screenshots/<name>.png`` (a backend other than the default:
    in a folder of its name), to be looked at after the run."""
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("backend", SQLITE_FILES) if callspec else SQLITE_FILES
    folder = SCREENSHOTS if backend == SQLITE_FILES else SCREENSHOTS / backend

    def save(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


def submit(button: Locator) -> None:
    """Press a form's button and wait for the page the form's answer loads, so that what the
    test reads next is that answer (a redirect's target, or the refusal)."""
    with button.page.expect_navigation():
        button.click()


def sign_in(page: Page, username: str, password: str = PASSWORD, *, here: bool = False) -> None:
    """Fill in the sign-in form as a person would (``here``: the one already shown, which
    carries its ``next``)."""
    if not here:
        page.goto("/account/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    submit(page.get_by_role("main").get_by_role("button", name="Sign in"))


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


def accept_invitation(index: IndexServer, username: str, project: str) -> None:
    """``username`` signs in and accepts the role an owner offered them on ``project``."""
    answer = signed_in(index, username).post(f"/manage/account/invitations/{project}/accept/", {})
    assert answer.status == 303, answer.text
