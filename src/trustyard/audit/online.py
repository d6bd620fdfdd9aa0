"""Checks that need GitHub's API (``--github OWNER/REPO``), scored like Scorecard where it has one.

- Branch-Protection (``checks/evaluation/branch_protection.go``): tiers 3/6/8/9/10, a tier
  counting only when the previous one is complete. Classic protection and branch rulesets
  (``/rules/branches/{branch}``) are merged, as Scorecard does.
- Tag-Protection (ours): a tag ruleset that forbids deleting and moving release tags; without
  it a re-pointed tag re-runs the release from other code.
- Environment-Protection (ours): the environments the publishing jobs use exist, have required
  reviewers and a deployment branch/tag policy.
- Signed-Releases (``probes/releasesAreSigned``, ``releasesHaveProvenance``): the last 5
  releases, 8 per release with a signature asset, 10 with ``*.intoto.jsonl``, averaged.
"""

from __future__ import annotations

import math
from typing import Any

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.github import GitHub

_SIGNATURES = (".asc", ".minisig", ".sig", ".sign", ".sigstore", ".sigstore.json")
_PROVENANCE = ".intoto.jsonl"


def _rules(rules: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rules if r.get("type") == kind]


def branch_protection(gh: GitHub, repo: str) -> CheckResult:
    name = "Branch-Protection"
    branch = str(gh.get(f"/repos/{repo}")["default_branch"])
    classic = gh.get(f"/repos/{repo}/branches/{branch}/protection", missing_ok=True) or {}
    rules = gh.get(f"/repos/{repo}/rules/branches/{branch}") or []
    where = f"github:{repo}@{branch}"

    def enabled(key: str) -> bool:
        value = classic.get(key)
        return bool(value.get("enabled")) if isinstance(value, dict) else False

    no_force = (bool(classic) and not enabled("allow_force_pushes")) or bool(
        _rules(rules, "non_fast_forward")
    )
    no_delete = (bool(classic) and not enabled("allow_deletions")) or bool(
        _rules(rules, "deletion")
    )
    reviews = classic.get("required_pull_request_reviews") or {}
    pr_rules = [r.get("parameters", {}) for r in _rules(rules, "pull_request")]
    reviewers = max(
        [int(reviews.get("required_approving_review_count", 0) or 0)]
        + [int(p.get("required_approving_review_count", 0)) for p in pr_rules]
    )
    codeowners = bool(reviews.get("require_code_owner_reviews")) or any(
        p.get("require_code_owner_review") for p in pr_rules
    )
    dismiss = bool(reviews.get("dismiss_stale_reviews")) or any(
        p.get("dismiss_stale_reviews_on_push") for p in pr_rules
    )
    checks = classic.get("required_status_checks") or {}
    contexts = list(checks.get("contexts") or []) + [
        c
        for r in _rules(rules, "required_status_checks")
        for c in r.get("parameters", {}).get("required_status_checks", [])
    ]
    admins = enabled("enforce_admins")

    tiers = [
        (3, no_force and no_delete, "forbid force pushes and branch deletion"),
        (6, reviewers >= 1, "require at least 1 approving review"),
        (8, bool(contexts), "require at least 1 status check to pass"),
        (9, reviewers >= 2 and codeowners, "require 2 reviews and code-owner review"),
        (10, dismiss and admins, "dismiss stale reviews and include administrators"),
    ]
    score, findings, broken = 0, [], False
    for value, ok, fix in tiers:
        if ok and not broken:
            score = value
            continue
        broken = True
        if not ok:
            findings.append(
                Finding(
                    name,
                    where,
                    0,
                    f"branch {branch} does not {fix}; tier {value}/10 not met",
                    f"{fix} (Settings > Rules > Rulesets)",
                    Severity.HIGH if value <= 6 else Severity.MEDIUM,
                )
            )
    return CheckResult(
        name, score, f"branch {branch} protection tier {score}/10", Severity.HIGH, findings
    )


