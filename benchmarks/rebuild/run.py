"""Rebuild real PyPI releases from their git tags and compare them with the published files.

Groundwork for issue 16 ("`verify` for the real world"): it measures which of the published
files a plain `uv build` reproduces, with and without the issue's simple recipe, so that the new
`trustyard verify` can be held to it. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from packaging.utils import parse_wheel_filename

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORK = REPO / "benchmarks" / ".work" / "rebuild"
PYPI = "https://pypi.org"
VARIANTS = ("naive", "simple", "nosde", "sdist", "pinned")
HEADINGS = {
    "naive": "naive",
    "simple": "simple",
    "nosde": "no-SDE",
    "sdist": "from-sdist",
    "pinned": "pinned backend",
}
# The WHEEL file's Generator line names the backend and version that built the wheel.
GENERATORS = (
    (re.compile(r"^Generator: flit (\S+)$", re.M), "flit_core"),
    (re.compile(r"^Generator: hatchling (\S+)$", re.M), "hatchling"),
    (re.compile(r"^Generator: poetry-core (\S+)$", re.M), "poetry-core"),
    (re.compile(r"^Generator: pdm-backend \((\S+)\)$", re.M), "pdm-backend"),
    (re.compile(r"^Generator: setuptools \((\S+)\)$", re.M), "setuptools"),
    (re.compile(r"^Generator: bdist_wheel \((\S+)\)$", re.M), "wheel"),
)


@dataclass
class Release:
    project: str
    version: str
    git: str
    clone: str
    tag: str
    backend: str


@dataclass
class Build:
    """One `uv build` call: how it went and what it wrote."""

    status: str  # ok | failed | timeout
    seconds: float
    files: list[Path] = field(default_factory=list)
    log: str = ""


@dataclass
class Row:
    release: Release
    filename: str
    kind: str  # sdist | wheel | platform wheel
    cells: dict[str, str] = field(default_factory=dict)
    verify: str = ""
    notes: list[str] = field(default_factory=list)


def load_corpus(path: Path) -> list[Release]:
    data = tomllib.loads(path.read_text())
    return [Release(**r) for r in data["release"]]


# --- PyPI ----------------------------------------------------------------------------------


def pypi_files(client: httpx.Client, release: Release) -> list[dict[str, object]]:
    """The release's files from PyPI's JSON API (project-level document, cached per run day).

    The per-version JSON URL is not served through every proxy, the project one is.
    """
    cache = WORK / "pypi" / f"{release.project}.json"
    if not cache.exists() or time.time() - cache.stat().st_mtime > 86400:
        resp = client.get(f"{PYPI}/pypi/{release.project}/json")
        resp.raise_for_status()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(resp.content)
    releases = json.loads(cache.read_bytes())["releases"]
    files = releases.get(release.version)
    if not files:
        raise LookupError(f"{release.project} {release.version} has no files on PyPI")
    return list(files)


def download(client: httpx.Client, project: str, info: dict[str, object]) -> Path:
    name = str(info["filename"])
    sha256 = str(info["digests"]["sha256"])  # type: ignore[index]
    path = WORK / "files" / name
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        return path
    # Some mirrors and proxies serve the JSON with file URLs relative to the document.
    url = urljoin(f"{PYPI}/pypi/{project}/json", str(info["url"]))
    resp = client.get(url, follow_redirects=True)
    resp.raise_for_status()
    if hashlib.sha256(resp.content).hexdigest() != sha256:
        raise ValueError(f"{name}: sha256 does not match PyPI's")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(resp.content)
    return path


def file_kind(name: str) -> str:
    if name.endswith(".whl"):
        _, _, _, tags = parse_wheel_filename(name)
        pure = all(t.abi == "none" and t.platform == "any" for t in tags)
        return "wheel" if pure else "platform wheel"
    if name.endswith((".tar.gz", ".zip")):
        return "sdist"
    return "other"


# --- git -----------------------------------------------------------------------------------


def git(gitdir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(gitdir), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return out.stdout.strip()


def find_clone(clones: Path, release: Release) -> Path:
    """DIR/<clone>.git or DIR/<clone>, bare or not; returns its git directory."""
    for cand in (clones / f"{release.clone}.git", clones / release.clone):
        if cand.exists():
            out = subprocess.run(
                ["git", "-C", str(cand), "rev-parse", "--absolute-git-dir"],
                check=True,
                capture_output=True,
                text=True,
            )
            return Path(out.stdout.strip())
    raise FileNotFoundError(f"no clone {release.clone}(.git) in {clones}")


def export(gitdir: Path, tag: str, dest: Path) -> None:
    """Write the tag's tree to dest, as a checkout has it (no .git, no export-ignore).

    A private index file keeps the mirror untouched; `git archive` would drop paths marked
    `export-ignore`, which a CI checkout has.
    """
    dest.mkdir(parents=True)
    env = {**os.environ, "GIT_INDEX_FILE": str(dest.parent / f"{dest.name}.index")}
    git(gitdir, "--work-tree", str(dest), "read-tree", f"{tag}^{{tree}}", env=env)
    git(gitdir, "--work-tree", str(dest), "checkout-index", "--all", "--force", env=env)
    Path(env["GIT_INDEX_FILE"]).unlink()


def scm_version_env(tree: Path, version: str) -> dict[str, str]:
    """The variables that make a git-versioned backend take the release's version.

    An exported tree has no .git: setuptools-scm (and hatch-vcs, which uses it) then fail with
    "unable to detect version"; both read SETUPTOOLS_SCM_PRETEND_VERSION, pdm-backend's scm
    source reads PDM_BUILD_SCM_VERSION.
    """
    text = ""
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        if (tree / name).exists():
            text += (tree / name).read_text(errors="replace").lower()
    env = {}
    if any(k in text for k in ("setuptools_scm", "setuptools-scm", "hatch-vcs", "hatch_vcs")):
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version
    if "pdm" in text and 'source = "scm"' in text:
        env["PDM_BUILD_SCM_VERSION"] = version
    return env


def tag_backend(tree: Path) -> str:
    try:
        data = tomllib.loads((tree / "pyproject.toml").read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return "setuptools (legacy)"
    return str(data.get("build-system", {}).get("build-backend", "setuptools (legacy)"))


# --- building ------------------------------------------------------------------------------


def uv_build(
    source: Path,
    out: Path,
    *,
    python: str,
    sde: int | None,
    exclude_newer: str | None,
    extra_env: dict[str, str],
    timeout: float,
    wheel_only: bool = False,
    build_constraints: Path | None = None,
) -> Build:
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "10", "uv", "build", "--python", python, "--out-dir", str(out)]
    if exclude_newer:
        cmd += ["--exclude-newer", exclude_newer]
    if build_constraints:
        cmd += ["--build-constraints", str(build_constraints)]
    if wheel_only:
        cmd.append("--wheel")
    cmd.append(str(source))
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env.update(extra_env, UV_PYTHON_DOWNLOADS="never", TZ="UTC")
    if sde is not None:
        env["SOURCE_DATE_EPOCH"] = str(sde)
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=out,
        start_new_session=True,
        umask=0o022,
    )
    try:
        log, _ = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        status = "timeout"
    seconds = time.monotonic() - start
    files = sorted(p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz", ".zip")))
    text = log.decode(errors="replace")
    (out / "build.log").write_text(shlex.join(cmd) + "\n" + text)
    return Build(status, seconds, files, text)


# --- comparing -----------------------------------------------------------------------------


def _members(path: Path) -> tuple[list[str], dict[str, bytes], dict[str, tuple[object, ...]]]:
    """Member names in archive order, their contents, and their metadata (mtime, mode, owner).

    sdist names lose their first component, so a renamed top directory is reported once,
    not as every member differing.
    """
    order: list[str] = []
    content: dict[str, bytes] = {}
    meta: dict[str, tuple[object, ...]] = {}
    if path.name.endswith(".whl") or path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                order.append(info.filename)
                content[info.filename] = zf.read(info)
                meta[info.filename] = (info.date_time, info.external_attr, info.compress_type)
        return order, content, meta
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            name = m.name.split("/", 1)[1] if "/" in m.name else ""
            if not name:
                continue
            order.append(name)
            if m.isfile():
                f = tf.extractfile(m)
                content[name] = f.read() if f else b""
            else:
                content[name] = f"<{m.type!r} {m.linkname}>".encode()
            meta[name] = (m.mtime, m.mode, m.uid, m.gid, m.uname, m.gname)
    return order, content, meta


def _top(path: Path) -> str:
    if path.name.endswith(".whl"):
        return ""
    with tarfile.open(path) as tf:
        first = tf.next()
        return first.name.split("/", 1)[0] if first else ""


def compare(published: Path, built: Path) -> str:
    """identical, equivalent (what differs), or differs (the first differing members)."""
    if sha256(published) == sha256(built):
        return "identical"
    try:
        po, pc, pm = _members(published)
        bo, bc, bm = _members(built)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        return f"differs (unreadable: {exc})"
    missing = [n for n in po if n not in bc]
    extra = [n for n in bo if n not in pc]
    changed = [n for n in po if n in bc and pc[n] != bc[n]]
    if missing or extra or changed:
        parts = [f"~{n}" for n in changed[:3]] + [f"-{n}" for n in missing[:2]]
        parts += [f"+{n}" for n in extra[:2]]
        more = len(changed) + len(missing) + len(extra) - len(parts)
        return "differs: " + ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    what = []
    if po != bo:
        what.append("order")
    if published.name.endswith(".whl"):
        if any(pm[n][0] != bm[n][0] for n in po):
            what.append("mtime")
        if any(pm[n][1] != bm[n][1] for n in po):
            what.append("mode")
        if any(pm[n][2] != bm[n][2] for n in po):
            what.append("compression")
    else:
        if any(pm[n][0] != bm[n][0] for n in po):
            what.append("mtime")
        if any(pm[n][1] != bm[n][1] for n in po):
            what.append("mode")
        if any(pm[n][2:] != bm[n][2:] for n in po):
            what.append("owner")
        if _top(published) != _top(built):
            what.append("top dir")
        if _gzip_header(published) != _gzip_header(built):
            what.append("gzip header")
    return "equivalent (" + ", ".join(what or ["tar/zip layout"]) + ")"


def _gzip_header(path: Path) -> bytes:
    with path.open("rb") as f:
        head = f.read(10)
    return head if head[:2] == b"\x1f\x8b" else b""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pick(build: Build, kind: str) -> Path | None:
    suffix = ".whl" if kind == "wheel" else ".tar.gz"
    return next((p for p in build.files if p.name.endswith(suffix)), None)


def cell(build: Build, published: Path, kind: str) -> str:
    if build.status != "ok":
        last = [ln for ln in build.log.splitlines() if ln.strip()][-1:] or [""]
        return f"{build.status} ({build.seconds:.0f} s): {last[0][:80]}"
    built = pick(build, kind)
    if built is None:
        return "missing (no such file built)"
    result = compare(published, built)
    if built.name != published.name:
        result += f" [built as {built.name}]"
    return result


# --- trustyard verify ----------------------------------------------------------------------


def run_verify(release: Release, gitdir: Path, timeout: float, logdir: Path) -> dict[str, str]:
    """Today's `trustyard verify`, as far as its CLI allows; returns a verdict per filename.

    Its --source takes a work tree or a git URL; the bare mirror is given as a file:// URL.
    """
    exe = Path(sys.executable).parent / "trustyard"
    cmd = [
        str(exe),
        "verify",
        f"{release.project}=={release.version}",
        "--index",
        f"{PYPI}/simple/",
        "--source",
        gitdir.as_uri(),
        "--ref",
        release.tag,
        "--json",
    ]
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    try:
        proc = subprocess.run(
            ["nice", "-n", "10", *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"*": f"not verified: timeout after {timeout:.0f} s"}
    (logdir / "verify.log").write_text(
        shlex.join(cmd) + f"\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return parse_verify(proc.returncode, proc.stdout, proc.stderr)


def parse_verify(returncode: int, stdout: str, stderr: str) -> dict[str, str]:
    """A verdict per filename from verify's --json report, or why there is none."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
        said = [ln.removeprefix("trustyard: error: ") for ln in lines if "trustyard: error" in ln]
        raised = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception): ", ln)]
        reason = "; ".join([*said[:1], *(r[:90] for r in raised[-1:])]) or (
            lines[-1][:100] if lines else "no output"
        )
        # Machine-specific paths say nothing about the release.
        reason = re.sub(r"file://\S+", "file://<clone>", reason)
        reason = re.sub(re.escape(tempfile.gettempdir()) + r"/[\w.-]+", "<tmp>", reason)
        return {"*": f"not verified (exit {returncode}): {reason}"}
    verdicts: dict[str, str] = {}
    for entry in report.get("files", []) if isinstance(report, dict) else []:
        if isinstance(entry, dict) and "filename" in entry:
            verdict = str(entry.get("verdict") or "?")
            first = next(
                (
                    ln.strip()
                    for ln in entry.get("diff") or []
                    if ln.startswith("  ") and ": " in ln
                ),
                "",
            )
            if first:
                verdict += f" ({first.split('/', 1)[-1][:60]})"
            elif entry.get("note"):
                verdict += f" ({str(entry['note'])[:60]})"
            verdicts[str(entry["filename"])] = verdict
    verdicts["*"] = f"not verified (exit {returncode}, no per-file verdict)"
    return verdicts


