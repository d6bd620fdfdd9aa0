"""The cooldown setting meets the database at start: one value for every instance (issue 18).

See :mod:`trustyard.index.services.policy`: the database is the source of truth;
``min_release_age`` in an instance's settings initialises it or must agree with it.
"""

from __future__ import annotations

from datetime import timedelta

from trustyard.errors import ConfigurationError, InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.policy.rules import parse_age
from trustyard.index.services import policy
from trustyard.settings import Settings


def configured_min_age(settings: Settings) -> timedelta | None:
    """The ``min_release_age`` setting parsed (None: not given), or a precise error."""
    if settings.min_release_age is None or settings.min_release_age == "":
        return None
    try:
        age = parse_age(settings.min_release_age)
    except InvalidInput as exc:
        raise ConfigurationError(f"setting min_release_age: {exc.message}") from None
    if age and not settings.upstream:
        raise ConfigurationError(
            "min_release_age holds back upstream files, and no upstream is configured:"
            " give --upstream URL too (local uploads are not gated by age)"
        )
    return age


def agree_min_release_age(db: Database, settings: Settings) -> timedelta | None:
    """Check (and on first use store) the configured cooldown against the database's;
    returns the configured value, None when the settings name none."""
    configured = configured_min_age(settings)
    if configured is None:
        return None
    with db.read() as session:
        if policy.stored_min_age(session) == configured:
            return configured
    with db.write() as session:
        # Instances starting at once take turns: the second reads what the first stored.
        db.serialise(session, policy.SETTINGS_LOCK)
        return policy.agree_min_age(session, configured, "serve --min-release-age")
