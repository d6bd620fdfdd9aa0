"""The publish stage: upload a release's files to an index, idempotently, with or without secrets.
Behaviour of ``uv publish --check-url`` (skip same hash, fail on other bytes, raced duplicates).

Order of work, so that nothing half-happens when it can be avoided:

1. every input is read and checked (``publish_inputs.collect_distributions``);
2. the index's simple API (PEP 691 JSON) is asked about every file: the same sha256 there means
   "skip", other bytes under that filename mean the whole publish stops before any upload;
3. credentials: an API token, or Trusted Publishing (only when something is left to upload);
4. uploads, wheels before the sdist, transient failures retried; a failed upload is checked
   again on the index, where a file with our sha256 means another run raced us to it;
5. a Trusted Publishing token is burnt at the end (a failed burn is only a warning).
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from packaging.utils import canonicalize_name
from packaging.version import Version

from trustyard.errors import Error, InvalidInput
from trustyard.release.errors import ReleaseNotFound, VerifyError
from trustyard.release.oidc_exchange import (
    MintedToken,
    TrustedPublishingError,
    burn_upload_token,
    exchange_ambient_token,
    oidc_base_url,
)
from trustyard.release.publish_inputs import Distribution, collect_distributions
from trustyard.release.simple_client import release_files
from trustyard.release.upload_client import (
    ConnectionFailed,
    HttpClient,
    RetryPolicy,
    UploadForm,
    basic_token_auth,
    upload_with_retries,
)

__all__ = [
    "TOKEN_VARIABLE",
    "FileResult",
    "IndexCheckFailed",
    "LineProgress",
    "Outcome",
    "PublishProgress",
    "PublishReport",
    "TrustedPublishingMode",
    "derive_check_url",
    "publish_files",
    "tls_context",
]

TOKEN_VARIABLE = "TRUSTYARD_PUBLISH_TOKEN"  # noqa: S105 - a variable name, not a secret
"""The environment variable an API token may come from (like ``UV_PUBLISH_TOKEN``)."""

TrustedPublishingMode = Literal["auto", "always", "never"]
Outcome = Literal["uploaded", "skipped", "failed", "held"]
# A trustyard index answers an upload it stored but holds for an owner's approval (publisher
# continuity, issue 18) with 202 and this header; other indexes never send it.
HELD_HEADER = "x-trustyard-held"


class IndexCheckFailed(Error):
    """The index's simple API could not tell whether a file is already there."""


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: ``uploaded``, ``skipped`` (already there), ``failed``, or
    ``held`` (stored by the index but not served until an owner approves it)."""

    filename: str
    path: Path
    sha256: str
    outcome: Outcome
    reason: str = ""


@dataclass(frozen=True)
class PublishReport:
    """The result of one publish, per file in upload order, for the CLI and the pipeline."""

    upload_url: str
    check_url: str
    files: tuple[FileResult, ...]
    trusted_publishing: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every file is on the index now and served (uploaded or skipped)."""
        return all(f.outcome in ("uploaded", "skipped") for f in self.files)

    def with_outcome(self, outcome: Outcome) -> list[FileResult]:
        """The files that ended with ``outcome``."""
        return [f for f in self.files if f.outcome == outcome]


class PublishProgress(Protocol):
    """What a caller hears while files go up (the CLI draws bars or prints lines)."""

    def note(self, message: str) -> None:
        """A line worth showing: a skip, a retry, a warning."""

    def start(self, filename: str, size: int) -> None:
        """An upload try of ``filename`` (``size`` bytes) begins; may come again on a retry."""

    def advance(self, filename: str, sent: int) -> None:
        """``sent`` more bytes of ``filename`` went out."""

    def finish(self, result: FileResult) -> None:
        """A file is done: uploaded, skipped or failed (called once for every file)."""


class _Silent:
    def note(self, message: str) -> None:
        pass

    def start(self, filename: str, size: int) -> None:
        pass

    def advance(self, filename: str, sent: int) -> None:
        pass

    def finish(self, result: FileResult) -> None:
        pass