def reparse_verify_log(path: Path) -> dict[str, str] | None:
    """Re-read a verify.log written by run_verify (command, exit line, stdout, stderr)."""
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    if len(lines) < 2 or not lines[1].startswith("exit "):
        return None
    rc = int(lines[1].split()[1])
    body = lines[2:]
    if "{" in body:
        i = body.index("{")
        j = body.index("}", i) if "}" in body[i:] else len(body) - 1
        return parse_verify(rc, "\n".join(body[i : j + 1]), "\n".join(body[j + 1 :]))
    return parse_verify(rc, "", "\n".join(body))


def from_sdist(
    sdist: Path | None,
    wheel: Path | None,
    tmp: Path,
    logdir: Path,
    *,
    commit_time: int,
    cutoff: str,
    extra_env: dict[str, str],
    args: argparse.Namespace,
) -> list[tuple[str, Build]]:
    """The wheel built from PyPI's sdist: first without SDE, then with SDE = commit time.

    The sdist is unpacked here with its members' mtimes (as `python -m build` does): uv's own
    `uv build --wheel <sdist>` unpacks with the current time, which flit and setuptools then
    write into the wheel when SOURCE_DATE_EPOCH is unset.
    """
    if sdist is None:
        return []
    out: list[tuple[str, Build]] = []
    for label, sde in (("no SDE", None), ("SDE", commit_time)):
        src = tmp / f"sdist-{label.replace(' ', '-')}"
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(sdist) as tf:
            tf.extractall(src, filter="data")
        tops = list(src.iterdir())
        b = uv_build(
            tops[0] if len(tops) == 1 else src,
            logdir / f"sdist-{label.replace(' ', '-')}",
            python=args.python,
            sde=sde,
            exclude_newer=cutoff,
            extra_env=extra_env,
            timeout=args.timeout,
            wheel_only=True,
        )
        out.append((label, b))
        if wheel is not None and cell(b, wheel, "wheel") == "identical":
            break
    return out


