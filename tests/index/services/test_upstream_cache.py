"""The pull-through cache's rows and the locality rule, on both backends (issue 17)."""

from __future__ import annotations

from sqlalchemy import select

from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import accounts, projects, publishers
from trustyard.index.services import upstream as cache
from trustyard.index.services.locality import local_reason

SHA = "ab" * 32


def test_pages_files_counters_and_purge(migrated_db: Database) -> None:
    with migrated_db.write() as session:
        stored = cache.store_page(
            session, "up", found=True, document={"files": [1, 2]}, etag='"e1"', reason="HTTP 200"
        )
        cache.store_page(session, "gone", found=False, document=None, etag=None, reason="404")
    with migrated_db.write() as session:
        touched = cache.touch_page(session, "up")
        assert touched >= stored.fetched
        page = cache.cached_page(session, "up")
        assert page is not None
        assert page.etag == '"e1"'
        assert page.document == {"files": [1, 2]}
        for _ in range(2):  # a second instance filling the same row changes nothing
            row = cache.record_file(
                session,
                sha256=SHA,
                project="up",
                filename="up-1.0-py3-none-any.whl",
                url="https://files.example/up-1.0-py3-none-any.whl",
                metadata_sha256=None,
                size=10,
            )
        assert row.key == f"upstream/ab/ab/{SHA}/up-1.0-py3-none-any.whl"
        cache.record_file(
            session,
            sha256=SHA,
            project="up",
            filename="up-1.0-py3-none-any.whl",
            url="https://files.example/up-1.0-py3-none-any.whl",
            metadata_sha256="cd" * 32,
            metadata=True,
        )
        cache.add_counts(session, {"page_hits": 3, "file_hits": 0})
    with migrated_db.write() as session:
        cache.add_counts(session, {"page_hits": 2})
    with migrated_db.read() as session:
        found = cache.summary(session)
        assert (found.pages, found.absent, found.files, found.metadata_files) == (1, 1, 1, 1)
        assert found.stored_bytes == 10
        assert found.counters == {"page_hits": 5}
        actions = list(session.scalars(select(JournalEntry.action)))
        assert "upstream page filled: HTTP 200 (2 files)" in actions
        assert "upstream page absent: 404" in actions
        assert any(a.startswith("upstream core metadata cached") for a in actions)
    with migrated_db.write() as session:
        keys = cache.purge(session, actor="admin")
    assert keys == [row.key, row.key + ".metadata"]
    with migrated_db.read() as session:
        assert cache.summary(session) == cache.CacheSummary(0, 0, 0, 0, 0, {})


def test_local_names(migrated_db: Database) -> None:
    with migrated_db.write() as session:
        accounts.create_user(session, "owner", "correct horse battery")
        projects.create_project(session, "Here_Now", owner="owner")
        publishers.add_pending_publisher(
            migrated_db,
            session,
            "soon",
            "github",
            {"repository": "owner/soon", "workflow": "release.yml"},
            owner="owner",
            limit=3,
        )
    with migrated_db.read() as session:
        assert local_reason(session, "here-now") == "project"
        assert local_reason(session, "soon") == "pending publisher"
        assert local_reason(session, "elsewhere") is None
