"""From verified OIDC claims to a Fulcio leaf's identity: the SAN and the claim extensions.
Copies Fulcio's ``docs/oid-info.md`` and its ``pkg/identity/{github,gitlabcom,email}`` principals.

Each profile is data: a table of extension OID -> the claim (or claim template) it carries, as
Fulcio's issuer metadata does. Extensions .1 to .6 are the deprecated raw-bytes GitHub ones
(still issued); .8 and later are DER UTF8String. ``issuer`` is the issuer written into the
certificate, which for the development issuer is the one it stands in for (``issuer_map``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509 import ObjectIdentifier

from tests.devsigstore.der import utf8_string
from tests.devsigstore.errors import DevSigstoreError

__all__ = [
    "GITHUB_ISSUER",
    "GITLAB_ISSUER",
    "CertificateIdentity",
    "ProfileError",
    "certificate_identity",
]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
_GITHUB_SERVER = "https://github.com"


def _oid(arc: int) -> ObjectIdentifier:
    return ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{arc}")


ISSUER_V1 = _oid(1)
ISSUER_V2 = _oid(8)

Template = Callable[[Mapping[str, str]], str]


def _claim(name: str) -> Template:
    return lambda claims: claims[name]


def _fmt(template: str) -> Template:
    return template.format_map


# GitHub Actions (Fulcio pkg/identity/github): OID arc -> value.
_GITHUB_V1: dict[int, Template] = {
    2: _claim("event_name"),
    3: _claim("sha"),
    4: _claim("workflow"),
    5: _claim("repository"),
    6: _claim("ref"),
}
_GITHUB_V2: dict[int, Template] = {
    9: _fmt(_GITHUB_SERVER + "/{job_workflow_ref}"),
    10: _claim("job_workflow_sha"),
    11: _claim("runner_environment"),
    12: _fmt(_GITHUB_SERVER + "/{repository}"),
    13: _claim("sha"),
    14: _claim("ref"),
    15: _claim("repository_id"),
    16: _fmt(_GITHUB_SERVER + "/{repository_owner}"),
    17: _claim("repository_owner_id"),
    18: _fmt(_GITHUB_SERVER + "/{workflow_ref}"),
    19: _claim("workflow_sha"),
    20: _claim("event_name"),
    21: _fmt(_GITHUB_SERVER + "/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"),
    22: _claim("repository_visibility"),
}
_GITHUB_SAN = _fmt(_GITHUB_SERVER + "/{job_workflow_ref}")

# GitLab CI (Fulcio pkg/identity/gitlabcom); {server} is the GitLab base URL, {config} the
# https:// form of ci_config_ref_uri, {full_ref} refs/heads/ or refs/tags/ + ref.
_GITLAB_V2: dict[int, Template] = {
    9: _fmt("{config}"),
    10: _claim("ci_config_sha"),
    11: _claim("runner_environment"),
    12: _fmt("{server}/{project_path}"),
    13: _claim("sha"),
    14: _fmt("{full_ref}"),
    15: _claim("project_id"),
    16: _fmt("{server}/{namespace_path}"),
    17: _claim("namespace_id"),
    18: _fmt("{config}"),
    19: _claim("ci_config_sha"),
    20: _claim("pipeline_source"),
    21: _fmt("{server}/{project_path}/-/jobs/{job_id}"),
    22: _claim("project_visibility"),
}
_GITLAB_SAN = _fmt("{config}")


class ProfileError(DevSigstoreError):
    """The token's claims do not fill the certificate profile of its issuer."""


@dataclass(frozen=True)
class CertificateIdentity:
    """What goes into a leaf: its SAN and its (OID, DER extnValue) claim extensions."""

    san: x509.GeneralName
    extensions: tuple[tuple[ObjectIdentifier, bytes], ...]


def _text_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as Fulcio reads them: strings; numbers and booleans in their JSON spelling."""
    text: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, bool):
            text[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            text[name] = str(value)
    return text


def _render(
    claims: Mapping[str, str], v1: Mapping[int, Template], v2: Mapping[int, Template]
) -> list[tuple[ObjectIdentifier, bytes]]:
    """Fill every template, collecting every missing claim before refusing."""
    missing: set[str] = set()
    extensions: list[tuple[ObjectIdentifier, bytes]] = []
    for arc, template in (*v1.items(), *v2.items()):
        try:
            value = template(claims)
        except KeyError as exc:
            missing.add(str(exc.args[0]))
            continue
        if not value:
            missing.add(f"(empty value for 1.3.6.1.4.1.57264.1.{arc})")
            continue
        extensions.append((_oid(arc), value.encode() if arc in v1 else utf8_string(value)))
    if missing:
        raise ProfileError("identity token lacks required claims: " + ", ".join(sorted(missing)))
    return extensions


def _gitlab_claims(
    claims: Mapping[str, str], token_issuer: str, cert_issuer: str
) -> dict[str, str]:
    """GitLab's derived values; a ``ci_config_ref_uri`` on the token issuer's host is moved
    onto the certificate issuer's host, as the real GitLab would have written it."""
    extra = dict(claims)
    config = claims.get("ci_config_ref_uri", "")
    dev, real = urlsplit(token_issuer), urlsplit(cert_issuer)
    dev_prefix = f"{dev.netloc}{dev.path.rstrip('/')}/"
    if config.startswith(dev_prefix):
        config = f"{real.netloc}{real.path.rstrip('/')}/" + config[len(dev_prefix) :]
    if config:
        extra["config"] = f"https://{config}"
    extra["server"] = cert_issuer.rstrip("/")
    ref, ref_type = claims.get("ref"), claims.get("ref_type")
    if ref and ref_type in {"branch", "tag"}:
        extra["full_ref"] = f"refs/{'heads' if ref_type == 'branch' else 'tags'}/{ref}"
    return extra


def certificate_identity(
    claims: Mapping[str, Any], *, token_issuer: str, cert_issuer: str
) -> CertificateIdentity:
    """The SAN and extensions for verified ``claims``, by the issuer they are written under.

    GitHub's profile for GitHub's issuer, GitLab's for tokens with ``ci_config_ref_uri``, an
    e-mail SAN for tokens with a verified ``email``; anything else is refused.
    """
    text = _text_claims(claims)
    issuers = [
        (ISSUER_V1, cert_issuer.encode()),
        (ISSUER_V2, utf8_string(cert_issuer)),
    ]
    if cert_issuer == GITHUB_ISSUER:
        extensions = _render(text, _GITHUB_V1, _GITHUB_V2)
        san: x509.GeneralName = x509.UniformResourceIdentifier(_GITHUB_SAN(text))
    elif "ci_config_ref_uri" in text:
        gitlab = _gitlab_claims(text, token_issuer, cert_issuer)
        extensions = _render(gitlab, {}, _GITLAB_V2)
        san = x509.UniformResourceIdentifier(_GITLAB_SAN(gitlab))
    elif "email" in text:
        if text.get("email_verified") != "true":
            raise ProfileError("identity token's email is not verified (email_verified)")
        extensions = []
        san = x509.RFC822Name(text["email"])
    else:
        raise ProfileError(
            f"no certificate profile for issuer {cert_issuer!r}: expected GitHub Actions claims, "
            "GitLab CI claims (ci_config_ref_uri) or a verified email"
        )
    return CertificateIdentity(san=san, extensions=(*issuers, *extensions))