def sdist_cell(builds: list[tuple[str, Build]], wheel: Path) -> str:
    if not builds:
        return "n/a (no sdist on PyPI)"
    results = [(label, cell(b, wheel, "wheel")) for label, b in builds]
    best = next((r for r in results if r[1] == "identical"), results[-1])
    return f"{best[1]} ({best[0]})"


def redo_sdist(
    release: Release, client: httpx.Client, clones: Path, args: argparse.Namespace, rows: list[Row]
) -> None:
    """Rebuild only the from-sdist column of a release done earlier (--redo-sdist)."""
    files = pypi_files(client, release)
    published = {str(f["filename"]): download(client, release.project, f) for f in files}
    sdists = [f for f in files if file_kind(str(f["filename"])) == "sdist"]
    if not sdists:
        return
    cutoff = str(sdists[0]["upload_time_iso_8601"]).replace(".000000", "")
    gitdir = find_clone(clones, release)
    commit_time = int(git(gitdir, "log", "-1", "--format=%ct", f"{release.tag}^{{commit}}"))
    logdir = WORK / "runs" / f"{release.project}-{release.version}"
    wheel = next((r for r in rows if r.kind == "wheel"), None)
    with tempfile.TemporaryDirectory(prefix="rebuild-") as tmp:
        builds = from_sdist(
            published[str(sdists[0]["filename"])],
            published[wheel.filename] if wheel else None,
            Path(tmp),
            logdir,
            commit_time=commit_time,
            cutoff=cutoff,
            # An sdist carries PKG-INFO, which setuptools-scm reads: these are only a fallback.
            extra_env={
                "SETUPTOOLS_SCM_PRETEND_VERSION": release.version,
                "PDM_BUILD_SCM_VERSION": release.version,
            },
            args=args,
        )
    for row in rows:
        if row.kind == "wheel":
            row.cells["sdist"] = sdist_cell(builds, published[row.filename])


