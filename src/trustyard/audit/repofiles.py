"""Scorecard's simple file-presence checks: Dependency-Update-Tool, Security-Policy, License.

- Dependency-Update-Tool (``checks/raw/dependency_update_tool.go``): 10 with a Dependabot,
  Renovate or Scala Steward configuration, else 0.
- Security-Policy (``checks/evaluation/security_policy.go``): ``SECURITY.md|.markdown|.adoc|.rst``
  at the root, in ``.github/`` or ``docs/``: links (email or URL) 6, free text 3, two or more
  mentions of vulnerability/disclosure/day counts 1.
- License (``checks/evaluation/license.go``): a license file 6, at top level 3, an FSF/OSI
  license recognised 1.
"""

from __future__ import annotations

import re
from pathlib import Path

from trustyard.audit.findings import CheckResult, Finding, Severity

_UPDATERS = (
    ".github/dependabot.yml",
    ".github/dependabot.yaml",
    "renovate.json",
    "renovate.json5",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
    ".renovaterc",
    ".renovaterc.json",
    ".renovaterc.json5",
    ".scala-steward.conf",
    ".github/.scala-steward.conf",
)


def dependency_update_tool(root: Path) -> CheckResult:
    name = "Dependency-Update-Tool"
    for candidate in _UPDATERS:
        if (root / candidate).is_file():
            return CheckResult(name, 10, f"update tool configured: {candidate}", Severity.HIGH)
    return CheckResult(
        name,
        0,
        "no update tool configured",
        Severity.HIGH,
        [
            Finding(
                name,
                ".github/dependabot.yml",
                0,
                "without an update tool, pinned dependencies (actions, locks) go stale and keep "
                "known vulnerabilities",
                "add .github/dependabot.yml for github-actions and pip, with a cooldown",
                Severity.HIGH,
            )
        ],
    )


_POLICY_NAMES = ("security.md", "security.markdown", "security.adoc", "security.rst")
_LINK = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+")
_DISCLOSURE = re.compile(r"vuln|disclos|\b\d+\s+days?\b", re.IGNORECASE)


def _find_policy(root: Path) -> Path | None:
    for folder in (root, root / ".github", root / "docs"):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and entry.name.lower() in _POLICY_NAMES:
                return entry
    return None


def security_policy(root: Path) -> CheckResult:
    name = "Security-Policy"
    policy = _find_policy(root)
    if policy is None:
        return CheckResult(
            name,
            0,
            "security policy file not detected",
            Severity.MEDIUM,
            [
                Finding(
                    name,
                    "SECURITY.md",
                    0,
                    "reporters have no private way to tell you about a vulnerability",
                    "add SECURITY.md with a private reporting link (GitHub advisories or email) "
                    "and your disclosure timeline",
                    Severity.MEDIUM,
                )
            ],
        )
    text = policy.read_text(encoding="utf-8", errors="replace")
    rel = policy.relative_to(root).as_posix()
    score, missing = 0, []
    if _LINK.search(text):
        score += 6
    else:
        missing.append("a link or email address to report to")
    if len(_LINK.sub("", text).strip()) > 1:
        score += 3
    else:
        missing.append("text explaining the process")
    if len(_DISCLOSURE.findall(text)) >= 2:
        score += 1
    else:
        missing.append("the vulnerability disclosure process and its timeline (in days)")
    findings = [
        Finding(name, rel, 1, f"the policy lacks {m}", f"add {m}", Severity.LOW) for m in missing
    ]
    return CheckResult(name, score, f"security policy {rel}", Severity.MEDIUM, findings)


_LICENSE = re.compile(
    r"^(licen[cs]e|copying|copyright|unlicense|mit-licen[cs]e|licen[cs]e-\w+)"
    r"(\.(md|txt|rst|markdown|html))?$",
    re.IGNORECASE,
)
_OSI = {
    "MIT": r"Permission is hereby granted, free of charge",
    "Apache-2.0": r"Apache License,?\s+Version 2\.0",
    "BSD": r"Redistribution and use in source and binary forms",
    "GPL": r"GNU (Affero |Lesser )?General Public License",
    "MPL-2.0": r"Mozilla Public License,?\s+(v\. |Version )2\.0",
    "ISC": r"Permission to use, copy, modify, and/or distribute this software",
    "Unlicense": r"This is free and unencumbered software released into the public domain",
}


def license_check(root: Path) -> CheckResult:
    name = "License"
    top = [p for p in sorted(root.iterdir()) if p.is_file() and _LICENSE.match(p.name)]
    nested = sorted((root / "LICENSES").glob("*")) if (root / "LICENSES").is_dir() else []
    found = top or nested
    if not found:
        return CheckResult(
            name,
            0,
            "license file not detected",
            Severity.LOW,
            [
                Finding(
                    name,
                    "LICENSE",
                    0,
                    "without a license nobody may legally use or redistribute the code",
                    "add a LICENSE file with an OSI-approved license",
                    Severity.LOW,
                )
            ],
        )
    score = 6 + (3 if top else 0)
    text = found[0].read_text(encoding="utf-8", errors="replace")
    spdx = next((k for k, pattern in _OSI.items() if re.search(pattern, text)), None)
    findings = []
    if spdx:
        score += 1
    else:
        findings.append(
            Finding(
                name,
                found[0].relative_to(root).as_posix(),
                1,
                "the license is not recognised as FSF/OSI-approved",
                "use the unmodified text of an OSI-approved license",
                Severity.LOW,
            )
        )
    if not top:
        findings.append(
            Finding(
                name,
                found[0].relative_to(root).as_posix(),
                0,
                "the license is not at the top level",
                "move it to ./LICENSE",
                Severity.LOW,
            )
        )
    reason = f"license file {found[0].relative_to(root).as_posix()}" + (
        f" ({spdx})" if spdx else ""
    )
    return CheckResult(name, score, reason, Severity.LOW, findings)
