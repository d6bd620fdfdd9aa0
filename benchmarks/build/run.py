"""Rebuild popular pure-Python sdists twice under --check variations with three tools and report
the share of byte-identical outputs and the wall time of each tool.

    cd /work/main && uv run python benchmarks/build/run.py [--limit N] [--jobs J]

Each sdist (downloaded from PyPI at run time, pinned versions below) is unpacked and committed
to a git repository (commit time = the newest member mtime, which is also SOURCE_DATE_EPOCH).
Every tool then builds sdist -> wheel from that tree twice: run A (umask 022, TZ=UTC, C.UTF-8,
short path) and run B (umask 002, TZ=Pacific/Chatham, en_US.UTF-8, longer path, later):

  (a) python -m build            (isolated, pip installer), SOURCE_DATE_EPOCH set
  (b) uv build                   SOURCE_DATE_EPOCH set
  (c) trustyard build            (its own environment pinning and normalisation)

A project counts as byte-identical for a tool when both runs give the same files with the same
bytes. Projects whose sdist does not build with a tool are reported separately.

trustyard's build-env cache (resolutions and ready-made venvs) lives in .work/cache/trustyard
and is emptied at the start of every run unless --keep-env-cache is given, so each distinct
pinned set of build requirements pays for its venv once within the measured time; uv's cache
(.work/cache/uv, shared by uv build and trustyard) stays warm. The machine's load average is
sampled every 5 s and reported with the results, since other work on it skews wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.version import Version

from trustyard.release.simple_client import download, release_files

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
BASELINE_PYTHON = os.environ.get(
    "TRUSTYARD_BASELINE_PYTHON", "/work/wt/baseline/.venv/bin/python"
)  # tool "trustyard-baseline": another checkout of trustyard (today's main), same run

CORPUS = [  # (project, version): popular pure-Python projects, mixed backends
    ("requests", "2.32.3"),  # setuptools
    ("six", "1.17.0"),  # setuptools
    ("python-dateutil", "2.9.0.post0"),  # setuptools + setuptools_scm
    ("pytz", "2025.2"),  # setuptools
    ("certifi", "2025.4.26"),  # setuptools
    ("docutils", "0.21.2"),  # flit_core
    ("idna", "3.10"),  # flit_core
    ("packaging", "25.0"),  # flit_core
    ("click", "8.1.8"),  # flit_core
    ("jinja2", "3.1.6"),  # flit_core
    ("tomli", "2.2.1"),  # flit_core
    ("typing_extensions", "4.13.2"),  # flit_core
    ("pyparsing", "3.2.3"),  # flit_core
    ("itsdangerous", "2.2.0"),  # flit_core
    ("werkzeug", "3.1.3"),  # flit_core
    ("flask", "3.1.1"),  # flit_core
    ("blinker", "1.9.0"),  # flit_core
    ("wheel", "0.45.1"),  # flit_core
    ("urllib3", "2.4.0"),  # hatchling + hatch-vcs
    ("attrs", "25.3.0"),  # hatchling + hatch-vcs
    ("platformdirs", "4.3.8"),  # hatchling + hatch-vcs
    ("filelock", "3.18.0"),  # hatchling + hatch-vcs
    ("pygments", "2.19.1"),  # hatchling
    ("iniconfig", "2.1.0"),  # hatchling + hatch-vcs
    ("colorama", "0.4.6"),  # hatchling
    ("shellingham", "1.5.4"),  # setuptools
    ("sniffio", "1.3.1"),  # setuptools + setuptools_scm
    ("h11", "0.16.0"),  # setuptools
    ("pluggy", "1.6.0"),  # setuptools + setuptools_scm
    ("zipp", "3.21.0"),  # setuptools + setuptools_scm
    ("tabulate", "0.9.0"),  # setuptools + setuptools_scm
    ("rich", "14.0.0"),  # poetry-core
    ("tomlkit", "0.13.2"),  # poetry-core
    ("pathspec", "0.12.1"),  # flit_core
    ("pdm-backend", "2.4.4"),  # pdm-backend (self-hosting)
    ("distro", "1.9.0"),  # setuptools
]

VARIANTS = {
    "A": {"umask": 0o022, "TZ": "UTC", "LANG": "C.UTF-8", "path": "a"},
    "B": {
        "umask": 0o002,
        "TZ": "Pacific/Chatham",
        "LANG": "en_US.UTF-8",
        "path": "b/a-much-longer-build-path",
    },
}


def base_env(cache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(cache / "uv"),
        PIP_CACHE_DIR=str(cache / "pip"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CONFIG_FILE=os.devnull,
    )
    return env


def fetch_sdist(name: str, version: str, dest: Path) -> Path:
    """The sdist from PyPI's simple API (PEP 691), its sha256 checked by trustyard's client."""
    files = release_files("https://pypi.org/simple/", name, Version(version))
    sdist = next(f for f in files if f.filename.endswith(".tar.gz"))
    target = dest / sdist.filename
    if not target.exists():
        download(sdist, dest)
    return target


def prepare_tree(sdist: Path, dest: Path, version: str) -> tuple[Path, int]:
    """Unpack, commit to git with the newest member time and tag the commit with the version;
    return (tree, SOURCE_DATE_EPOCH)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        epoch = int(max(m.mtime for m in archive.getmembers()))
        archive.extractall(dest, filter="data")
    tree = next(dest.iterdir())
    date = f"@{epoch} +0000"
    genv = {
        **os.environ,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.org",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.org",
    }
    for args in (
        ["init", "-q"],
        ["add", "-A", "-f"],
        ["commit", "-qm", "sdist"],
        ["tag", version],  # git-versioned projects build only at a version tag
    ):
        subprocess.run(["git", "-C", str(tree), *args], check=True, env=genv, capture_output=True)
    return tree, epoch


