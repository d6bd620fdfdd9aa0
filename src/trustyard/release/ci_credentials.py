"""Trusted Reading's client: a CI job's ambient OIDC identity exchanged for a read token, and
the token written in the forms uv, pip and poetry read (issue 20).

The exchange is Trusted Publishing's as uv performs it (``release/oidc_exchange.py``) with the
read endpoints: ``GET /_/oidc/read-audience``, the CI's ID token for that audience
(``oidc/ambient.py``: GitHub Actions' token service, GitLab's ``id_tokens``), ``POST
/_/oidc/mint-read-token``. The job installs with the token until it expires (15 minutes), or
ends it sooner with :func:`burn_read_token` (``POST /_/oidc/burn-read-token``, the token in the
body: ``trustyard ci credentials --revoke``) once its installs are done.

The forms, each documented by its client:

- ``env``: ``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD`` (uv, "Providing credentials via
  environment variables" for an index named in ``[[tool.uv.index]]`` or ``--index NAME=URL``)
  and ``POETRY_HTTP_BASIC_<NAME>_USERNAME`` / ``_PASSWORD`` (poetry, "Configuring credentials"),
  ``<NAME>`` upper-cased with every other character turned into ``_`` as both clients do. No
  ``PIP_INDEX_URL``: which index comes first is the project's decision (and dependency
  confusion's battleground), not a credential's; ``pip-url`` gives pip its URL.
- ``netrc``: one ``machine <host> login __token__ password <token>`` line (pip, uv, poetry and
  twine all read ``~/.netrc``).
- ``pip-url``: the index URL with the credentials in it, for ``--index-url`` /
  ``PIP_INDEX_URL`` / ``uv pip install --index-url``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

from trustyard.errors import InvalidInput
from trustyard.oidc.ambient import AmbientIdentityError, detect_ambient_token
from trustyard.oidc.jwks import is_loopback_url
from trustyard.release.oidc_exchange import TrustedPublishingError, json_object, refusal_report
from trustyard.release.upload_client import Answer, ConnectionFailed

USERNAME = "__token__"
FORMATS = ("env", "netrc", "pip-url")


class Client(Protocol):
    """What the exchange needs of an HTTP client (``upload_client.HttpClient`` is one)."""

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None) -> Answer:
        """One request; its answer whatever the status."""
        ...

    def post_json(self, url: str, document: object) -> Answer:
        """POST a JSON document."""
        ...


class TrustedReadingError(TrustedPublishingError):
    """The read token exchange failed: no CI identity, an index without it, or a refusal."""


@dataclass(frozen=True)
class ReadCredentials:
    """A minted read token and the index URL it is for; ``repr`` never shows the token."""

    index_url: str
    token: str
    expires: int | None

    def __repr__(self) -> str:
        shown = f"index_url={self.index_url!r}, expires={self.expires}"
        return f"ReadCredentials({shown}, token=<redacted>)"


def checked_index_url(url: str) -> str:
    """The simple index URL, refused unless HTTPS (plain HTTP only on loopback): the CI's ID
    token and the read token both travel to it."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"--index {url!r}: give the index's URL, e.g. https://host/simple/")
    if parts.username or parts.password:
        raise InvalidInput(f"--index {parts.hostname}: give the URL without credentials")
    if parts.scheme == "http" and not is_loopback_url(url):
        raise InvalidInput(
            f"--index {url}: the ID token would travel in clear; use https:// (http:// only on"
            " loopback)"
        )
    return url if url.endswith("/") else url + "/"


def _base(index_url: str) -> str:
    parts = urlsplit(index_url)
    return f"{parts.scheme}://{parts.netloc}"


def fetch_read_audience(client: Client, base: str) -> str:
    """The audience the index wants read ID tokens minted for (``GET /_/oidc/read-audience``)."""
    url = f"{base}/_/oidc/read-audience"
    try:
        answer = client.request("GET", url, headers={"Accept": "application/json"})
    except ConnectionFailed as exc:
        raise TrustedReadingError(
            f"cannot ask the index for its read audience: {exc.message}"
        ) from exc
    if answer.status == 404:
        raise TrustedReadingError(f"{url}: the index does not offer Trusted Reading (404)")
    if answer.status == 403:
        raise TrustedReadingError(f"{url}: the index has Trusted Publishing disabled")
    document = json_object(answer)
    audience = document.get("audience") if answer.status == 200 and document else None
    if not isinstance(audience, str) or not audience:
        raise TrustedReadingError(f"{url}: unexpected answer: {answer.explanation()}")
    return audience


