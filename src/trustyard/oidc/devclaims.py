"""Claims of the development issuer: GitHub Actions' and GitLab CI's OIDC ID tokens.
Copies GitHub's "OpenID Connect reference" and GitLab's ``id_tokens`` claims and CI variables.

A job is described by :class:`GitHubRun` or :class:`GitLabJob`; its claims go into a
:class:`TokenRequest`, which is the *request token* the development issuer's ``/token``
endpoint takes as its bearer credential (base64url JSON, unsigned: the issuer trusts its
callers, which is why it listens on loopback only). :func:`mint_claims` is what the issuer then
signs. Development and tests only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from trustyard.errors import Error, InvalidInput

__all__ = [
    "DEFAULT_LIFETIME",
    "DEFAULT_SHA",
    "BadRequestToken",
    "Claims",
    "GitHubRun",
    "GitLabJob",
    "TokenRequest",
    "audience_env_var",
    "export_lines",
    "github_environ",
    "gitlab_environ",
    "mint_claims",
    "request_token",
]

Claims: TypeAlias = dict[str, Any]

# GitHub's tokens live five minutes (iat + 300), GitLab's default likewise here.
DEFAULT_LIFETIME = 300
DEFAULT_SHA = "5f0c6d1e2a3b4c5d6e7f8091a2b3c4d5e6f70812"

_OWNER_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


class BadRequestToken(Error):
    """The bearer request token given to the issuer's ``/token`` endpoint is not one of ours."""

    status = 401


@dataclass(frozen=True)
class GitHubRun:
    """A GitHub Actions job, as its ID token describes it.

    ``workflow`` is the workflow file under ``.github/workflows/``; ``ref`` a full ref
    (``refs/tags/v1.0.0``); ``job_workflow_ref`` names a reusable workflow
    (``OWNER/REPO/.github/workflows/FILE@REF``) when the job runs one, else the caller's own.
    """

    repository: str
    workflow: str = "release.yml"
    ref: str = "refs/heads/main"
    environment: str | None = None
    event_name: str = "push"
    sha: str = DEFAULT_SHA
    owner_id: str = "1001"
    repository_id: str = "2001"
    actor: str | None = None
    actor_id: str = "3001"
    workflow_name: str | None = None
    job_workflow_ref: str | None = None
    job_workflow_sha: str | None = None
    visibility: str = "public"
    ref_protected: bool = False
    run_id: str = "4001"
    run_number: str = "1"
    run_attempt: str = "1"
    runner_environment: str = "github-hosted"

    def __post_init__(self) -> None:
        problems = []
        if not _OWNER_REPO.match(self.repository):
            problems.append(f"repository {self.repository!r} is not OWNER/REPO")
        if not self.workflow or "/" in self.workflow.removeprefix(".github/workflows/"):
            problems.append(f"workflow {self.workflow!r} is not a file in .github/workflows/")
        if not self.ref.startswith("refs/"):
            problems.append(f"ref {self.ref!r} is not a full ref (refs/heads/..., refs/tags/...)")
        if problems:
            raise InvalidInput("; ".join(problems))

    @property
    def owner(self) -> str:
        """The repository's owner (user or organisation)."""
        return self.repository.split("/", 1)[0]

    @property
    def workflow_ref(self) -> str:
        """``OWNER/REPO/.github/workflows/FILE@REF``, GitHub's ``workflow_ref``."""
        file = self.workflow.removeprefix(".github/workflows/")
        return f"{self.repository}/.github/workflows/{file}@{self.ref}"

    @property
    def subject(self) -> str:
        """GitHub's default ``sub``: environment first, then pull request, then the ref."""
        if self.environment:
            return f"repo:{self.repository}:environment:{self.environment}"
        if self.event_name == "pull_request":
            return f"repo:{self.repository}:pull_request"
        return f"repo:{self.repository}:ref:{self.ref}"

    def claims(self) -> Claims:
        """The job's claims, without the ones the issuer adds (iss, aud, jti, iat, nbf, exp)."""
        claims: Claims = {
            "sub": self.subject,
            "ref": self.ref,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": self.owner,
            "repository_owner_id": self.owner_id,
            "repository_id": self.repository_id,
            "repository_visibility": self.visibility,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "run_attempt": self.run_attempt,
            "actor": self.actor or self.owner,
            "actor_id": self.actor_id,
            "workflow": self.workflow_name or _stem(self.workflow),
            "workflow_ref": self.workflow_ref,
            "workflow_sha": self.sha,
            "job_workflow_ref": self.job_workflow_ref or self.workflow_ref,
            "job_workflow_sha": self.job_workflow_sha or self.sha,
            "head_ref": "",
            "base_ref": "",
            "event_name": self.event_name,
            "ref_type": "tag" if self.ref.startswith("refs/tags/") else "branch",
            "ref_protected": _flag(self.ref_protected),
            "runner_environment": self.runner_environment,
        }
        if self.environment:
            claims["environment"] = self.environment
        return claims


