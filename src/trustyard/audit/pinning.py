"""Scorecard's Pinned-Dependencies, from files (``checks/raw/pinned_dependencies.go``).

Actions are pinned at a 40-hex SHA, a local ``./`` path or ``docker://…@sha256:``; reusable
workflows at job level count too. pip installs follow Scorecard's pip rule (see
:mod:`trustyard.audit.shell`). Score: ``10·Σ(pinned·w)/Σ(total·w)`` with w=2 for GitHub-owned
actions, 8 for third-party actions and 10 for every other ecosystem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.shell import (
    commands,
    is_download_then_run,
    pip_install_args,
    pip_install_is_pinned,
)
from trustyard.audit.tree import NOTHING, Exclusions, tracked_files
from trustyard.audit.workflows import Workflow

NAME = "Pinned-Dependencies"


@dataclass(frozen=True)
class Dependency:
    """One dependency Scorecard counts, with its weight and where it is declared."""

    pinned: bool
    weight: int
    path: str
    line: int
    why: str
    fix: str


Recorder = Callable[[Dependency], None]
_SHA = re.compile(r"@[0-9a-f]{40}$")
_DOCKER = re.compile(r"^docker://[^@]+@sha256:[0-9a-f]{64}$")


def _action_pinned(uses: str) -> bool:
    ref = uses.split("#", 1)[0].strip()
    return ref.startswith("./") or bool(_SHA.search(ref)) or bool(_DOCKER.match(ref))


def _action_weight(uses: str) -> int:
    return 2 if uses.startswith(("actions/", "github/")) else 8


def check(root: Path, workflows: list[Workflow], exclude: Exclusions = NOTHING) -> CheckResult:
    pinned = total = 0.0
    findings: list[Finding] = []

    def record(dep: Dependency) -> None:
        nonlocal pinned, total
        total += dep.weight
        if dep.pinned:
            pinned += dep.weight
        else:
            findings.append(Finding(NAME, dep.path, dep.line, dep.why, dep.fix, Severity.MEDIUM))

    for wf in workflows:
        for job in wf.jobs:
            job_uses = job.node.str_at("uses")
            if job_uses:
                line = job.node.mapping["uses"].line
                record(
                    Dependency(
                        _action_pinned(job_uses),
                        _action_weight(job_uses),
                        wf.path,
                        line,
                        f"reusable workflow {job_uses} is not pinned by commit SHA",
                        "pin it as owner/repo/.github/workflows/x.yml@<40-hex SHA>",
                    )
                )
            for step in job.steps:
                uses = step.uses
                if uses:
                    record(
                        Dependency(
                            _action_pinned(uses),
                            _action_weight(uses),
                            wf.path,
                            step.node.mapping["uses"].line,
                            f"action {uses} is not pinned by commit SHA: "
                            "a moved tag changes the code",
                            "pin it as owner/repo@<40-hex SHA> # vX.Y.Z "
                            "(trustyard workflow generate)",
                        )
                    )
                if step.run:
                    run_node = step.node.mapping["run"]
                    first = run_node.line + (1 if "\n" in (step.run or "") else 0)
                    _script(step.run, wf.path, first, record)
    files = tracked_files(root, exclude)
    for script in (f for f in files if f.suffix == ".sh"):
        if any(p.startswith(".") and p != ".github" for p in script.relative_to(root).parts[:-1]):
            continue
        text = script.read_text(encoding="utf-8", errors="replace")
        _script(text, script.relative_to(root).as_posix(), 1, record)
    for dockerfile in (f for f in files if f.name.startswith("Dockerfile")):
        rel = dockerfile.relative_to(root).as_posix()
        for number, raw in enumerate(dockerfile.read_text(errors="replace").splitlines(), 1):
            parts = raw.split()
            if parts and parts[0].upper() == "FROM" and len(parts) > 1:
                image = parts[1]
                record(
                    Dependency(
                        "@sha256:" in image or image == "scratch",
                        10,
                        rel,
                        number,
                        f"base image {image} is not pinned by digest",
                        "pin it as image@sha256:<digest>",
                    )
                )
    if total == 0:
        return CheckResult(NAME, 10, "no dependencies found", Severity.MEDIUM, findings)
    score = math.floor(10 * pinned / total)
    return CheckResult(
        NAME,
        score,
        f"{len(findings)} unpinned dependencies; weighted pinned share {pinned:g}/{total:g}",
        Severity.MEDIUM,
        findings,
    )


def _script(text: str, path: str, first_line: int, rec: Recorder) -> None:
    for command in commands(text):
        line = first_line + command.line - 1
        args = pip_install_args(command.argv)
        if args is not None:
            rec(
                Dependency(
                    pip_install_is_pinned(args),
                    10,
                    path,
                    line,
                    f"`{' '.join(command.argv)}` installs without --require-hashes, so any "
                    "version or file may be installed",
                    "install from a hash-pinned lock with `python -m pip install --require-hashes "
                    "-r requirements/x.txt` (uv pip compile --generate-hashes)",
                )
            )
        elif command.argv[:2] == ["npm", "install"] or command.argv[:2] == ["npm", "i"]:
            rec(
                Dependency(
                    False, 10, path, line, "`npm install` resolves versions anew", "use `npm ci`"
                )
            )
        elif command.argv[:2] == ["go", "install"] and not any(
            "@" in a and not a.endswith("@latest") for a in command.argv[2:]
        ):
            rec(Dependency(False, 10, path, line, "`go install` without a version", "add @vX.Y.Z"))
    for number, raw in enumerate(text.splitlines(), 1):
        if is_download_then_run(raw):
            rec(
                Dependency(
                    False,
                    10,
                    path,
                    first_line + number - 1,
                    "a downloaded script is run without checking its hash",
                    "download to a file, verify its sha256, then run it",
                )
            )
