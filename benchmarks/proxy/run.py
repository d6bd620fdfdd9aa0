"""Issue 17's proxy benchmark: ``uv pip install`` of 30 popular packages through a PyPI proxy.

    uv run python benchmarks/proxy/run.py [--arms trustyard,direct,devpi] [--repeats 3]
        [--latency-rounds 5] [--trustyard-cmd CMD] [--trustyard-index URL]

Three arms, interleaved in one run so that they share the machine's load and the network:

- ``trustyard``: ``trustyard serve --upstream https://pypi.org/simple/`` (the command is a
  template, ``--trustyard-cmd``); if ``trustyard serve --help`` has no ``--upstream`` flag the
  arm is reported as not run, never measured with something else.
- ``direct``: pypi.org itself (files from files.pythonhosted.org).
- ``devpi``: devpi-server's ``root/pypi`` mirror, from a throwaway venv made with uv for this
  run (never the project's lock).

Each repeat, for each arm: start the proxy on a free loopback port with an empty data
directory, install once (*cold*: empty proxy cache, empty uv cache), then again (*warm*: the
proxy's cache as the cold install left it, empty uv cache), each into a fresh venv. Every
install is checked (exit status, and the venv's installed set equal to ``packages.txt``);
one that fails is counted as a failure, never timed. After the last repeat, single GETs of
the installed files and of their project pages are timed against the proxy's cache
(files.pythonhosted.org and pypi.org for ``direct``). Results: ``results.md`` and
``results.json`` next to this file (``--out``). See README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import html.parser
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from packaging.requirements import Requirement
from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "benchmarks" / ".work" / "proxy"
PACKAGES_IN = HERE / "packages.in"  # the 30 names
PACKAGES_TXT = HERE / "packages.txt"  # their closure, pinned

PYPI = "https://pypi.org/simple/"
ARMS = ("trustyard", "direct", "devpi")
KINDS = ("cold", "warm")
DEVPI_SPECS = "devpi-server==6.20.3 devpi-client==7.3.0"
TRUSTYARD_CMD = (
    f"{ROOT / '.venv' / 'bin' / 'trustyard'} serve --data {{data}} --host 127.0.0.1"
    " --port {port} --upstream {upstream}"
)
TRUSTYARD_INDEX = "http://127.0.0.1:{port}/simple/"
# What uv sends (PEP 691 JSON preferred, HTML accepted).
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class StepError(RuntimeError):
    """A step failed; the message says which and why."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: none of this machine's pip/uv settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "DEVPI_")) and k != "VIRTUAL_ENV"
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


def run(cmd: Sequence[str | Path], *, what: str, timeout: float = 600) -> str:
    """Run a command to completion; raise StepError (with its output's tail) if it fails."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StepError(f"{what}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise StepError(f"{what}: exit {proc.returncode}: {last_lines(proc.stderr + proc.stdout)}")
    return proc.stdout


def last_lines(text: str, count: int = 12) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_line(cmd: Sequence[str | Path]) -> str:
    """A tool's one-line answer (its version), or why there is none."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=clean_env(PYTHONWARNINGS="ignore"),
        )
    except OSError as exc:
        return f"? ({exc})"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


# --------------------------------------------------------------------------- machine load


CLK_TCK = os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def uptime() -> str:
    return first_line(["uptime"])


def _busy_seconds() -> float:
    """CPU seconds all processes have spent running since boot (all cores).

    Interrupt time is left out: it is mostly the kernel receiving the benchmark's own
    downloads, charged to no process, and would count as someone else's load.
    """
    user, nice, system = (int(x) for x in Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) / CLK_TCK