@dataclass(frozen=True)
class GitLabJob:
    """A GitLab CI job, as its ``id_tokens`` describe it.

    ``project`` is ``NAMESPACE/PROJECT`` (subgroups allowed); ``ref`` a full ref, or a bare
    branch name; ``workflow_path`` the CI configuration file in the project.
    """

    project: str
    workflow_path: str = ".gitlab-ci.yml"
    ref: str = "refs/heads/main"
    environment: str | None = None
    sha: str = DEFAULT_SHA
    namespace_id: str = "1001"
    project_id: str = "2001"
    user_id: str = "3001"
    user_login: str | None = None
    user_email: str | None = None
    pipeline_id: str = "4001"
    pipeline_source: str = "push"
    job_id: str = "5001"
    runner_id: int = 6001
    runner_environment: str = "gitlab-hosted"
    visibility: str = "public"
    ref_protected: bool = False
    environment_protected: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not _PROJECT_PATH.match(self.project):
            problems.append(f"project {self.project!r} is not NAMESPACE/PROJECT")
        if not self.workflow_path or self.workflow_path.startswith("/"):
            problems.append(f"workflow path {self.workflow_path!r} is not relative")
        if problems:
            raise InvalidInput("; ".join(problems))

    @property
    def namespace(self) -> str:
        """The namespace path (group and subgroups, or user)."""
        return self.project.rsplit("/", 1)[0]

    @property
    def ref_path(self) -> str:
        """The full ref (GitLab's ``ref_path``)."""
        return self.ref if self.ref.startswith("refs/") else f"refs/heads/{self.ref}"

    @property
    def ref_type(self) -> str:
        """``tag`` or ``branch``."""
        return "tag" if self.ref_path.startswith("refs/tags/") else "branch"

    @property
    def ref_name(self) -> str:
        """The short ref (GitLab's ``ref``): ``v1.0.0``, ``main``."""
        return self.ref_path.removeprefix("refs/tags/").removeprefix("refs/heads/")

    def claims(self, issuer: str) -> Claims:
        """The job's claims; ``issuer``'s host (and path) starts ``ci_config_ref_uri``."""
        parts = urlsplit(issuer)
        server = f"{parts.netloc}{parts.path.rstrip('/')}"
        login = self.user_login or self.namespace.split("/", 1)[0]
        claims: Claims = {
            "sub": f"project_path:{self.project}:ref_type:{self.ref_type}:ref:{self.ref_name}",
            "namespace_id": self.namespace_id,
            "namespace_path": self.namespace,
            "project_id": self.project_id,
            "project_path": self.project,
            "user_id": self.user_id,
            "user_login": login,
            "user_email": self.user_email or f"{login}@example.test",
            "pipeline_id": self.pipeline_id,
            "pipeline_source": self.pipeline_source,
            "job_id": self.job_id,
            "ref": self.ref_name,
            "ref_type": self.ref_type,
            "ref_path": self.ref_path,
            "ref_protected": _flag(self.ref_protected),
            "runner_id": self.runner_id,
            "runner_environment": self.runner_environment,
            "sha": self.sha,
            "project_visibility": self.visibility,
            "ci_config_ref_uri": f"{server}/{self.project}//{self.workflow_path}@{self.ref_path}",
            "ci_config_sha": self.sha,
        }
        if self.environment:
            claims["environment"] = self.environment
            claims["environment_protected"] = _flag(self.environment_protected)
        return claims


