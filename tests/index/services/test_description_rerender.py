"""``trustyard admin descriptions rerender``: releases stored by an older renderer (here, with
the ``<img>`` of a badge hosted elsewhere, as every release before issue 20 has it) get
today's HTML; the pages then show the link (issue 20, "README images")."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text

from tests.index.conftest import LocalIndex
from tests.trustyard_cli import run_trustyard
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry, Release
from trustyard.index.services import accounts, projects
from trustyard.index.services.descriptions import DescriptionRenderer, rerender_all

README = "# Demo\n\n[![build](https://ci.example.org/badge.svg)](https://ci.example.org/)\n"
OLD_HTML = (
    '<h1>Demo</h1>\n<p><a href="https://ci.example.org/" rel="nofollow">'
    '<img src="https://ci.example.org/badge.svg" alt="build"></a></p>\n'
)


def _stored(index: LocalIndex, name: str) -> str:
    with index.db.read() as session:
        html: str = session.execute(
            text(
                "SELECT r.description_html FROM releases r JOIN projects p"
                " ON p.id = r.project_id WHERE p.normalized_name = :name"
            ),
            {"name": name},
        ).scalar_one()
    return html


def _as_before(index: LocalIndex, name: str) -> None:
    """The release as the renderer before issue 20 stored it."""
    with index.db.write() as session:
        session.execute(
            text(
                "UPDATE releases SET description_html = :html WHERE project_id ="
                " (SELECT id FROM projects WHERE normalized_name = :name)"
            ),
            {"html": OLD_HTML, "name": name},
        )


def _publish(index: LocalIndex, wheels: Callable[[str, str], Path], name: str) -> None:
    index.create_user(f"{name}-owner")
    token = index.create_token(f"{name}-owner")
    answer = index.upload(
        token,
        wheels(name, "1.0"),
        description=README,
        description_content_type="text/markdown",
    )
    assert answer.status_code == 200, answer.text


def test_an_upload_stores_the_badge_as_its_link(
    local_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    _publish(local_index, wheels, "badged")
    stored = _stored(local_index, "badged")
    assert "<img" not in stored
    assert '<span class="image-alt">build</span></a>' in stored
    page = local_index.get("/project/badged/")
    assert page.status_code == 200
    assert "<img" not in page.text.split('id="description"')[1].split("</section>")[0]
    assert "img-src 'self'" in page.headers["content-security-policy"]


def test_rerender_turns_stored_images_into_links_once(
    local_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    _publish(local_index, wheels, "olddesc")
    _as_before(local_index, "olddesc")
    assert "<img" in local_index.get("/project/olddesc/").text

    dry = rerender_all(local_index.db, local_index.ctx.descriptions, dry_run=True)
    assert (dry.releases, dry.changed) == (1, 1)
    assert _stored(local_index, "olddesc") == OLD_HTML

    done = rerender_all(local_index.db, local_index.ctx.descriptions)
    assert (done.releases, done.changed) == (1, 1)
    assert "<img" not in _stored(local_index, "olddesc")
    page = local_index.get("/project/olddesc/").text
    assert '<a href="https://ci.example.org/" rel="nofollow noopener">' in page
    assert '<span class="image-alt">build</span>' in page

    again = rerender_all(local_index.db, local_index.ctx.descriptions)
    assert (again.releases, again.changed) == (1, 0)
    with local_index.db.read() as session:
        actions = session.scalars(
            select(JournalEntry.action).where(JournalEntry.action.like("descriptions %"))
        ).all()
    assert actions == [
        "descriptions re-rendered: 1 of 1 releases changed",
        "descriptions re-rendered: 0 of 1 releases changed",
    ]


def test_the_command(local_index: LocalIndex, wheels: Callable[[str, str], Path]) -> None:
    _publish(local_index, wheels, "clidesc")
    _as_before(local_index, "clidesc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    args = ["admin", "descriptions", "rerender", "--data", str(local_index.data)]
    dry = run_trustyard([*args, "--dry-run"], env, timeout=180)
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.strip().endswith("1 releases read, 1 would change")
    done = run_trustyard(args, env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("1 releases read, 1 changed")
    assert "<img" not in _stored(local_index, "clidesc")


def test_rerender_on_each_backend(migrated_db: Database) -> None:
    """The same statements on SQLite and PostgreSQL (the JSON metadata read back, the guarded
    update): releases stored by the older renderer get today's HTML, others are left alone."""
    with migrated_db.write() as session:
        accounts.create_user(session, "owner", "correct horse battery")
        project = projects.create_project(session, "backend-desc", owner="owner")
        metadata = {"description": README, "description_content_type": "text/markdown"}
        for version, html in (("1.0", OLD_HTML), ("2.0", None)):
            session.add(
                Release(
                    project_id=project.id,
                    version=version,
                    canonical_version=version,
                    created=datetime(2025, 1, 1),
                    core_metadata=metadata,
                    description_html=html,
                )
            )
    renderer = DescriptionRenderer(workers=1)
    try:
        done = rerender_all(migrated_db, renderer)
    finally:
        renderer.close()
    assert (done.releases, done.changed) == (2, 2)
    with migrated_db.read() as session:
        stored = session.execute(select(Release.version, Release.description_html)).all()
    assert len({html for _, html in stored}) == 1
    (html,) = {html for _, html in stored}
    assert html is not None
    assert "<img" not in html
    assert '<span class="image-alt">build</span>' in html
