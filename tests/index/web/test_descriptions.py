"""A description is rendered once, at upload, and pages show what was stored (issue 14, 2).

Before, every view of a release or project page rendered the description on the event loop:
``"[" * 250000`` as Markdown held every request of the index (``/simple/`` included) for
seconds, and 300 nested reST lists made both pages a permanent 500. Now an upload whose
description fails to render, or needs more than its budget, is refused with PyPI's message and
nothing stored; pages read the stored HTML and never render. Runs on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, snapshot, upload_file
from tests.services import Backend

HELP = "See https://pypi.org/help/#description-content-type for more information."
NESTED_LISTS_RST = "".join("  " * depth + "* item\n\n" for depth in range(300))
BRACKETS_MARKDOWN = "[" * 250_000  # seconds of markdown-it work; the budget here is 0.5 s


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[IndexServer]:
    """An index whose descriptions get half a second each (a tenth of the brackets' need)."""
    data = tmp_path_factory.mktemp("descriptions") / "data"
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text("description_render_timeout = 0.5\n")
    server = start_index(data, backend=backend)
    server.create_user("alice")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(described: IndexServer) -> str:
    return described.create_token("alice")


def _upload(
    index: IndexServer, token: str, tmp: Path, name: str, version: str, **fields: str | None
) -> Answer:
    wheel = build_wheel(tmp / f"{name}-{version}", name, version)
    return upload_file(index, token, wheel, name, version, **fields)


def _stored_html(index: IndexServer, name: str, version: str) -> object:
    [(html,)] = index.query(
        "SELECT r.description_html FROM releases r JOIN projects p ON p.id = r.project_id"
        " WHERE p.normalized_name = :name AND r.version = :version",
        name=name,
        version=version,
    )
    return html


@pytest.mark.parametrize(
    ("name", "content_type", "text", "shown"),
    [
        ("desc-md", "text/markdown", "# Hello\n\n*there* <script>x()</script>\n", "<h1>Hello</h1>"),
        (
            "desc-rst",
            "text/x-rst",
            "Hello\n=====\n\nSome *words*.\n\nMore\n----\n\nx\n",
            "<em>words</em>",
        ),
        ("desc-plain", "text/plain", "a <b> c\n  kept", "<pre>a &lt;b&gt; c\n  kept</pre>"),
        ("desc-default", None, "Some *words* as reST.\n", "<em>words</em>"),
    ],
)
def test_a_description_is_rendered_at_upload_and_shown(
    described: IndexServer,
    token: str,
    tmp_path: Path,
    name: str,
    content_type: str | None,
    text: str,
    shown: str,
) -> None:
    answer = _upload(
        described,
        token,
        tmp_path,
        name,
        "1.0",
        description=text,
        description_content_type=content_type,
    )
    assert answer.status == 200, answer.reason
    html = _stored_html(described, name, "1.0")
    assert isinstance(html, str)
    assert shown in html
    assert "<script" not in html
    for path in (f"/project/{name}/1.0/", f"/project/{name}/"):
        page = request(described, "GET", path)
        assert page.status == 200
        assert html in page.text


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/x-rst", f"The description failed to render for 'text/x-rst'. {HELP}"),
        (
            None,
            f"The description failed to render in the default format of reStructuredText. {HELP}",
        ),
    ],
)
def test_nested_lists_rst_is_refused_with_pypis_message(
    described: IndexServer, token: str, tmp_path: Path, content_type: str | None, message: str
) -> None:
    before = snapshot(described)
    answer = _upload(
        described,
        token,
        tmp_path,
        "nested",
        "1.0",
        description=NESTED_LISTS_RST,
        description_content_type=content_type,
    )
    assert answer.status == 400
    assert answer.reason == message
    assert message in answer.text
    assert snapshot(described) == before


def test_a_description_over_its_budget_is_refused(
    described: IndexServer, token: str, tmp_path: Path
) -> None:
    """The render runs in a worker process that is killed at the budget: the upload is
    refused (nothing stored), and the next upload's description renders in a new worker."""
    before = snapshot(described)
    answer = _upload(
        described,
        token,
        tmp_path,
        "brackets",
        "1.0",
        description=BRACKETS_MARKDOWN,
        description_content_type="text/markdown",
    )
    assert answer.status == 400
    assert answer.reason == f"The description failed to render for 'text/markdown'. {HELP}"
    assert snapshot(described) == before
    after = _upload(
        described,
        token,
        tmp_path,
        "brackets",
        "1.0",
        description="fine *now*",
        description_content_type="text/markdown",
    )
    assert after.status == 200, after.reason
    assert _stored_html(described, "brackets", "1.0") == "<p>fine <em>now</em></p>\n"


def test_pages_show_the_stored_html_and_never_render(
    described: IndexServer, token: str, tmp_path: Path
) -> None:
    """A release whose description would exhaust the renderer's stack (one from before this
    check, say) is served from its stored HTML: no page view renders, so none can stall the
    event loop or fail. The JSON API still returns the raw description, as PyPI's does."""
    answer = _upload(
        described,
        token,
        tmp_path,
        "legacy-desc",
        "1.0",
        description="harmless",
        description_content_type="text/markdown",
    )
    assert answer.status == 200, answer.reason
    [(metadata,)] = described.query(
        "SELECT r.core_metadata FROM releases r JOIN projects p ON p.id = r.project_id"
        " WHERE p.normalized_name = 'legacy-desc'"
    )
    stored = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert isinstance(stored, dict)
    stored.update(description=NESTED_LISTS_RST, description_content_type="text/x-rst")
    marker = "<p>the stored rendering, not a new one</p>"
    described.execute(
        "UPDATE releases SET core_metadata = :metadata, description_html = :html"
        " WHERE project_id = (SELECT id FROM projects WHERE normalized_name = 'legacy-desc')",
        metadata=json.dumps(stored),
        html=marker,
    )
    for path in ("/project/legacy-desc/1.0/", "/project/legacy-desc/"):
        page = request(described, "GET", path)
        assert page.status == 200, page.status
        assert marker in page.text
    document = json.loads(request(described, "GET", "/pypi/legacy-desc/json").body)
    assert document["info"]["description"] == NESTED_LISTS_RST
    assert "description_html" not in document["info"]
