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
from trustyard.audit.config import load_exclusions
from trustyard.audit.findings import CheckResult, ExcludedPath, Report
from trustyard.audit.github import GitHub
from trustyard.audit.tree import NOTHING, Exclusions, all_tracked_files
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
    use_exclusions: bool = True  # honour [tool.trustyard.audit] exclude (trustyard.audit.config)


def run_audit(root: Path, options: AuditOptions) -> Report:
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    workflows = load_workflows(root)
    exclude = load_exclusions(root) if options.use_exclusions else NOTHING
    results: list[CheckResult] = [
        binaries.check(root, exclude),
        dangerous.check(workflows),
        repofiles.dependency_update_tool(root),
        tooling.fuzzing(root, exclude),
        repofiles.license_check(root),
        tooling.packaging(workflows),
        pinning.check(root, workflows, exclude),
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
    return Report(str(root), results, _excluded(root, exclude))


def _excluded(root: Path, exclude: Exclusions) -> list[ExcludedPath]:
    """Each excluded path with the number of files it takes out, for the report."""
    if not exclude.paths:
        return []
    names = [p.relative_to(root).as_posix() for p in all_tracked_files(root)]
    return [
        ExcludedPath(path, sum(Exclusions((path,)).covers(n) for n in names))
        for path in exclude.paths
    ]


def _environment_name(job: Node) -> str | None:
    env = job.get("environment")
    if env is None:
        return None
    return env.text if env.kind == "scalar" else env.str_at("name")