class LineProgress:
    """Publish progress as plain lines through a ``say`` callable, each prefixed by ``label``."""

    def __init__(self, say: Callable[[str], None], label: str) -> None:
        self.say = say
        self.label = label

    def note(self, message: str) -> None:
        self.say(f"{self.label}: {message}")

    def start(self, filename: str, size: int) -> None:
        self.say(f"{self.label}: uploading {filename} ({size} bytes)")

    def advance(self, filename: str, sent: int) -> None:
        pass

    def finish(self, result: FileResult) -> None:
        reason = f" ({result.reason})" if result.reason else ""
        self.say(f"{self.label}: {result.filename} {result.outcome}{reason}")


def derive_check_url(upload_url: str) -> str:
    """The simple API beside an upload URL: ``P/legacy/`` -> ``P/simple/``, else ``/simple/``."""
    parts = urlsplit(upload_url)
    path = parts.path.rstrip("/")
    prefix = path.removesuffix("/legacy") if path.endswith("/legacy") else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{prefix}/simple/", "", ""))


def _checked_url(url: str, what: str) -> str:
    """An absolute http(s) URL with a host, no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidInput(f"{what} {url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"{what} {url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise InvalidInput(f"{what} {url!r} must not carry credentials; use --token")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise InvalidInput(f"{what} {url!r} must not have a query, fragment or spaces")
    del port
    return url


def tls_context(cacert: Path | None) -> ssl.SSLContext:
    """Trust ``cacert`` if given, else the system store (which honours ``SSL_CERT_FILE``)."""
    if cacert is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(cacert))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"--cacert {cacert}: cannot load CA certificates: {exc}") from exc


class _IndexView:
    """The index's files per release, read from the simple API (cached until refreshed)."""

    def __init__(
        self,
        check_url: str,
        context: ssl.SSLContext,
        policy: RetryPolicy,
        progress: PublishProgress,
        sleep: Callable[[float], None],
    ) -> None:
        self.check_url = check_url
        self.context = context
        self.policy = policy
        self.progress = progress
        self.sleep = sleep
        self._cache: dict[tuple[str, Version], dict[str, str]] = {}

    def sha256_of(self, distribution: Distribution, *, refresh: bool = False) -> str | None:
        """The sha256 the index lists for this filename, ``""`` if none, ``None`` if absent."""
        key = (canonicalize_name(distribution.dist.name), distribution.dist.version)
        if refresh or key not in self._cache:
            self._cache[key] = self._fetch(*key)
        return self._cache[key].get(distribution.filename)

    def _fetch(self, name: str, version: Version) -> dict[str, str]:
        attempt = 0
        while True:
            attempt += 1
            try:
                files = release_files(self.check_url, name, version, context=self.context)
            except ReleaseNotFound:
                return {}
            except VerifyError as exc:
                if attempt >= self.policy.attempts:
                    raise IndexCheckFailed(
                        f"cannot check what the index already has: {exc.message}"
                    ) from exc
                wait = self.policy.delay(attempt, None)
                self.progress.note(f"checking {name} {version} failed ({exc.message}); retrying")
                self.sleep(wait)
                continue
            return {f.filename: f.sha256 for f in files}