def tag_protection(gh: GitHub, repo: str) -> CheckResult:
    name = "Tag-Protection"
    protected: list[str] = []
    for summary in gh.get(f"/repos/{repo}/rulesets?targets=tag&includes_parents=true") or []:
        ruleset = gh.get(f"/repos/{repo}/rulesets/{summary['id']}")
        if ruleset.get("target") != "tag" or ruleset.get("enforcement") != "active":
            continue
        kinds = {r.get("type") for r in ruleset.get("rules", [])}
        if {"deletion", "non_fast_forward"} <= kinds or {"deletion", "update"} <= kinds:
            include = ruleset.get("conditions", {}).get("ref_name", {}).get("include", [])
            protected += include
    if protected:
        return CheckResult(
            name,
            10,
            "release tags protected: " + ", ".join(protected),
            Severity.HIGH,
            source="trustyard",
        )
    return CheckResult(
        name,
        0,
        "no active tag ruleset forbids deleting or moving tags",
        Severity.HIGH,
        [
            Finding(
                name,
                f"github:{repo}",
                0,
                "a release tag can be deleted or moved, so the release workflow can "
                "be re-run on code nobody reviewed",
                "add an active tag ruleset for refs/tags/v* with 'Restrict deletions' "
                "and 'Block force pushes' (and restrict updates)",
                Severity.HIGH,
            )
        ],
        "trustyard",
    )


def environments(gh: GitHub, repo: str, wanted: list[str]) -> CheckResult:
    name = "Environment-Protection"
    if not wanted:
        return CheckResult(
            name, None, "no publishing job names an environment", Severity.HIGH, source="trustyard"
        )
    listed = gh.get(f"/repos/{repo}/environments") or {}
    by_name = {e["name"]: e for e in listed.get("environments", [])}
    findings = []
    for env_name in wanted:
        env = by_name.get(env_name)
        where = f"github:{repo}/environments/{env_name}"
        if env is None:
            findings.append(
                Finding(
                    name,
                    where,
                    0,
                    f"environment {env_name} does not exist, so GitHub creates "
                    "it unprotected on first use",
                    f"create {env_name} with required reviewers",
                    Severity.HIGH,
                )
            )
            continue
        rules = env.get("protection_rules", [])
        reviewers = [r for r in _rules(rules, "required_reviewers") if r.get("reviewers")]
        if not reviewers:
            findings.append(
                Finding(
                    name,
                    where,
                    0,
                    f"environment {env_name} has no required reviewers: any "
                    "push of a tag publishes without a person approving",
                    "add required reviewers (and prevent self-review)",
                    Severity.HIGH,
                )
            )
        policy = env.get("deployment_branch_policy")
        if not policy:
            findings.append(
                Finding(
                    name,
                    where,
                    0,
                    f"environment {env_name} can be deployed from any branch",
                    "restrict deployments to selected tags (v*)",
                    Severity.MEDIUM,
                )
            )
    if findings:
        return CheckResult(
            name, 0, f"{len(findings)} environment problems", Severity.HIGH, findings, "trustyard"
        )
    return CheckResult(
        name,
        10,
        "publishing environments have reviewers and branch policies",
        Severity.HIGH,
        source="trustyard",
    )


def signed_releases(gh: GitHub, repo: str) -> CheckResult:
    name = "Signed-Releases"
    releases = (gh.get(f"/repos/{repo}/releases?per_page=5") or [])[:5]
    if not releases:
        return CheckResult(name, None, "no GitHub releases found", Severity.HIGH)
    total, findings = 0, []
    for release in releases:
        assets = [str(a.get("name", "")) for a in release.get("assets", [])]
        if any(a.endswith(_PROVENANCE) for a in assets):
            total += 10
        elif any(a.endswith(_SIGNATURES) for a in assets):
            total += 8
            findings.append(
                Finding(
                    name,
                    f"github:{repo}/releases/{release.get('tag_name')}",
                    0,
                    "release is signed but carries no provenance (.intoto.jsonl)",
                    "attach SLSA provenance",
                    Severity.LOW,
                )
            )
        else:
            findings.append(
                Finding(
                    name,
                    f"github:{repo}/releases/{release.get('tag_name')}",
                    0,
                    "release has neither signatures nor provenance",
                    "attach *.intoto.jsonl provenance (trustyard's workflow does)",
                    Severity.HIGH,
                )
            )
    score = math.floor(total / len(releases))
    return CheckResult(name, score, f"{len(releases)} releases checked", Severity.HIGH, findings)
