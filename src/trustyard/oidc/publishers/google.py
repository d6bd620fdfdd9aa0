"""Google service-account publishers: PyPI's rules (warehouse ``oidc/models/google.py``)."""

from __future__ import annotations

from trustyard.oidc.publishers.base import Claims, Config, Field, PublisherKind, issuer_field

ISSUER = "https://accounts.google.com"


def _email(config: Config, value: object, _claims: Claims) -> str | None:
    return None if value == config["email"] else "Check failed for required claim 'email'"


def _email_verified(_config: Config, value: object, _claims: Claims) -> str | None:
    return None if value is True else "Check failed for required claim 'email_verified'"


def _sub(config: Config, value: object, _claims: Claims) -> str | None:
    expected = config.get("sub")
    if not expected or value == expected:
        return None
    return "Check failed for optional claim 'sub'"


def _lookup_of_claims(claims: Claims) -> str | None:
    email = claims.get("email")
    return email if isinstance(email, str) else None


def _overlaps(first: Config, second: Config) -> bool:
    """Same account, and subjects that do not exclude each other (an empty one matches any)."""
    subjects = {first.get("sub") or "", second.get("sub") or ""} - {""}
    return first["email"] == second["email"] and len(subjects) <= 1


def _parse_spec(spec: str) -> dict[str, str] | None:
    """``SERVICE-ACCOUNT-EMAIL`` (no environment: Google has none)."""
    if "@" not in spec or spec.startswith("@") or spec.endswith("@"):
        return None
    return {"email": spec}


GOOGLE = PublisherKind(
    name="google",
    default_issuer=ISSUER,
    display_name="Google",
    summary="a Google Cloud service account",
    title="Google Cloud",
    html_id="go",
    fields=(
        Field("email", required=True, label="Service account email", input_type="email"),
        Field("sub", label="Subject (optional)"),
        issuer_field(),  # given on the command line only
    ),
    required_claims={"email": _email, "email_verified": _email_verified},
    optional_claims={"sub": _sub},
    lookup_of_config=lambda config: config["email"],
    lookup_of_claims=_lookup_of_claims,
    single_use=False,  # Google ID tokens carry no jti; PyPI does not check one either
    stored_claims=(),
    overlaps=_overlaps,
    description=lambda config: [f"Google service account {config['email']}"],
    attestation_fields={"email": "email"},
    spec_form="SERVICE-ACCOUNT-EMAIL",
    parse_spec=_parse_spec,
    spec_of=lambda config: config["email"],
)
