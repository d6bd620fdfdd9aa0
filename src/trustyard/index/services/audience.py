"""The index's Trusted Publishing audience: one per index, agreed by all its instances.

Issue 14, finding 4: with one default audience (``trustyard``) for every index, a CI job's ID
token minted for a hostile *test* index was accepted by *production* too. PyPI and TestPyPI
announce different audiences (``pypi``, ``testpypi``) for the same reason. Unless the operator
sets one (``--audience``, ``oidc_audience``), the audience is generated once and kept in the
catalogue (``index_settings``), so every instance sharing the database announces the same one,
and an export/import carries it along. Migration 0010 keeps ``trustyard`` for an index that
already had publishers, whose CI jobs ask for that audience.
"""

from __future__ import annotations

import secrets

from trustyard.index.db.engine import Database
from trustyard.index.db.models import IndexSetting

AUDIENCE_SETTING = "oidc_audience"


def generated_audience() -> str:
    """A fresh audience: readable, and safe as a GitLab ``id_tokens`` variable stem."""
    return f"trustyard-{secrets.token_hex(8)}"


def index_audience(db: Database, configured: str | None) -> str:
    """``configured`` if the operator set one; otherwise the index's own, made on first need."""
    if configured:
        return configured
    with db.read() as session:
        row = session.get(IndexSetting, AUDIENCE_SETTING)
        if row is not None:
            return row.value
    with db.write() as session:
        # Instances starting at once take turns: the second reads what the first stored.
        db.serialise(session, f"index-settings:{AUDIENCE_SETTING}")
        row = session.get(IndexSetting, AUDIENCE_SETTING)
        if row is None:
            row = IndexSetting(name=AUDIENCE_SETTING, value=generated_audience())
            session.add(row)
        return row.value


READ_SUFFIX = "-read"


def read_audience(audience: str) -> str:
    """The audience of Trusted Reading's ID tokens: the index's own with :data:`READ_SUFFIX`.

    Distinct from the publishing audience by construction, so a CI job's ID token asked for
    reading is refused by ``/_/oidc/mint-token`` (it can never become an upload token) and one
    asked for publishing is refused by ``/_/oidc/mint-read-token`` (the read mint cannot be
    used to spend a publishing job's token). Derived rather than stored: every instance, and
    an index restored from an export, announces the same one.
    """
    return f"{audience}{READ_SUFFIX}"
