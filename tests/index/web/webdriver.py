"""A minimal W3C WebDriver client for Debian's chromedriver, over httpx.

Enough of the protocol (https://www.w3.org/TR/webdriver2/) to drive a real headless Chromium:
navigate, find elements, type, click, read text, cookies and screenshots. No download of
drivers or browsers ever happens: both come from the system packages.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


class WebDriverError(Exception):
    """chromedriver answered a command with an error."""


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"{names[0]} is not installed: run scripts/install-browser.sh")


class Element:
    """A DOM element of the current page."""

    def __init__(self, browser: Browser, element_id: str) -> None:
        self.browser = browser
        self.id = element_id

    def click(self) -> None:
        self.browser.command("POST", f"/element/{self.id}/click", {})

    def click_and_load(self) -> None:
        """Click something that loads a new page, and wait until that page has loaded.

        WebDriver's click may return before a form's submission has navigated; a marker set
        on the old page tells the two pages apart.
        """
        self.browser.script("window.__trustyardOldPage = true")
        self.click()
        self.browser.wait_until(
            "return window.__trustyardOldPage === undefined && document.readyState === 'complete'"
        )

    def type(self, text: str) -> None:
        self.browser.command("POST", f"/element/{self.id}/clear", {})
        self.browser.command("POST", f"/element/{self.id}/value", {"text": text})

    @property
    def text(self) -> str:
        value: str = self.browser.command("GET", f"/element/{self.id}/text")
        return value

    def attribute(self, name: str) -> str | None:
        value: str | None = self.browser.command("GET", f"/element/{self.id}/attribute/{name}")
        return value

    def select(self, value: str) -> None:
        """Choose the option of this <select> whose value is ``value``."""
        self.browser.find(f"#{self.attribute('id')} option[value='{value}']").click()


class Browser:
    """One headless Chromium session behind its own chromedriver process."""

    def __init__(self, screenshots: Path, *, accept_insecure_certs: bool = False) -> None:
        """``accept_insecure_certs``: trust any certificate (WebDriver's capability), for an
        index serving HTTPS with the test's own local CA."""
        self.screenshots = screenshots
        self.profile = Path(tempfile.mkdtemp(prefix="trustyard-chromium-"))
        port = free_port()
        self.driver = subprocess.Popen(
            [_binary("chromedriver"), f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.driver.poll() is not None:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.05)
        capabilities = {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "acceptInsecureCerts": accept_insecure_certs,
            "goog:chromeOptions": {
                "binary": _binary("chromium", "chromium-browser"),
                "args": [*CHROMIUM_ARGS, f"--user-data-dir={self.profile}"],
            },
        }
        answer = self.http.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
        value = answer.json()["value"]
        if "sessionId" not in value:
            raise WebDriverError(str(value))
        self.session = value["sessionId"]

    def command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, f"/session/{self.session}{path}", json=body)
        value = answer.json()["value"]
        if answer.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value.get('error')}: {value.get('message')}")
        return value

    def get(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        value: str = self.command("GET", "/url")
        return value

    @property
    def title(self) -> str:
        value: str = self.command("GET", "/title")
        return value

    @property
    def source(self) -> str:
        value: str = self.command("GET", "/source")
        return value

    def find(self, css: str) -> Element:
        value = self.command("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, value[ELEMENT_KEY])

    def find_all(self, css: str) -> list[Element]:
        values = self.command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, v[ELEMENT_KEY]) for v in values]

    def text(self, css: str) -> str:
        return self.find(css).text

    def script(self, source: str, *args: Any) -> Any:
        """Run ``source`` in the page (only to observe it, never to drive the UI)."""
        return self.command("POST", "/execute/sync", {"script": source, "args": list(args)})

    def wait_until(self, condition: str, timeout: float = 30) -> None:
        """Poll the page until the script ``condition`` returns true."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.script(condition) is True:
                    return
            except WebDriverError:
                pass  # the page is being replaced
            if time.monotonic() > deadline:
                raise WebDriverError(f"timed out waiting for: {condition}")
            time.sleep(0.02)

    def cookies(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.command("GET", "/cookie")
        return value

    def delete_cookies(self) -> None:
        self.command("DELETE", "/cookie")

    def screenshot(self, name: str) -> Path:
        """Save the page as ``<name>.png`` among the run's screenshots."""
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))
        return path

    def set_window(self, width: int, height: int) -> None:
        self.command("POST", "/window/rect", {"width": width, "height": height})

    def quit(self) -> None:
        try:
            self.http.delete(f"/session/{self.session}")
        finally:
            self.http.close()
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
            shutil.rmtree(self.profile, ignore_errors=True)
