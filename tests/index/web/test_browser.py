"""The web interface in a real headless Chromium (Playwright) against a real ``trustyard serve``:
what a visitor and a maintainer do, found by the labels, roles and landmarks a person (or a
screen reader) goes by."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, expect

from tests.dists.builders import build_wheel
from tests.index.conftest import upload_file
from tests.index.web.conftest import PASSWORD, Screenshot, Site, sign_in, submit

PHONE = "Pixel 7"


def _session_cookies(page: Page) -> list[str]:
    return [c["name"] for c in page.context.cookies() if c["name"] == "trustyard_session"]


def test_browse_search_and_see_files(page: Page, site: Site, screenshot: Screenshot) -> None:
    page.goto("/")
    expect(page).to_have_title("Find a project · trustyard")
    # The landmarks a screen reader jumps between.
    expect(page.get_by_role("banner")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account")).to_be_visible()
    expect(page.get_by_role("search")).to_have_count(2)  # the header's and the page's
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("contentinfo")).to_be_visible()
    screenshot(page, "home")
    page.get_by_label("Project name or words of its summary").fill("demonstration")
    page.get_by_role("main").get_by_role("button", name="Search").click()
    expect(page).to_have_url(
        re.compile("^" + re.escape(site.index.url + "/search/?q=demonstration"))
    )
    expect(page.locator(".projects .name")).to_have_text(["webdemo"])
    screenshot(page, "search")
    page.get_by_role("main").get_by_role("link", name="webdemo 2.0").click()
    expect(page).to_have_url("/project/webdemo/")
    expect(page.get_by_role("heading", level=1)).to_have_text("webdemo 2.0")
    wheel = "webdemo-2.0-py3-none-any.whl"
    row = page.locator(f'tr[data-filename="{wheel}"]')
    expect(row.get_by_role("rowheader")).to_have_text(wheel)
    expect(row.get_by_role("link", name=wheel)).to_have_attribute(
        "href", re.compile(f"/{re.escape(wheel)}#sha256={site.sha256[wheel]}$")
    )
    expect(row.locator("code.sha256")).to_have_text(site.sha256[wheel])
    expect(row.locator("td.size")).to_have_attribute("data-bytes", str(site.sizes[wheel]))
    expect(page.locator("#yank-notice")).to_have_count(0)
    metadata = page.get_by_role("complementary", name="Metadata")
    expect(metadata).to_contain_text("no further metadata")  # not an empty box
    screenshot(page, "project")


def test_yanked_release_shows_its_reason(page: Page, screenshot: Screenshot) -> None:
    page.goto("/project/webdemo/")
    history = page.get_by_role("region", name="Release history")
    history.get_by_role("link", name="1.0", exact=True).click()
    expect(page).to_have_url("/project/webdemo/1.0/")
    # The reason is shown as the text it is, not as markup.
    expect(page.get_by_role("note")).to_contain_text("Reason: broken <b>build</b>")
    expect(page.locator('tr[data-filename="webdemo-1.0-py3-none-any.whl"]')).to_contain_text(
        "yanked"
    )
    screenshot(page, "release-yanked")


def test_hostile_description_is_neutralised(page: Page, screenshot: Screenshot) -> None:
    page.goto("/project/hostile/")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    expect(page.locator("#description script, #description iframe, [onerror]")).to_have_count(0)
    hrefs = page.locator("#description a").evaluate_all(
        "links => links.map(a => a.getAttribute('href') || '')"
    )
    assert not any(h.lower().startswith("javascript") for h in hrefs)
    expect(page.locator("#description")).to_contain_text("Plain words survive.")
    expect(page.locator(".release-head .summary")).to_contain_text("<script>")
    # The page's own structure survived the unbalanced tags: the files are still there.
    expect(page.locator('tr[data-filename="hostile-0.1-py3-none-any.whl"]')).to_have_count(1)
    expect(page.get_by_role("contentinfo")).to_have_count(1)
    screenshot(page, "project-hostile")


def test_sign_in_with_the_keyboard_alone(page: Page, screenshot: Screenshot) -> None:
    """Tab to the skip link, Enter, Tab through the form, Enter: no pointer anywhere."""
    page.goto("/account/login/")
    screenshot(page, "login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    screenshot(page, "login-skip-link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url("/manage/account/")
    account = page.get_by_role("navigation", name="Account")
    expect(account.get_by_role("link", name="alice")).to_be_visible()
    # And out again: Tab reaches the header's sign-out button.
    sign_out = account.get_by_role("button", name="Sign out")
    for _ in range(10):
        page.keyboard.press("Tab")
        if sign_out.evaluate("button => button === document.activeElement"):
            break
    expect(sign_out).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(account.get_by_role("link")).to_have_text("Sign in")
    assert _session_cookies(page) == []


def test_sign_in_refuses_wrong_passwords_then_rate_limits(
    page: Page, screenshot: Screenshot
) -> None:
    for _ in range(5):
        sign_in(page, "carol", "not the password")
        expect(page.get_by_role("alert")).to_have_text("The username or the password is wrong.")
    screenshot(page, "login-refused")
    sign_in(page, "carol")  # the right password, too late
    expect(page.get_by_role("alert")).to_contain_text("too many failed sign-in attempts")
    assert _session_cookies(page) == []


def test_session_cookie_flags(page: Page) -> None:
    sign_in(page, "alice")
    expect(page).to_have_url("/manage/account/")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "trustyard_session"]
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Lax"
    assert cookie.get("secure") is False  # plain HTTP here; test_trusted_publishing: TLS
    assert page.evaluate("document.cookie") == ""  # invisible to script


def test_token_created_in_the_browser_uploads_until_revoked(
    page: Page, site: Site, tmp_path: Path, screenshot: Screenshot
) -> None:
    sign_in(page, "alice")
    page.get_by_label("Description", exact=True).fill("ci upload")
    page.get_by_label("Scope").select_option("webdemo")
    page.get_by_label("Expires after").select_option("7d")
    submit(page.get_by_role("button", name="Create token"))
    expect(page.get_by_role("status")).to_contain_text("it is shown only this once")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("trustyard-")
    screenshot(page, "account-new-token")
    wheel = build_wheel(tmp_path, "webdemo", "3.0")
    assert upload_file(site.index, token, wheel, "webdemo", "3.0").status == 200
    # Another project is out of the token's scope.
    other = build_wheel(tmp_path, "hostile", "0.2")
    assert upload_file(site.index, token, other, "hostile", "0.2").status == 403

    page.goto("/manage/account/")
    assert token not in page.content()  # shown once only
    token_id = token.removeprefix("trustyard-").split(".")[0]
    row = page.locator(f'tr[data-token-id="{token_id}"]')
    expect(row.locator(".status")).to_have_text("active")
    expect(row).to_contain_text("project webdemo")
    submit(row.get_by_role("button", name="Revoke token ci upload"))
    expect(row.locator(".status")).to_have_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    screenshot(page, "account")
    late = build_wheel(tmp_path / "late", "webdemo", "3.1")
    refused = upload_file(site.index, token, late, "webdemo", "3.1")
    assert refused.status == 403
    assert "revoked" in refused.reason


def test_add_and_remove_a_github_publisher(page: Page, site: Site, screenshot: Screenshot) -> None:
    sign_in(page, "alice")
    page.goto("/manage/project/webdemo/")
    github = page.get_by_role("form", name="GitHub Actions", exact=True)
    github.get_by_label("Repository (OWNER/REPO)").fill("alice/webdemo")
    github.get_by_label("Workflow file name").fill("release.yml")
    github.get_by_label("Environment (optional)").fill("pypi")
    submit(github.get_by_role("button", name="Add GitHub publisher"))
    expect(page).to_have_url("/manage/project/webdemo/")
    rows = page.locator("table.publishers tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("alice/webdemo")
    expect(rows).to_contain_text("release.yml")
    listed = site.index.cli("publisher", "list", "webdemo").stdout
    assert "alice/webdemo" in listed
    screenshot(page, "manage-project")

    # Invalid input is refused with the CLI's message, and nothing is added.
    github.get_by_label("Repository (OWNER/REPO)").fill("not-a-repository")
    github.get_by_label("Workflow file name").fill("release.yml")
    submit(github.get_by_role("button", name="Add GitHub publisher"))
    expect(page.get_by_role("alert")).to_contain_text("OWNER/REPO")
    page.goto("/manage/project/webdemo/")
    expect(rows).to_have_count(1)

    submit(page.locator("table.publishers").get_by_role("button", name="Remove publisher"))
    expect(page.locator("table.publishers")).to_have_count(0)
    expect(page.get_by_role("region", name="Trusted publishers")).to_contain_text(
        "No trusted publishers"
    )
    assert "alice/webdemo" not in site.index.cli("publisher", "list", "webdemo").stdout


def test_strangers_see_no_settings_and_sign_out_works(page: Page, screenshot: Screenshot) -> None:
    page.goto("/manage/project/webdemo/")
    expect(page).to_have_url("/account/login/?next=/manage/project/webdemo/")
    sign_in(page, "bob", here=True)
    expect(page).to_have_url("/manage/project/webdemo/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Error 403")
    expect(page.locator("#add-github")).to_have_count(0)
    screenshot(page, "error-403")
    page.goto("/")
    account = page.get_by_role("navigation", name="Account")
    submit(account.get_by_role("button", name="Sign out"))
    expect(account.get_by_role("link")).to_have_text("Sign in")
    assert _session_cookies(page) == []


def test_phone_layout(
    browser: Browser, playwright: Playwright, site: Site, screenshot: Screenshot
) -> None:
    """On a phone (its viewport and touch, and the meta viewport honoured) no page scrolls
    sideways, signed out or in."""
    phone = playwright.devices[PHONE]
    context = browser.new_context(**phone, base_url=site.index.url)
    page = context.new_page()

    def visit(path: str, name: str) -> None:
        page.goto(path)
        viewport, scrolled = page.evaluate(
            "[window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert viewport == phone["viewport"]["width"]  # without the meta viewport: 980
        assert scrolled <= viewport, path  # nothing forces sideways scrolling
        screenshot(page, name)

    try:
        visit("/", "home-phone")
        visit("/project/webdemo/", "project-phone")
        sign_in(page, "alice")
        visit("/manage/account/", "account-phone")
        visit("/manage/project/webdemo/", "manage-project-phone")
    finally:
        context.close()


def test_accept_an_organisations_invitation(page: Page, site: Site, screenshot: Screenshot) -> None:
    """Issue 20: the host creates an organisation and invites bob; bob finds the invitation on
    his account, accepts it, and lands on the organisation's page as a member, under the
    strict CSP (the console reports no refusal)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Refused" in message.text else None,
    )
    site.index.cli("admin", "org", "create", "WebOrg", "--owner", "alice")
    site.index.cli("admin", "org", "invite", "weborg", "bob", "--role", "manager")
    sign_in(page, "bob")
    page.get_by_role("link", name=re.compile("Invitations")).click()
    row = page.locator('tr[data-organisation="WebOrg"]')
    expect(row.locator(".role")).to_have_text("manager")
    screenshot(page, "organisation-invitation")
    submit(row.get_by_role("button", name="Join WebOrg as manager"))
    expect(page).to_have_url(re.compile(r"/manage/organisation/WebOrg/$"))
    members = page.locator("table.members")
    expect(members.locator('tr[data-username="bob"] .role')).to_have_text("manager")
    expect(page.get_by_role("button", name="Create team")).to_be_visible()  # a manager's form
    expect(page.locator("#invite-member")).to_have_count(0)  # an owner's, not his
    screenshot(page, "manage-organisation")
    assert refused == []


