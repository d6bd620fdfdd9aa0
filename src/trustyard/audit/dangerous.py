"""Scorecard's Dangerous-Workflow (``checks/raw/dangerous_workflow.go``): any hit gives 0.

(a) ``pull_request_target``/``workflow_run`` with a checkout of the untrusted head
(``ref`` naming ``github.event.pull_request``/``github.event.workflow_run``); (b) script
injection: ``${{ }}`` in ``run:`` naming attacker-controlled contexts (titles, bodies, head refs,
commit messages, author names and emails, labels, ``toJSON(github.event)``).
"""

from __future__ import annotations

import re

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.workflows import Workflow

NAME = "Dangerous-Workflow"
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_UNTRUSTED = re.compile(
    r"github\.head_ref"
    r"|toJSON\(\s*github(\.event)?\s*\)"
    r"|github\.event\.(issue|pull_request|discussion|comment|review|review_comment)"
    r"\.(title|body)"
    r"|github\.event\.pages\.[^ ]*\.page_name"
    r"|github\.event\.(head_commit|workflow_run\.head_commit)\.(message|author\.(name|email))"
    r"|github\.event\.commits\.[^ ]*\.(message|author\.(name|email))"
    r"|github\.event\.pull_request\.head\.(ref|label|repo\.default_branch)"
    r"|github\.event\.workflow_run\.(head_branch|display_title)"
    r"|github\.event\.blocked_user"
)


def check(workflows: list[Workflow]) -> CheckResult:
    findings: list[Finding] = []
    for wf in workflows:
        risky_trigger = {"pull_request_target", "workflow_run"} & set(wf.triggers)
        for step in wf.steps:
            uses = step.uses or ""
            ref = step.with_("ref")
            checks_out_head = ref is not None and re.search(
                r"github\.event\.(pull_request|workflow_run)", ref.text or ""
            )
            if (
                ref is not None
                and risky_trigger
                and checks_out_head
                and uses.startswith("actions/checkout")
            ):
                triggers = "/".join(sorted(risky_trigger))
                findings.append(
                    Finding(
                        NAME,
                        wf.path,
                        ref.line,
                        f"{triggers} runs with secrets and a write token, "
                        "and this checks out the untrusted pull request code",
                        "use the `pull_request` trigger, or never run the checked-out head",
                        Severity.CRITICAL,
                    )
                )
            run = step.node.get("run")
            if run is None or not run.text:
                continue
            for match in _EXPR.finditer(run.text):
                if _UNTRUSTED.search(match.group(1)):
                    offset = run.text.count("\n", 0, match.start())
                    line = run.line + offset + (1 if "\n" in run.text else 0)
                    findings.append(
                        Finding(
                            NAME,
                            wf.path,
                            line,
                            f"`{match.group(0)}` is attacker-controlled and expanded into "
                            "the shell script before it runs (script injection)",
                            'pass it through `env:` and use the shell variable ("$VAR")',
                            Severity.CRITICAL,
                        )
                    )
    if findings:
        return CheckResult(
            NAME, 0, f"{len(findings)} dangerous patterns", Severity.CRITICAL, findings
        )
    return CheckResult(NAME, 10, "no dangerous workflow patterns", Severity.CRITICAL)
