"""Benchmark trustyard against pypiserver, devpi-server and nginx on this machine, in one run.

    bash benchmarks/setup.sh && uv run python benchmarks/run.py [--only simple|upload|install]
                                                               [--quick] [--servers a,b,...]

Measures, with the same clients and settings for every server:

1. ``/simple/bigproj/`` (500 files) as HTML and as PEP 691 JSON, with
   ``wrk -t2 -c16 -d10s --latency``: requests/s, p50, p99. nginx serves a static copy of
   trustyard's page: the ceiling; the floor (``benchmarks/floor.py``) serves trustyard's
   answers, headers and all, from trustyard's own uvicorn around a trivial app: what the
   server costs without trustyard's app.
2. ``twine upload`` of a 200 MiB wheel (random bytes, ZIP_STORED): seconds, and the server's
   peak RSS during the upload (VmHWM of the server process and its children, reset first).
3. ``uv pip install`` of the same 30 packages into a fresh venv with an empty cache, from
   each index only: wall time, median of 3.

Everything it makes (distributions, server data, logs, venvs) lives in ``benchmarks/.work``.
Results go to stdout and to ``benchmarks/results.md``; a partial run (--quick, --only or
--servers) writes ``benchmarks/.work/results-partial.md`` instead.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import hashlib
import io
import json
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
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
VENV = WORK / "venv"
RUN = WORK / "run"
DISTS = WORK / "dists"
NGINX = Path("/usr/sbin/nginx")
TRUSTYARD = ROOT / ".venv" / "bin" / "trustyard"

SERVERS = ("trustyard", "devpi", "pypiserver", "nginx", "floor")
# Servers of a copy of trustyard's page only: nginx (the static-file ceiling) and the floor
# (benchmarks/floor.py: trustyard's uvicorn around a trivial app, the same bytes).
STATIC = ("nginx", "floor")
FLOOR = HERE / "floor.py"
PHASES = ("simple", "upload", "install")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

BIG_PROJECT = "bigproj"
BIG_VERSIONS = 250  # x (wheel + sdist) = 500 files
INSTALL_COUNT = 30
HUGE_PROJECT = "huge-pkg"

USER = "bench"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a loopback-only server

WRK_THREADS = 2
WRK_CONNECTIONS = 16
WRK_TIMEOUT = "30s"
# A figure taken while other processes used more than this share of the CPUs is flagged.
DISTURBED = 0.05
# ... and measured again, up to this many times in all, keeping the least disturbed.
ATTEMPTS = 3


class StepError(RuntimeError):
    """A benchmark step failed; the message says which and why."""


# --------------------------------------------------------------------------- utilities


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: none of this machine's pip/uv/twine settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "DEVPI_")) and k != "VIRTUAL_ENV"
    }
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.update(extra)
    return env


def run(
    cmd: Sequence[str | Path],
    *,
    what: str,
    input_: str | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command to completion; raise StepError (with its output) if it fails."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            input=input_,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env if env is not None else clean_env(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StepError(f"{what}: timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise StepError(f"{what}: exit {proc.returncode}\n    " + "\n    ".join(tail))
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, accept: str | None = None, timeout: float = 30) -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


# --------------------------------------------------------------------------- distributions


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _metadata(name: str, version: str, requires: Sequence[str]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: trustyard benchmark package {name} {version}",
        "License: Apache-2.0",
        "Requires-Python: >=3.8",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    return "\n".join(lines) + "\n"


def build_wheel(
    out: Path,
    name: str,
    version: str,
    requires: Sequence[str] = (),
    blob_bytes: int = 0,
) -> Path:
    """A valid pure-Python wheel; with blob_bytes, plus that many random bytes, stored."""
    stem = normalize(name).replace("-", "_")
    path = out / f"{stem}-{version}-py3-none-any.whl"
    if path.exists():
        return path
    distinfo = f"{stem}-{version}.dist-info"
    files = {
        f"{stem}/__init__.py": f'"""{name} {version}."""\n\n__version__ = "{version}"\n'.encode(),
        f"{distinfo}/METADATA": _metadata(name, version, requires).encode(),
        f"{distinfo}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: trustyard-benchmarks\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record: list[str] = []
    tmp = path.with_suffix(".tmp")
    compression = zipfile.ZIP_STORED if blob_bytes else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(tmp, "w", compression=compression) as zf:
        first, rest = f"{stem}/__init__.py", [k for k in files if k != f"{stem}/__init__.py"]
        for arcname in [first, *rest]:
            zf.writestr(arcname, files[arcname])
            record.append(f"{arcname},{_record_hash(files[arcname])},{len(files[arcname])}")
        if blob_bytes:
            arcname = f"{stem}/blob.bin"
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            h = hashlib.sha256()
            left = blob_bytes
            with zf.open(info, "w", force_zip64=True) as dst:
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    h.update(chunk)
                    dst.write(chunk)
                    left -= len(chunk)
            digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
            record.append(f"{arcname},sha256={digest},{blob_bytes}")
        record.append(f"{distinfo}/RECORD,,")
        zf.writestr(f"{distinfo}/RECORD", "\n".join(record) + "\n")
    tmp.rename(path)
    return path


def build_sdist(out: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    stem = normalize(name).replace("-", "_")
    path = out / f"{stem}-{version}.tar.gz"
    if path.exists():
        return path
    top = f"{stem}-{version}"
    members = {
        f"{top}/PKG-INFO": _metadata(name, version, requires).encode(),
        f"{top}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            f"dependencies = {json.dumps(list(requires))}\n\n"
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n'
        ).encode(),
        f"{top}/{stem}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    tmp = path.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as tf:
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mtime = 1_704_067_200
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    tmp.rename(path)
    return path


@dataclasses.dataclass
class Dists:
    big: list[Path]  # 500 files of one project
    install: list[Path]  # 30 projects x 2 versions x (wheel + sdist)
    install_names: list[str]
    huge: Path


def install_requires(i: int) -> list[str]:
    """Two chains of five (0->1->2->3->4, 5->...->9), 10 needs 0 and 5, the rest stand alone."""
    if i < 10 and i % 5 != 4:
        return [f"bench-pkg-{i + 1:02d}>=1.0"]
    if i == 10:
        return ["bench-pkg-00>=1.0", "bench-pkg-05>=1.0"]
    return []


def make_dists(huge_mib: int) -> Dists:
    big_dir = DISTS / "big"
    inst_dir = DISTS / "install"
    huge_dir = DISTS / f"huge-{huge_mib}MiB"
    for d in (big_dir, inst_dir, huge_dir):
        d.mkdir(parents=True, exist_ok=True)
    big: list[Path] = []
    for i in range(BIG_VERSIONS):
        version = f"1.{i // 10}.{i % 10}"
        big.append(build_wheel(big_dir, BIG_PROJECT, version))
        big.append(build_sdist(big_dir, BIG_PROJECT, version))
    names = [f"bench-pkg-{i:02d}" for i in range(INSTALL_COUNT)]
    install: list[Path] = []
    for i, name in enumerate(names):
        for version in ("1.0.0", "1.1.0"):
            install.append(build_wheel(inst_dir, name, version, install_requires(i)))
            install.append(build_sdist(inst_dir, name, version, install_requires(i)))
    huge = build_wheel(huge_dir, HUGE_PROJECT, "1.0.0", blob_bytes=huge_mib << 20)
    return Dists(big=big, install=install, install_names=names, huge=huge)


# --------------------------------------------------------------------------- servers


@dataclasses.dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    simple: str  # URL of the simple index, ending in "/"
    upload_url: str | None
    username: str = USER
    password: str = PASSWORD
    log: Path | None = None
    note: str = ""

    def page(self, project: str) -> str:
        return f"{self.simple}{project}/"


class Fleet:
    """Every process this run started, so that all are stopped on any exit."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.commands: dict[str, str] = {}  # server name -> its command line, for the report

    def spawn(self, name: str, cmd: Sequence[str | Path], logfile: Path) -> subprocess.Popen[bytes]:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with logfile.open("wb") as out:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=clean_env(),
                start_new_session=True,  # its own process group: stopped with its children
            )
        self.procs.append((name, proc))
        self.commands[name] = shown_command(cmd)
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"{name} ignored SIGTERM; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Children that outlived their parent, still in the process group we created.
        for _, proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()


