"""One big upload, server side: this branch's ``trustyard serve`` against a peer, same run.

Generates a valid wheel of random (incompressible) stored bytes (1 GiB by default), starts
each server afresh for every upload (so no upload meets its twin and answers "already
present"), and posts the wheel to ``/legacy/`` with curl as a streaming multipart form, the
fields twine sends. The two servers take turns, upload by upload. Measured per upload: the
request's wall time as curl reports it (``%{time_total}``: first byte sent to last byte of the
answer), MB/s (10^6 bytes), the server's peak RSS (``VmHWM`` of its process tree, reset with
``clear_refs`` just before), the CPU it used, and the share of the machine other processes used
meanwhile. A refused upload (any status but 200) is a failure, printed as such and never
counted. With ``--s3`` the same is repeated with the files on SeaweedFS (``weed mini``, as the
test suite starts it).

    uv run python benchmarks/upload/run.py [--size-mib 1024] [--repeats 3] [--s3]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
BRANCH_BIN = ROOT / ".venv" / "bin" / "trustyard"
MAIN_BIN = Path("/work/wt/baseline/.venv/bin/trustyard")
USER = "bench"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a loopback-only server
PROJECT = "huge-pkg"
VERSION = "1.0.0"


def _load_common() -> object:
    """benchmarks/run.py: its wheel builder and process accounting (one home for each)."""
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "benchmarks" / "run.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("benchmarks/run.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_common"] = module
    spec.loader.exec_module(module)
    return module


common = _load_common()


@dataclass
class Sample:
    server: str
    status: int
    seconds: float
    tail: float  # from curl's last byte sent to the answer's status line
    peak_rss_mib: float
    server_cores: float
    other_load: float
    loadavg: float


@dataclass
class Totals:
    name: str
    size: int
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]


def free_space(path: Path) -> int:
    usage = shutil.disk_usage(path)
    return usage.free


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def server(binary: Path, data: Path, env: dict[str, str]) -> Iterator[tuple[str, str, int]]:
    """``binary serve`` on a free port with a user and an upload token: (url, token, pid)."""
    port = common.free_port()  # type: ignore[attr-defined]
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"{data.name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                binary,
                "serve",
                "--data",
                data,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--max-upload-size",
                "4GiB",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["curl", "-s", "-o", "/dev/null", f"{url}/simple/"], check=False
        ).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        admin: list[str | Path] = [binary, "admin"]
        subprocess.run(
            [*admin, "user", "create", USER, "--password-stdin", "--data", data],
            input=PASSWORD,
            text=True,
            check=True,
            env=env,
            capture_output=True,
        )
        token = subprocess.run(
            [*admin, "token", "create", USER, "--data", data],
            text=True,
            check=True,
            env=env,
            capture_output=True,
        ).stdout.strip()
        yield url, token, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def curl_upload(url: str, token: str, wheel: Path, sha256: str) -> tuple[int, float, float, str]:
    """The legacy upload as twine sends it (fields of twine's package.metadata_dictionary
    that our form reads), streamed from the file by curl; ``Expect:`` off as twine has none.

    Returns the status, curl's total time, the tail (from curl's "completely uploaded" to the
    answer's status line, both stamped by ``--trace-time``: what the server does after the
    body, plus the few MB in socket buffers and lane queues), and the answer for a failure."""
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": PROJECT,
        "version": VERSION,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "summary": f"trustyard benchmark package {PROJECT} {VERSION}",
        "license": "Apache-2.0",
        "requires_python": ">=3.8",
        "sha256_digest": sha256,
    }
    cmd = [
        "curl",
        "-sS",
        "-v",
        "--trace-time",
        "-o",
        "-",
        "-w",
        "\n%{http_code} %{time_total}",
        "-H",
        "Expect:",
        "-u",
        f"__token__:{token}",
    ]
    for name, value in fields.items():
        cmd += ["--form-string", f"{name}={value}"]
    cmd += ["-F", f"content=@{wheel};type=application/octet-stream", f"{url}/legacy/"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    body, _, tail = done.stdout.rpartition("\n")
    status, seconds = tail.split() if tail.strip() else ("0", "0")
    sent = answered = None
    for line in done.stderr.splitlines():
        stamp, _, event = line.partition(" ")
        if "completely uploaded" in event:
            sent = _clock(stamp)
        elif event.startswith("< HTTP/") and answered is None:
            answered = _clock(stamp)
    tail_s = (answered - sent) % 86400 if sent is not None and answered is not None else -1.0
    errors = "\n".join(line for line in done.stderr.splitlines() if "curl:" in line)
    return int(status), float(seconds), tail_s, (body + errors).strip()[:300]


def _clock(stamp: str) -> float:
    """Seconds since midnight from curl's ``--trace-time`` stamp (HH:MM:SS.ffffff)."""
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def listed(url: str, filename: str) -> bool:
    """Whether the project's simple page lists ``filename`` (an upload is done only then)."""
    page = subprocess.run(
        ["curl", "-sS", f"{url}/simple/{PROJECT}/"], capture_output=True, text=True, check=False
    ).stdout
    return filename in page


