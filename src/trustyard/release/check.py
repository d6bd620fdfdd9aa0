"""``build --check``: two builds of one commit, side by side, under varied conditions.
The variations are reprotest's (build path, umask, time zone, locale, clock), without faketime.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from trustyard.release.build import BuildOptions, BuildResult, Conditions, Progress, build_release
from trustyard.release.compare import ArchiveDiff, compare_archives

__all__ = ["VARIANTS", "CheckResult", "check_reproducible"]

VARIANTS = (
    Conditions(label="first", umask=0o022, tz="UTC", lang="C.UTF-8"),
    Conditions(
        label="second-in-another-directory",
        umask=0o002,
        tz="Pacific/Chatham",
        lang="en_US.UTF-8",
        start_delay=1.5,
    ),
)
"""The two builds: the second runs in a longer path, later, with another umask, TZ and locale."""


@dataclass(frozen=True)
class CheckResult:
    """Both builds and every difference between their artifacts."""

    first: BuildResult
    second: BuildResult
    differences: tuple[ArchiveDiff, ...]
    missing: tuple[str, ...]

    @property
    def reproducible(self) -> bool:
        return not self.differences and not self.missing


def check_reproducible(
    options: BuildOptions, out_dir: Path, work: Path, progress: Progress | None = None
) -> CheckResult:
    """Build twice in parallel; the first build's artifacts land in ``out_dir``.

    Both builds share one :class:`EnvCache`, so the build requirements are resolved once and
    both run in the same pinned (read-only) venv; only the conditions differ.
    """
    first, second = VARIANTS
    if options.envs is None:
        options = replace(options, envs=options.env_cache())

    def run(conditions: Conditions, out: Path) -> BuildResult:
        def say(step: str) -> None:
            if progress is not None:
                progress(f"[{conditions.label}] {step}")

        return build_release(options, out, work / conditions.label, conditions, say)

    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(run, first, out_dir)
        b = pool.submit(run, second, work / second.label / "out")
        result_a, result_b = a.result(), b.result()
    names_a = {p.name: p for p in result_a.artifacts}
    names_b = {p.name: p for p in result_b.artifacts}
    missing = tuple(sorted(set(names_a) ^ set(names_b)))
    differences = []
    for name in sorted(set(names_a) & set(names_b)):
        if names_a[name].read_bytes() != names_b[name].read_bytes():
            differences.append(compare_archives(names_a[name], names_b[name]))
    return CheckResult(result_a, result_b, tuple(differences), missing)


def __dir__() -> list[str]:
    return __all__
