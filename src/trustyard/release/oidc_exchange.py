"""The client side of Trusted Publishing: PyPI's ``/_/oidc/*`` token exchange, as uv performs it.
The refusal report follows pypa/gh-action-pypi-publish's ``oidc-exchange.py`` (codes and claims).

Like uv, the exchange always speaks HTTPS to the upload URL's ``host:port``, whatever the upload
URL's scheme: ``GET /_/oidc/audience``, the CI's ID token for that audience, ``POST
/_/oidc/mint-token`` with ``{"token": <jwt>}``, and after the uploads ``POST
/_/oidc/burn-token`` so the 15-minute token dies at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from trustyard.errors import Error
from trustyard.oidc.ambient import AmbientIdentityError, detect_ambient_token, unverified_claims
from trustyard.release.upload_client import Answer, ConnectionFailed, HttpClient

__all__ = [
    "SHOWN_CLAIMS",
    "MintedToken",
    "TrustedPublishingError",
    "burn_upload_token",
    "exchange_ambient_token",
    "fetch_audience",
    "json_object",
    "mint_upload_token",
    "oidc_base_url",
    "refuse_shared_audience",
]

SHOWN_CLAIMS = (
    "sub",
    "repository",
    "repository_owner",
    "repository_owner_id",
    "workflow_ref",
    "job_workflow_ref",
    "ref",
    "environment",
)
"""The claims shown when a mint is refused: the ones a publisher's configuration is about."""


class TrustedPublishingError(Error):
    """The token exchange failed: no CI identity, an index without it, or a refused token."""

    status = 403


@dataclass(frozen=True)
class MintedToken:
    """An upload token minted by the index; ``repr`` never shows it."""

    token: str
    expires: int | None
    provider: str

    def __repr__(self) -> str:
        return f"MintedToken(provider={self.provider!r}, expires={self.expires}, token=<redacted>)"


def oidc_base_url(upload_url: str) -> str:
    """``https://<host:port>`` of the upload URL: where uv sends every ``/_/oidc/`` request."""
    return f"https://{urlsplit(upload_url).netloc}"


def fetch_audience(client: HttpClient, base: str) -> str:
    """The audience the index wants CI tokens minted for (``GET /_/oidc/audience``)."""
    url = f"{base}/_/oidc/audience"
    try:
        answer = client.request("GET", url, headers={"Accept": "application/json"})
    except ConnectionFailed as exc:
        raise TrustedPublishingError(
            f"cannot ask the index for its Trusted Publishing audience: {exc.message}"
        ) from exc
    if answer.status == 403:
        raise TrustedPublishingError(
            f"{url}: the index has Trusted Publishing disabled ({answer.explanation()})"
        )
    if answer.status == 404:
        raise TrustedPublishingError(f"{url}: the index does not offer Trusted Publishing (404)")
    document = json_object(answer)
    audience = document.get("audience") if answer.status == 200 and document else None
    if not isinstance(audience, str) or not audience:
        raise TrustedPublishingError(
            f"{url}: unexpected answer to the audience request: {answer.explanation()}"
        )
    return audience


class SharedAudience(TrustedPublishingError):
    """The test and production indexes accept CI tokens minted for the same audience."""


def refuse_shared_audience(client: HttpClient, test_upload_url: str, production_url: str) -> None:
    """Refuse a test and a production index that announce the same audience.

    A CI job's ID token is minted for the audience the index announces; if the test index
    (which may be anybody's) and production share one, the test index can replay the token to
    production and publish there before the pipeline reaches its verify and approval stages
    (issue 14, finding 4). PyPI and TestPyPI announce ``pypi`` and ``testpypi`` for this reason.
    An index that does not offer Trusted Publishing, or cannot be reached, is left for the
    publish stage to report.
    """
    audiences: list[str] = []
    for url in (test_upload_url, production_url):
        try:
            audiences.append(fetch_audience(client, oidc_base_url(url)))
        except TrustedPublishingError:
            return
    if audiences[0] == audiences[1]:
        raise SharedAudience(
            f"the test index ({test_upload_url}) and the production index ({production_url})"
            f" announce the same Trusted Publishing audience {audiences[0]!r}: the test index"
            " could replay this job's ID token to production. Give each index its own audience"
            " (leave `trustyard serve --audience` unset so that each index generates its own,"
            " or set a different one on each), or publish with explicit tokens"
        )