def shown_command(cmd: Sequence[str | Path]) -> str:
    """A command line as the report shows it: short paths, the port as PORT."""
    words = []
    for c in cmd:
        text = str(c)
        if isinstance(c, Path) and c.parent.name == "bin":
            text = c.name
        text = text.replace(str(RUN), ".work/run")
        words.append(shlex.quote(text))
    line = " ".join(words)
    return re.sub(r"(--port |127\.0\.0\.1:)\d+", r"\1PORT", line)


def tail(path: Path | None, lines: int = 20) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()[-lines:]
    return "\n    " + "\n    ".join(text)


def wait_ready(name: str, proc: subprocess.Popen[bytes], url: str, logfile: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StepError(f"{name}: exited with {proc.returncode} on start{tail(logfile)}")
        with contextlib.suppress(OSError):
            status, _, _ = http_get(url, timeout=2)
            if status < 500:
                return
        time.sleep(0.1)
    raise StepError(f"{name}: {url} did not answer within 60s{tail(logfile)}")


def start_pypiserver(fleet: Fleet) -> Server:
    base = RUN / "pypiserver"
    packages = base / "packages"
    packages.mkdir(parents=True)
    port = free_port()
    logfile = base / "server.log"
    cmd: list[str | Path] = [
        VENV / "bin" / "pypi-server",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--server",
        "auto",  # picks waitress, installed by setup.sh; the log says so
        "--backend",
        "cached-dir",
        "--disable-fallback",
        "-a",
        ".",
        "-P",
        ".",
        packages,
    ]
    proc = fleet.spawn("pypiserver", cmd, logfile)
    url = f"http://127.0.0.1:{port}"
    wait_ready("pypiserver", proc, f"{url}/health", logfile)
    return Server("pypiserver", port, proc, f"{url}/simple/", f"{url}/", "anonymous", "x", logfile)


def start_devpi(fleet: Fleet) -> Server:
    base = RUN / "devpi"
    serverdir, clientdir = base / "server", base / "client"
    base.mkdir(parents=True)
    run(
        [VENV / "bin" / "devpi-init", "--serverdir", serverdir, "--no-root-pypi"],
        what="devpi-init",
    )
    port = free_port()
    logfile = base / "server.log"
    cmd: list[str | Path] = [
        VENV / "bin" / "devpi-server",
        "--serverdir",
        serverdir,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = fleet.spawn("devpi", cmd, logfile)
    url = f"http://127.0.0.1:{port}"
    wait_ready("devpi", proc, f"{url}/+api", logfile)
    devpi: list[str | Path] = [VENV / "bin" / "devpi", "--clientdir", clientdir]
    run([*devpi, "use", url], what="devpi use")
    run([*devpi, "user", "-c", USER, f"password={PASSWORD}"], what="devpi user -c")
    run([*devpi, "login", USER, "--password", PASSWORD], what="devpi login")
    # A private index with no bases: nothing is ever fetched from PyPI.
    run([*devpi, "index", "-c", "dev", "bases=", "volatile=True"], what="devpi index -c")
    index = f"{url}/{USER}/dev"
    return Server("devpi", port, proc, f"{index}/+simple/", f"{index}/", log=logfile)


def start_trustyard(fleet: Fleet, extra: Sequence[str] = ()) -> Server:
    if not TRUSTYARD.exists():
        raise StepError(f"trustyard: {TRUSTYARD} not found (run `uv sync` in {ROOT})")
    base = RUN / "trustyard"
    data = base / "data"
    base.mkdir(parents=True)
    port = free_port()
    logfile = base / "server.log"
    cmd: list[str | Path] = [
        TRUSTYARD,
        "serve",
        "--data",
        data,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # PyPI's 100 MiB default would refuse the 200 MiB wheel; devpi and pypiserver
        # (waitress) accept up to 1 GiB by default.
        "--max-upload-size",
        "1GiB",
        *extra,
    ]
    proc = fleet.spawn("trustyard", cmd, logfile)
    url = f"http://127.0.0.1:{port}"
    wait_ready("trustyard", proc, f"{url}/simple/", logfile)
    run(
        [TRUSTYARD, "admin", "user", "create", USER, "--password-stdin", "--data", data],
        input_=PASSWORD,
        what="trustyard admin user create",
    )
    token = run(
        [TRUSTYARD, "admin", "token", "create", USER, "--data", data],
        what="trustyard admin token create",
    ).strip()
    if not token or len(token.split()) != 1:
        raise StepError(f"trustyard admin token create printed {token!r}, not one token")
    return Server(
        "trustyard", port, proc, f"{url}/simple/", f"{url}/legacy/", "__token__", token, logfile
    )


NGINX_CONF = """\
daemon off;
worker_processes 2;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    types {{
        text/html html;
        {json_type} json;
        application/octet-stream whl gz;
    }}
    # PEP 691 content negotiation between two static files.
    map $http_accept $simple_index {{
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
        default index.html;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {base}/root;
        location /simple/ {{ try_files $uri$simple_index $uri/index.html $uri =404; }}
        location /files/ {{ }}
    }}
}}
"""


def start_nginx(fleet: Fleet) -> Server:
    base = RUN / "nginx"
    (base / "tmp").mkdir(parents=True)
    (base / "root" / "simple").mkdir(parents=True)
    port = free_port()
    conf = base / "nginx.conf"
    conf.write_text(NGINX_CONF.format(base=base, port=port, json_type=JSON_TYPE))
    logfile = base / "server.log"
    cmd: list[str | Path] = [NGINX, "-p", base, "-c", conf, "-e", base / "error.log"]
    proc = fleet.spawn("nginx", cmd, logfile)
    url = f"http://127.0.0.1:{port}"
    wait_ready("nginx", proc, f"{url}/simple/", logfile)
    return Server("nginx", port, proc, f"{url}/simple/", None, log=logfile, note="static files")


def start_floor(fleet: Fleet, source: Server) -> Server:
    """benchmarks/floor.py, serving the answers ``source`` (trustyard) gives for the page."""
    base = RUN / "floor"
    base.mkdir(parents=True)
    port = free_port()
    logfile = base / "server.log"
    python = ROOT / ".venv" / "bin" / "python"
    cmd: list[str | Path] = [python, FLOOR, source.page(BIG_PROJECT), "--port", str(port)]
    proc = fleet.spawn("floor", cmd, logfile)
    url = f"http://127.0.0.1:{port}"
    wait_ready("floor", proc, f"{url}/simple/", logfile)
    return Server("floor", port, proc, f"{url}/simple/", None, log=logfile, note="trivial app")


def nginx_publish_page(nginx: Server, source: Server, project: str) -> str:
    """Copy source's HTML and JSON page for project into nginx's root, byte for byte."""
    target = RUN / "nginx" / "root" / "simple" / project
    target.mkdir(parents=True, exist_ok=True)
    status, ctype, body = http_get(source.page(project))
    if status != 200:
        raise StepError(f"nginx: {source.name} answered {status} for {source.page(project)}")
    (target / "index.html").write_bytes(body)
    status, ctype, body = http_get(source.page(project), accept=JSON_TYPE)
    if status == 200 and "json" in ctype:
        (target / "index.json").write_bytes(body)
    return f"static copy of {source.name}'s page"


def nginx_publish_index(nginx: Server, files: Sequence[Path]) -> None:
    """A static PEP 503 tree (with sha256 fragments) for the install test."""
    root = RUN / "nginx" / "root"
    (root / "files").mkdir(parents=True, exist_ok=True)
    by_project: dict[str, list[Path]] = {}
    for f in files:
        stem = f.name.split("-")[0]
        by_project.setdefault(normalize(stem), []).append(f)
        dst = root / "files" / f.name
        if not dst.exists():
            os.link(f, dst)
    for project, pfiles in by_project.items():
        d = root / "simple" / project
        d.mkdir(parents=True, exist_ok=True)
        links = "\n".join(
            f'<a href="../../files/{f.name}#sha256={sha256_file(f)}">{f.name}</a><br>'
            for f in sorted(pfiles)
        )
        (d / "index.html").write_text(
            f"<!DOCTYPE html>\n<html><body>\n<h1>Links for {project}</h1>\n{links}\n"
            "</body></html>\n"
        )


# --------------------------------------------------------------------------- uploads


def twine_upload(server: Server, files: Sequence[Path], what: str, batch: int = 250) -> float:
    assert server.upload_url
    start = time.monotonic()
    for i in range(0, len(files), batch):
        run(
            [
                VENV / "bin" / "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                server.upload_url,
                "-u",
                server.username,
                "-p",
                server.password,
                *files[i : i + batch],
            ],
            what=f"{server.name}: twine upload of {what}",
            timeout=1800,
        )
    return time.monotonic() - start


# --------------------------------------------------------------------------- other load

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / CLK_TCK


def _tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def _own_cpu_seconds() -> float:
    """This script and its reaped children (wrk, twine, uv)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class OtherLoad:
    """Share of the machine's CPU used by processes outside this benchmark during a step.

    The machine may be shared (a test suite running beside the benchmark); this says how
    much such outside work may have disturbed a figure.
    """

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.share = 0.0
        self.server_cores = 0.0  # CPU the measured server used, in cores

    def __enter__(self) -> OtherLoad:
        self.t0 = time.monotonic()
        self.busy0 = _busy_seconds()
        self.server0 = _tree_cpu_seconds(self.pid)
        self.own0 = _own_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.t0
        busy = _busy_seconds() - self.busy0
        server = _tree_cpu_seconds(self.pid) - self.server0
        ours = server + (_own_cpu_seconds() - self.own0)
        capacity = wall * (os.cpu_count() or 1)
        self.share = max(0.0, busy - ours) / capacity if capacity > 0 else 0.0
        self.server_cores = server / wall if wall > 0 else 0.0


QUIET_WAIT = [120.0]  # seconds to wait for idle CPUs before a measurement (--quiet-wait)


def wait_for_quiet(max_wait: float | None = None) -> None:
    """Wait (a while) until nothing else keeps the CPUs busy, so that a figure is clean.

    Also flushes dirty pages first, so that a step does not pay for the writes of an
    earlier one (three 200 MiB uploads, say).
    """
    os.sync()
    max_wait = QUIET_WAIT[0] if max_wait is None else max_wait
    deadline = time.monotonic() + max_wait
    warned = False
    while True:
        busy0, own0, t0 = _busy_seconds(), _own_cpu_seconds(), time.monotonic()
        time.sleep(1)
        capacity = (time.monotonic() - t0) * (os.cpu_count() or 1)
        share = max(0.0, _busy_seconds() - busy0 - (_own_cpu_seconds() - own0)) / capacity
        if share <= DISTURBED:
            return
        if time.monotonic() > deadline:
            log(f"  the machine is still busy ({share:.0%} of the CPUs); measuring anyway")
            return
        if not warned:
            log(f"  the machine is busy ({share:.0%} of the CPUs); waiting up to {max_wait:.0f} s")
            warned = True


def fmt_load(share: float | None) -> str:
    if share is None:
        return "n/a"
    return f"{share:.0%}" + (" ⚠" if share > DISTURBED else "")


# --------------------------------------------------------------------------- (1) simple pages


@dataclasses.dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str = ""
    other_load: float = 0.0
    server_cores: float = 0.0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def wrk_command(url: str, duration: str, accept: str | None) -> list[str]:
    cmd = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{duration}",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
    ]
    if accept:
        cmd += ["-H", f"Accept: {accept}"]
    return [*cmd, url]


def run_wrk(url: str, duration: str, accept: str | None) -> WrkResult:
    out = run(wrk_command(url, duration, accept), what=f"wrk {url}", timeout=300)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise StepError(f"wrk output not understood:\n{out}")
    errors = []
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors.append(f"{m.group(1)} non-2xx")
    if m := re.search(r"Socket errors: (.*)", out):
        errors.append(f"socket errors: {m.group(1)}")
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_latency_ms(p50.group(1)),
        p99_ms=_latency_ms(p99.group(1)),
        requests=int(total.group(1)),
        errors="; ".join(errors),
    )


def check_page(server: Server, expected: int, accept: str | None) -> int | None:
    """Bytes of the page if it lists all files in the wanted format; None if no such format."""
    status, ctype, body = http_get(server.page(BIG_PROJECT), accept=accept)
    if status != 200:
        raise StepError(f"{server.name}: {server.page(BIG_PROJECT)} answered {status}")
    if accept == JSON_TYPE:
        if JSON_TYPE not in ctype:
            return None  # the server does not speak PEP 691
        count = len(json.loads(body)["files"])
    else:
        if "html" not in ctype:
            raise StepError(f"{server.name}: HTML page served as {ctype!r}")
        count = len(re.findall(rb"<a\s", body, re.IGNORECASE))
    if count != expected:
        raise StepError(f"{server.name}: page lists {count} files, expected {expected}")
    return len(body)


@dataclasses.dataclass
class SimpleRow:
    html: WrkResult | None = None
    json: WrkResult | None = None
    html_bytes: int | None = None
    json_bytes: int | None = None
    error: str = ""


def bench_simple(server: Server, duration: str, warmup: str, expected: int) -> SimpleRow:
    row = SimpleRow()
    for accept in (None, JSON_TYPE):
        size = check_page(server, expected, accept)
        if size is None:
            continue
        kind = "JSON" if accept else "HTML"
        best: WrkResult | None = None
        for attempt in range(1, ATTEMPTS + 1):
            wait_for_quiet()
            run_wrk(server.page(BIG_PROJECT), warmup, accept)  # warm caches, connections
            with OtherLoad(server.proc.pid) as load:
                res = run_wrk(server.page(BIG_PROJECT), duration, accept)
            res.other_load, res.server_cores = load.share, load.server_cores
            log(
                f"  {server.name} {kind}: {res.rps:.0f} req/s, p50 {fmt_ms(res.p50_ms)}, "
                f"p99 {fmt_ms(res.p99_ms)} ({size} bytes, server CPU {load.server_cores:.2f} "
                f"cores, other load {fmt_load(load.share)})"
                f"{' ' + res.errors if res.errors else ''}"
            )
            if best is None or res.other_load < best.other_load:
                best = res
            if res.other_load <= DISTURBED:
                break
            if attempt < ATTEMPTS:
                log("  disturbed by other load; measuring again")
        if accept:
            row.json, row.json_bytes = best, size
        else:
            row.html, row.html_bytes = best, size
    return row


# --------------------------------------------------------------------------- (2) big upload


def process_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(parents.get(p, []))
    return tree


def proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss(pids: Sequence[int]) -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); False if not permitted."""
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclasses.dataclass
class UploadRow:
    seconds: float | None = None
    peak_rss_mib: float | None = None
    rss_before_mib: float | None = None
    peak_is_lifetime: bool = False
    processes: int = 0
    other_load: float | None = None
    error: str = ""


def bench_upload(server: Server, wheel: Path) -> UploadRow:
    wait_for_quiet()
    pids = process_tree(server.proc.pid)
    before = sum(proc_status_kib(p, "VmRSS") for p in pids)
    was_reset = reset_peak_rss(pids)
    with OtherLoad(server.proc.pid) as load:
        seconds = twine_upload(server, [wheel], wheel.name)
    pids = [p for p in process_tree(server.proc.pid) if Path(f"/proc/{p}").exists()]
    peak = sum(proc_status_kib(p, "VmHWM") for p in pids)
    status, _, body = http_get(server.page(HUGE_PROJECT))
    if status != 200 or wheel.name.encode() not in body:
        raise StepError(f"{server.name}: {wheel.name} not listed after upload ({status})")
    row = UploadRow(
        seconds=seconds,
        peak_rss_mib=peak / 1024,
        rss_before_mib=before / 1024,
        peak_is_lifetime=not was_reset,
        processes=len(pids),
        other_load=load.share,
    )
    log(
        f"  {server.name}: {seconds:.2f} s, peak RSS {row.peak_rss_mib:.0f} MiB "
        f"(RSS before {row.rss_before_mib:.0f} MiB, {len(pids)} process(es))"
    )
    return row


# --------------------------------------------------------------------------- (3) install


@dataclasses.dataclass
class InstallRow:
    runs: list[float] = dataclasses.field(default_factory=list)
    other_loads: list[float] = dataclasses.field(default_factory=list)
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None


def bench_install(server: Server, names: Sequence[str], repeats: int) -> InstallRow:
    row = InstallRow()
    base = RUN / "install" / server.name
    for i in range(repeats):
        venv, cache = base / f"venv{i}", base / f"cache{i}"
        best: tuple[float, float] | None = None  # (other load, seconds)
        for _ in range(ATTEMPTS):
            shutil.rmtree(venv, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            run(
                ["uv", "venv", "--no-config", "--quiet", "--python", sys.executable, venv],
                what="uv venv",
            )
            cmd = install_command(server.simple, venv, cache, names)
            elapsed, share = _timed_install(server, cmd, len(names))
            if best is None or share < best[0]:
                best = (share, elapsed)
            if share <= DISTURBED:
                break
        assert best is not None
        row.other_loads.append(best[0])
        row.runs.append(best[1])
        shutil.rmtree(cache, ignore_errors=True)
    log(f"  {server.name}: " + ", ".join(f"{t:.2f} s" for t in row.runs))
    return row


def _timed_install(server: Server, cmd: list[str], count: int) -> tuple[float, float]:
    """Seconds one install took, and the other load meanwhile."""
    wait_for_quiet()
    with OtherLoad(server.proc.pid) as load:
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=clean_env(), check=False, timeout=600
            )
        except subprocess.TimeoutExpired as exc:
            raise StepError(f"{server.name}: uv pip install took over 600 s") from exc
        elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise StepError(
            f"{server.name}: uv pip install exit {proc.returncode}\n{proc.stderr[-2000:]}"
        )
    m = re.search(r"Installed (\d+) packages?", proc.stderr)
    if not m or int(m.group(1)) != count:
        raise StepError(f"{server.name}: uv did not install {count}:\n{proc.stderr}")
    return elapsed, load.share


def install_command(index: str, venv: Path, cache: Path, names: Sequence[str]) -> list[str]:
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
        *names,
    ]


# --------------------------------------------------------------------------- report


def version_of(cmd: Sequence[str | Path]) -> str:
    try:
        out = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=clean_env(PYTHONWARNINGS="ignore"),
        )
    except OSError:
        return "?"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def tool_versions() -> str:
    wrk = version_of(["wrk", "-v"]).split()
    nginx = version_of([NGINX, "-v"]).rsplit("/", 1)[-1]
    twine = version_of([VENV / "bin" / "twine", "--version"]).split()
    uv = version_of(["uv", "--version"]).split()
    return (
        f"wrk {wrk[1] if len(wrk) > 1 else '?'}, nginx {nginx}, "
        f"pypiserver {version_of([VENV / 'bin' / 'pypi-server', '--version'])}, "
        f"devpi-server {version_of([VENV / 'bin' / 'devpi-server', '--version'])}, "
        f"twine {twine[2] if len(twine) > 2 else '?'}, uv {uv[1] if len(uv) > 1 else '?'}"
    )