def run_tool(
    tool: str, tree: Path, out: Path, variant: str, epoch: int, cache: Path
) -> tuple[bool, float, str]:
    spec = VARIANTS[variant]
    env = {
        **base_env(cache),
        "TZ": spec["TZ"],
        "LANG": spec["LANG"],
        "LC_ALL": spec["LANG"],
        "SOURCE_DATE_EPOCH": str(epoch),
    }
    # each variant builds from its own copy of the tree, at its own path
    copy = out.parent / f"src-{variant}" / spec["path"]
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(tree, copy, symlinks=True)
    out.mkdir(parents=True, exist_ok=True)
    if tool == "python-m-build":
        cmd = [sys.executable, "-m", "build", "--outdir", str(out), str(copy)]
    elif tool == "uv-build":
        cmd = [
            shutil.which("uv") or "uv",
            "build",
            "--python",
            sys.executable,
            "--out-dir",
            str(out),
            str(copy),
        ]
    else:
        python = BASELINE_PYTHON if tool == "trustyard-baseline" else sys.executable
        cmd = [python, "-m", "trustyard", "build", str(copy), "--out", str(out), "--json"]
        env["UV_CACHE_DIR"] = str(cache / "uv")
        env["TRUSTYARD_BUILD_ENV_CACHE"] = str(cache / tool)
    start = time.perf_counter()
    result = subprocess.run(
        cmd, env=env, capture_output=True, text=True, umask=spec["umask"], check=False
    )
    elapsed = time.perf_counter() - start
    return result.returncode == 0, elapsed, (result.stderr or result.stdout)[-400:]


def artifacts(out: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(out.iterdir())
        if p.name.endswith((".whl", ".tar.gz"))
    }


PROGRESS_LOCK = threading.Lock()


def bench_project(
    name: str, version: str, tools: list[str], cache: Path, repeats: int
) -> dict[str, object]:
    """Build the project with every tool ``repeats`` times, interleaved: each round runs
    variant A then B, and within a variant the tools take turns in a rotating order, so a
    burst of load on the shared machine falls on all of them alike."""
    root = WORK / "projects" / f"{name}-{version}"
    sdist = fetch_sdist(name, version, WORK / "sdists")
    tree, epoch = prepare_tree(sdist, root / "tree", version)
    row: dict[str, object] = {"project": name, "version": version, "sdist": sdist.name}
    times: dict[str, list[float]] = {t: [] for t in tools}
    outputs: dict[str, list[dict[str, bytes]]] = {t: [] for t in tools}
    built = dict.fromkeys(tools, True)
    for round_ in range(repeats):
        elapsed_round = dict.fromkeys(tools, 0.0)
        for turn, variant in enumerate(("A", "B")):
            shift = (2 * round_ + turn) % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                out = root / tool / variant / "out"
                if out.exists():
                    shutil.rmtree(out)
                ok, elapsed, log = run_tool(tool, tree, out, variant, epoch, cache)
                elapsed_round[tool] += elapsed
                built[tool] = built[tool] and ok
                outputs[tool].append(artifacts(out) if ok else {})
                if not ok:
                    row[f"{tool}_error"] = log
        for tool in tools:
            times[tool].append(elapsed_round[tool])
    for tool in tools:
        runs = outputs[tool]
        identical = built[tool] and bool(runs[0]) and all(r == runs[0] for r in runs)
        row[tool] = {
            "built": built[tool],
            "identical": identical,
            "seconds": round(statistics.median(times[tool]), 2),
            "rounds": [round(t, 2) for t in times[tool]],
        }
    ours = [t for t in tools if t.startswith("trustyard")]
    if len(ours) > 1:  # both trustyards must give the same bytes: a speed-up changes none
        first = outputs[ours[0]]
        row["trustyards_same_bytes"] = all(bool(first[0]) and outputs[t] == first for t in ours)
    with PROGRESS_LOCK, (WORK / "rows.jsonl").open("a") as done:  # a cut-short run keeps its rows
        done.write(json.dumps({**row, "load_1min": os.getloadavg()[0]}) + "\n")
    return row


