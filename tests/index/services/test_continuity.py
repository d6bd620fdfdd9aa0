"""Publisher continuity's catalogue rows on each backend (SQLite, PostgreSQL): verdicts kept
once per file, decisions journalled with who and why, pins, and their export and import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from trustyard.attestations.continuity import parse_pin
from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import backup, continuity
from trustyard.index.storage.local import LocalStorage

GOOD = {"kind": "GitHub", "repository": "octo/pkg", "workflow": "release.yml"}


def _populate(db: Database) -> int:
    with db.write() as session:
        continuity.first_sight(session, "pkg", baseline_sha256="a" * 64, baseline_time=None)
        continuity.establish(session, "pkg", GOOD)
        continuity.record(
            session,
            origin=continuity.UPSTREAM,
            project="pkg",
            filename="pkg-1.0-py3-none-any.whl",
            sha256="a" * 64,
            verdict=continuity.OK,
            found=GOOD,
        )
        row = continuity.record(
            session,
            origin=continuity.UPSTREAM,
            project="pkg",
            filename="pkg-1.1-py3-none-any.whl",
            sha256="b" * 64,
            verdict=continuity.HELD,
            reason="it names another publisher",
            expected=GOOD,
            found={**GOOD, "repository": "mallory/pkg"},
            provenance={"version": 1, "attestation_bundles": []},
        )
        assert row is not None
        again = continuity.record(
            session,
            origin=continuity.UPSTREAM,
            project="pkg",
            filename="pkg-1.1-py3-none-any.whl",
            sha256="b" * 64,
            verdict=continuity.OK,
        )
        assert again is None  # decided once: a second decision keeps the first
        continuity.pin(session, "Other_Pkg", parse_pin("github:o/r/w.yml@pypi"), actor="olga")
        return row.id


def test_verdicts_decisions_and_pins_on_each_backend(migrated_db: Database) -> None:
    held_id = _populate(migrated_db)
    with migrated_db.read() as session:
        known = continuity.known(session, continuity.UPSTREAM, "pkg")
        assert set(known.verdicts) == {"a" * 64, "b" * 64}
        assert list(known.hidden()) == ["b" * 64]
        assert [v.id for v in continuity.held_files(session)] == [held_id]
        pins = {i.project: i for i in continuity.identities(session)}
        assert pins["other-pkg"].pinned
        assert pins["pkg"].identity == GOOD
    with migrated_db.write() as session:
        with pytest.raises(InvalidInput):
            continuity.decide(session, held_id, release=True, actor="olga", note="")
        with pytest.raises(NotFound):
            continuity.decide(session, held_id + 99, release=True, actor="olga", note="x")
        decided = continuity.decide(session, held_id, release=True, actor="olga", note="moved")
        assert decided.verdict == continuity.RELEASED
    with migrated_db.write() as session, pytest.raises(Conflict):
        continuity.decide(session, held_id, release=False, actor="olga", note="x")
    with migrated_db.read() as session:
        assert continuity.held_files(session) == []
        assert len(continuity.held_files(session, every=True)) == 1
        actions = session.scalars(select(JournalEntry.action).where(JournalEntry.actor == "olga"))
        assert list(actions) == [
            "publisher continuity: pinned github:o/r/w.yml@pypi",
            f"held file released ({held_id}): moved",
        ]


def test_continuity_rows_are_exported_and_imported(migrated_db: Database, tmp_path: Path) -> None:
    held_id = _populate(migrated_db)
    storage = LocalStorage(tmp_path / "files", tmp_path / "spool")
    target = tmp_path / "export"
    backup.export_index(migrated_db, storage, target)
    restored = Database(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    try:
        restored.migrate()
        backup.import_index(
            restored, LocalStorage(tmp_path / "files2", tmp_path / "spool2"), target
        )
        with restored.read() as session:
            (held,) = continuity.held_files(session)
            assert held.id == held_id
            assert held.found is not None
            assert held.found["repository"] == "mallory/pkg"
            assert continuity.identity_of(session, "other-pkg") is not None
    finally:
        restored.dispose()


def test_the_first_identity_established_wins_on_each_backend(migrated_db: Database) -> None:
    """Two first checks at once (two instances): the second finds the identity set and is
    answered with it, so it compares its file with the first one's identity; nothing is
    overwritten and one journal line says who was seen first."""
    other = {**GOOD, "repository": "mallory/pkg"}
    with migrated_db.write() as session:
        continuity.first_sight(session, "pkg", baseline_sha256="a" * 64, baseline_time=None)
    with migrated_db.write() as session:
        assert continuity.establish(session, "pkg", GOOD) == GOOD
    with migrated_db.write() as session:
        assert continuity.establish(session, "pkg", other) == GOOD
    with migrated_db.read() as session:
        row = continuity.identity_of(session, "pkg")
        assert row is not None
        assert row.identity == GOOD
        seen = session.scalars(
            select(JournalEntry.action).where(JournalEntry.action.like("%first seen%"))
        ).all()
    assert len(seen) == 1
    # A project never first seen (no row) establishes nothing.
    with migrated_db.write() as session:
        assert continuity.establish(session, "nothing", GOOD) is None