def machine_info() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kib / 1024 / 1024:.0f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def git_rev() -> str:
    """The commit trustyard runs from, "-dirty" if its code (not benchmarks/) has changes."""

    def git(*args: str) -> str:
        cmd = ["git", "-C", str(ROOT), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", "src", "pyproject.toml", "uv.lock")
    return rev + ("-dirty" if changed else "")


@dataclasses.dataclass
class Results:
    args: argparse.Namespace
    phases: list[str]
    servers: list[str]
    dists: Dists | None = None
    simple: dict[str, SimpleRow] = dataclasses.field(default_factory=dict)
    populate: dict[str, float] = dataclasses.field(default_factory=dict)
    upload: dict[str, UploadRow] = dataclasses.field(default_factory=dict)
    install: dict[str, InstallRow] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)
    started: str = ""
    duration: str = "10s"
    repeats: int = 3
    huge_mib: int = 200
    simple_note: str = "static files"
    revision: str = "?"
    commands: dict[str, str] = dataclasses.field(default_factory=dict)


def _target_lines(res: Results) -> list[str]:
    lines: list[str] = []
    ty = res.simple.get("trustyard")
    if ty is None:
        return ["- trustyard was not measured in this run."]
    for kind in ("html", "json"):
        mine: WrkResult | None = getattr(ty, kind)
        if mine is None:
            continue
        devpi = getattr(res.simple.get("devpi"), kind, None) if "devpi" in res.simple else None
        nginx = getattr(res.simple.get("nginx"), kind, None) if "nginx" in res.simple else None
        parts = []
        if devpi is not None:
            x = mine.rps / devpi.rps
            verdict = "met" if x >= 10 else f"not met: needs {10 * devpi.rps / mine.rps:.1f}x more"
            parts.append(f"{x:.1f}x devpi-server (target ≥ 10x: {verdict})")
        if nginx is not None:
            x = mine.rps / nginx.rps
            verdict = (
                "met" if x >= 0.5 else f"not met: needs {0.5 * nginx.rps / mine.rps:.1f}x more"
            )
            parts.append(f"{x:.2f}x nginx (target ≥ 0.5x: {verdict})")
        if parts:
            lines.append(f"- {kind.upper()}: trustyard serves " + "; ".join(parts) + ".")
    return lines