def publish_files(
    files: Sequence[Path],
    *,
    upload_url: str,
    check_url: str | None = None,
    token: str | None = None,
    trusted_publishing: TrustedPublishingMode = "auto",
    cacert: Path | None = None,
    environ: Mapping[str, str] | None = None,
    progress: PublishProgress | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishReport:
    """Upload ``files`` (distributions, attestations, or directories of them) to ``upload_url``.

    ``check_url`` is the simple API to check against (default: derived from ``upload_url``).
    Credentials: ``token`` (or ``$TRUSTYARD_PUBLISH_TOKEN`` in ``environ``), or Trusted
    Publishing: ``auto`` uses it when no token is given, ``always`` insists on it, ``never``
    refuses it. Attestations are only sent with Trusted Publishing, as the publish action and
    PyPI require; with a token they are left out and a warning says so.

    Returns a :class:`PublishReport`. Raises a :class:`~trustyard.errors.Error` before any
    upload for bad input, unusable credentials or an index that cannot be checked.
    """
    env = os.environ if environ is None else environ
    say: PublishProgress = progress or _Silent()
    policy = retry or RetryPolicy()
    _checked_url(upload_url, "the upload URL")
    check = _checked_url(check_url or derive_check_url(upload_url), "the check URL")
    if trusted_publishing not in {"auto", "always", "never"}:
        raise InvalidInput(f"unknown Trusted Publishing mode {trusted_publishing!r}")
    token = token or env.get(TOKEN_VARIABLE) or None
    if token is not None and trusted_publishing == "always":
        raise InvalidInput(
            "an API token cannot be used with --trusted-publishing always; drop one of them"
        )
    if token is None and trusted_publishing == "never":
        raise InvalidInput(
            f"no credentials: pass --token or set {TOKEN_VARIABLE} "
            "(Trusted Publishing is off: --trusted-publishing never)"
        )
    context = tls_context(cacert)
    distributions = collect_distributions(files)

    view = _IndexView(check, context, policy, say, sleep)
    skipped, conflicts, todo = _compare_with_index(distributions, view)
    results: dict[str, FileResult] = {r.filename: r for r in [*skipped, *conflicts]}
    for result in [*skipped, *conflicts]:
        say.finish(result)
    if conflicts:
        for d in todo:
            results[d.filename] = _result(
                d, "failed", f"not uploaded: {len(conflicts)} file(s) conflict with the index"
            )
            say.finish(results[d.filename])
        return _report(upload_url, check_url=check, distributions=distributions, results=results)
    if not todo:
        return _report(upload_url, check_url=check, distributions=distributions, results=results)

    client = HttpClient(context)
    warnings: list[str] = []
    secret, minted = _credentials(
        client, upload_url, token=token, mode=trusted_publishing, env=env, progress=say
    )
    if minted is None and any(d.attestations for d in todo):
        warning = (
            "attestations are only accepted with Trusted Publishing; not sending them "
            "with an API token"
        )
        warnings.append(warning)
        say.note(f"warning: {warning}")
    try:
        for distribution in todo:
            result = _upload_one(
                client,
                upload_url,
                distribution,
                view,
                authorization=basic_token_auth(secret),
                with_attestations=minted is not None,
                policy=policy,
                progress=say,
                sleep=sleep,
            )
            results[distribution.filename] = result
            say.finish(result)
    finally:
        if minted is not None:
            burn_warning = _burn(client, upload_url, minted)
            if burn_warning:
                warnings.append(burn_warning)
                say.note(f"warning: {burn_warning}")
    return _report(
        upload_url,
        check_url=check,
        distributions=distributions,
        results=results,
        trusted=minted is not None,
        warnings=warnings,
    )


def _report(
    upload_url: str,
    *,
    check_url: str,
    distributions: list[Distribution],
    results: dict[str, FileResult],
    trusted: bool = False,
    warnings: Sequence[str] = (),
) -> PublishReport:
    return PublishReport(
        upload_url=upload_url,
        check_url=check_url,
        files=tuple(results[d.filename] for d in distributions),
        trusted_publishing=trusted,
        warnings=tuple(warnings),
    )


def _result(distribution: Distribution, outcome: Outcome, reason: str = "") -> FileResult:
    return FileResult(
        filename=distribution.filename,
        path=distribution.path,
        sha256=distribution.sha256,
        outcome=outcome,
        reason=reason,
    )


def _compare_with_index(
    distributions: list[Distribution], view: _IndexView
) -> tuple[list[FileResult], list[FileResult], list[Distribution]]:
    """(already there, there with other bytes, still to upload), from the simple API."""
    skipped: list[FileResult] = []
    conflicts: list[FileResult] = []
    todo: list[Distribution] = []
    for distribution in distributions:
        remote = view.sha256_of(distribution)
        if remote is None:
            todo.append(distribution)
        elif remote == distribution.sha256:
            skipped.append(_result(distribution, "skipped", "already on the index"))
        elif not remote:
            conflicts.append(
                _result(
                    distribution,
                    "failed",
                    "the index lists this filename without a sha256, so it cannot be compared",
                )
            )
        else:
            conflicts.append(
                _result(
                    distribution,
                    "failed",
                    f"the index already has this filename with other bytes: index sha256 "
                    f"{remote}, local sha256 {distribution.sha256}",
                )
            )
    return skipped, conflicts, todo


def _credentials(
    client: HttpClient,
    upload_url: str,
    *,
    token: str | None,
    mode: TrustedPublishingMode,
    env: Mapping[str, str],
    progress: PublishProgress,
) -> tuple[str, MintedToken | None]:
    """The token to upload with, and the minted token when it came from Trusted Publishing."""
    if token is not None:
        return token, None
    if mode == "auto" and not _in_supported_ci(env):
        raise InvalidInput(
            f"no credentials: pass --token or set {TOKEN_VARIABLE}, or publish from GitHub "
            "Actions or GitLab CI with Trusted Publishing"
        )
    minted = exchange_ambient_token(client, upload_url, env)
    progress.note(
        f"Trusted Publishing: {minted.provider} identity exchanged at "
        f"{oidc_base_url(upload_url)} for a short-lived upload token"
    )
    return minted.token, minted


def _in_supported_ci(env: Mapping[str, str]) -> bool:
    """The variables ``trustyard.oidc.ambient`` detects CI by (GitHub Actions, GitLab CI)."""
    return env.get("GITHUB_ACTIONS") == "true" or env.get("GITLAB_CI") == "true"


def _upload_one(
    client: HttpClient,
    upload_url: str,
    distribution: Distribution,
    view: _IndexView,
    *,
    authorization: str,
    with_attestations: bool,
    policy: RetryPolicy,
    progress: PublishProgress,
    sleep: Callable[[float], None],
) -> FileResult:
    """Upload one file; on failure ask the index whether our bytes got there anyway."""
    name = distribution.filename
    form = UploadForm(distribution, with_attestations=with_attestations)
    try:
        answer = upload_with_retries(
            client,
            upload_url,
            form,
            authorization=authorization,
            policy=policy,
            on_attempt=lambda _n: progress.start(name, distribution.size),
            on_sent=lambda n: progress.advance(name, n),
            on_retry=lambda why, wait: progress.note(f"{name}: {why}; retrying in {wait:.1f} s"),
            sleep=sleep,
        )
    except ConnectionFailed as exc:
        failure = f"the upload failed after {policy.attempts} tries: {exc.message}"
    else:
        if answer.status == 202 and HELD_HEADER in answer.headers:
            detail = answer.body.decode("utf-8", "replace").strip() or "held by the index"
            return _result(distribution, "held", " ".join(detail.split())[:500])
        if 200 <= answer.status < 300:
            return _result(distribution, "uploaded")
        if 300 <= answer.status < 400:
            where = urljoin(upload_url, answer.headers.get("location", ""))
            failure = (
                f"the index answered {answer.status} {answer.reason} (redirect to {where}); "
                "pass the upload URL it names"
            )
        else:
            failure = f"the index refused the upload: {answer.explanation()}"
    try:
        remote = view.sha256_of(distribution, refresh=True)
    except IndexCheckFailed:
        remote = None
    if remote == distribution.sha256:
        return _result(distribution, "skipped", "already on the index (uploaded concurrently)")
    return _result(distribution, "failed", failure)


def _burn(client: HttpClient, upload_url: str, minted: MintedToken) -> str | None:
    """Revoke the minted token; a failure is returned as a warning, never raised."""
    try:
        burn_upload_token(client, oidc_base_url(upload_url), minted.token)
    except TrustedPublishingError as exc:
        return f"the upload token could not be revoked (it expires on its own): {exc.message}"
    return None


def __dir__() -> list[str]:
    return __all__