def test_request_an_organisation_and_an_admin_approves_it(
    browser: Browser, page: Page, site: Site, screenshot: Screenshot
) -> None:
    """Issue 20: dora asks for an organisation on her account's organisations page; an admin
    finds the request on the admin page and approves it; dora then owns the organisation,
    renames it, and its old address leads to the new one. Under the strict CSP (no console
    refusal), by labels and roles."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Refused" in message.text else None,
    )
    site.index.cli(
        "admin", "user", "create", "orgroot", "--password-stdin", "--admin", stdin=PASSWORD + "\n"
    )
    # Her own account: carol's sign-in is locked by the rate-limit test of this module.
    site.index.cli("admin", "user", "create", "dora", "--password-stdin", stdin=PASSWORD + "\n")
    sign_in(page, "dora")
    page.get_by_role("link", name=re.compile("Organisations: yours")).click()
    page.get_by_label("Name", exact=True).fill("BrowserOrg")
    page.get_by_label("Display name (optional)").fill("Browser Org Ltd")
    page.get_by_label("What is it for? (optional)").fill("testing the flow")
    screenshot(page, "organisation-request")
    submit(page.get_by_role("button", name="Request organisation"))
    expect(page.locator("table.org-requests .status")).to_have_text(["pending"])

    admin = browser.new_context(base_url=site.index.url).new_page()
    try:
        sign_in(admin, "orgroot")
        admin.goto("/admin/organisations/")
        row = admin.locator("table.org-requests tr", has_text="BrowserOrg")
        expect(row.locator(".purpose")).to_have_text("testing the flow")
        screenshot(admin, "admin-organisation-requests")
        submit(row.get_by_role("button", name="Approve BrowserOrg for dora"))
        expect(admin.locator('li[data-organisation="BrowserOrg"]')).to_contain_text("dora")
    finally:
        admin.context.close()

    page.reload()
    expect(page.locator("table.org-requests .status")).to_have_text(["approved"])
    page.get_by_role("main").get_by_role("link", name="Manage").first.click()
    expect(page).to_have_url(re.compile(r"/manage/organisation/BrowserOrg/$"))
    page.get_by_label("New name").fill("BrowserGroup")
    submit(page.get_by_role("button", name="Rename"))
    expect(page).to_have_url(re.compile(r"/manage/organisation/BrowserGroup/$"))
    page.goto("/org/browserorg/")
    expect(page).to_have_url(re.compile(r"/org/BrowserGroup/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Browser Org Ltd")
    screenshot(page, "organisation-renamed")
    assert refused == []
