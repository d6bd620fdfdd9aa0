"""Run every check on one checkout and collect the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trustyard.audit import (
    binaries,
    dangerous,
    online,
    permissions,
    pinning,
    release,
    repofiles,
    tooling,
    zizmor,
)
from trustyard.audit.findings import CheckResult, Report
from trustyard.audit.github import GitHub
from trustyard.audit.workflows import load_workflows
from trustyard.audit.yamlnodes import Node
from trustyard.errors import InvalidInput


@dataclass(frozen=True)
class AuditOptions:
    """What to run: offline always; the API checks with ``github`` set."""

    github: str | None = None
    token: str | None = None
    api_url: str = "https://api.github.com"
    zizmor_persona: str = "regular"


def run_audit(root: Path, options: AuditOptions) -> Report:
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    workflows = load_workflows(root)
    results: list[CheckResult] = [
        binaries.check(root),
        dangerous.check(workflows),
        repofiles.dependency_update_tool(root),
        tooling.fuzzing(root),
        repofiles.license_check(root),
        tooling.packaging(workflows),
        pinning.check(root, workflows),
        tooling.sast(workflows),
        repofiles.security_policy(root),
        permissions.check(workflows),
        release.trusted_publishing(workflows),
        release.gated_environment(workflows),
        release.provenance(workflows),
        release.source_date_epoch(workflows),
        release.backend_pinned(root),
        release.tag_triggered(workflows),
        zizmor.check(root, options.zizmor_persona),
    ]
    if options.github:
        gh = GitHub(options.api_url, options.token)
        wanted = sorted(
            {
                env
                for _, job in release.publishing_jobs(workflows)
                if (env := _environment_name(job.node)) is not None
            }
        )
        results += [
            online.branch_protection(gh, options.github),
            online.tag_protection(gh, options.github),
            online.environments(gh, options.github, wanted),
            online.signed_releases(gh, options.github),
        ]
    return Report(str(root), results)


def _environment_name(job: Node) -> str | None:
    env = job.get("environment")
    if env is None:
        return None
    return env.text if env.kind == "scalar" else env.str_at("name")
