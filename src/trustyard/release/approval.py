"""The approval gate between the test index and production: a person, a file, or a CI environment.

What is approved is always the exact bytes: the gate shows (or checks) every file's sha256, and
an approval file must list the same hashes as the release directory's ``SHA256SUMS``. In GitHub
Actions the gate is the job's *environment* (its required reviewers approved the job before it
ran), read from the ``environment`` claim of the job's ID token, the claim PyPI's Trusted
Publishing also matches on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from trustyard.dists.sha256sums import InvalidSums, parse_sha256sums, sums_differences
from trustyard.errors import Error
from trustyard.oidc.ambient import AmbientIdentityError, detect_ambient_token, unverified_claims

__all__ = [
    "Approval",
    "ApprovalRefused",
    "ApprovalRequest",
    "ask_on_terminal",
    "seek_approval",
]


class ApprovalRefused(Error):
    """Nobody approved, or what was approved is not what would be published."""


@dataclass(frozen=True)
class ApprovalRequest:
    """What would go to production: file names with their sha256, and where to."""

    files: Mapping[str, str]
    destination: str


@dataclass(frozen=True)
class Approval:
    """Who or what approved, for the log and the state file."""

    by: str


Ask = Callable[[str], str]


def seek_approval(
    request: ApprovalRequest,
    *,
    yes: bool = False,
    approve_file: Path | None = None,
    environ: Mapping[str, str],
    audience: str | None = None,
    ask: Ask | None = None,
    interactive: bool | None = None,
) -> Approval:
    """Return how the release was approved, or raise :class:`ApprovalRefused` saying why.

    Order: ``--yes``; ``--approve-file`` (must match the hashes exactly); GitHub Actions with
    an environment on the job; an interactive prompt on a terminal. Anything else is refused:
    an unattended run never publishes to production by default.
    """
    if yes:
        return Approval(by="--yes")
    if approve_file is not None:
        return _approved_by_file(request, approve_file)
    if environ.get("GITHUB_ACTIONS") == "true":
        return _approved_by_environment(environ, audience)
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive or ask is None:
        raise ApprovalRefused(
            "approval needed before publishing to production: run on a terminal to be asked, "
            "or pass --yes or --approve-file FILE (a SHA256SUMS listing the approved bytes)"
        )
    print(f"About to publish to {request.destination}:")
    for name, digest in sorted(request.files.items()):
        print(f"  {digest}  {name}")
    answer = ask(f"Publish these {len(request.files)} files? [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise ApprovalRefused("publishing to production was not approved")
    return Approval(by="interactive prompt")


def _approved_by_file(request: ApprovalRequest, path: Path) -> Approval:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ApprovalRefused(f"cannot read the approval file {path}: {exc}") from exc
    try:
        approved = parse_sha256sums(text, str(path))
    except InvalidSums as exc:
        raise ApprovalRefused(f"the approval file is not a SHA256SUMS: {exc.message}") from exc
    problems = sums_differences(approved, request.files)
    if problems:
        raise ApprovalRefused(
            f"the approval file {path} does not approve these bytes:\n  " + "\n  ".join(problems)
        )
    return Approval(by=f"approval file {path}")


def _approved_by_environment(environ: Mapping[str, str], audience: str | None) -> Approval:
    """In GitHub Actions, an environment on the job is the gate (its reviewers ran it)."""
    if audience is None:
        raise ApprovalRefused(
            "in GitHub Actions the approval is the job's environment, but the index's OIDC "
            "audience is unknown; pass --yes if the workflow gates this job another way"
        )
    try:
        found = detect_ambient_token(audience, environ)
    except AmbientIdentityError as exc:
        raise ApprovalRefused(f"cannot read the job's environment: {exc.message}") from exc
    environment = unverified_claims(found.token).get("environment") if found else None
    if not isinstance(environment, str) or not environment:
        raise ApprovalRefused(
            "this GitHub Actions job has no environment, so no reviewer approved it: give the "
            "publishing job `environment: <name>` with required reviewers, or pass --yes"
        )
    return Approval(by=f"GitHub environment {environment!r}")


def ask_on_terminal(prompt: str) -> str:
    """The default ``ask``: ``input()``, with end-of-input meaning no."""
    try:
        return input(prompt)
    except EOFError:
        return ""
