"""trustyard's own release checks, beyond Scorecard's, for workflows that publish to an index.

A job publishes when it uses ``pypa/gh-action-pypi-publish`` or runs ``twine upload``,
``uv publish``, ``hatch publish``, ``pdm publish``, ``poetry publish`` or ``flit publish`` (the
commands zizmor's ``use-trusted-publishing`` recognises). Each check is 10 or 0, and
inconclusive (``None``) when nothing publishes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.shell import commands
from trustyard.audit.workflows import Job, Step, Workflow

_PUBLISH_ACTION = "pypa/gh-action-pypi-publish"
_TEST_INDEX = re.compile(r"test\.pypi\.org")
_SECRET = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
_BUILD_COMMANDS = re.compile(
    r"python3? -m build|pyproject-build|uv build|hatch build|poetry build|pdm build|flit build"
    r"|\btrustyard build\b"
)
# `trustyard build` sets SOURCE_DATE_EPOCH to the built commit's time itself
# (trustyard.release.build), so it needs no variable from the workflow.
_SETS_OWN_EPOCH = re.compile(r"\btrustyard build\b")


def _publish_command(argv: list[str]) -> bool:
    joined = " ".join(argv)
    return bool(
        re.search(r"\btwine upload\b", joined)
        or re.match(r"(uv|hatch|pdm|poetry|flit) publish\b", joined)
        or re.search(r"\buv run twine upload\b|\buvx twine upload\b", joined)
    )


def _publishes(step: Step) -> bool:
    if (step.uses or "").startswith(_PUBLISH_ACTION):
        return True
    return any(_publish_command(c.argv) for c in commands(step.run or ""))


def publishing_jobs(workflows: list[Workflow]) -> list[tuple[Workflow, Job]]:
    return [(wf, job) for wf in workflows for job in wf.jobs if any(map(_publishes, job.steps))]


def _to_production(job: Job) -> bool:
    for step in job.steps:
        if (step.uses or "").startswith(_PUBLISH_ACTION):
            url = step.with_("repository-url") or step.with_("repository_url")
            if url is None or not _TEST_INDEX.search(url.text or ""):
                return True
        elif _publishes(step) and not _TEST_INDEX.search(step.run or ""):
            return True
    return False


def _inconclusive(name: str) -> CheckResult:
    return CheckResult(
        name, None, "no workflow publishes to an index", Severity.HIGH, source="trustyard"
    )


def _result(name: str, findings: list[Finding], ok: str) -> CheckResult:
    if findings:
        return CheckResult(
            name, 0, f"{len(findings)} problems", Severity.HIGH, findings, "trustyard"
        )
    return CheckResult(name, 10, ok, Severity.HIGH, source="trustyard")


def trusted_publishing(workflows: list[Workflow]) -> CheckResult:
    """No ``password:`` and no token secrets for publishing: OIDC Trusted Publishing instead."""
    name = "Trusted-Publishing"
    jobs = publishing_jobs(workflows)
    if not jobs:
        return _inconclusive(name)
    findings = []
    fix = (
        "register the workflow as a Trusted Publisher on the index, give the job "
        "`id-token: write`, and remove the password/token"
    )
    for wf, job in jobs:
        for step in job.steps:
            password = step.with_("password")
            if (step.uses or "").startswith(_PUBLISH_ACTION) and password is not None:
                findings.append(
                    Finding(
                        name,
                        wf.path,
                        password.line,
                        "a long-lived API token is stored as a secret and can "
                        "be stolen or leaked; Trusted Publishing needs none",
                        fix,
                        Severity.HIGH,
                    )
                )
            env = step.node.get("env")
            for node in [*(env.mapping.values() if env and env.is_mapping else [])]:
                if _SECRET.search(node.text or "") and _publishes(step):
                    findings.append(
                        Finding(
                            name,
                            wf.path,
                            node.line,
                            "the publish step receives a token secret",
                            fix,
                            Severity.HIGH,
                        )
                    )
            run = step.node.get("run")
            if (
                run is not None
                and _publishes(step)
                and (
                    _SECRET.search(run.text or "")
                    or re.search(r"(-p|--password|--token)\b", run.text or "")
                )
            ):
                findings.append(
                    Finding(
                        name,
                        wf.path,
                        run.line,
                        "the publish command passes a password or token",
                        fix,
                        Severity.HIGH,
                    )
                )
    return _result(name, findings, "publishing uses Trusted Publishing (no stored token)")


def gated_environment(workflows: list[Workflow]) -> CheckResult:
    """The job that publishes to production runs in a GitHub environment (reviewers gate it)."""
    name = "Gated-Publish-Environment"
    jobs = [(wf, job) for wf, job in publishing_jobs(workflows) if _to_production(job)]
    if not jobs:
        return _inconclusive(name)
    findings = []
    for wf, job in jobs:
        env = job.node.get("environment")
        env_name = (
            env.text
            if env is not None and env.kind == "scalar"
            else (env.str_at("name") if env is not None else None)
        )
        if not env_name:
            findings.append(
                Finding(
                    name,
                    wf.path,
                    job.node.where,
                    f"job {job.name} publishes to the production index without an environment, "
                    "so nobody approves a release and the Trusted Publisher cannot be bound to one",
                    "add `environment: pypi` to the job and give that environment required "
                    "reviewers (check with `trustyard audit --github`)",
                    Severity.HIGH,
                )
            )
    return _result(name, findings, "production publishing runs in a gated environment")


def provenance(workflows: list[Workflow]) -> CheckResult:
    """Provenance or PEP 740 attestations are produced for the published files."""
    name = "Provenance"
    jobs = publishing_jobs(workflows)
    if not jobs:
        return _inconclusive(name)
    for wf in workflows:
        for job in wf.jobs:
            if "slsa-framework/slsa-github-generator" in (job.node.str_at("uses") or ""):
                return _result(name, [], f"SLSA provenance in {wf.path}")
            for step in job.steps:
                uses = step.uses or ""
                if uses.startswith(("actions/attest-build-provenance", "actions/attest@")):
                    return _result(name, [], f"build provenance attested in {wf.path}")
    findings = []
    for wf, job in jobs:
        for step in job.steps:
            if (step.uses or "").startswith(_PUBLISH_ACTION):
                att = step.with_("attestations")
                if att is None or (att.text or "").lower() != "false":
                    return _result(
                        name, [], f"PEP 740 attestations by the publish action in {wf.path}"
                    )
        findings.append(
            Finding(
                name,
                wf.path,
                job.node.where,
                "the release has no provenance, so nobody can check which workflow built it",
                "use actions/attest-build-provenance and pypa/gh-action-pypi-publish with "
                "`attestations: true`",
                Severity.HIGH,
            )
        )
    return _result(name, findings, "")


def _sets_sde(wf: Workflow, job: Job, step: Step) -> bool:
    for node in (wf.node, job.node, step.node):
        env = node.get("env")
        if env is not None and env.is_mapping and "SOURCE_DATE_EPOCH" in env.mapping:
            return True
    return "SOURCE_DATE_EPOCH" in (step.run or "") or bool(_SETS_OWN_EPOCH.search(step.run or ""))


def source_date_epoch(workflows: list[Workflow]) -> CheckResult:
    """Release builds set ``SOURCE_DATE_EPOCH`` (reproducible-builds.org), e.g. from the tag."""
    name = "Source-Date-Epoch"
    release_files = {wf.path for wf, _ in publishing_jobs(workflows)}
    if not release_files:
        return _inconclusive(name)
    findings, builds = [], 0
    for wf in workflows:
        if wf.path not in release_files:
            continue
        for job in wf.jobs:
            for step in job.steps:
                is_build = bool(_BUILD_COMMANDS.search(step.run or "")) or (
                    step.uses or ""
                ).startswith("pypa/cibuildwheel")
                if not is_build:
                    continue
                builds += 1
                if not _sets_sde(wf, job, step):
                    findings.append(
                        Finding(
                            name,
                            wf.path,
                            step.node.line,
                            "the build stamps the current time into archives, so its bytes "
                            "cannot be reproduced",
                            'set SOURCE_DATE_EPOCH="$(git log -1 --pretty=%ct)" before building',
                            Severity.MEDIUM,
                        )
                    )
    if builds == 0:
        return CheckResult(
            name,
            None,
            "no build step found in the publishing workflows",
            Severity.MEDIUM,
            source="trustyard",
        )
    return _result(name, findings, "every release build sets SOURCE_DATE_EPOCH")


def backend_pinned(root: Path) -> CheckResult:
    """``[build-system] requires`` pins the backend exactly (``==``), or the lock cannot."""
    name = "Build-Backend-Pinned"
    path = root / "pyproject.toml"
    if not path.is_file():
        return CheckResult(name, None, "no pyproject.toml", Severity.MEDIUM, source="trustyard")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return CheckResult(
            name,
            0,
            f"pyproject.toml is not valid TOML: {exc}",
            Severity.MEDIUM,
            [
                Finding(
                    name,
                    "pyproject.toml",
                    0,
                    f"not valid TOML: {exc}",
                    "fix the syntax",
                    Severity.MEDIUM,
                )
            ],
            "trustyard",
        )
    requires = data.get("build-system", {}).get("requires")
    line = next(
        (n for n, raw in enumerate(text.splitlines(), 1) if raw.strip().startswith("requires")), 0
    )
    if not isinstance(requires, list) or not requires:
        return _result(
            name,
            [
                Finding(
                    name,
                    "pyproject.toml",
                    line,
                    "no [build-system] requires: pip falls back to whatever setuptools is newest",
                    'declare requires = ["<backend>==<version>"]',
                    Severity.MEDIUM,
                )
            ],
            "",
        )
    loose = [r for r in requires if not re.search(r"===?\s*[\w.]+\s*(;.*)?$", str(r))]
    findings = [
        Finding(
            name,
            "pyproject.toml",
            line,
            f"build requirement {r!r} is not pinned: each build may use a different backend, so "
            "release bytes change without a source change",
            f"pin it exactly, e.g. {str(r).split('>')[0].split('<')[0].strip()}==<version>, and "
            "build with --no-isolation from a hash-pinned lock",
            Severity.MEDIUM,
        )
        for r in loose
    ]
    return _result(name, findings, "build backend pinned exactly: " + ", ".join(map(str, requires)))


_PR_TRIGGERS = {"pull_request", "pull_request_target", "workflow_run", "issue_comment"}


def tag_triggered(workflows: list[Workflow]) -> CheckResult:
    """Publishing runs from a tag (or a release / manual dispatch), never from pull requests."""
    name = "Tag-Triggered-Publish"
    jobs = publishing_jobs(workflows)
    if not jobs:
        return _inconclusive(name)
    findings = []
    for wf in sorted({wf.path: wf for wf, _ in jobs}.values(), key=lambda w: w.path):
        triggers = wf.triggers
        on = wf.node.get("on")
        on_line = on.where if on is not None else 1
        for trig in sorted(_PR_TRIGGERS & set(triggers)):
            findings.append(
                Finding(
                    name,
                    wf.path,
                    on_line,
                    f"the publishing workflow runs on `{trig}`, which outsiders can cause",
                    "publish from a workflow triggered only by `push: tags: [v*]` or `release`",
                    Severity.HIGH,
                )
            )
        if "push" in triggers:
            push = triggers["push"]
            tags = push.get("tags") if push is not None and push.is_mapping else None
            branches = push.get("branches") if push is not None and push.is_mapping else None
            if tags is None or branches is not None:
                findings.append(
                    Finding(
                        name,
                        wf.path,
                        on_line,
                        "the publishing workflow runs on branch pushes, not only on release tags",
                        'restrict `push:` to `tags: ["v*"]`',
                        Severity.HIGH,
                    )
                )
    return _result(name, findings, "publishing runs only from tags")
