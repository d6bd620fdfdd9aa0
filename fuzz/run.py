"""Run the atheris fuzz targets for a fixed time and report executions, coverage and findings.
libFuzzer's flags and output format: https://llvm.org/docs/LibFuzzer.html (atheris wraps it).

    uv run python fuzz/run.py archives|multipart|canary|all --seconds N

Each target runs in its own process (one at a time: one core). Its corpus grows in
``fuzz/corpus/<target>/`` (seeded from real small dists every run); inputs that make a target
fail are saved as ``fuzz/crashes/<target>-crash-<sha1>`` (or ``timeout-``/``oom-``). One JSON
line per target is printed on stdout, prefixed ``FUZZ-RESULT``; the exit status is 0 with no
finding, 1 with findings, 2 when a target could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.seeds import write_seeds  # noqa: E402 - needs the repository root on sys.path

TARGETS = ("archives", "multipart")
"""What ``all`` runs; ``canary`` (a planted bug, for testing the runner) is run only by name."""
MAX_LEN = 32 * 1024
UNIT_TIMEOUT = 25  # seconds one input may take before it counts as a finding (a hang)
_ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")
_EXECUTED_RE = re.compile(r"stat::number_of_executed_units: (\d+)")
_PEAK_RSS_RE = re.compile(r"stat::peak_rss_mb: +(\d+)")
_PROGRESS_RE = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")


@dataclass
class Result:
    """What one target's run did, parsed from libFuzzer's output."""

    target: str
    seconds: float
    executions: int = 0
    coverage: int = 0  # libFuzzer's "cov": instrumented edges reached
    features: int = 0  # libFuzzer's "ft": edges plus their hit-count buckets and comparisons
    corpus: int = 0
    peak_rss_mb: int = 0
    seeds: int = 0
    exit_code: int = 0
    findings: list[str] = field(default_factory=list)

    def read_line(self, line: str) -> None:
        """Take what a line of libFuzzer's output says about the run."""
        if match := _PROGRESS_RE.search(line):
            self.coverage, self.features, self.corpus = map(int, match.groups())
        if match := _EXECUTED_RE.search(line):
            self.executions = int(match.group(1))
        if match := _PEAK_RSS_RE.search(line):
            self.peak_rss_mb = int(match.group(1))
        if match := _ARTIFACT_RE.search(line):
            self.findings.append(match.group(1))


def run_target(
    target: str, *, seconds: int, corpus: Path, crashes: Path, quiet: bool = False
) -> Result:
    """Fuzz ``target`` for ``seconds`` in a child process; stop at its first finding."""
    target_corpus = corpus / target
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = write_seeds(target, target_corpus)
    target_corpus.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(FUZZ / f"fuzz_{target}.py"),
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        f"-timeout={UNIT_TIMEOUT}",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={crashes}/{target}-",
        str(target_corpus),
    ]
    started = time.monotonic()
    result = Result(target=target, seconds=0, seeds=seeds)
    # Scratch files (the archive under test, the upload spool) go to memory when possible.
    scratch = tempfile.mkdtemp(prefix=f"trustyard-fuzz-{target}-", dir=_memory_directory())
    env = {**os.environ, "TRUSTYARD_FUZZ_SCRATCH": scratch}
    try:
        with subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as child:
            assert child.stdout is not None  # noqa: S101 - PIPE was asked for
            for line in child.stdout:
                result.read_line(line)
                if not quiet:
                    sys.stderr.write(line)
            result.exit_code = child.wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _memory_directory() -> str | None:
    """``/dev/shm`` where it is writable (the spool fsyncs every file), else the default."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp() inside it
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def main(argv: list[str] | None = None) -> int:
    """Run the targets asked for, print one ``FUZZ-RESULT`` JSON line each, return the status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", choices=[*TARGETS, "canary", "all"])
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--corpus", type=Path, default=FUZZ / "corpus", help="corpus root")
    parser.add_argument("--crashes", type=Path, default=FUZZ / "crashes", help="findings")
    parser.add_argument("--quiet", action="store_true", help="hide libFuzzer's progress lines")
    args = parser.parse_args(argv)
    targets = TARGETS if args.target == "all" else (args.target,)
    status = 0
    for target in targets:
        result = run_target(
            target,
            seconds=args.seconds,
            corpus=args.corpus,
            crashes=args.crashes,
            quiet=args.quiet,
        )
        print("FUZZ-RESULT " + json.dumps(asdict(result), sort_keys=True), flush=True)
        sys.stderr.write(
            f"{target}: {result.executions} executions in {result.seconds} s, "
            f"cov {result.coverage}, ft {result.features}, corpus {result.corpus}, "
            f"findings {len(result.findings)} {' '.join(result.findings)}\n"
        )
        if result.findings:
            status = max(status, 1)
        elif result.exit_code != 0 or result.executions == 0:
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