def mint_read_token(client: Client, base: str, oidc_token: str) -> tuple[str, int | None]:
    """Exchange the ID token (``POST /_/oidc/mint-read-token``): the token and its expiry."""
    url = f"{base}/_/oidc/mint-read-token"
    try:
        answer = client.post_json(url, {"token": oidc_token})
    except ConnectionFailed as exc:
        raise TrustedReadingError(f"cannot exchange the OIDC token: {exc.message}") from exc
    document = json_object(answer)
    if document is None:
        raise TrustedReadingError(f"{url}: unexpected answer: {answer.explanation()}")
    if answer.status != 200:
        report = refusal_report(url, answer, document, oidc_token)
        raise TrustedReadingError(report.replace("an upload token", "a read token", 1))
    token = document.get("token")
    if not isinstance(token, str) or not token:
        raise TrustedReadingError(f"{url}: the index's answer carries no token")
    expires = document.get("expires")
    return token, expires if isinstance(expires, int) else None


def exchange_for_read_token(
    client: Client, index_url: str, environ: Mapping[str, str], *, stderr: TextIO | None = None
) -> ReadCredentials:
    """The whole exchange. Under GitHub Actions the token is masked in the job's log
    (``::add-mask::``) before anything can print it."""
    index_url = checked_index_url(index_url)
    base = _base(index_url)
    audience = fetch_read_audience(client, base)
    try:
        ambient = detect_ambient_token(audience, environ)
    except AmbientIdentityError as exc:
        raise TrustedReadingError(f"Trusted Reading: {exc.message}") from exc
    if ambient is None:
        raise TrustedReadingError(
            "Trusted Reading needs a CI identity, and none was found: run in GitHub Actions"
            " (with `permissions: id-token: write`) or GitLab CI (with an `id_tokens` entry"
            f" for audience {audience!r})"
        )
    token, expires = mint_read_token(client, base, ambient.token)
    if environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{token}", file=stderr or sys.stderr, flush=True)
    return ReadCredentials(index_url=index_url, token=token, expires=expires)


def burn_read_token(client: Client, index_url: str, token: str) -> None:
    """End a read token before its 15 minutes (``POST /_/oidc/burn-read-token``): from the
    index's next request on it reads nothing. Raises with the index's reason on a refusal."""
    base = _base(checked_index_url(index_url))
    url = f"{base}/_/oidc/burn-read-token"
    token = token.strip()
    if not token:
        raise InvalidInput("--revoke: give the read token (or - to read it from stdin)")
    try:
        answer = client.post_json(url, {"token": token})
    except ConnectionFailed as exc:
        raise TrustedReadingError(f"cannot revoke the read token: {exc.message}") from exc
    if answer.status == 200:
        return
    document = json_object(answer)
    errors = document.get("errors") if document else None
    reasons = [
        f"{e.get('code')}: {e.get('description')}" for e in errors or [] if isinstance(e, dict)
    ]
    reason = "; ".join(reasons) or answer.explanation()
    raise TrustedReadingError(f"{url} refused to revoke the read token: {reason}")


def variable_stem(name: str) -> str:
    """``NAME`` of ``UV_INDEX_<NAME>_USERNAME``: upper-case, non-alphanumerics as ``_`` (uv)."""
    if not name:
        raise InvalidInput("--name: give the index's name, as the project's configuration names it")
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def render(credentials: ReadCredentials, form: str, *, name: str) -> str:
    """The credentials as ``form`` (one of :data:`FORMATS`), ending with a newline."""
    parts = urlsplit(credentials.index_url)
    token = credentials.token
    if form == "env":
        stem = variable_stem(name)
        return "".join(
            f"{key}={value}\n"
            for key, value in (
                (f"UV_INDEX_{stem}_USERNAME", USERNAME),
                (f"UV_INDEX_{stem}_PASSWORD", token),
                (f"POETRY_HTTP_BASIC_{stem}_USERNAME", USERNAME),
                (f"POETRY_HTTP_BASIC_{stem}_PASSWORD", token),
            )
        )
    if form == "netrc":
        return f"machine {parts.hostname} login {USERNAME} password {token}\n"
    if form == "pip-url":
        netloc = f"{quote(USERNAME, safe='')}:{quote(token, safe='')}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc)) + "\n"
    raise InvalidInput(f"unknown format {form!r}: use one of {', '.join(FORMATS)}")
