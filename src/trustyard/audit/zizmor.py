"""Run zizmor (https://docs.zizmor.sh) on a checkout and turn its JSON findings into ours.

zizmor is not reimplemented: its binary (the ``zizmor`` PyPI package) runs with ``--offline
--format json``; exit 0 means no findings, 10-14 mean findings of increasing severity
(``docs/usage.md``, "Exit codes"); anything else is a failure of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.errors import Error

NAME = "zizmor"
PERSONAS = ("regular", "pedantic", "auditor")
_SEVERITY = {
    "informational": Severity.INFO,
    "unknown": Severity.INFO,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
}


class ZizmorFailed(Error):
    """zizmor could not be run, or its output was not what its documentation describes."""


def zizmor_binary() -> str:
    """zizmor next to this interpreter (the installed dependency), else on PATH."""
    beside = Path(sys.executable).parent / ("zizmor.exe" if os.name == "nt" else "zizmor")
    if beside.is_file():
        return str(beside)
    found = shutil.which("zizmor")
    if found is None:
        raise ZizmorFailed("zizmor is not installed (it is a dependency of trustyard)")
    return found


def run_zizmor(root: Path, persona: str = "regular", fmt: str = "json") -> str:
    """zizmor's raw output for the checkout at ``root``."""
    if persona not in PERSONAS:
        raise ZizmorFailed(f"unknown zizmor persona {persona!r}; choose one of {PERSONAS}")
    argv = [
        zizmor_binary(),
        "--offline",
        "--no-progress",
        f"--persona={persona}",
        f"--format={fmt}",
        "--collect=workflows",
        "--collect=dependabot",
        str(root),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GH_", "GITHUB_", "ZIZMOR_"))}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, env=env, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ZizmorFailed(f"cannot run {argv[0]}: {exc}") from exc
    if done.returncode not in (0, *range(10, 15)):
        raise ZizmorFailed(f"zizmor failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def parse_findings(output: str, root: Path) -> list[Finding]:
    """zizmor's JSON (a list of findings with ``ident``, ``determinations``, ``locations``)."""
    try:
        data: Any = json.loads(output or "[]")
    except json.JSONDecodeError as exc:
        raise ZizmorFailed(f"zizmor's JSON output is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ZizmorFailed("zizmor's JSON output is not a list of findings")
    findings = []
    for item in data:
        try:
            if item.get("ignored"):
                continue
            severity = _SEVERITY[str(item["determinations"]["severity"]).lower()]
            primary = next(
                (loc for loc in item["locations"] if loc["symbolic"]["kind"] == "Primary"),
                item["locations"][0],
            )
            path = primary["symbolic"]["key"]["Local"]["verbatim_path"]
            line = int(primary["concrete"]["location"]["start_point"]["row"]) + 1
            why = f"{item['ident']}: {item['desc']} ({primary['symbolic']['annotation']})"
            fix = item.get("url", "https://docs.zizmor.sh/audits/")
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ZizmorFailed(f"unexpected zizmor finding shape: {exc!r}") from exc
        rel = Path(path)
        if rel.is_absolute():
            rel = rel.relative_to(root) if rel.is_relative_to(root) else rel
        text = rel.as_posix()
        root_text = root.as_posix().rstrip("/") + "/"
        text = text.removeprefix(root_text).removeprefix("./")
        findings.append(Finding(NAME, text, line, why, f"see {fix}", severity))
    return findings


def _has_inputs(root: Path) -> bool:
    """zizmor exits 3 ("no inputs collected") on a tree without workflows or Dependabot files."""
    github = root / ".github"
    patterns = ("workflows/*.yml", "workflows/*.yaml", "dependabot.yml", "dependabot.yaml")
    return any(any(github.glob(p)) for p in patterns)


def check(root: Path, persona: str = "regular") -> CheckResult:
    if not _has_inputs(root):
        return CheckResult(
            NAME, 10, "no workflows for zizmor to audit", Severity.HIGH, source="zizmor"
        )
    findings = parse_findings(run_zizmor(root, persona), root)
    score = max(0, 10 - len(findings))
    reason = (
        f"{len(findings)} zizmor findings ({persona} persona)"
        if findings
        else (f"zizmor: no findings ({persona} persona)")
    )
    return CheckResult(NAME, score, reason, Severity.HIGH, findings, "zizmor")