class LoadSampler:
    """The 1-minute load average every ``interval`` seconds while the benchmark runs."""

    def __init__(self, interval: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)

    def _sample(self, interval: float) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(interval):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        samples = self.samples or [0.0]
        return {
            "cpus": float(os.cpu_count() or 0),
            "load_mean": round(sum(samples) / len(samples), 2),
            "load_max": round(max(samples), 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=len(CORPUS))
    parser.add_argument(
        "--projects", default="", help="comma-separated names: only these of the corpus"
    )
    parser.add_argument("--jobs", type=int, default=2, help="projects benchmarked side by side")
    parser.add_argument(
        "--tools",
        default="python-m-build,uv-build,trustyard",
        help="comma-separated, of python-m-build, uv-build, trustyard, trustyard-baseline",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="rounds per project; per-project medians"
    )
    parser.add_argument(
        "--keep-env-cache",
        action="store_true",
        help="keep trustyard's build-env cache from earlier runs (default: start it empty)",
    )
    args = parser.parse_args()
    tools = args.tools.split(",")
    wanted = set(filter(None, args.projects.split(",")))
    corpus = [p for p in CORPUS if not wanted or p[0] in wanted][: args.limit]
    cache = WORK / "cache"
    if not args.keep_env_cache:
        for tool in tools:
            shutil.rmtree(cache / tool, ignore_errors=True)
    (WORK / "sdists").mkdir(parents=True, exist_ok=True)
    (WORK / "rows.jsonl").unlink(missing_ok=True)
    started = time.perf_counter()
    with LoadSampler() as load, ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda p: bench_project(*p, tools, cache, args.repeats), corpus))
    machine = {
        **load.summary(),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "repeats": args.repeats,
        "jobs": args.jobs,
    }
    (WORK / "results.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print(f"{'project':24} " + " ".join(f"{t:>24}" for t in tools))
    for row in rows:
        cells = []
        for t in tools:
            r = row[t]
            assert isinstance(r, dict)
            verdict = "identical" if r["identical"] else "DIFFERS" if r["built"] else "no build"
            cells.append(f"{verdict:>14} {r['seconds']:>8.1f}s")
        same = row.get("trustyards_same_bytes")
        print(
            f"{row['project']:24} "
            + " ".join(cells)
            + ("" if same is None else f"  trustyards same bytes: {same}")
        )
    print()
    print(
        f"machine: {machine['cpus']:.0f} cpus, load average (1 min) mean {machine['load_mean']}"
        f" max {machine['load_max']} over {machine['elapsed_s']} s;"
        f" {args.repeats} round(s) per project, medians"
    )
    uv_total = sum(r["seconds"] for row in rows if isinstance(r := row.get("uv-build"), dict))
    for t in tools:
        results = [row[t] for row in rows]
        built = [r for r in results if isinstance(r, dict) and r["built"]]
        same = [r for r in built if r["identical"]]
        total = sum(r["seconds"] for r in results if isinstance(r, dict))
        ratio = f", {total / uv_total:.2f}x uv build" if uv_total else ""
        print(
            f"{t:16} identical {len(same)}/{len(built)} built "
            f"({100 * len(same) / max(len(built), 1):.0f}%), "
            f"{len(results) - len(built)} failed to build, total wall time {total:.1f}s{ratio}"
        )


if __name__ == "__main__":
    main()
