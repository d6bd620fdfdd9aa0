"""Publishers for any other OIDC issuer: every listed claim must equal its value exactly.

For issuers PyPI does not know (self-hosted Forgejo or Gitea, Buildkite, a company IdP). The
operator chooses the claims that pin the identity; a ``jti``, when the issuer sends one, is
still usable only once.
"""

from __future__ import annotations

import json

from trustyard.oidc.errors import PublisherMismatch
from trustyard.oidc.publishers.base import Claims, Config, Field, PublisherKind, issuer_field


def expected_claims(config: Config) -> dict[str, str]:
    """The claims a generic publisher requires, stored as a JSON object."""
    try:
        claims = json.loads(config.get("claims", "{}"))
    except json.JSONDecodeError as exc:
        raise PublisherMismatch("stored claims are not JSON") from exc
    if not isinstance(claims, dict) or not claims:
        raise PublisherMismatch("a generic publisher needs at least one --claim NAME=VALUE")
    return {str(k): str(v) for k, v in claims.items()}


def _all_listed(config: Config, _value: object, claims: Claims) -> str | None:
    for name, expected in expected_claims(config).items():
        if name not in claims:
            return f"Missing claim {name!r}"
        actual = claims[name]
        rendered = json.dumps(actual) if isinstance(actual, bool) else str(actual)
        if rendered != expected:
            return f"Check failed for required claim {name!r}"
    return None


def _overlaps(first: Config, second: Config) -> bool:
    """One token satisfies both when the claims both list have the same values."""
    mine, theirs = expected_claims(first), expected_claims(second)
    return all(mine[name] == theirs[name] for name in mine.keys() & theirs.keys())


def _claims_form(value: str) -> str | None:
    try:
        expected_claims({"claims": value})
    except PublisherMismatch as exc:
        return exc.message
    return None


GENERIC = PublisherKind(
    name="oidc",
    default_issuer=None,
    display_name="OIDC",
    summary="any other OIDC issuer: listed claims must match",
    title="Other OIDC issuer",
    html_id="oi",
    fields=(
        issuer_field("Issuer URL", required=True),
        Field(
            "claims",
            required=True,
            help="repeatable",
            label="Claims that must match (NAME=VALUE, one a line)",
            maxlength=1000,
            pairs_option="claim",
            check=_claims_form,
        ),
    ),
    required_claims={"iss": _all_listed},
    lookup_of_config=lambda config: config["issuer"],
    lookup_of_claims=lambda claims: (
        claims.get("iss") if isinstance(claims.get("iss"), str) else None
    ),
    single_use=False,  # enforced when the token has a jti (see the mint service)
    stored_claims=("sub",),
    overlaps=_overlaps,
    description=lambda config: [
        f"OIDC issuer {config['issuer']} with {config.get('claims', '{}')}"
    ],
)