def mint_upload_token(client: HttpClient, base: str, oidc_token: str, provider: str) -> MintedToken:
    """Exchange the CI's ID token for an upload token (``POST /_/oidc/mint-token``).

    A refusal raises :class:`TrustedPublishingError` listing the index's ``errors[]`` and the
    claims of the ID token it was shown, so the publisher's configuration can be compared.
    """
    url = f"{base}/_/oidc/mint-token"
    try:
        answer = client.post_json(url, {"token": oidc_token})
    except ConnectionFailed as exc:
        raise TrustedPublishingError(
            f"cannot exchange the OIDC token at the index: {exc.message}"
        ) from exc
    document = json_object(answer)
    if document is None:
        raise TrustedPublishingError(
            f"{url}: the index gave an unexpected answer to the token exchange: "
            f"{answer.explanation()}"
        )
    if answer.status != 200:
        raise TrustedPublishingError(refusal_report(url, answer, document, oidc_token))
    token = document.get("token")
    if not isinstance(token, str) or not token:
        raise TrustedPublishingError(f"{url}: the index's answer carries no token")
    expires = document.get("expires")
    return MintedToken(
        token=token, expires=expires if isinstance(expires, int) else None, provider=provider
    )


def refusal_report(url: str, answer: Answer, document: Mapping[str, Any], oidc_token: str) -> str:
    """What went wrong, in the index's words, and what the index was shown."""
    lines = [f"the index refused to mint an upload token ({answer.status} {answer.reason}):"]
    errors = document.get("errors")
    if isinstance(errors, list) and errors:
        for error in errors:
            if isinstance(error, dict):
                lines.append(f"  * {error.get('code')}: {error.get('description')}")
    else:
        lines.append(f"  {document.get('message', answer.explanation())}")
    try:
        claims = unverified_claims(oidc_token)
    except AmbientIdentityError:
        claims = {}
    lines.append(
        f"The claims of the OIDC token sent to {url} (compare them with the trusted "
        "publisher registered for the project):"
    )
    for name in SHOWN_CLAIMS:
        value = claims.get(name)
        lines.append(f"  * {name}: {'MISSING' if value is None else value}")
    return "\n".join(lines)


def burn_upload_token(client: HttpClient, base: str, token: str) -> None:
    """Revoke ``token`` (``POST /_/oidc/burn-token``); raises on any failure."""
    url = f"{base}/_/oidc/burn-token"
    try:
        answer = client.post_json(url, {"token": token})
    except ConnectionFailed as exc:
        raise TrustedPublishingError(f"cannot revoke the upload token: {exc.message}") from exc
    if answer.status != 200:
        raise TrustedPublishingError(f"{url}: {answer.explanation()}")


def exchange_ambient_token(
    client: HttpClient,
    upload_url: str,
    environ: Mapping[str, str],
    *,
    stderr: TextIO | None = None,
) -> MintedToken:
    """The whole exchange: audience, the CI's ID token for it, the minted upload token.

    Under GitHub Actions the token is masked in the job's log (``::add-mask::`` on stderr)
    before anything else can print it.
    """
    base = oidc_base_url(upload_url)
    audience = fetch_audience(client, base)
    try:
        ambient = detect_ambient_token(audience, environ)
    except AmbientIdentityError as exc:
        raise TrustedPublishingError(f"Trusted Publishing: {exc.message}") from exc
    if ambient is None:
        raise TrustedPublishingError(
            "Trusted Publishing needs a CI identity, and none was found: run in GitHub Actions "
            "(with `permissions: id-token: write`) or GitLab CI (with an `id_tokens` entry "
            f"for audience {audience!r}), or pass --token"
        )
    minted = mint_upload_token(client, base, ambient.token, ambient.provider)
    if environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{minted.token}", file=stderr or sys.stderr, flush=True)
    return minted


def json_object(answer: Answer) -> dict[str, Any] | None:
    """The answer's body as a JSON object, or None."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def __dir__() -> list[str]:
    return __all__
