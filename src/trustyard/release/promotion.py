"""Taking built files to production: the steps ``trustyard release`` and ``release add-wheels``
share, so that both keep the same rules.

- :func:`check_audiences`: before anything is built, the test and production indexes must not
  accept each other's CI tokens (when Trusted Publishing may be used);
- :func:`publish_to`: the files and the attestations beside them, to one index; a file already
  there with these bytes is skipped, so a rerun resumes;
- :func:`approve`: the gate between the test index and production, over the exact hashes
  (:mod:`trustyard.release.approval`; in GitHub Actions, the job's environment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from trustyard.release.approval import Approval, ApprovalRequest, seek_approval
from trustyard.release.attest import ATTESTATION_SUFFIX
from trustyard.release.build import Progress
from trustyard.release.errors import ReleaseError
from trustyard.release.oidc_exchange import fetch_audience, oidc_base_url, refuse_shared_audience
from trustyard.release.publish import (
    LineProgress,
    PublishReport,
    TrustedPublishingMode,
    derive_check_url,
    publish_files,
    tls_context,
)
from trustyard.release.upload_client import HttpClient

__all__ = [
    "IndexTarget",
    "Promotion",
    "StageFailed",
    "approve",
    "check_audiences",
    "publish_to",
]

# The start of PyPI's refusal of a new file in an old release (warehouse PR #19727).
_CLOSED_RELEASE = "Uploading new files to releases older than"


class StageFailed(ReleaseError):
    """A stage ran and said no; the pipeline stops there and a rerun retries that stage."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage


@dataclass(frozen=True)
class IndexTarget:
    """One index: where to upload, where to read, and an explicit token if any."""

    label: str
    upload_url: str
    token: str | None = None

    @property
    def simple_url(self) -> str:
        """The simple API beside the upload URL (``…/legacy/`` → ``…/simple/``)."""
        return derive_check_url(self.upload_url)


class Promotion(Protocol):
    """What these steps read from a command's options (``ReleaseOptions``,
    ``AddWheelsOptions``): the indexes, the credentials and the gate."""

    @property
    def test(self) -> IndexTarget | None: ...
    @property
    def production(self) -> IndexTarget: ...
    @property
    def trusted_publishing(self) -> TrustedPublishingMode: ...
    @property
    def cacert(self) -> Path | None: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def yes(self) -> bool: ...
    @property
    def approve_file(self) -> Path | None: ...
    @property
    def ask(self) -> Callable[[str], str] | None: ...


def check_audiences(options: Promotion) -> None:
    """Before anything is built: the two indexes must not accept each other's CI tokens, when
    Trusted Publishing may be used (an explicit token for both makes the audience moot)."""
    test = options.test
    if (
        test is None
        or options.trusted_publishing == "never"
        or (test.token and options.production.token)
    ):
        return
    client = HttpClient(tls_context(options.cacert), timeout=30)
    refuse_shared_audience(client, test.upload_url, options.production.upload_url)


def publish_to(
    options: Promotion,
    target: IndexTarget,
    distributions: Sequence[Path],
    *,
    stage: str,
    say: Progress,
    what: str = "file",
) -> PublishReport:
    """``distributions``, then the attestations beside them, to ``target``; files already there
    with these bytes are skipped. :class:`StageFailed` lists every file that is not there
    (``what`` names them in its message: ``file``, ``wheel``)."""
    files = list(distributions)
    files += [
        p.with_name(p.name + ATTESTATION_SUFFIX)
        for p in distributions
        if p.with_name(p.name + ATTESTATION_SUFFIX).is_file()
    ]
    report = publish_files(
        files,
        upload_url=target.upload_url,
        token=target.token,
        trusted_publishing=options.trusted_publishing,
        cacert=options.cacert,
        environ=options.environ,
        progress=LineProgress(say, stage),
    )
    if not report.ok:
        failed = [f"{f.filename}: {f.reason}" for f in report.with_outcome("failed")]
        held = report.with_outcome("held")
        failed += [f"{f.filename}: HELD by the index, not served: {f.reason}" for f in held]
        if held:
            failed.append(
                "a held file is stored (its name is taken); once an owner approves it on the"
                " index, it is served and running this again finds it there"
            )
        if any(_CLOSED_RELEASE in line for line in failed):
            failed.append(
                "the index takes new files in a release only for a while after its first upload"
                f" (PyPI, and trustyard by default: 14 days); after that, new {what}s need a new"
                " release (a post-release, say)"
            )
        raise StageFailed(stage, f"not every {what} is on the index:\n  " + "\n  ".join(failed))
    return report


def approve(options: Promotion, files: Mapping[str, str]) -> Approval:
    """The gate: these exact files (name -> sha256) approved for production. In GitHub Actions
    the job's environment is read from its ID token for the production index's audience."""
    audience = None
    if options.environ.get("GITHUB_ACTIONS") == "true":
        client = HttpClient(tls_context(options.cacert), timeout=30)
        audience = fetch_audience(client, oidc_base_url(options.production.upload_url))
    return seek_approval(
        ApprovalRequest(dict(files), options.production.upload_url),
        yes=options.yes,
        approve_file=options.approve_file,
        environ=options.environ,
        audience=audience,
        ask=options.ask,
    )


def __dir__() -> list[str]:
    return __all__