@dataclass(frozen=True)
class TokenRequest:
    """What a request token asks the issuer to sign.

    The issuer adds ``iss``, ``aud`` (the audience asked for), ``jti`` (a fresh uuid4), ``iat``
    and ``nbf`` (now + ``shift`` seconds) and ``exp`` (``iat`` + ``lifetime``); a claim given in
    ``claims`` replaces the issuer's own, and every name in ``drop`` is removed last.
    """

    claims: Mapping[str, Any]
    drop: tuple[str, ...] = ()
    lifetime: int = DEFAULT_LIFETIME
    shift: int = 0

    def encode(self) -> str:
        """The request token: base64url of the JSON object, without padding."""
        body = {
            "claims": dict(self.claims),
            "drop": list(self.drop),
            "lifetime": self.lifetime,
            "shift": self.shift,
        }
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str) -> TokenRequest:
        """Read a request token; anything else is a :class:`BadRequestToken`."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = json.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestToken("the request token is not base64url JSON") from exc
        if not isinstance(body, dict):
            raise BadRequestToken("the request token is not a JSON object")
        problems = []
        claims, drop = body.get("claims"), body.get("drop", [])
        lifetime, shift = body.get("lifetime", DEFAULT_LIFETIME), body.get("shift", 0)
        if unknown := sorted(set(body) - {"claims", "drop", "lifetime", "shift"}):
            problems.append(f"unknown fields {', '.join(unknown)}")
        if not isinstance(claims, dict):
            problems.append("'claims' must be an object")
        if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
            problems.append("'drop' must be a list of claim names")
        for name, value in (("lifetime", lifetime), ("shift", shift)):
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"'{name}' must be an integer")
        if problems or not isinstance(claims, dict) or not isinstance(drop, list):
            raise BadRequestToken("bad request token: " + "; ".join(problems))
        return cls(claims=claims, drop=tuple(drop), lifetime=lifetime, shift=shift)


def request_token(
    claims: Mapping[str, Any],
    *,
    drop: Iterable[str] = (),
    lifetime: int = DEFAULT_LIFETIME,
    shift: int = 0,
) -> str:
    """The bearer request token for ``claims`` (see :class:`TokenRequest`)."""
    return TokenRequest(claims=claims, drop=tuple(drop), lifetime=lifetime, shift=shift).encode()


def mint_claims(request: TokenRequest, *, issuer: str, audience: str, now: int) -> Claims:
    """The claims the issuer signs for ``request`` at time ``now`` (seconds since the epoch)."""
    issued = now + request.shift
    claims: Claims = {
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + request.lifetime,
    }
    claims.update(request.claims)
    for name in request.drop:
        claims.pop(name, None)
    return claims


def github_environ(run: GitHubRun, issuer: str, token: str) -> dict[str, str]:
    """The variables of a GitHub Actions job with ``id-token: write`` using this issuer."""
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{issuer.rstrip('/')}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token,
        "GITHUB_REPOSITORY": run.repository,
        "GITHUB_REPOSITORY_OWNER": run.owner,
        "GITHUB_REF": run.ref,
        "GITHUB_SHA": run.sha,
        "GITHUB_WORKFLOW_REF": run.workflow_ref,
        "GITHUB_EVENT_NAME": run.event_name,
    }


def gitlab_environ(job: GitLabJob, audience: str, id_token: str) -> dict[str, str]:
    """The variables of a GitLab CI job whose ``id_tokens`` has one token for ``audience``."""
    return {
        "GITLAB_CI": "true",
        audience_env_var(audience): id_token,
        "CI_PROJECT_PATH": job.project,
        "CI_COMMIT_REF_NAME": job.ref_name,
        "CI_COMMIT_SHA": job.sha,
    }


def audience_env_var(audience: str) -> str:
    """uv's (ambient-id) variable for a GitLab ID token: ``pypi`` -> ``PYPI_ID_TOKEN``."""
    return re.sub(r"[^A-Z0-9]", "_", audience.upper()) + "_ID_TOKEN"


def export_lines(environ: Mapping[str, str]) -> str:
    """``export NAME=value`` lines for a POSIX shell, values quoted."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environ.items())


def _flag(value: bool) -> str:
    """GitHub and GitLab send booleans as the strings ``"true"`` and ``"false"``."""
    return "true" if value else "false"


def _stem(workflow: str) -> str:
    name = workflow.rsplit("/", 1)[-1]
    for suffix in (".yml", ".yaml"):
        name = name.removesuffix(suffix)
    return name.replace("-", " ").replace("_", " ").title()