def _order(res: Results) -> list[str]:
    return [s for s in SERVERS if s in res.servers]


def _render_simple(res: Results) -> list[str]:
    url = f"http://127.0.0.1:PORT/simple/{BIG_PROJECT}/"
    out = [
        f"## 1. `/simple/{BIG_PROJECT}/` ({2 * BIG_VERSIONS} files), concurrency {WRK_CONNECTIONS}",
        "",
        f"`{' '.join(wrk_command(url, res.duration, None))}` (HTML) and the same with "
        f"`-H 'Accept: {JSON_TYPE}'` (JSON), each after a warm-up run of the same command; "
        f"devpi's URL is `/bench/dev/+simple/{BIG_PROJECT}/`.",
        "",
        "| server | HTML req/s | HTML p50 | HTML p99 | JSON req/s | JSON p50 | JSON p99 "
        "| page size HTML / JSON | server CPU HTML / JSON | other load HTML / JSON |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in _order(res):
        row = res.simple.get(name)
        if row is None:
            continue
        if row.error:
            out.append(f"| {name} | failed: {row.error.splitlines()[0]} | | | | | | | | |")
            continue
        cells: list[str] = []
        for r in (row.html, row.json):
            if r is None:
                cells += ["n/a", "n/a", "n/a"]
            else:
                flag = f" ({r.errors})" if r.errors else ""
                cells += [f"{r.rps:,.0f}{flag}", fmt_ms(r.p50_ms), fmt_ms(r.p99_ms)]
        json_size = f"{row.json_bytes:,} B" if row.json_bytes else "n/a"
        sizes = f"{row.html_bytes or 0:,} B / {json_size}"
        label = f"{name} ({res.simple_note})" if name == "nginx" else name
        loads = " / ".join(fmt_load(r.other_load if r else None) for r in (row.html, row.json))
        cores = " / ".join(f"{r.server_cores:.2f}" if r else "n/a" for r in (row.html, row.json))
        out.append(f"| {label} | " + " | ".join(cells) + f" | {sizes} | {cores} | {loads} |")
    out.append("")
    ty = res.simple.get("trustyard")
    if ty is None or ty.error:
        return out
    out += ["Ratios of trustyard's requests/s:", "", "| | HTML | JSON |", "| --- | ---: | ---: |"]
    for other in ("devpi", "pypiserver", "nginx", "floor"):
        o = res.simple.get(other)
        if o is None or o.error:
            continue
        h = ratio(ty.html.rps if ty.html else None, o.html.rps if o.html else None)
        j = ratio(ty.json.rps if ty.json else None, o.json.rps if o.json else None)
        out.append(f"| trustyard / {other} | {h} | {j} |")
    floor, nginx = res.simple.get("floor"), res.simple.get("nginx")
    if floor is not None and nginx is not None and not floor.error and not nginx.error:
        h = ratio(floor.html.rps if floor.html else None, nginx.html.rps if nginx.html else None)
        j = ratio(floor.json.rps if floor.json else None, nginx.json.rps if nginx.json else None)
        out.append(f"| floor / nginx | {h} | {j} |")
    out += ["", "Targets (≥ 10x devpi-server, ≥ half of nginx):", ""]
    return [*out, *_target_lines(res), ""]


def _render_upload(res: Results) -> list[str]:
    huge = res.dists.huge if res.dists else None
    huge_name = huge.name if huge else "huge_pkg-1.0.0-py3-none-any.whl"
    huge_mb = huge.stat().st_size / 1e6 if huge else 0.0
    out = [
        f"## 2. Upload of a {res.huge_mib} MiB wheel",
        "",
        "`twine upload --non-interactive --disable-progress-bar --repository-url URL -u USER "
        f"-p PASSWORD {huge_name}` ({huge_mb:.1f} MB, random bytes, ZIP_STORED): wall time of "
        "the whole twine command (which also hashes the file). Peak RSS: VmHWM summed over the "
        "server process and its children, reset just before the upload "
        "(`echo 5 > /proc/PID/clear_refs`).",
        "",
        "| server | seconds | peak RSS | RSS before | processes | other load |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in _order(res):
        row = res.upload.get(name)
        if row is None:
            continue
        if row.error or row.seconds is None:
            out.append(f"| {name} | failed: {row.error.splitlines()[0]} | | | | |")
            continue
        lifetime = " (lifetime peak)" if row.peak_is_lifetime else ""
        out.append(
            f"| {name} | {row.seconds:.2f} | {row.peak_rss_mib or 0:.0f} MiB{lifetime} | "
            f"{row.rss_before_mib or 0:.0f} MiB | {row.processes} | {fmt_load(row.other_load)} |"
        )
    ty = res.upload.get("trustyard")
    rows: list[str] = []
    for other in ("devpi", "pypiserver"):
        o = res.upload.get(other)
        if ty is None or ty.seconds is None or o is None or o.seconds is None:
            continue
        rows.append(
            f"| trustyard / {other} | {ratio(ty.seconds, o.seconds)} | "
            f"{ratio(ty.peak_rss_mib, o.peak_rss_mib)} |"
        )
    if rows:
        out += ["", "| | seconds | peak RSS |", "| --- | ---: | ---: |", *rows]
    return [*out, ""]


def _render_install(res: Results) -> list[str]:
    names = res.dists.install_names if res.dists else []
    cmd = install_command("INDEX", Path("VENV"), Path("FRESH_CACHE"), ["..."])
    out = [
        f"## 3. `uv pip install` of {len(names)} packages, cold cache",
        "",
        f"`{' '.join(cmd)}` ({len(names)} projects `bench-pkg-00`…`-{len(names) - 1}`, "
        "2 versions x (wheel + sdist) each, two dependency chains of five), into a fresh venv "
        f"with an empty cache dir; median of {res.repeats}. INDEX is the server's simple URL "
        "(devpi: `/bench/dev/+simple/`, a user index with no bases); nginx serves a static "
        "PEP 503 tree of the same files.",
        "",
        "| server | median | runs | other load (max) |",
        "| --- | ---: | --- | ---: |",
    ]
    for name in _order(res):
        row = res.install.get(name)
        if row is None:
            continue
        if row.error or row.median is None:
            out.append(f"| {name} | failed: {row.error.splitlines()[0]} | | |")
            continue
        runs = ", ".join(f"{t:.2f}" for t in row.runs)
        load = fmt_load(max(row.other_loads, default=None))
        out.append(f"| {name} | {row.median:.2f} s | {runs} | {load} |")
    ty = res.install.get("trustyard")
    rows: list[str] = []
    for other in ("devpi", "pypiserver", "nginx"):
        o = res.install.get(other)
        if ty is None or ty.median is None or o is None or o.median is None:
            continue
        rows.append(f"| trustyard / {other} | {ratio(ty.median, o.median)} |")
    if rows:
        out += ["", "| | wall time |", "| --- | ---: |", *rows]
    return [*out, ""]


def render(res: Results) -> str:
    a = res.args
    command = "bash benchmarks/setup.sh && uv run python benchmarks/run.py"
    command += f" --only {a.only}" if a.only else ""
    command += " --quick" if a.quick else ""
    command += f" --servers {a.servers}" if a.servers != ",".join(SERVERS) else ""
    command += f" --trustyard-args {shlex.quote(a.trustyard_args)}" if a.trustyard_args else ""
    quick = " (**--quick**: shorter runs, smaller upload; not for publishing)" if a.quick else ""
    out = [
        "# trustyard benchmark results",
        "",
        f"- Run: {res.started}, trustyard `{res.revision}`{quick}",
        f"- Machine: {machine_info()}",
        f"- Tools: {tool_versions()}",
        f"- Command: `{command}`",
        "",
    ]
    if res.commands:
        out += ["Servers as run (each in its own data dir under `benchmarks/.work/run/`):", ""]
        out += [f"- {name}: `{cmd}`" for name, cmd in res.commands.items()]
        out.append("")
    if res.simple:
        out += _render_simple(res)
    if res.upload:
        out += _render_upload(res)
    if res.install:
        out += _render_install(res)
    if res.populate:
        spent = "; ".join(f"{k} {v:.1f} s" for k, v in res.populate.items())
        out += [
            "## Setup uploads (not a target; for information)",
            "",
            "twine uploads of the small files each server got before the measurements, "
            f"in batches of 250: {spent}.",
            "",
        ]
    notes = [
        "Server CPU: CPU time used by the server's processes during the wrk run, divided by "
        "its length (1.00 = one core busy throughout; the machine has "
        f"{os.cpu_count()}, shared with wrk).",
        "Other load: the share of the machine's CPU time used, during the measurement, by "
        "processes other than the server measured, the load generator and this script. Above "
        f"{DISTURBED:.0%} (⚠) the machine was shared and the figure is disturbed: rerun on an "
        "idle machine.",
        *res.notes,
    ]
    out += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if res.failures:
        out += ["## Failures", "", *[f"- {f.splitlines()[0]}" for f in res.failures], ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=PHASES, help="run only this measurement")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 3 s wrk runs, 1 install run, 20 MiB upload",
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of {','.join(SERVERS)} (default: all)",
    )
    parser.add_argument(
        "--trustyard-args",
        default="",
        metavar="ARGS",
        help="extra arguments for `trustyard serve`, e.g. '--workers 2'",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for idle CPUs before each measurement (default 120; on a"
        " machine shared with steady work, 0: the figures are then flagged, compare ratios)",
    )
    args = parser.parse_args(argv)
    QUIET_WAIT[0] = args.quiet_wait
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown := set(servers) - set(SERVERS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    phases = [args.only] if args.only else list(PHASES)
    missing = [
        str(p)
        for p in (VENV / "bin" / "pypi-server", VENV / "bin" / "devpi-server", NGINX)
        if not p.exists()
    ]
    if missing or shutil.which("wrk") is None:
        print(f"missing {', '.join(missing) or 'wrk'}: run `bash benchmarks/setup.sh` first")
        return 2

    res = Results(args=args, phases=phases, servers=servers)
    res.started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    res.revision = git_rev()  # of the code the servers start with
    res.duration, res.repeats, res.huge_mib = ("3s", 1, 20) if args.quick else ("10s", 3, 200)
    warmup = "1s" if args.quick else "3s"

    fleet = Fleet()
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "run.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another benchmarks/run.py is running (benchmarks/.work/run.lock)")
            return 2
        # Ctrl-C and SIGTERM both end in KeyboardInterrupt, and so in fleet.stop_all().
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            return _run(res, fleet, warmup)
        except KeyboardInterrupt:
            log("interrupted; stopping servers")
            return 130
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            fleet.stop_all()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run(res: Results, fleet: Fleet, warmup: str) -> int:
    log(f"building distributions in {DISTS}")
    t0 = time.monotonic()
    res.dists = dists = make_dists(res.huge_mib)
    log(
        f"  {len(dists.big)} files of {BIG_PROJECT}, {len(dists.install)} install files, "
        f"{dists.huge.name} ({dists.huge.stat().st_size / 1e6:.1f} MB) in "
        f"{time.monotonic() - t0:.1f}s"
    )

    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    starters: dict[str, Callable[[Fleet], Server]] = {
        "trustyard": functools.partial(start_trustyard, extra=shlex.split(res.args.trustyard_args)),
        "devpi": start_devpi,
        "pypiserver": start_pypiserver,
        "nginx": start_nginx,
    }
    running: dict[str, Server] = {}
    for name in res.servers:
        if name == "floor":
            continue  # started once trustyard holds the page it copies
        log(f"starting {name}")
        try:
            running[name] = starters[name](fleet)
        except (StepError, OSError) as exc:
            res.failures.append(f"start {name}: {exc}")
            log(f"FAILED: start {name}: {exc}")
    indexes = [s for n, s in running.items() if n not in STATIC]

    # Give every index the same files.
    wanted: list[tuple[str, list[Path]]] = []
    if "simple" in res.phases:
        wanted.append((f"{len(dists.big)} {BIG_PROJECT} files", dists.big))
    if "install" in res.phases:
        wanted.append((f"{len(dists.install)} install files", dists.install))
    for server in list(indexes):
        for what, files in wanted:
            log(f"uploading {what} to {server.name}")
            try:
                spent = twine_upload(server, files, what)
            except (StepError, OSError) as exc:
                res.failures.append(f"populate {server.name}: {exc}")
                log(f"FAILED: populate {server.name}: {exc}")
                indexes.remove(server)
                running.pop(server.name)
                break
            res.populate[server.name] = res.populate.get(server.name, 0.0) + spent
            log(f"  {spent:.1f} s")

    if "nginx" in running:
        nginx = running["nginx"]
        if "simple" in res.phases:
            source = next((running[n] for n in SERVERS[:3] if n in running), None)
            if source is None:
                res.failures.append("nginx: no index server's page to copy")
            else:
                res.simple_note = nginx_publish_page(nginx, source, BIG_PROJECT)
                if source.name != "trustyard":
                    res.notes.append(f"nginx served {source.name}'s page: trustyard was not run.")
        if "install" in res.phases:
            nginx_publish_index(nginx, dists.install)
    if "floor" in res.servers and "simple" in res.phases:
        if "trustyard" not in running:
            res.failures.append("floor: no trustyard page to copy")
        else:
            log("starting floor")
            try:
                running["floor"] = start_floor(fleet, running["trustyard"])
            except (StepError, OSError) as exc:
                res.failures.append(f"start floor: {exc}")
                log(f"FAILED: start floor: {exc}")

    order = [s for s in SERVERS if s in running]
    if "simple" in res.phases:
        log(f"(1) /simple/{BIG_PROJECT}/ with wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}")
        for name in order:
            try:
                res.simple[name] = bench_simple(running[name], res.duration, warmup, len(dists.big))
            except (StepError, OSError, ValueError, KeyError) as exc:
                res.simple[name] = SimpleRow(error=str(exc))
                res.failures.append(f"simple {name}: {exc}")
                log(f"FAILED: simple {name}: {exc}")
    if "upload" in res.phases:
        log(f"(2) upload of {dists.huge.name}")
        for name in order:
            if name in STATIC:
                continue
            try:
                res.upload[name] = bench_upload(running[name], dists.huge)
            except (StepError, OSError) as exc:
                res.upload[name] = UploadRow(error=str(exc))
                res.failures.append(f"upload {name}: {exc}")
                log(f"FAILED: upload {name}: {exc}")
    if "install" in res.phases:
        log(f"(3) uv pip install of {len(dists.install_names)} packages, {res.repeats} run(s)")
        for name in order:
            if name == "floor":
                continue
            try:
                res.install[name] = bench_install(running[name], dists.install_names, res.repeats)
            except (StepError, OSError) as exc:
                res.install[name] = InstallRow(error=str(exc))
                res.failures.append(f"install {name}: {exc}")
                log(f"FAILED: install {name}: {exc}")

    for name, server in running.items():
        if server.proc.poll() is not None:
            res.failures.append(f"{name} exited with {server.proc.returncode} during the run")
    res.commands = dict(fleet.commands)
    fleet.stop_all()

    report = render(res)
    full = not res.args.quick and not res.args.only and set(res.servers) == set(SERVERS)
    target = HERE / "results.md" if full else WORK / "results-partial.md"
    target.write_text(report + "\n")
    print()
    print(report)
    log(f"wrote {target}")
    if res.failures:
        log("some steps failed:")
        for f in res.failures:
            print(f"  - {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
