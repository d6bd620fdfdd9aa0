"""Scorecard's Binary-Artifacts (``checks/raw/binary_artifact.go``): 10 minus one per binary.

Binaries are found by extension (``.pyc .pyo .whl .so .jar .exe .class .wasm`` …) and by magic
bytes (ELF, PE, Mach-O, Java class, WebAssembly). In a git checkout only tracked files count,
as Scorecard reads the repository, not the working tree.
"""

from __future__ import annotations

from pathlib import Path

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.tree import NOTHING, Exclusions, tracked_files

NAME = "Binary-Artifacts"
_EXTENSIONS = {
    ".crx", ".deb", ".dex", ".dey", ".elf", ".o", ".a", ".so", ".macho", ".iso", ".class",
    ".jar", ".bundle", ".dylib", ".lib", ".msi", ".dll", ".drv", ".efi", ".exe", ".ocx", ".pyc",
    ".pyo", ".par", ".rpm", ".wasm", ".whl", ".pyd",
}  # fmt: skip
_MAGIC = (
    b"\x7fELF",
    b"MZ",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\x00asm",
)


def _is_binary(path: Path) -> bool:
    if path.suffix.lower() in _EXTENSIONS:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    if head.startswith(b"MZ"):
        return path.stat().st_size > 64  # a PE header follows; two letters alone are text
    return head.startswith(_MAGIC)


def check(root: Path, exclude: Exclusions = NOTHING) -> CheckResult:
    findings = [
        Finding(
            NAME,
            path.relative_to(root).as_posix(),
            0,
            "a checked-in binary cannot be reviewed and may not match any source",
            "remove it and build it from source in CI",
            Severity.HIGH,
        )
        for path in tracked_files(root, exclude)
        if _is_binary(path)
    ]
    score = max(0, 10 - len(findings))
    reason = f"{len(findings)} binaries found" if findings else "no binaries found in the repo"
    return CheckResult(NAME, score, reason, Severity.HIGH, findings)