def generator_pin(wheel: Path) -> str | None:
    """`backend==version` from the published wheel's WHEEL Generator, when it names one."""
    with zipfile.ZipFile(wheel) as zf:
        name = next((n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")), None)
        text = zf.read(name).decode(errors="replace") if name else ""
    for pattern, dist in GENERATORS:
        m = pattern.search(text)
        if m and "+" not in m.group(1):
            return f"{dist}=={m.group(1)}"
    return None


def pinned(
    gitdir: Path,
    release: Release,
    published: dict[str, Path],
    rows: list[Row],
    tmp: Path,
    logdir: Path,
    *,
    commit_time: int,
    cutoff: str,
    extra_env: dict[str, str],
    args: argparse.Namespace,
) -> None:
    """The simple recipe with the backend pinned to the version the wheel's Generator names.

    Sets each pure row's "pinned" cell; tries SDE = commit time, then without SDE.
    """
    wheel = next((r for r in rows if r.kind == "wheel"), None)
    pin = generator_pin(published[wheel.filename]) if wheel else None
    pure = [r for r in rows if r.kind in ("sdist", "wheel")]
    if pin is None:
        for r in pure:
            r.cells["pinned"] = "n/a (no Generator to pin)"
        return
    constraints = tmp / "pin.txt"
    constraints.write_text(pin + "\n")
    results: dict[str, list[tuple[str, str]]] = {r.filename: [] for r in pure}
    for label, sde in (("SDE", commit_time), ("no SDE", None)):
        tree = tmp / f"pinned-{label.replace(' ', '-')}"
        shutil.rmtree(tree, ignore_errors=True)
        export(gitdir, release.tag, tree)
        b = uv_build(
            tree,
            logdir / f"pinned-{label.replace(' ', '-')}",
            python=args.python,
            sde=sde,
            exclude_newer=cutoff,
            extra_env=extra_env,
            timeout=args.timeout,
            build_constraints=constraints,
        )
        for r in pure:
            results[r.filename].append((label, cell(b, published[r.filename], r.kind)))
        if all(results[r.filename][-1][1] == "identical" for r in pure):
            break
    for r in pure:
        best = next((x for x in results[r.filename] if x[1] == "identical"), None)
        best = best or results[r.filename][0]
        r.cells["pinned"] = f"{best[1]} ({pin}, {best[0]})"


def redo_pinned(
    release: Release, client: httpx.Client, clones: Path, args: argparse.Namespace, rows: list[Row]
) -> None:
    """Rebuild only the pinned column of a release done earlier (--redo-pinned)."""
    files = pypi_files(client, release)
    published = {str(f["filename"]): download(client, release.project, f) for f in files}
    sdists = [f for f in files if file_kind(str(f["filename"])) == "sdist"]
    cutoff_file = sdists[0] if sdists else min(files, key=lambda f: str(f["upload_time_iso_8601"]))
    cutoff = str(cutoff_file["upload_time_iso_8601"]).replace(".000000", "")
    gitdir = find_clone(clones, release)
    commit_time = int(git(gitdir, "log", "-1", "--format=%ct", f"{release.tag}^{{commit}}"))
    logdir = WORK / "runs" / f"{release.project}-{release.version}"
    with tempfile.TemporaryDirectory(prefix="rebuild-") as tmp:
        probe = Path(tmp) / "probe"
        export(gitdir, release.tag, probe)
        pinned(
            gitdir,
            release,
            published,
            rows,
            Path(tmp),
            logdir,
            commit_time=commit_time,
            cutoff=cutoff,
            extra_env=scm_version_env(probe, release.version),
            args=args,
        )


# --- one release ---------------------------------------------------------------------------


def run_release(
    release: Release,
    client: httpx.Client,
    clones: Path,
    args: argparse.Namespace,
) -> list[Row]:
    files = pypi_files(client, release)
    published = {str(f["filename"]): download(client, release.project, f) for f in files}
    sdists = [f for f in files if file_kind(str(f["filename"])) == "sdist"]
    cutoff_file = sdists[0] if sdists else min(files, key=lambda f: str(f["upload_time_iso_8601"]))
    cutoff = str(cutoff_file["upload_time_iso_8601"]).replace(".000000", "")
    rows = [Row(release, name, file_kind(name)) for name in sorted(published)]
    for row in rows:
        if row.kind == "platform wheel":
            for v in VARIANTS:
                row.cells[v] = "not rebuilt (platform wheel)"

    gitdir = find_clone(clones, release)
    commit = git(gitdir, "rev-parse", f"{release.tag}^{{commit}}")
    commit_time = int(git(gitdir, "log", "-1", "--format=%ct", commit))
    logdir = WORK / "runs" / f"{release.project}-{release.version}"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    notes = [f"commit {commit[:10]} at {commit_time}", f"cut-off {cutoff}"]

    with tempfile.TemporaryDirectory(prefix="rebuild-") as tmp:
        probe = Path(tmp) / "probe"
        export(gitdir, release.tag, probe)
        backend = tag_backend(probe)
        scm_env = scm_version_env(probe, release.version)
        if scm_env:
            notes.append("version from git: " + " ".join(f"{k}=…" for k in scm_env))
        if release.backend.replace("-", "_").split("_")[0] not in backend.replace("-", "_"):
            notes.append(f"tag's backend is {backend}")
        plans = {
            "naive": (commit_time, None),
            "simple": (commit_time, cutoff),
            "nosde": (None, cutoff),
        }
        builds: dict[str, Build] = {}
        for variant, (sde, cut) in plans.items():
            tree = Path(tmp) / variant
            export(gitdir, release.tag, tree)
            builds[variant] = uv_build(
                tree,
                logdir / variant,
                python=args.python,
                sde=sde,
                exclude_newer=cut,
                extra_env=scm_env,
                timeout=args.timeout,
            )
        wheel = next((r for r in rows if r.kind == "wheel"), None)
        sdist_builds = from_sdist(
            published[str(sdists[0]["filename"])] if sdists else None,
            published[wheel.filename] if wheel else None,
            Path(tmp),
            logdir,
            commit_time=commit_time,
            cutoff=cutoff,
            extra_env=scm_env,
            args=args,
        )
        pinned_rows = [Row(release, r.filename, r.kind) for r in rows]
        pinned(
            gitdir,
            release,
            published,
            pinned_rows,
            Path(tmp),
            logdir,
            commit_time=commit_time,
            cutoff=cutoff,
            extra_env=scm_env,
            args=args,
        )

    for row, pin_row in zip(rows, pinned_rows, strict=True):
        if "pinned" in pin_row.cells:
            row.cells["pinned"] = pin_row.cells["pinned"]
    for row in rows:
        row.notes = notes
        if row.kind not in ("sdist", "wheel"):
            continue
        for variant, b in builds.items():
            row.cells[variant] = cell(b, published[row.filename], row.kind)
        if row.kind == "sdist":
            row.cells["sdist"] = "n/a (is the sdist)"
        else:
            row.cells["sdist"] = sdist_cell(sdist_builds, published[row.filename])

    if args.verify:
        verdicts = run_verify(release, gitdir, args.timeout, logdir)
        for row in rows:
            row.verify = verdicts.get(row.filename, verdicts.get("*", "?"))
    else:
        for row in rows:
            row.verify = "not run (--no-verify)"
    times = ", ".join(f"{k} {b.seconds:.0f}s" for k, b in builds.items())
    times += "".join(f", sdist/{lb} {b.seconds:.0f}s" for lb, b in sdist_builds)
    row_notes = [*notes, f"build times: {times}"]
    for row in rows:
        row.notes = row_notes
    return rows


# --- report --------------------------------------------------------------------------------


def family(row: Row) -> str:
    """The issue's families, read off the results (1-4), or '-' for what was not rebuilt."""
    c = row.cells
    if row.kind not in ("sdist", "wheel"):
        return "-"
    if c.get("simple") == "identical":
        return "1"
    if c.get("nosde") == "identical":
        return "2"
    if row.kind == "wheel" and c.get("sdist", "").startswith("identical"):
        return "3"
    return "4"


def report(rows: list[Row], meta: dict[str, Any], done: int, total: int, errors: list[str]) -> str:
    def short(s: str) -> str:
        return s.replace("|", "\\|")

    partial = done < total
    out = [
        "# Rebuilding real PyPI releases from their tags" + (" (PARTIAL)" if partial else ""),
        "",
        f"Generated by `benchmarks/rebuild/run.py` ({meta['date']}). See [README.md](README.md).",
        "",
    ]
    if partial:
        out += [f"**Partial: {done} of {total} releases done.**", ""]
    out += [
        f"- command: `{meta['command']}`",
        *(f"  - {p}" for p in meta.get("passes", [])),
        f"- machine: {meta['machine']}; load average at start `{meta['load_start']}`, "
        f"at end `{meta['load_end']}`",
        f"- uv: {meta['uv']}; interpreter: {meta['python']}",
        "- naive: `SOURCE_DATE_EPOCH=<commit time> uv build` from the tag; simple: the same with "
        "`--exclude-newer <sdist upload time>`; no-SDE: simple without `SOURCE_DATE_EPOCH`; "
        "from-sdist: `uv build --wheel <PyPI's sdist> --exclude-newer <same>` without SDE, then "
        "with SDE = commit time (the label says which matched; the sdist is unpacked keeping its "
        "mtimes); pinned backend: simple with `--build-constraints` pinning the backend to the "
        "version the published wheel's `WHEEL` `Generator` names, with SDE then without; "
        "verify: today's "
        "`trustyard verify NAME==VERSION --index <PyPI>/simple/ --source file://<mirror> "
        "--ref <tag> --json`.",
        "- family: 1 = simple recipe reproduces, 2 = only without SDE, 3 = wheel only from the "
        "published sdist, 4 = none (see the issue).",
        "",
        "## Totals (byte-identical files of those rebuilt)",
        "",
    ]
    backends = sorted({r.release.backend for r in rows})
    pure = [r for r in rows if r.kind in ("sdist", "wheel")]
    head = "| backend | files | " + " | ".join(HEADINGS[v] for v in VARIANTS)
    head += " | simple or no-SDE | any | equivalent at best | platform (not rebuilt) |"
    out += [head, "|" + "---|" * (len(VARIANTS) + 6)]
    for be in [*backends, "all"]:
        sel = [r for r in pure if be in ("all", r.release.backend)]
        plat = [r for r in rows if r.kind == "platform wheel" and be in ("all", r.release.backend)]
        cols = []
        for v in VARIANTS:
            elig = [r for r in sel if not r.cells.get(v, "").startswith("n/a")]
            n = sum(r.cells.get(v, "").startswith("identical") for r in elig)
            cols.append(f"{n}/{len(elig)}")
        either = sum(family(r) in ("1", "2") for r in sel)
        anyv = sum(
            family(r) in ("1", "2", "3") or r.cells.get("pinned", "").startswith("identical")
            for r in sel
        )
        equiv = sum(
            family(r) == "4" and any(x.startswith("equivalent") for x in r.cells.values())
            for r in sel
        )
        name = f"**{be}**" if be == "all" else be
        out.append(
            f"| {name} | {len(sel)} | " + " | ".join(cols) + f" | {either} | {anyv} | {equiv} | "
            f"{len(plat)} |"
        )
    out += [
        "",
        "By family: "
        + ", ".join(f"{f}: {sum(family(r) == f for r in pure)}" for f in ("1", "2", "3", "4")),
        "",
    ]
    out += ["## Per file", ""]
    out.append(
        "| release | file | backend | family | "
        + " | ".join(HEADINGS[v] for v in VARIANTS)
        + " | verify |"
    )
    out.append("|" + "---|" * (len(VARIANTS) + 5))
    shown_platform: set[str] = set()
    for r in rows:
        rel = f"{r.release.project} {r.release.version}"
        if r.kind == "platform wheel":
            if rel in shown_platform:
                continue
            shown_platform.add(rel)
            n = sum(1 for x in rows if x.release is r.release and x.kind == "platform wheel")
            out.append(
                f"| {rel} | {n} platform wheels | {r.release.backend} | - | "
                + " | ".join(["not rebuilt (platform wheel)"] * len(VARIANTS))
                + " | - |"
            )
            continue
        out.append(
            f"| {rel} | `{r.filename}` | {r.release.backend} | {family(r)} | "
            + " | ".join(short(r.cells.get(v, "")) for v in VARIANTS)
            + f" | {short(r.verify)} |"
        )
    out += ["", "## Notes per release", ""]
    seen: set[str] = set()
    for r in rows:
        rel = f"{r.release.project} {r.release.version}"
        if rel not in seen:
            seen.add(rel)
            out.append(f"- {rel} (tag `{r.release.tag}`): " + "; ".join(r.notes))
    if errors:
        out += ["", "## Releases not run", ""] + [f"- {e}" for e in errors]
    return "\n".join(out) + "\n"


def save_rows(path: Path, rows: list[Row]) -> None:
    fields = [
        {
            "filename": r.filename,
            "kind": r.kind,
            "cells": r.cells,
            "verify": r.verify,
            "notes": r.notes,
        }
        for r in rows
    ]
    path.write_text(json.dumps(fields))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus.toml")
    ap.add_argument(
        "--clones",
        type=Path,
        default=REPO / "benchmarks" / ".work" / "clones",
        help="a directory with one clone or bare mirror per repository: DIR/<clone>(.git)",
    )
    ap.add_argument("--only", default="", help="comma-separated projects to run")
    ap.add_argument("--python", default="3.11", help="interpreter for uv build (--python)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per build")
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    ap.add_argument("--out", type=Path, default=HERE / "results.md")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="build nothing: write results.md from earlier runs' rows and verify logs",
    )
    ap.add_argument(
        "--redo-pinned",
        action="store_true",
        help="with --reuse: rebuild only the pinned-backend column of releases done earlier",
    )
    ap.add_argument(
        "--redo-sdist",
        action="store_true",
        help="with --reuse: rebuild only the from-sdist column of releases done earlier",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="take a release's rows from an earlier run (.work/rebuild/runs/*/rows.json)",
    )
    args = ap.parse_args()

    corpus = load_corpus(args.corpus)
    if args.only:
        wanted = set(args.only.split(","))
        corpus = [r for r in corpus if r.project in wanted]
    WORK.mkdir(parents=True, exist_ok=True)
    py = subprocess.run(
        ["uv", "python", "find", args.python],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    ).stdout.strip()
    py_version = subprocess.run(
        [py, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "uv run python benchmarks/rebuild/run.py " + shlex.join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "load_start": Path("/proc/loadavg").read_text().strip(),
        "load_end": "",
        "uv": subprocess.run(
            ["uv", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "python": f"{py_version} ({py})",
    }
    meta_file = WORK / "meta.json"
    if args.render_only and meta_file.exists():
        first = json.loads(meta_file.read_text())
        # Keep the measuring runs' facts (date, load, passes); say this is a re-render.
        first["command"] = meta["command"] + f" (re-rendered {meta['date']})"
        meta = first
    rows: list[Row] = []
    errors: list[str] = []
    client = httpx.Client(timeout=120)
    for i, release in enumerate(corpus, 1):
        label = f"{release.project} {release.version}"
        print(f"[{i}/{len(corpus)}] {label} ...", flush=True)
        saved = WORK / "runs" / f"{release.project}-{release.version}" / "rows.json"
        try:
            if args.render_only and not saved.exists():
                raise LookupError("not run yet (--render-only)")
            if (args.reuse or args.render_only) and saved.exists():
                new = [
                    Row(release, r["filename"], r["kind"], r["cells"], r["verify"], r["notes"])
                    for r in json.loads(saved.read_text())
                ]
                verdicts = reparse_verify_log(saved.parent / "verify.log")
                for row in new:
                    if verdicts and row.kind in ("sdist", "wheel"):
                        row.verify = verdicts.get(row.filename, verdicts.get("*", "?"))
                if args.redo_pinned:
                    for d in ("pinned-SDE", "pinned-no-SDE"):
                        shutil.rmtree(saved.parent / d, ignore_errors=True)
                    redo_pinned(release, client, args.clones, args, new)
                    save_rows(saved, new)
                if args.redo_sdist:
                    for d in ("sdist-no-SDE", "sdist-SDE"):
                        shutil.rmtree(saved.parent / d, ignore_errors=True)
                    redo_sdist(release, client, args.clones, args, new)
                    save_rows(saved, new)
                print("    (reused from an earlier run)", flush=True)
            else:
                new = run_release(release, client, args.clones, args)
                meta["load_end"] = Path("/proc/loadavg").read_text().strip()
                meta_file.write_text(json.dumps(meta))
                save_rows(saved, new)
        except (
            OSError,
            LookupError,
            ValueError,
            httpx.HTTPError,
            subprocess.SubprocessError,
        ) as exc:
            errors.append(f"{label}: {type(exc).__name__}: {exc}")
            print(f"    error: {exc}", flush=True)
        else:
            rows += new
            for r in new:
                if r.kind in ("sdist", "wheel"):
                    print(
                        f"    {r.filename}: "
                        + "; ".join(f"{v}={r.cells.get(v, '')[:40]}" for v in VARIANTS)
                        + f"; verify={r.verify[:60]}",
                        flush=True,
                    )
        if not args.render_only:
            meta["load_end"] = Path("/proc/loadavg").read_text().strip()
        done = len({(r.release.project, r.release.version) for r in rows})
        text = report(rows, meta, done, len(corpus), errors)
        args.out.write_text(text)
        (WORK / "results.json").write_text(
            json.dumps(
                [
                    {
                        "project": r.release.project,
                        "version": r.release.version,
                        "backend": r.release.backend,
                        "file": r.filename,
                        "kind": r.kind,
                        "family": family(r),
                        **r.cells,
                        "verify": r.verify,
                        "notes": r.notes,
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