def one_upload(
    name: str,
    binary: Path,
    work: Path,
    wheel: Path,
    sha256: str,
    env: dict[str, str],
    totals: Totals,
) -> None:
    data = work / f"{name}-data"
    try:
        with server(binary, data, env) as (url, token, pid):
            common.wait_for_quiet(5)  # type: ignore[attr-defined]
            pids = common.process_tree(pid)  # type: ignore[attr-defined]
            if not common.reset_peak_rss(pids):  # type: ignore[attr-defined]
                totals.failures.append(f"{name}: cannot reset VmHWM (clear_refs)")
            with common.OtherLoad(pid) as load:  # type: ignore[attr-defined]
                status, seconds, tail, said = curl_upload(url, token, wheel, sha256)
            pids = [p for p in common.process_tree(pid) if Path(f"/proc/{p}").exists()]  # type: ignore[attr-defined]
            peak = sum(common.proc_status_kib(p, "VmHWM") for p in pids)  # type: ignore[attr-defined]
            if status == 200 and not listed(url, wheel.name):
                status, said = 0, "answered 200 but the file is not listed on its simple page"
            sample = Sample(
                name,
                status,
                seconds,
                tail,
                peak / 1024,
                load.server_cores,
                load.share,
                os.getloadavg()[0],
            )
            totals.samples.append(sample)
            mbps = totals.size / seconds / 1e6 if seconds else 0.0
            verdict = "ok" if status == 200 else f"FAILED: {said}"
            print(
                f"  {name:7s} {status} {seconds:6.2f} s {mbps:6.0f} MB/s  tail {tail:5.2f} s"
                f"  server CPU {load.server_cores * seconds:5.1f} s  peak RSS"
                f" {peak / 1024:5.0f} MiB  server {load.server_cores:.2f} cores  other load"
                f" {load.share:.0%}  loadavg {sample.loadavg:.2f}  {verdict}",
                flush=True,
            )
            if status != 200:
                totals.failures.append(f"{name}: HTTP {status}: {said}")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def summary(all_totals: list[Totals], label: str) -> list[str]:
    lines = [
        f"### {label}",
        "",
        "| server | uploads ok | median s | median MB/s | median tail s | median peak RSS"
        " MiB | server cores | server CPU s | loadavg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    medians: dict[str, float] = {}
    for t in all_totals:
        ok = t.ok()
        if not ok:
            lines.append(f"| {t.name} | 0 of {len(t.samples)} | - | - | - | - | - | - | - |")
            continue
        secs = statistics.median(s.seconds for s in ok)
        medians[t.name] = t.size / secs / 1e6
        lines.append(
            f"| {t.name} | {len(ok)} of {len(t.samples)} | {secs:.2f} | {medians[t.name]:.0f} |"
            f" {statistics.median(s.tail for s in ok):.2f} |"
            f" {statistics.median(s.peak_rss_mib for s in ok):.0f} |"
            f" {statistics.median(s.server_cores for s in ok):.2f} |"
            f" {statistics.median(s.server_cores * s.seconds for s in ok):.1f} |"
            f" {min(s.loadavg for s in ok):.2f} to {max(s.loadavg for s in ok):.2f} |"
        )
    if len(medians) == 2 and "branch" in medians:
        (peer,) = (name for name in medians if name != "branch")
        tails = {t.name: statistics.median(s.tail for s in t.ok()) for t in all_totals}
        lines.append("")
        lines.append(
            f"branch / {peer} throughput: {medians['branch'] / medians[peer]:.2f}x;"
            f" tail after the last byte sent: {tails['branch']:.2f} s against {tails[peer]:.2f} s"
        )
    for t in all_totals:
        lines.extend(f"- FAILURE {f}" for f in t.failures)
    return lines


def run_suite(
    label: str,
    wheel: Path,
    sha256: str,
    repeats: int,
    work: Path,
    env: dict[str, str],
    peers: dict[str, Path],
) -> list[str]:
    size = wheel.stat().st_size
    all_totals = [Totals(name, size) for name in peers]
    print(f"{label}: {size / 2**20:.0f} MiB wheel, {repeats} repeats, interleaved", flush=True)
    for _ in range(repeats):
        for totals in all_totals:
            one_upload(totals.name, peers[totals.name], work, wheel, sha256, env, totals)
    return summary(all_totals, label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="also measure with files on SeaweedFS")
    parser.add_argument("--no-local", action="store_true", help="skip the local-store figures")
    parser.add_argument("--peer", type=Path, default=MAIN_BIN, help="the peer's trustyard")
    parser.add_argument("--peer-name", default="main", help="the peer's name in the tables")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    peers = {"branch": BRANCH_BIN}
    if args.peer.exists():
        peers[args.peer_name] = args.peer
    else:
        print(f"peer {args.peer} not found: measuring this branch alone", flush=True)
    size = args.size_mib << 20
    need = size * 3 + (1 << 30)  # the wheel, a spool copy and a stored copy, and slack
    if free_space(args.work) < need:
        print(f"not enough space in {args.work}: need {need / 2**30:.1f} GiB", file=sys.stderr)
        return 2
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        f"commit {commit}, {os.cpu_count()} cores, loadavg at start {os.getloadavg()[0]:.2f}",
        "",
    ]
    failed = False
    with tempfile.TemporaryDirectory(prefix="trustyard-upload-", dir=args.work) as tmp:
        work = Path(tmp)
        wheel = common.build_wheel(  # type: ignore[attr-defined]
            work, PROJECT, VERSION, blob_bytes=size
        )
        sha256 = sha256_of(wheel)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        if not args.no_local:
            lines += run_suite("local store", wheel, sha256, args.repeats, work, env, peers)
            lines.append("")
        if args.s3:
            from tests.services import start_seaweedfs  # noqa: PLC0415 - only with --s3

            os.environ.setdefault("TRUSTYARD_TEST_TIER", "slow")
            seaweed = start_seaweedfs(work / "seaweedfs")
            try:
                # One PUT of the wheel first, uncounted: SeaweedFS allocates its volumes on the
                # first writes, which would fall on whichever server goes first. Its time is
                # the floor of the S3 figure: boto3's upload_file alone, no index around it.
                client, bucket = seaweed.client(), seaweed.new_prefix().split("/")[2]
                started = time.monotonic()
                client.upload_file(str(wheel), bucket, "warm-up/" + wheel.name)
                put = time.monotonic() - started
                client.delete_object(Bucket=bucket, Key="warm-up/" + wheel.name)
                lines.append(f"S3 warm-up: boto3 upload_file of the wheel alone took {put:.2f} s")
                lines.append("")
                s3_env = {**env, **seaweed.environ}
                s3_peers = {}
                for name, binary in peers.items():
                    wrapper = work / f"{name}-s3"
                    s3_peers[name] = _with_storage(binary, wrapper, seaweed)
                lines += run_suite(
                    "S3 (SeaweedFS)", wheel, sha256, args.repeats, work, s3_env, s3_peers
                )
            finally:
                seaweed.stop()
        failed = any(line.startswith("- FAILURE") for line in lines)
    print("\n".join(lines))
    return 1 if failed else 0


def _with_storage(binary: Path, wrapper: Path, seaweed: object) -> Path:
    """A wrapper that writes ``trustyard.toml`` (storage on a fresh S3 prefix, so that no
    upload finds its bytes already stored) into the data directory before running ``binary``."""
    bucket = seaweed.new_prefix().rsplit("/", 1)[0]  # type: ignore[attr-defined]
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do if [ -n "$next" ]; then data="$a"; next=; fi;'
        ' [ "$a" = "--data" ] && next=1; done\n'
        'if [ ! -f "$data/trustyard.toml" ]; then mkdir -p "$data";'
        f' echo "storage = \\"{bucket}/$(cat /proc/sys/kernel/random/uuid)\\""'
        ' > "$data/trustyard.toml"; fi\n'
        f'exec {binary} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


if __name__ == "__main__":
    sys.exit(main())
