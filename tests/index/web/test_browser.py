"""The web interface in a real headless Chromium against a real ``trustyard serve``."""

from __future__ import annotations

from pathlib import Path

from tests.dists.builders import build_wheel
from tests.index.conftest import upload_file
from tests.index.web.conftest import PASSWORD, Site
from tests.index.web.webdriver import Browser


def sign_in(
    browser: Browser, site: Site, username: str, password: str = PASSWORD, *, here: bool = False
) -> None:
    """Fill in the sign-in form (``here``: the one already shown, with its ``next``)."""
    if not here:
        browser.get(site.index.url + "/account/login/")
    browser.find("#username").type(username)
    browser.find("#password").type(password)
    browser.find("form.stack button[type=submit]").click_and_load()


def test_browse_search_and_see_files(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    browser.get(site.index.url + "/")
    assert browser.title == "Find a project · trustyard"
    browser.screenshot("home")
    browser.find("#home-q").type("demonstration")
    browser.find(".big-search button").click_and_load()
    assert browser.url.startswith(site.index.url + "/search/?q=demonstration")
    names = [e.text for e in browser.find_all(".projects .name")]
    assert names == ["webdemo"]
    browser.screenshot("search")
    browser.find(".projects a").click_and_load()
    assert browser.url == site.index.url + "/project/webdemo/"
    assert browser.text("h1") == "webdemo 2.0"
    wheel = "webdemo-2.0-py3-none-any.whl"
    row = browser.find(f'tr[data-filename="{wheel}"]')
    assert row.text.startswith(wheel)
    assert browser.text(f'tr[data-filename="{wheel}"] code.sha256') == site.sha256[wheel]
    size = browser.find(f'tr[data-filename="{wheel}"] td.size').attribute("data-bytes")
    assert size == str(site.sizes[wheel])
    assert browser.find_all("#yank-notice") == []
    browser.screenshot("project")


def test_yanked_release_shows_its_reason(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    browser.get(site.index.url + "/project/webdemo/")
    browser.find(".history a").click_and_load()
    assert browser.url == site.index.url + "/project/webdemo/1.0/"
    notice = browser.text("#yank-notice")
    # The reason is shown as the text it is, not as markup.
    assert "Reason: broken <b>build</b>" in notice
    assert "yanked" in browser.text('tr[data-filename="webdemo-1.0-py3-none-any.whl"]')
    browser.screenshot("release-yanked")


def test_hostile_description_is_neutralised(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    browser.get(site.index.url + "/project/hostile/")
    assert browser.script("return window.__pwned === undefined") is True
    assert browser.find_all("#description script, #description iframe, [onerror]") == []
    hrefs = [a.attribute("href") or "" for a in browser.find_all("#description a")]
    assert not any(h.lower().startswith("javascript") for h in hrefs)
    assert "Plain words survive." in browser.text("#description")
    assert "<script>" in browser.text(".release-head .summary")
    # The page's own structure survived the unbalanced tags: the files are still there.
    assert browser.find_all('tr[data-filename="hostile-0.1-py3-none-any.whl"]')
    browser.screenshot("project-hostile")


def test_sign_in_refuses_wrong_passwords_then_rate_limits(
    fresh_browser: Browser, site: Site
) -> None:
    browser = fresh_browser
    for _ in range(5):
        sign_in(browser, site, "carol", "not the password")
        assert browser.text("#login-problem") == "The username or the password is wrong."
    browser.screenshot("login-refused")
    sign_in(browser, site, "carol")  # the right password, too late
    assert "too many failed sign-in attempts" in browser.text(".problem")
    assert not [c for c in browser.cookies() if c["name"] == "trustyard_session"]


def test_session_cookie_flags(fresh_browser: Browser, site: Site) -> None:
    sign_in(fresh_browser, site, "alice")
    assert fresh_browser.url == site.index.url + "/manage/account/"
    (cookie,) = [c for c in fresh_browser.cookies() if c["name"] == "trustyard_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP here; the TLS test checks Secure
    assert fresh_browser.script("return document.cookie") == ""  # invisible to script


def test_token_created_in_the_browser_uploads_until_revoked(
    fresh_browser: Browser, site: Site, tmp_path: Path
) -> None:
    browser = fresh_browser
    sign_in(browser, site, "alice")
    browser.find("#token-description").type("ci upload")
    browser.find("#token-scope").select("webdemo")
    browser.find("#token-expiry").select("7d")
    browser.find("#create-token button").click_and_load()
    token = browser.text("#new-token")
    assert token.startswith("trustyard-")
    browser.screenshot("account-new-token")
    wheel = build_wheel(tmp_path, "webdemo", "3.0")
    assert upload_file(site.index, token, wheel, "webdemo", "3.0").status == 200
    # Another project is out of the token's scope.
    other = build_wheel(tmp_path, "hostile", "0.2")
    assert upload_file(site.index, token, other, "hostile", "0.2").status == 403

    browser.get(site.index.url + "/manage/account/")
    assert token not in browser.source  # shown once only
    token_id = token.removeprefix("trustyard-").split(".")[0]
    row = f'tr[data-token-id="{token_id}"]'
    assert browser.text(f"{row} .status") == "active"
    assert "project webdemo" in browser.text(row)
    browser.find(f"{row} button.danger").click_and_load()
    assert browser.text(f"{row} .status") == "revoked"
    browser.screenshot("account")
    late = build_wheel(tmp_path / "late", "webdemo", "3.1")
    refused = upload_file(site.index, token, late, "webdemo", "3.1")
    assert refused.status == 403
    assert "revoked" in refused.reason


def test_add_and_remove_a_github_publisher(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    sign_in(browser, site, "alice")
    browser.get(site.index.url + "/manage/project/webdemo/")
    browser.find("#gh-repository").type("alice/webdemo")
    browser.find("#gh-workflow").type("release.yml")
    browser.find("#gh-environment").type("pypi")
    browser.find("#add-github button").click_and_load()
    assert browser.url == site.index.url + "/manage/project/webdemo/"
    rows = browser.find_all("table.publishers tbody tr")
    assert len(rows) == 1
    assert "alice/webdemo" in rows[0].text
    assert "release.yml" in rows[0].text
    listed = site.index.cli("publisher", "list", "webdemo").stdout
    assert "alice/webdemo" in listed
    browser.screenshot("manage-project")

    # Invalid input is refused with the CLI's message, and nothing is added.
    browser.find("#gh-repository").type("not-a-repository")
    browser.find("#gh-workflow").type("release.yml")
    browser.find("#add-github button").click_and_load()
    assert "OWNER/REPO" in browser.text(".problem")
    browser.get(site.index.url + "/manage/project/webdemo/")
    assert len(browser.find_all("table.publishers tbody tr")) == 1

    browser.find("table.publishers button.danger").click_and_load()
    assert browser.find_all("table.publishers") == []
    assert "alice/webdemo" not in site.index.cli("publisher", "list", "webdemo").stdout


def test_strangers_see_no_settings_and_sign_out_works(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    browser.get(site.index.url + "/manage/project/webdemo/")
    assert browser.url == site.index.url + "/account/login/?next=/manage/project/webdemo/"
    sign_in(browser, site, "bob", here=True)
    assert browser.url == site.index.url + "/manage/project/webdemo/"
    assert browser.text("h1") == "Error 403"
    assert browser.find_all("#add-github") == []
    browser.get(site.index.url + "/")
    browser.find("header nav button").click_and_load()  # sign out
    assert browser.text("header nav a") == "Sign in"
    assert not [c for c in browser.cookies() if c["name"] == "trustyard_session"]


def test_phone_layout_screenshots(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    browser.set_window(390, 844)
    browser.get(site.index.url + "/project/webdemo/")
    width = browser.script("return document.documentElement.scrollWidth")
    viewport = browser.script("return window.innerWidth")
    assert width <= viewport  # nothing forces sideways scrolling on a phone
    browser.screenshot("project-phone")