def _process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _tree_cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    total = 0
    for p in _process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def _own_cpu_seconds() -> float:
    """This script and its reaped children (uv)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@contextlib.contextmanager
def other_load(server_pid: int | None) -> Iterator[dict[str, float | str]]:
    """Load average around a step, and the share of all CPUs used by processes outside it.

    The machine is shared with other engineers' test suites: this says how much outside work
    may have slowed a figure down (1.0 = every core busy with something else).
    """
    out: dict[str, float | str] = {"loadavg_before": loadavg()}
    t0, busy0 = time.monotonic(), _busy_seconds()
    server0, own0 = _tree_cpu_seconds(server_pid), _own_cpu_seconds()
    yield out
    wall = time.monotonic() - t0
    server = _tree_cpu_seconds(server_pid) - server0
    own = _own_cpu_seconds() - own0
    ours = server + own
    # The proxy's own CPU seconds for the step (user + system, all its threads): less
    # sensitive to the machine's load than wall time, so arms and trees compare by it too.
    out["server_cpu_seconds"] = round(server, 2)
    out["client_cpu_seconds"] = round(own, 2)
    capacity = wall * (os.cpu_count() or 1)
    out["other_cpu_share"] = (
        round(max(0.0, _busy_seconds() - busy0 - ours) / capacity, 3) if capacity else 0.0
    )
    out["loadavg_after"] = loadavg()


# --------------------------------------------------------------------------- the arms


@dataclasses.dataclass
class Server:
    """A proxy process started by this run, in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    index: str
    logfile: Path
    command: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM; killing it")
        # The group we created, including any child that outlived its parent.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def spawn(name: str, cmd: Sequence[str | Path], logfile: Path) -> subprocess.Popen[bytes]:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("wb") as out:
        return subprocess.Popen(
            [str(c) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            start_new_session=True,  # its own process group: stopped with its children
        )


def log_tail(path: Path, count: int = 15) -> str:
    if not path.exists():
        return ""
    return " | log: " + last_lines(path.read_text(errors="replace"), count)


def wait_ready(server: Server, url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StepError(
                f"{server.name} exited with {server.proc.returncode} on start"
                + log_tail(server.logfile)
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code < 500:
                return
        time.sleep(0.2)
    raise StepError(f"{server.name}: {url} did not answer within {timeout:.0f} s")


def shown(cmd: Sequence[str | Path]) -> str:
    """A command line as the report shows it: paths under the work dir shortened, port as PORT."""
    text = shlex.join(str(c) for c in cmd).replace(str(ROOT) + "/", "")
    return re.sub(r"(--port |127\.0\.0\.1:)\d+", r"\1PORT", text)


class Arm:
    """One way of reaching PyPI. ``start`` gives a fresh (cold) proxy, ``stop`` ends it."""

    name = ""

    def prepare(self) -> None:
        """One-time set-up before the first repeat (tools, checks); StepError if impossible."""

    def start(self, base: Path) -> Server | None:
        """A proxy with an empty cache under ``base``; None when there is no proxy."""
        raise NotImplementedError

    def index(self, server: Server | None) -> str:
        assert server is not None
        return server.index

    def versions(self) -> dict[str, str]:
        return {}


class Direct(Arm):
    """pypi.org itself: the peer. Its CDN is shared by the world and not ours to empty."""

    name = "direct"

    def start(self, base: Path) -> Server | None:
        return None

    def index(self, server: Server | None) -> str:
        return PYPI


class Devpi(Arm):
    """devpi-server's ``root/pypi`` mirror, installed into a throwaway venv for this run.

    By default ``root/pypi`` gets ``mirror_no_project_list=True``: devpi then looks each name
    up on its own, as trustyard does, instead of first fetching pypi.org's whole project list
    (40 MB of HTML, about 930,000 names), which it parses within a 30 s limit on its event
    loop; on this loaded machine that limit passed, devpi served an empty list and answered
    "project does not exist" for every name, so the cold install failed. ``project_list=True``
    (``--devpi-project-list``) keeps devpi's default.

    devpi gives up on an upstream request after ``--request-timeout`` seconds (5 by default)
    and then answers as if the project did not exist; with 30-odd concurrent first requests on
    this loaded machine its fetches of pypi.org passed 5 s, so the run sets 30
    (``--devpi-request-timeout``; 0 keeps devpi's default).
    """

    name = "devpi"

    def __init__(
        self, specs: Sequence[str], python: str, project_list: bool, request_timeout: int
    ) -> None:
        self.specs = list(specs)
        self.python = python
        self.project_list = project_list
        self.request_timeout = request_timeout
        self.venv = WORK / "devpi-venv"

    def prepare(self) -> None:
        shutil.rmtree(self.venv, ignore_errors=True)
        log(f"installing {' '.join(self.specs)} into {self.venv} (not the project's environment)")
        run(
            ["uv", "venv", "--no-config", "--quiet", "--python", self.python, self.venv],
            what="uv venv",
        )
        run(
            [
                "uv",
                "pip",
                "install",
                "--no-config",
                "--quiet",
                "--python",
                self.venv / "bin" / "python",
                "--index-url",
                PYPI,
                *self.specs,
            ],
            what=f"uv pip install {' '.join(self.specs)}",
        )

    def start(self, base: Path) -> Server | None:
        serverdir, clientdir = base / "server", base / "client"
        # devpi-init creates root/pypi, the mirror of pypi.org, unless told --no-root-pypi;
        # root's password is empty.
        run([self.venv / "bin" / "devpi-init", "--serverdir", serverdir], what="devpi-init")
        port = free_port()
        cmd: list[str | Path] = [
            self.venv / "bin" / "devpi-server",
            "--serverdir",
            serverdir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if self.request_timeout:
            cmd += ["--request-timeout", str(self.request_timeout)]
        logfile = base / "server.log"
        url = f"http://127.0.0.1:{port}"
        server = Server(
            "devpi", spawn("devpi", cmd, logfile), f"{url}/root/pypi/+simple/", logfile, shown(cmd)
        )
        try:
            wait_ready(server, f"{url}/+api")
            if not self.project_list:
                devpi: list[str | Path] = [self.venv / "bin" / "devpi", "--clientdir", clientdir]
                run([*devpi, "use", url], what="devpi use")
                run([*devpi, "login", "root", "--password", ""], what="devpi login root")
                run(
                    [*devpi, "index", "root/pypi", "mirror_no_project_list=True"],
                    what="devpi index root/pypi mirror_no_project_list=True",
                )
                server.command += " (root/pypi: mirror_no_project_list=True)"
        except StepError:
            server.stop()
            raise
        return server

    def versions(self) -> dict[str, str]:
        bin_ = self.venv / "bin"
        client = first_line([bin_ / "devpi", "--version"]).removeprefix("devpi-client ")
        return {
            "devpi-server": first_line([bin_ / "devpi-server", "--version"]),
            "devpi-client": client,
        }


class Trustyard(Arm):
    """trustyard's pull-through proxy of pypi.org (issue 17), started from a command template."""

    name = "trustyard"

    def __init__(self, template: str, index: str) -> None:
        self.template = template
        self.index_template = index

    def prepare(self) -> None:
        words = shlex.split(self.template)
        if "serve" not in words:
            return  # a command of the user's own: trust it, a failed start is reported anyway
        help_cmd = [*words[: words.index("serve") + 1], "--help"]
        text = command_output(help_cmd)
        if "--upstream" not in text:
            raise StepError(
                f"`{shown(help_cmd)}` lists no --upstream flag: this trustyard has no proxy "
                "(issue 17 not merged here?). The arm is not run; nothing else stands in for it."
            )

    def start(self, base: Path) -> Server | None:
        port = free_port()
        data = base / "data"
        cmd = [
            word.format(data=data, port=port, upstream=PYPI) for word in shlex.split(self.template)
        ]
        logfile = base / "server.log"
        index = self.index_template.format(port=port)
        server = Server("trustyard", spawn("trustyard", cmd, logfile), index, logfile, shown(cmd))
        try:
            wait_ready(server, index)
        except StepError:
            server.stop()
            raise
        return server

    def versions(self) -> dict[str, str]:
        words = shlex.split(self.template)
        return {"trustyard": first_line([words[0], "--version"]), "trustyard-git": git_rev()}


def command_output(cmd: Sequence[str]) -> str:
    """All a command prints (for --help), or the error that prevented it."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False, env=clean_env()
        )
    except OSError as exc:
        return f"could not run it: {exc}"
    return proc.stdout + proc.stderr


def git_rev() -> str:
    def git(*args: str) -> str:
        cmd = ["git", "-C", str(ROOT), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", "src", "pyproject.toml", "uv.lock")
    return rev + ("-dirty" if changed else "")


# --------------------------------------------------------------------------- installs


def expected_set() -> dict[NormalizedName, Version]:
    """packages.txt: every package the install must leave in the venv, at its version."""
    pins: dict[NormalizedName, Version] = {}
    for raw in PACKAGES_TXT.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        if spec.operator != "==":
            raise StepError(f"{PACKAGES_TXT.name}: {line!r} is not pinned with ==")
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def top_level_names() -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in PACKAGES_IN.read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]


def install_command(index: str, venv: Path, cache: Path) -> list[str]:
    return [
        "uv",
        "pip",
        "install",
        "--no-config",
        "--python",
        str(venv / "bin" / "python"),
        "--index-url",
        index,
        "--cache-dir",
        str(cache),
        "-r",
        str(PACKAGES_IN),
        "-c",
        str(PACKAGES_TXT),
    ]


def installed_set(venv: Path) -> dict[NormalizedName, Version]:
    out = run(
        [
            "uv",
            "pip",
            "list",
            "--no-config",
            "--python",
            venv / "bin" / "python",
            "--format",
            "json",
        ],
        what="uv pip list",
    )
    return {canonicalize_name(p["name"]): Version(p["version"]) for p in json.loads(out)}


def set_difference(got: dict[NormalizedName, Version], want: dict[NormalizedName, Version]) -> str:
    missing = sorted(f"{n}=={v}" for n, v in want.items() if got.get(n) != v)
    extra = sorted(f"{n}=={v}" for n, v in got.items() if want.get(n) != v)
    return f"missing or wrong {missing or '-'}, unexpected {extra or '-'}"


def install_once(
    arm: str,
    kind: str,
    repeat: int,
    index: str,
    server: Server | None,
    python: str,
    want: dict[NormalizedName, Version],
    timeout: float,
) -> dict[str, Any]:
    """One timed install into a fresh venv with an empty uv cache, and its check."""
    base = WORK / "installs" / f"{arm}-{repeat}-{kind}"
    shutil.rmtree(base, ignore_errors=True)
    venv, cache = base / "venv", base / "uv-cache"
    record: dict[str, Any] = {"arm": arm, "kind": kind, "repeat": repeat, "ok": False}
    try:
        run(["uv", "venv", "--no-config", "--quiet", "--python", python, venv], what="uv venv")
        cmd = install_command(index, venv, cache)
        with other_load(server.proc.pid if server else None) as load:
            start = time.monotonic()
            try:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env=clean_env(),
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                proc = None
            seconds = time.monotonic() - start
        record.update(load)
        record["seconds"] = round(seconds, 3)
        if proc is None:
            record["error"] = f"uv pip install timed out after {timeout:.0f} s"
        elif proc.returncode != 0:
            record["error"] = f"uv pip install exit {proc.returncode}: {last_lines(proc.stderr)}"
        else:
            got = installed_set(venv)
            if got != want:
                record["error"] = "installed set differs: " + set_difference(got, want)
            else:
                record["ok"] = True
                record["installed"] = len(got)
    except (StepError, OSError) as exc:
        record["error"] = str(exc)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    status = f"{record['seconds']:.2f} s" if record["ok"] else f"FAILED: {record['error']}"
    log(
        f"  {arm} {kind} #{repeat + 1}: {status} "
        f"(proxy CPU {record.get('server_cpu_seconds', 0):.2f} s, uv CPU"
        f" {record.get('client_cpu_seconds', 0):.2f} s, other CPU"
        f" {record.get('other_cpu_share', 0):.0%}, load {record.get('loadavg_before')})"
    )
    return record


# --------------------------------------------------------------------------- cache-hit latency


class _Anchors(html.parser.HTMLParser):
    """The links of a PEP 503 project page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


@dataclasses.dataclass
class File:
    filename: str
    url: str
    sha256: str | None


def project_files(page_url: str, response: httpx.Response) -> list[File]:
    """The files of a project page, PEP 691 JSON or PEP 503 HTML, URLs made absolute."""
    if response.headers.get("content-type", "").startswith(JSON_TYPE):
        return [
            File(
                f["filename"],
                urllib.parse.urljoin(page_url, f["url"]),
                f.get("hashes", {}).get("sha256"),
            )
            for f in response.json()["files"]
        ]
    parser = _Anchors()
    parser.feed(response.text)
    files = []
    for href, text in parser.links:
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        algo, _, digest = fragment.partition("=")
        files.append(File(text, url, digest if algo == "sha256" else None))
    return files


def pick_file(
    files: list[File], name: NormalizedName, version: Version, tags: list[Tag]
) -> File | None:
    """The file an installer on this interpreter takes: the best-ranked wheel, else the sdist."""
    rank = {tag: i for i, tag in enumerate(tags)}
    best: tuple[int, File] | None = None
    sdist: File | None = None
    for f in files:
        with contextlib.suppress(InvalidWheelFilename, InvalidSdistFilename, ValueError):
            if f.filename.endswith(".whl"):
                wname, wversion, _, wtags = parse_wheel_filename(f.filename)
                if wname != name or wversion != version:
                    continue
                score = min((rank[t] for t in wtags if t in rank), default=None)
                if score is not None and (best is None or score < best[0]):
                    best = (score, f)
            elif f.filename.endswith((".tar.gz", ".zip")):
                sname, sversion = parse_sdist_filename(f.filename)
                if sname == name and sversion == version:
                    sdist = f
    return best[1] if best else sdist


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def timed_get(
    client: httpx.Client, url: str, accept: str | None = None
) -> tuple[float, float, int]:
    """Seconds to the response headers, to the last byte, and the bytes read."""
    headers = {"Accept": accept} if accept else {}
    start = time.perf_counter()
    with client.stream("GET", url, headers=headers) as response:
        first = time.perf_counter() - start
        size = sum(len(chunk) for chunk in response.iter_raw())
        whole = time.perf_counter() - start
        if response.status_code != 200:
            raise StepError(f"GET {url}: {response.status_code}")
    return first, whole, size


def measure_latency(
    arm: str,
    index: str,
    want: dict[NormalizedName, Version],
    rounds: int,
    server: Server | None,
) -> dict[str, Any]:
    """Single GETs served from the proxy's cache: every installed file and its project page.

    Each URL is fetched once untimed first (and the file's sha256 checked), so every timed GET
    is a cache hit whatever the install left cached; then ``rounds`` timed rounds over all
    URLs, one at a time on one keep-alive connection per host, as uv would reuse them.
    """
    tags = list(sys_tags())
    files: list[File] = []
    pages: list[str] = []
    with httpx.Client(timeout=120, follow_redirects=True) as client:
        for name, version in sorted(want.items()):
            page = f"{index}{name}/"
            response = client.get(page, headers={"Accept": ACCEPT})
            if response.status_code != 200:
                raise StepError(f"{arm}: GET {page}: {response.status_code}")
            chosen = pick_file(project_files(page, response), name, version, tags)
            if chosen is None:
                raise StepError(f"{arm}: no file of {name} {version} for this interpreter")
            files.append(chosen)
            pages.append(page)
        payload = 0
        for f in files:
            body = client.get(f.url)
            if body.status_code != 200:
                raise StepError(f"{arm}: GET {f.url}: {body.status_code}")
            if f.sha256 and hashlib.sha256(body.content).hexdigest() != f.sha256:
                raise StepError(f"{arm}: {f.filename}: sha256 differs from the page's")
            payload += len(body.content)
        first: list[float] = []
        whole: list[float] = []
        page_first: list[float] = []
        with other_load(server.proc.pid if server else None) as load:
            for _ in range(rounds):
                for f in files:
                    t_first, t_whole, _ = timed_get(client, f.url)
                    first.append(t_first)
                    whole.append(t_whole)
                for page in pages:
                    page_first.append(timed_get(client, page, ACCEPT)[1])

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 2)

    result: dict[str, Any] = {
        "files": len(files),
        "payload_bytes": payload,
        "rounds": rounds,
        "file_first_byte_ms": {"p50": ms(first, 50), "p99": ms(first, 99), "n": len(first)},
        "file_whole_ms": {"p50": ms(whole, 50), "p99": ms(whole, 99), "n": len(whole)},
        "page_whole_ms": {
            "p50": ms(page_first, 50),
            "p99": ms(page_first, 99),
            "n": len(page_first),
        },
        "file_hosts": sorted({urllib.parse.urlsplit(f.url).netloc for f in files}),
        **load,
    }
    log(
        f"  {arm}: file first byte p50 {result['file_first_byte_ms']['p50']} ms, "
        f"p99 {result['file_first_byte_ms']['p99']} ms; page p50 "
        f"{result['page_whole_ms']['p50']} ms, p99 {result['page_whole_ms']['p99']} ms"
    )
    return result


# --------------------------------------------------------------------------- the run


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    times = [r["seconds"] for r in records if r["ok"]]
    out: dict[str, Any] = {
        "runs": len(records),
        "ok": len(times),
        "failures": len(records) - len(times),
    }
    if times:
        out |= {
            "median_s": round(statistics.median(times), 3),
            "min_s": min(times),
            "max_s": max(times),
            "times_s": times,
        }
    return out


def run_arms(args: argparse.Namespace, arms: list[Arm], result: dict[str, Any]) -> None:
    want = expected_set()
    records: list[dict[str, Any]] = result["installs"]
    ready: list[Arm] = []
    for arm in arms:
        try:
            arm.prepare()
            ready.append(arm)
        except StepError as exc:
            result["not_run"][arm.name] = str(exc)
            log(f"NOT RUN: {arm.name}: {exc}")
    for repeat in range(args.repeats):
        log(f"repeat {repeat + 1} of {args.repeats}")
        for arm in ready:
            base = WORK / "servers" / f"{arm.name}-{repeat}"
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir(parents=True)
            try:
                server = arm.start(base)
            except (StepError, OSError) as exc:
                log(f"  {arm.name}: FAILED to start: {exc}")
                for kind in KINDS:
                    records.append(
                        {"arm": arm.name, "kind": kind, "repeat": repeat, "ok": False,
                         "error": f"proxy did not start: {exc}"}
                    )  # fmt: skip
                continue
            try:
                if server is not None:
                    result["commands"][arm.name] = server.command
                index = arm.index(server)
                for kind in KINDS:
                    records.append(
                        install_once(
                            arm.name, kind, repeat, index, server, args.python, want, args.timeout
                        )
                    )
                if server is not None and server.proc.poll() is not None:
                    result["problems"].append(
                        f"{arm.name} exited with {server.proc.returncode} during repeat "
                        f"{repeat + 1}{log_tail(server.logfile)}"
                    )
                if repeat == args.repeats - 1 and args.latency_rounds > 0:
                    try:
                        result["latency"][arm.name] = measure_latency(
                            arm.name, index, want, args.latency_rounds, server
                        )
                    except (StepError, httpx.HTTPError) as exc:
                        result["problems"].append(f"latency {arm.name}: {exc}")
                        log(f"  latency {arm.name}: FAILED: {exc}")
            finally:
                if server is not None:
                    server.stop()
    for arm in ready:
        result["versions"] |= arm.versions()
        result["summary"][arm.name] = {
            kind: summarize([r for r in records if r["arm"] == arm.name and r["kind"] == kind])
            for kind in KINDS
        }


def verdicts(result: dict[str, Any]) -> list[str]:
    """Issue 17's targets: warm ≤ 1.1x direct, cold ≤ 1.5x direct, ahead of devpi in both."""
    summary = result["summary"]

    def median(arm: str, kind: str) -> float | None:
        value = summary.get(arm, {}).get(kind, {}).get("median_s")
        return float(value) if value is not None else None

    lines = []
    for kind, limit in (("warm", 1.1), ("cold", 1.5)):
        mine, direct, devpi = (median(a, kind) for a in ARMS)
        if mine is None or direct is None:
            missing = " and ".join(
                a for a, v in (("trustyard", mine), ("direct", direct)) if v is None
            )
            lines.append(f"{kind} ≤ {limit}x direct: not measured (no {missing} figure)")
        else:
            verdict = "met" if mine <= limit * direct else "NOT met"
            lines.append(f"{kind} ≤ {limit}x direct: {mine / direct:.2f}x — {verdict}")
        if mine is None or devpi is None:
            missing = " and ".join(
                a for a, v in (("trustyard", mine), ("devpi", devpi)) if v is None
            )
            lines.append(f"{kind} ahead of devpi: not measured (no {missing} figure)")
        else:
            verdict = "met" if mine < devpi else "NOT met"
            lines.append(f"{kind} ahead of devpi: {mine:.2f} s vs {devpi:.2f} s — {verdict}")
    return lines


def render(result: dict[str, Any]) -> str:
    meta = result["meta"]
    out = [
        "# Proxy benchmark results",
        "",
        f"Run {meta['started']} - {meta['finished']}, trustyard tree `{meta['git']}`.",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), Linux {meta['kernel']}, "
        f"Python {meta['python']} for the venvs.",
        f"`uptime` before: `{meta['uptime_before']}`; after: `{meta['uptime_after']}`.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".",
        "",
        f"Installed: the {meta['top_level']} packages of `packages.in` with the "
        f"{meta['closure']} pins of `packages.txt` (their whole closure), "
        f"{meta['payload_mb']} MB of files.",
        "",
        "## `uv pip install`, seconds (median, min-max over the successful runs)",
        "",
        "| arm | cold median | cold min-max | warm median | warm min-max | "
        "cold ÷ direct | warm ÷ direct | failures |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    direct = result["summary"].get("direct", {})
    for arm in ARMS:
        if arm in result["not_run"]:
            out.append(f"| {arm} | not run | | | | | | |")
            continue
        row = result["summary"].get(arm)
        if row is None:
            continue
        cells = [arm]
        for kind in KINDS:
            s = row[kind]
            if "median_s" in s:
                cells += [f"{s['median_s']:.2f}", f"{s['min_s']:.2f}-{s['max_s']:.2f}"]
            else:
                cells += ["—", "—"]
        for kind in KINDS:
            mine = row[kind].get("median_s")
            peer = direct.get(kind, {}).get("median_s")
            cells.append(f"{mine / peer:.2f}x" if mine and peer else "—")
        fails = [f"{row[k]['failures']}/{row[k]['runs']} {k}" for k in KINDS if row[k]["failures"]]
        cells.append(", ".join(fails) or "0")
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Targets (issue 17):", ""]
    out += [f"- {line}" for line in verdicts(result)]
    if result["not_run"]:
        out += ["", "Not run:", ""]
        out += [f"- **{arm}**: {why}" for arm, why in result["not_run"].items()]
    out += [
        "",
        "## Single GETs served from the cache (ms)",
        "",
        "| arm | file host | files x rounds | file first byte p50 | p99 | whole file p50 | p99 "
        "| project page p50 | p99 | other CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for arm, lat in result["latency"].items():
        hosts = ", ".join(loopback(h) for h in lat["file_hosts"])
        out.append(
            f"| {arm} | {hosts} | {lat['files']} x {lat['rounds']} | "
            f"{lat['file_first_byte_ms']['p50']} | {lat['file_first_byte_ms']['p99']} | "
            f"{lat['file_whole_ms']['p50']} | {lat['file_whole_ms']['p99']} | "
            f"{lat['page_whole_ms']['p50']} | {lat['page_whole_ms']['p99']} | "
            f"{lat['other_cpu_share']:.0%} |"
        )
    out += [
        "",
        "## Every install",
        "",
        "| arm | repeat | kind | seconds | result | proxy CPU s | uv CPU s | other CPU"
        " | loadavg before → after |",
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in result["installs"]:
        status = "ok" if r["ok"] else "FAILED: " + r.get("error", "?").replace("|", "/")[:300]
        secs = f"{r['seconds']:.2f}" if "seconds" in r else "—"
        share = f"{r['other_cpu_share']:.0%}" if "other_cpu_share" in r else "—"
        loads = f"{r.get('loadavg_before', '—')} → {r.get('loadavg_after', '—')}"
        server = f"{r['server_cpu_seconds']:.2f}" if "server_cpu_seconds" in r else "—"
        client = f"{r['client_cpu_seconds']:.2f}" if "client_cpu_seconds" in r else "—"
        cells = [r["arm"], str(r["repeat"] + 1), r["kind"], secs, status, server, client, share]
        cells.append(loads)
        out.append("| " + " | ".join(cells) + " |")
    if result["commands"]:
        out += ["", "Proxy commands (port shown as PORT):", ""]
        out += [f"- {arm}: `{cmd}`" for arm, cmd in result["commands"].items()]
    if result["problems"]:
        out += ["", "Problems:", ""]
        out += [f"- {p}" for p in result["problems"]]
    return "\n".join(out)


def loopback(host: str) -> str:
    return "the proxy (loopback)" if host.startswith("127.0.0.1:") else host


def payload_mb(result: dict[str, Any]) -> str:
    sizes = [lat["payload_bytes"] for lat in result["latency"].values()]
    return f"{max(sizes) / 1e6:.0f}" if sizes else "?"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated, default: all")
    parser.add_argument("--repeats", type=int, default=3, help="cold+warm pairs per arm")
    parser.add_argument(
        "--latency-rounds", type=int, default=5, help="timed GET rounds over all files; 0: none"
    )
    parser.add_argument(
        "--trustyard-cmd",
        default=TRUSTYARD_CMD,
        help="template for the proxy; {data}, {port}, {upstream} are filled in",
    )
    parser.add_argument(
        "--trustyard-index",
        default=TRUSTYARD_INDEX,
        help="the proxy's simple index URL; {port} is filled in",
    )
    parser.add_argument(
        "--devpi-specs", default=DEVPI_SPECS, help="what uv installs for the devpi arm"
    )
    parser.add_argument(
        "--devpi-project-list",
        action="store_true",
        help="leave root/pypi as devpi-init makes it (fetches pypi.org's whole project list)",
    )
    parser.add_argument(
        "--devpi-request-timeout",
        type=int,
        default=30,
        help="devpi-server --request-timeout (its default: 5); 0 leaves it out",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="the CPython 3.11 the venvs are made with"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per install")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md/.json go")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only rewrite results.md (in --out) from this results.json, measuring nothing",
    )
    args = parser.parse_args(argv)
    if args.render:
        report = render(json.loads(args.render.read_text()))
        (args.out / "results.md").write_text(report + "\n")
        print(report)
        return 0
    names = [a.strip() for a in args.arms.split(",") if a.strip()]
    if unknown := set(names) - set(ARMS):
        parser.error(f"unknown arms: {', '.join(sorted(unknown))}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if shutil.which("uv") is None:
        parser.error("uv is not on PATH")
    makers: dict[str, Callable[[], Arm]] = {
        "trustyard": lambda: Trustyard(args.trustyard_cmd, args.trustyard_index),
        "direct": Direct,
        "devpi": lambda: Devpi(
            args.devpi_specs.split(),
            args.python,
            args.devpi_project_list,
            args.devpi_request_timeout,
        ),
    }
    arms: list[Arm] = [makers[n]() for n in ARMS if n in names]

    shown_argv = shlex.join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {
        "meta": {
            "command": f"uv run python benchmarks/proxy/run.py {shown_argv}".strip(),
            "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "git": git_rev(),
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
            "python": first_line([args.python, "--version"]).removeprefix("Python "),
            "uptime_before": uptime(),
            "top_level": len(top_level_names()),
            "closure": len(expected_set()),
            "arms": [a.name for a in arms],
            "repeats": args.repeats,
        },
        "packages": top_level_names(),
        "pins": {str(n): str(v) for n, v in expected_set().items()},
        "versions": {"uv": first_line(["uv", "--version"]).removeprefix("uv ")},
        "installs": [],
        "summary": {},
        "latency": {},
        "not_run": {},
        "commands": {},
        "problems": [],
    }
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "run.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another benchmarks/proxy/run.py is running ({WORK / 'run.lock'})")
            return 2
        signal.signal(signal.SIGTERM, _interrupt)  # ends in the servers' finally: stop()
        try:
            run_arms(args, arms, result)
        except KeyboardInterrupt:
            log("interrupted; nothing written")
            return 130
    result["meta"]["uptime_after"] = uptime()
    result["meta"]["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    result["meta"]["payload_mb"] = payload_mb(result)
    result["verdicts"] = verdicts(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    report = render(result)
    (args.out / "results.md").write_text(report + "\n")
    print()
    print(report)
    log(f"wrote {args.out / 'results.md'} and results.json")
    failed = any(not r["ok"] for r in result["installs"])
    return 1 if failed or result["not_run"] or result["problems"] else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


if __name__ == "__main__":
    sys.exit(main())
