"""The second factor in process (issue 20): setting up an authenticator app, signing in with
it, recovery codes, the half-signed-in state, rate limits, replays and ``require_2fa``.

Codes are computed with pyotp from the key the page shows, as an authenticator app would.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from anyio.from_thread import BlockingPortal

from tests.dists.builders import build_wheel
from tests.index.conftest import LOCAL_BASE_URL, PASSWORD, LocalBrowser, LocalIndex
from tests.index.web.soft_authenticator import SoftAuthenticator, options_in
from trustyard.index.services import accounts, second_factor
from trustyard.index.services.journal import history_page
from trustyard.index.web.pages import two_factor

SECURITY = "/manage/account/two-factor/"


def _actions(index: LocalIndex, actor: str) -> list[str]:
    with index.db.read() as session:
        entries = history_page(session, None, limit=100).entries
    return [e.action for e in entries if e.actor == actor]


def _path(answer: httpx.Response) -> str:
    return answer.url.path


def _enrol_totp(browser: LocalBrowser) -> tuple[pyotp.TOTP, list[str]]:
    """Set up an authenticator app on the signed-in account: its TOTP and recovery codes."""
    browser.get(SECURITY)
    begun = browser.post(SECURITY + "totp/")
    assert begun.status_code == 200
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', begun.text)
    assert secret is not None, begun.text
    assert "otpauth://totp/" in begun.text
    totp = pyotp.TOTP(secret.group(1))
    confirmed = browser.post(SECURITY + "totp/confirm/", {"code": totp.now()})
    assert confirmed.status_code == 201, confirmed.text
    codes = re.findall(r"<code class=\"secret\">([a-z2-7-]{23})</code>", confirmed.text)
    assert len(codes) == second_factor.RECOVERY_CODES
    return totp, codes


@pytest.fixture
def browser(local_index: LocalIndex) -> Iterator[LocalBrowser]:
    opened = LocalBrowser(local_index)
    yield opened
    opened.close()


def _new_browser(index: LocalIndex) -> LocalBrowser:
    return LocalBrowser(index)


def _password_step(browser: LocalBrowser, user: str, next_path: str = "") -> httpx.Response:
    browser.get("/account/login/")
    target = "/account/login/" + (f"?next={next_path}" if next_path else "")
    return browser.post(target, {"username": user, "password": PASSWORD})


def test_an_authenticator_app_is_set_up_once_and_its_key_never_shown_again(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("tina")
    browser.sign_in("tina")
    assert "(no second factor yet)" in browser.get("/manage/account/").text
    wrong = browser.post(SECURITY + "totp/confirm/", {"code": "000000"})
    assert wrong.status_code == 409  # nothing being set up yet
    browser.post(SECURITY + "totp/")
    page = browser.get(SECURITY)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text)
    assert secret is not None
    refused = browser.post(SECURITY + "totp/confirm/", {"code": "123456"})
    assert refused.status_code == 403
    assert "not right" in refused.text
    totp = pyotp.TOTP(secret.group(1))
    confirmed = browser.post(SECURITY + "totp/confirm/", {"code": totp.now()})
    assert confirmed.status_code == 201
    assert "shown only this once" in confirmed.text
    assert "(second factor on)" in browser.get("/manage/account/").text
    again = browser.get(SECURITY)
    assert secret.group(1) not in again.text
    assert 'class="totp-qr"' not in again.text  # nor its QR code
    assert 'id="totp-status"' in again.text
    assert "8 of 8 recovery codes left" in again.text
    actions = _actions(local_index, "tina")
    assert "second factor: authenticator app (TOTP) added" in actions
    assert "second factor: recovery codes generated" in actions


def test_the_key_being_set_up_is_shown_as_a_qr_code_of_its_uri(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    """The QR code encodes the ``otpauth://`` URI the page links (the fallback, with the key),
    and is inline SVG the strict CSP allows: no style attribute, element or script."""
    local_index.create_user("quinn")
    browser.sign_in("quinn")
    browser.post(SECURITY + "totp/")
    page = browser.get(SECURITY)
    uri = re.search(r'id="totp-uri" href="([^"]+)"', page.text)
    assert uri is not None
    link = html.unescape(uri.group(1))
    assert link.startswith("otpauth://totp/")
    drawn = re.search(r'<figure id="totp-qr">(<svg .*?</svg>)</figure>', page.text, re.DOTALL)
    assert drawn is not None
    svg = drawn.group(1)
    assert svg == str(two_factor.qr_svg(link))
    assert "<title>QR code of the authenticator app's key</title>" in svg
    for forbidden in ("style", "<script", "href", "on"):
        assert not re.search(rf"[\s<]{forbidden}", svg), forbidden
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_sign_in_asks_for_the_code_and_the_half_signed_in_browser_gets_nothing(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("tom")
    browser.sign_in("tom")
    totp, _codes = _enrol_totp(browser)

    other = _new_browser(local_index)
    answer = _password_step(other, "tom", "/manage/account/invitations/")
    assert _path(answer) == "/account/two-factor/"
    assert 'id="totp-sign-in"' in answer.text
    # The right password alone grants nothing: no session, every account page signs in.
    assert "trustyard_session" not in other.client.cookies
    assert _path(other.get("/manage/account/")) == "/account/login/"
    assert other.post("/manage/account/token/", {"description": "x"}).status_code == 401
    # A code of the next step (within RFC 6238's drift) signs in and lands on ``next``.
    next_code = _code_at_next_step(totp)
    done = other.post("/account/two-factor/", {"method": "totp", "code": next_code})
    assert done.status_code == 200
    assert _path(done) == "/manage/account/invitations/"
    assert "trustyard_session" in other.client.cookies
    other.close()
    # The same code again, in another sign-in, is a replay: refused.
    third = _new_browser(local_index)
    try:
        _password_step(third, "tom")
        replay = third.post("/account/two-factor/", {"method": "totp", "code": next_code})
        assert replay.status_code == 403
        assert "used already" in replay.text
        assert _path(third.get("/manage/account/")) == "/account/login/"
    finally:
        third.close()


def _code_at_next_step(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + totp.interval)


def test_a_recovery_code_signs_in_once(local_index: LocalIndex, browser: LocalBrowser) -> None:
    local_index.create_user("rita")
    browser.sign_in("rita")
    _totp, codes = _enrol_totp(browser)
    first = _new_browser(local_index)
    try:
        _password_step(first, "rita")
        done = first.post("/account/two-factor/", {"method": "recovery", "code": codes[0].upper()})
        assert done.status_code == 200
        assert _path(done) == "/manage/account/"
        assert "7 of 8 recovery codes left" in first.get(SECURITY).text
    finally:
        first.close()
    second = _new_browser(local_index)
    try:
        _password_step(second, "rita")
        again = second.post("/account/two-factor/", {"method": "recovery", "code": codes[0]})
        assert again.status_code == 403
    finally:
        second.close()
    actions = _actions(local_index, "rita")
    assert "second factor: recovery code used (7 left)" in actions
    assert any(a.startswith("refused second factor (recovery)") for a in actions)


def test_second_factor_attempts_are_rate_limited_per_account(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    index = LocalIndex(tmp_path / "data", portal, second_factor_rate_per_account="3/15m")
    try:
        index.create_user("gus")
        owner = LocalBrowser(index)
        owner.sign_in("gus")
        totp, _codes = _enrol_totp(owner)
        owner.close()
        guesser = LocalBrowser(index)
        _password_step(guesser, "gus")
        statuses = [
            guesser.post("/account/two-factor/", {"method": "totp", "code": "000000"}).status_code
            for _ in range(4)
        ]
        assert statuses == [403, 403, 403, 429]
        held = guesser.post(
            "/account/two-factor/", {"method": "totp", "code": _code_at_next_step(totp)}
        )
        assert held.status_code == 429  # the right code waits too: the count is per account
        guesser.close()
    finally:
        index.close()


def test_the_second_step_without_a_pending_sign_in_starts_again(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    browser.get("/account/login/")
    assert _path(browser.get("/account/two-factor/")) == "/account/login/"
    browser.client.cookies.set("trustyard_pending", "made-up", path="/account/two-factor/")
    forged = browser.post("/account/two-factor/", {"method": "totp", "code": "123456"})
    assert forged.status_code == 403
    assert "expired" in forged.text
    odd = browser.post("/account/two-factor/", {"method": "sms", "code": "1"})
    assert odd.status_code == 400


def test_removing_the_last_factor_removes_the_recovery_codes(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("remy")
    browser.sign_in("remy")
    _enrol_totp(browser)
    assert browser.post(SECURITY + "totp/remove/").status_code == 200
    page = browser.get(SECURITY)
    assert 'id="totp-begin"' in page.text
    assert "recovery codes left" not in page.text
    # Signing in needs the password only again.
    other = _new_browser(local_index)
    try:
        assert _path(_password_step(other, "remy")) == "/manage/account/"
    finally:
        other.close()


def test_require_2fa_holds_owners_on_the_security_page_and_tokens_keep_working(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    index = LocalIndex(tmp_path / "data", portal, require_2fa=True)
    try:
        index.create_user("owen")
        index.create_user("vera")  # no project: free to look around
        token = index.create_token("owen")
        wheel = build_wheel(tmp_path / "w", "owens-thing", "1.0")
        assert index.upload(token, wheel).status_code == 200
        owner = LocalBrowser(index)
        owner.sign_in("owen")
        held = owner.get("/manage/account/")
        assert _path(held) == SECURITY
        assert 'id="two-factor-required"' in held.text
        assert _path(owner.get("/project/owens-thing/")) == SECURITY
        refused = owner.post("/manage/account/token/", {"description": "more"})
        assert refused.status_code == 403
        assert "requires a second factor" in refused.text
        # API tokens are not the web sign-in: they keep uploading (PyPI's rule too).
        second = build_wheel(tmp_path / "w2", "owens-thing", "1.1")
        assert index.upload(token, second).status_code == 200
        _enrol_totp(owner)
        assert _path(owner.get("/manage/account/")) == "/manage/account/"
        owner.close()
        visitor = LocalBrowser(index)
        visitor.sign_in("vera")
        assert _path(visitor.get("/manage/account/")) == "/manage/account/"
        visitor.close()
    finally:
        index.close()


# -- security keys (a software authenticator; Chromium's virtual one in the browser test) -------


def _add_key(browser: LocalBrowser, key: SoftAuthenticator, name: str) -> httpx.Response:
    page = browser.get(SECURITY)
    options = options_in(page.text)
    assert options["rp"]["id"] == "index.test"
    return browser.post(SECURITY + "keys/", {"name": name, **key.register(options)})


def test_a_security_key_is_registered_and_signs_in(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("kim")
    browser.sign_in("kim")
    key = SoftAuthenticator(origin=LOCAL_BASE_URL, rp_id="index.test")
    added = _add_key(browser, key, "blue key")
    assert added.status_code == 201, added.text
    assert len(re.findall(r'<code class="secret">', added.text)) == 8  # the first factor's codes
    assert "blue key" in added.text
    # The same key twice is refused (the page excludes it; a forged form is refused too).
    again = _add_key(browser, key, "blue key again")
    assert again.status_code == 409

    other = _new_browser(local_index)
    try:
        step = _password_step(other, "kim")
        assert _path(step) == "/account/two-factor/"
        done = other.post("/account/two-factor/", key.answer(options_in(step.text)))
        assert done.status_code == 200, done.text
        assert _path(done) == "/manage/account/"
        assert "last used" in other.get(SECURITY).text
    finally:
        other.close()
    assert any(a.endswith("with a second factor (webauthn)") for a in _actions(local_index, "kim"))


def test_phished_replayed_and_cloned_key_answers_are_refused(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("pam")
    browser.sign_in("pam")
    key = SoftAuthenticator(origin=LOCAL_BASE_URL, rp_id="index.test")
    assert _add_key(browser, key, "key").status_code == 201
    other = _new_browser(local_index)
    try:
        step = _password_step(other, "pam")
        phished = key.answer(options_in(step.text), origin="http://index.test.evil.example")
        assert other.post("/account/two-factor/", phished).status_code == 403
        # That prompt's challenge is spent: a right answer to it is refused too.
        spent = key.answer(options_in(step.text))
        assert other.post("/account/two-factor/", spent).status_code == 403
        fresh = options_in(other.get("/account/two-factor/").text)
        assert other.post("/account/two-factor/", key.answer(fresh, count=50)).status_code == 200
    finally:
        other.close()
    # A copy of the key whose counter is behind the one last seen: refused (§6.1.1).
    clone = _new_browser(local_index)
    try:
        step = _password_step(clone, "pam")
        cloned = key.answer(options_in(step.text), count=7)
        assert clone.post("/account/two-factor/", cloned).status_code == 403
    finally:
        clone.close()


def test_a_security_key_is_removed(local_index: LocalIndex, browser: LocalBrowser) -> None:
    local_index.create_user("ned")
    local_index.create_user("eve")
    browser.sign_in("ned")
    key = SoftAuthenticator(origin=LOCAL_BASE_URL, rp_id="index.test")
    assert _add_key(browser, key, "old key").status_code == 201
    page = browser.get(SECURITY)
    key_id = re.search(r"/manage/account/two-factor/keys/(\d+)/remove/", page.text)
    assert key_id is not None
    eve = _new_browser(local_index)
    try:
        eve.sign_in("eve")
        stolen = eve.post(f"{SECURITY}keys/{key_id.group(1)}/remove/")
        assert stolen.status_code == 404  # not eve's key
    finally:
        eve.close()
    removed = browser.post(f"{SECURITY}keys/{key_id.group(1)}/remove/")
    assert removed.status_code == 200
    assert "No security keys." in removed.text
    assert "second factor: security key 'old key' removed" in _actions(local_index, "ned")


def test_an_account_disabled_between_password_and_code_does_not_sign_in(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("dora")
    browser.sign_in("dora")
    totp, _codes = _enrol_totp(browser)
    other = _new_browser(local_index)
    try:
        _password_step(other, "dora")
        with local_index.db.write() as session:
            accounts.set_disabled(session, "dora", disabled=True, actor=None)
        refused = other.post(
            "/account/two-factor/", {"method": "totp", "code": _code_at_next_step(totp)}
        )
        assert refused.status_code == 403
        assert "trustyard_session" not in other.client.cookies
    finally:
        other.close()


def test_an_admin_resets_a_lost_device_from_the_admin_page(
    local_index: LocalIndex, browser: LocalBrowser
) -> None:
    local_index.create_user("root", admin=True)
    local_index.create_user("loser")
    local_index.create_user("nosy")
    owner = _new_browser(local_index)
    try:
        owner.sign_in("loser")
        _enrol_totp(owner)
    finally:
        owner.close()
    nosy = _new_browser(local_index)
    try:
        nosy.sign_in("nosy")
        assert nosy.post("/admin/user/loser/reset-2fa/").status_code == 403
    finally:
        nosy.close()
    browser.sign_in("root")
    listed = browser.get("/admin/")
    assert re.search(
        r'data-username="loser">.*?<td class="second-factor">yes</td>', listed.text, re.S
    )
    done = browser.post("/admin/user/loser/reset-2fa/")
    assert done.status_code == 200
    assert re.search(r'data-username="loser">.*?<td class="second-factor">no</td>', done.text, re.S)
    assert browser.post("/admin/user/loser/reset-2fa/").status_code == 409
    assert "second factor of loser reset (9 factors and codes removed)" in _actions(
        local_index, "root"
    )
    back = _new_browser(local_index)
    try:
        assert _path(_password_step(back, "loser")) == "/manage/account/"
    finally:
        back.close()
