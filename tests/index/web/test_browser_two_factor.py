"""The second factor in a real headless Chromium against a real ``trustyard serve`` (issue 20):
a security key registered and used through ``static/webauthn.js`` under the strict
Content-Security-Policy, with Chromium's virtual authenticator (DevTools protocol ``WebAuthn``
domain) on ``localhost``, the RP ID browsers accept over plain HTTP; and the authenticator app
set up and used through the pages, its codes computed by pyotp.
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import segno
from playwright.sync_api import Browser, BrowserContext, CDPSession, ConsoleMessage, Page, expect

from tests.index.web.conftest import DESKTOP, Screenshot, Site, sign_in, submit

SECURITY = "/manage/account/two-factor/"


@pytest.fixture
def on_localhost(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A fresh context that reaches the index as ``localhost`` (a valid RP ID; an IP is not)."""
    base = site.index.url.replace("127.0.0.1", "localhost")
    assert base.startswith("http://localhost:"), base
    context = browser.new_context(base_url=base, viewport=DESKTOP)
    yield context
    context.close()


def _virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added: dict[str, Any] = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def _csp_violations(page: Page) -> list[str]:
    seen: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", listen)
    return seen


def _sign_out(page: Page) -> None:
    submit(page.get_by_role("navigation", name="Account").get_by_role("button", name="Sign out"))


def test_a_security_key_is_registered_and_signs_in_in_chromium(
    on_localhost: BrowserContext, site: Site, screenshot: Screenshot
) -> None:
    site.index.create_user("keyholder", "correct horse battery")
    page = on_localhost.new_page()
    violations = _csp_violations(page)
    cdp, authenticator = _virtual_authenticator(page)

    sign_in(page, "keyholder")
    page.goto(SECURITY)
    page.get_by_label("Name of the key").fill("laptop")
    submit(page.get_by_role("button", name="Add a security key"))
    expect(page.locator("#recovery-codes li")).to_have_count(8)
    expect(page.locator("#security-keys")).to_contain_text("laptop")
    screenshot(page, "two-factor-key-added")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    (credential,) = stored["credentials"]
    assert credential["rpId"] == "localhost"

    _sign_out(page)
    sign_in(page, "keyholder")
    expect(page).to_have_url(re.compile("/account/two-factor/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    screenshot(page, "two-factor-step")
    # The half-signed-in browser has no session: an account page sends it to sign in.
    assert not [c for c in on_localhost.cookies() if c["name"] == "trustyard_session"]
    submit(page.get_by_role("button", name="Use a security key"))
    expect(page).to_have_url(re.compile("/manage/account/$"))
    assert [c for c in on_localhost.cookies() if c["name"] == "trustyard_session"]
    after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert after["credentials"][0]["signCount"] > credential["signCount"]
    page.goto(SECURITY)
    expect(page.locator("#security-keys")).to_contain_text("last used")
    assert violations == []


def _png_rows(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, bytes per pixel and unfiltered rows of an 8-bit, non-interlaced RGB(A) PNG, as
    Chromium's screenshots are (PNG spec, sections 11.2.2 and 9)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    bpp = {2: 3, 6: 4}[colour]
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    previous = bytes(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = bytes(line)
    return width, bpp, rows


def _modules(uri: str) -> list[list[bool]]:
    """The dark modules of the QR code of ``uri``, with its quiet zone (as the page draws it)."""
    code = segno.make(uri, error="m", micro=False)
    return [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=4)]


def _drawn_modules(png: bytes, side: int) -> list[list[bool]]:
    """The ``side`` x ``side`` modules of a screenshot of the drawn code, each read at its
    centre (dark: its red channel below half)."""
    width, bpp, rows = _png_rows(png)
    across, down = width / side, len(rows) / side  # layout may round one side by a pixel
    return [
        [rows[int((r + 0.5) * down)][int((c + 0.5) * across) * bpp] < 128 for c in range(side)]
        for r in range(side)
    ]


def test_an_authenticator_app_is_set_up_and_asked_for_in_chromium(
    on_localhost: BrowserContext, site: Site
) -> None:
    site.index.create_user("appholder", "correct horse battery")
    page = on_localhost.new_page()
    violations = _csp_violations(page)
    sign_in(page, "appholder")
    page.goto(SECURITY)
    submit(page.get_by_role("button", name="Set up an authenticator app"))
    secret = page.locator("#totp-secret").inner_text().strip()
    expect(page.locator("#totp-uri")).to_contain_text("otpauth://totp/")
    uri = page.locator("#totp-uri").inner_text().strip()
    qr = page.locator("#totp-qr svg")
    expect(qr).to_be_visible()
    expected = _modules(uri)
    assert _drawn_modules(qr.screenshot(), len(expected)) == expected  # what a camera reads
    totp = pyotp.TOTP(secret)
    page.get_by_label("Six-digit code").fill(totp.now())
    submit(page.get_by_role("button", name="Confirm"))
    expect(page.locator("#recovery-codes li")).to_have_count(8)
    expect(page.locator("#totp-secret")).to_have_count(0)
    _sign_out(page)
    sign_in(page, "appholder")
    expect(page).to_have_url(re.compile("/account/two-factor/$"))
    page.get_by_label("Six-digit code").fill(totp.at(time.time() + totp.interval))
    submit(page.get_by_role("button", name="Verify"))
    expect(page).to_have_url(re.compile("/manage/account/$"))
    assert violations == []
