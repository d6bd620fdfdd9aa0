"""How to install from this index, on project and release pages, and the "Using this index"
page (issue 20): the index's URLs as the reader's request names it (``--base-url`` first, a
hostile ``Host`` never echoed), for pip, uv and poetry, and where credentials go."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.index.conftest import LOCAL_BASE_URL, LocalIndex
from trustyard.index.services import statuses
from trustyard.index.services.roles import HOST
from trustyard.index.web import render
from trustyard.index.web.install import IndexUrls, InstallHelp

Wheels = Callable[[str, str], Path]
SIMPLE = f"{LOCAL_BASE_URL}/simple/"


@pytest.fixture(scope="module")
def published(shared_index: LocalIndex, wheels: Wheels) -> LocalIndex:
    """``installme`` 1.0 and 2.0 by alice."""
    shared_index.create_user("alice")
    token = shared_index.create_token("alice")
    for version in ("1.0", "2.0"):
        assert shared_index.upload(token, wheels("installme", version)).status_code == 200
    return shared_index


def _text(answer_text: str) -> str:
    """The page's text with entities decoded (commands are shown in attributes and code)."""
    return html.unescape(answer_text)


def test_a_project_page_shows_pip_uv_and_poetry_with_this_index(published: LocalIndex) -> None:
    answer = published.get("/project/installme/")
    assert answer.status_code == 200
    page = _text(answer.text)
    assert f'value="pip install --index-url {SIMPLE} installme==2.0"' in page
    assert f"uv pip install --index-url {SIMPLE} installme==2.0" in page
    assert f"uv add --index trustyard={SIMPLE} installme==2.0" in page
    assert f"poetry source add --priority=supplemental trustyard {SIMPLE}" in page
    assert "poetry add --source trustyard installme==2.0" in page
    notice = re.search(r'<p class="credentials" id="credentials-notice">(.*?)</p>', page, re.S)
    assert notice, page
    assert "No credentials are needed" in notice.group(1)
    assert 'href="/help/using/#credentials"' in notice.group(1)


def test_a_release_page_names_its_version(published: LocalIndex) -> None:
    page = _text(published.get("/project/installme/1.0/").text)
    assert f'value="pip install --index-url {SIMPLE} installme==1.0"' in page
    assert "poetry add --source trustyard installme==1.0" in page


def test_a_hostile_host_header_is_never_echoed(published: LocalIndex) -> None:
    for host in ('evil.example"><script>x()</script>', "evil.example/path", "a b"):
        answer = published.get("/project/installme/", headers={"Host": host})
        assert answer.status_code == 200
        assert "evil" not in answer.text
        assert "<script>x()" not in answer.text
        assert "--index-url http://index.test" in _text(answer.text)
        using = published.get("/help/using/", headers={"Host": host})
        assert "evil" not in using.text


def test_another_host_name_is_the_readers(published: LocalIndex) -> None:
    page = _text(published.get("/project/installme/", headers={"Host": "pkgs.corp:8443"}).text)
    assert "pip install --index-url http://pkgs.corp:8443/simple/ installme==2.0" in page


@pytest.fixture
def behind_base_url(tmp_path: Path, portal: BlockingPortal) -> Iterator[LocalIndex]:
    index = LocalIndex(tmp_path / "data", portal, base_url="https://pypi.example.com/")
    yield index
    index.close()


def test_base_url_wins_over_the_request(behind_base_url: LocalIndex) -> None:
    using = _text(behind_base_url.get("/help/using/", headers={"Host": "other.test"}).text)
    assert "pip install --index-url https://pypi.example.com/simple/ PACKAGE" in using
    assert "other.test" not in using
    assert 'id="plain-http"' not in using  # served over TLS: no warning about tokens
    assert "machine pypi.example.com\nlogin __token__" in using


