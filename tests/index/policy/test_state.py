"""The gate's state in the catalogue on both backends (issue 18): exceptions, cut-off, the
cooldown one value for every instance, each change journalled."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from trustyard.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry
from trustyard.index.policy.rules import parse_timestamp
from trustyard.index.services import policy
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.policy_settings import agree_min_release_age
from trustyard.settings import Settings

UPSTREAM = "http://upstream.test/simple/"


def test_exceptions_cutoff_and_cooldown_on_each_backend(migrated_db: Database) -> None:
    with migrated_db.write() as session:
        first = policy.allow(
            session,
            "Some_Pkg==1.0",
            reason="CVE-2026-1",
            actor="ada",
            expires_in=timedelta(days=30),
        )
        policy.allow(
            session,
            "other",
            reason="old",
            actor="ada",
            expires_in=timedelta(days=1),
            now=utcnow() - timedelta(days=2),
        )
        policy.set_cutoff(session, parse_timestamp("2026-03-24T10:00:00Z"), "ada", "incident")
        policy.set_min_age(session, timedelta(days=3), "ada")
    assert (first.project, first.version) == ("some-pkg", "1.0")
    with migrated_db.read() as session:
        state = policy.load_state(session)
        assert state.min_age == timedelta(days=3)
        assert state.cutoff is not None
        assert state.cutoff.isoformat() == "2026-03-24T10:00:00"
        assert [a.project for a in state.allowances] == ["some-pkg"]  # "other" expired
        assert len(policy.exceptions(session, everything=True)) == 2
    with migrated_db.write() as session:
        policy.revoke(session, first.id, "bob", "fixed upstream")
        with pytest.raises(Conflict):
            policy.revoke(session, first.id, "bob")
        with pytest.raises(NotFound):
            policy.revoke(session, 999, "bob")
        policy.set_cutoff(session, None, "ada")
    with migrated_db.read() as session:
        state = policy.load_state(session)
        assert (state.cutoff, state.allowances) == (None, ())
        actions = [
            str(a) for a in session.scalars(select(JournalEntry.actor + ": " + JournalEntry.action))
        ]
    assert actions == [
        "ada: policy exception #1 added for some-pkg==1.0 until " + actions[0].split(" until ")[1],
        actions[1],
        "ada: policy cutoff 2026-03-24T10:00:00Z: incident",
        "ada: policy min-release-age 0 -> 3d",
        "bob: policy exception #1 revoked: fixed upstream",
        "ada: policy cutoff none",
    ]
    assert actions[0].endswith(": CVE-2026-1")


@pytest.mark.parametrize(
    ("requirement", "reason", "message"),
    [
        ("not a name!", "r", "not a valid project name"),
        ("pkg==not.a.version!", "r", "not a valid version"),
        ("pkg", "  ", "needs a reason"),
        ("pkg", "x" * 501, "at most 500"),
    ],
)
def test_bad_exceptions_are_refused_and_leave_nothing(
    migrated_db: Database, requirement: str, reason: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message), migrated_db.write() as session:
        policy.allow(session, requirement, reason=reason, actor="ada", expires_in=None)
    with migrated_db.read() as session:
        assert policy.exceptions(session, everything=True) == []


def test_instances_agree_on_the_cooldown(migrated_db: Database, tmp_path: Path) -> None:
    def settings(value: str | None, upstream: str | None = UPSTREAM) -> Settings:
        return Settings(data_dir=tmp_path, upstream=upstream, min_release_age=value)

    assert agree_min_release_age(migrated_db, settings(None)) is None
    assert agree_min_release_age(migrated_db, settings("3d")) == timedelta(days=3)  # stored
    assert agree_min_release_age(migrated_db, settings("72h")) == timedelta(days=3)  # same
    assert agree_min_release_age(migrated_db, settings(None)) is None  # follows the database
    with pytest.raises(ConfigurationError) as refused:
        agree_min_release_age(migrated_db, settings("7d"))
    assert "database, which says 3d" in refused.value.message
    assert "trustyard policy min-release-age 7d" in refused.value.message
    with pytest.raises(ConfigurationError, match="setting min_release_age: invalid"):
        agree_min_release_age(migrated_db, settings("3 days"))
    with pytest.raises(ConfigurationError, match="no upstream is configured"):
        agree_min_release_age(migrated_db, settings("3d", upstream=None))
    with migrated_db.write() as session:
        policy.set_min_age(session, timedelta(days=7), "ada")
    assert agree_min_release_age(migrated_db, settings("7d")) == timedelta(days=7)
