"""What every publisher kind declares, and the one routine that applies the declarations.

Modelled on warehouse ``oidc/models/_core.py``: a table of required claims with their checks, a
table of optional ones (checked when present), run in order, the first failure explaining why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trustyard.oidc.errors import PublisherMismatch

Config = Mapping[str, str]
Claims = Mapping[str, Any]
# A check gets the stored publisher, the claim's value and all claims; it returns the reason
# for a failure, or None when the claim is acceptable.
Check = Callable[[Config, Any, Claims], str | None]


def present(_config: Config, _value: Any, _claims: Claims) -> str | None:
    """The claim need only be there (its value is checked elsewhere, e.g. ``jti`` replay)."""
    return None


@dataclass(frozen=True)
class PublisherKind:
    """A kind of publisher: its stored fields, default issuer and claim policy."""

    name: str
    default_issuer: str | None
    fields: tuple[str, ...]  # the stored configuration's keys (required unless in optional)
    optional_fields: frozenset[str]
    required_claims: Mapping[str, Check]
    optional_claims: Mapping[str, Check] = field(default_factory=dict)
    # The value, derived from a configuration, that narrows the database search for matches.
    lookup_of_config: Callable[[Config], str] = lambda config: ""
    # The same value derived from a token's claims (None: the token cannot match this kind).
    lookup_of_claims: Callable[[Claims], str | None] = lambda claims: ""
    # Whether a jti must be present and is enforced once (Google's ID tokens carry none).
    single_use: bool = True
    # Claims kept with a minted token, for the audit log and provenance (warehouse stored_claims).
    stored_claims: tuple[str, ...] = ()
    describe: Callable[[Config], str] = lambda config: ""
    # Whether one token could match publishers of both configurations, whatever their
    # environments: two pending publishers that overlap would both claim one CI job's first
    # publish (issue 14), so a second is refused (warehouse refuses an identical one).
    overlaps: Callable[[Config, Config], bool] = lambda first, second: True
    # Configuration fields left empty at registration that the first successful exchange
    # fills from a claim (field -> claim), so that later tokens must carry the same value.
    pinned_at_first_use: Mapping[str, str] = field(default_factory=dict)

    def check(self, config: Config, claims: Claims) -> None:
        """Raise :class:`PublisherMismatch` with the first reason the claims do not fit."""
        for name, check in self.required_claims.items():
            if name not in claims:
                raise PublisherMismatch(f"Missing claim {name!r}")
            reason = check(config, claims[name], claims)
            if reason:
                raise PublisherMismatch(reason)
        for name, check in self.optional_claims.items():
            reason = check(config, claims.get(name), claims)
            if reason:
                raise PublisherMismatch(reason)

    def validate_config(self, config: Config) -> dict[str, str]:
        """The configuration with unknown keys refused and required ones present."""
        unknown = set(config) - set(self.fields)
        if unknown:
            raise PublisherMismatch(f"unknown {self.name} publisher fields: {sorted(unknown)}")
        missing = [f for f in self.fields if f not in self.optional_fields and not config.get(f)]
        if missing:
            raise PublisherMismatch(f"{self.name} publishers need: {', '.join(missing)}")
        return {k: v for k, v in config.items() if v}


def text_claim(claims: Claims, name: str) -> str:
    """A claim that should be text, or "" when it is absent or not a string.

    A verified token's claims are any JSON: a list where text belongs must read as empty (a
    refusal), never reach a set or a comparison that raises.
    """
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def equal_ci(expected: str, actual: Any) -> bool:
    """Case-insensitive equality of two strings (GitHub and GitLab names are case-insensitive)."""
    return isinstance(actual, str) and expected.lower() == actual.lower()