def test_the_using_page(published: LocalIndex) -> None:
    answer = published.get("/help/using/")
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "<script>" not in answer.text  # nothing inline: the strict CSP would block it
    page = _text(answer.text)
    for expected in (
        f"pip install --index-url {SIMPLE} PACKAGE",
        f"pip config set global.index-url {SIMPLE}",
        f"[global]\nindex-url = {SIMPLE}",
        f"PIP_INDEX_URL={SIMPLE}",
        f"uv pip install --default-index {SIMPLE} PACKAGE",
        f'[[tool.uv.index]]\nname = "trustyard"\nurl = "{SIMPLE}"',
        'PACKAGE = { index = "trustyard" }',
        f"UV_DEFAULT_INDEX={SIMPLE}",
        "UV_INDEX_URL",
        f"poetry source add --priority=supplemental trustyard {SIMPLE}",
        # credentials
        "pip install --index-url http://__token__:$TOKEN@index.test/simple/ PACKAGE",
        "machine index.test\nlogin __token__\npassword TOKEN",
        "--keyring-provider subprocess --index-url http://__token__@index.test/simple/",
        "UV_INDEX_TRUSTYARD_USERNAME=__token__",
        'UV_INDEX_TRUSTYARD_PASSWORD="$TOKEN"',
        'poetry config http-basic.trustyard __token__ "$TOKEN"',
        # uploading and Trusted Publishing
        f'twine upload --repository-url {LOCAL_BASE_URL}/legacy/ -u __token__ -p "$TOKEN"',
        f'uv publish --publish-url {LOCAL_BASE_URL}/legacy/ --token "$TOKEN" dist/*',
        f"repository = {LOCAL_BASE_URL}/legacy/",
        f"repository-url: {LOCAL_BASE_URL}/legacy/",
        f"uv publish --publish-url {LOCAL_BASE_URL}/legacy/ --trusted-publishing always",
        f"{LOCAL_BASE_URL}/_/oidc/audience",
    ):
        assert expected in page, expected
    assert 'id="plain-http"' in page  # http://index.test: tokens would travel in clear
    assert "serves only the projects published here" in page


def test_every_page_links_to_the_help(published: LocalIndex) -> None:
    assert 'href="/help/using/"' in published.get("/").text
    assert 'href="/help/using/"' in published.get("/project/installme/").text


def test_a_private_projects_box_says_credentials_are_needed() -> None:
    """The branch the read rule (issue 20, "private") turns on: rendered as the page does."""
    box = render._environment.get_template("_install.html")
    urls = IndexUrls("http://index.test", None)
    private = box.render(install=InstallHelp("secret-thing", "1.0", urls, needs_credentials=True))
    assert "This project is private: installing it needs credentials." in private
    assert "<code>__token__</code>" in private
    assert 'href="/help/using/#credentials"' in private
    assert "served over plain HTTP" in private
    secure = IndexUrls("https://index.test", None)
    over_tls = box.render(install=InstallHelp("s", "1.0", secure, needs_credentials=True))
    assert "plain HTTP" not in over_tls
    public = box.render(install=InstallHelp("s", "1.0", secure, needs_credentials=False))
    assert "private" not in public.split('id="credentials-notice"')[1].split("For private")[0]


def test_a_quarantined_project_offers_no_install_command(
    shared_index: LocalIndex, wheels: Wheels
) -> None:
    """PEP 792: a quarantined project serves no file, so its page shows no command that would
    fail; the status notice says why."""
    shared_index.create_user("quentin")
    token = shared_index.create_token("quentin")
    assert shared_index.upload(token, wheels("quarantined-thing", "1.0")).status_code == 200
    assert 'id="pip-cmd"' in shared_index.get("/project/quarantined-thing/").text
    with shared_index.db.write() as session:
        statuses.set_status(
            shared_index.db,
            session,
            "quarantined-thing",
            "quarantined",
            reason="under review",
            actor=HOST,
        )
    page = shared_index.get("/project/quarantined-thing/").text
    assert 'id="pip-cmd"' not in page
    assert "uv add" not in page
    assert "under review" in page
