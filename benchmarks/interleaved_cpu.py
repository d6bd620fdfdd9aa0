"""Interleaved wrk runs of servers already running, with each server's CPU time.

    python3 benchmarks/interleaved_cpu.py PATH NAME=PORT [NAME=PORT ...]   (N=rounds, D=wrk -d)

For each format (HTML, PEP 691 JSON, HTML with Accept-Encoding: gzip) and round, one
``wrk -t2 -c16`` per server in turn; prints medians of requests/s and of requests per CPU-second
of the server's processes (those listening on the port, from /proc): on a machine shared with
steady other work, the second figure compares the servers' own costs. Issue 19 used it with
nginx and today's main started by hand beside the branch (benchmarks/README.md).
"""

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

TCK = os.sysconf("SC_CLK_TCK")


def pids(port):
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    return {int(p) for p in re.findall(r"pid=(\d+)", out)}


def cpu(ps):
    t = 0
    for p in ps:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except FileNotFoundError:
            pass
    return t / TCK


path = sys.argv[1]
servers = {k: int(v) for k, _, v in (a.partition("=") for a in sys.argv[2:])}
procs = {k: pids(v) for k, v in servers.items()}
rounds = int(os.environ.get("N", "3"))
dur = os.environ.get("D", "5s")
res = {}
for fmt, hdr in (
    ("html", "X-A: 1"),
    ("json", "Accept: application/vnd.pypi.simple.v1+json"),
    ("gzip-html", "Accept-Encoding: gzip"),
):
    for _r in range(rounds):
        for name, port in servers.items():
            c0 = cpu(procs[name])
            out = subprocess.run(
                ["wrk", "-t2", "-c16", f"-d{dur}", "-H", hdr, f"http://127.0.0.1:{port}{path}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            c1 = cpu(procs[name])
            n = int(re.search(r"(\d+) requests in", out).group(1))
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            res.setdefault((fmt, name), []).append((rps, n / max(c1 - c0, 1e-9)))
    line = [fmt]
    for name in servers:
        v = res[(fmt, name)]
        line.append(
            f"{name} {statistics.median(x[0] for x in v):.0f} req/s,"
            f" {statistics.median(x[1] for x in v):.0f} req/CPU-s"
        )
    print(" | ".join(line), "| load", Path("/proc/loadavg").read_text().split()[0], flush=True)
