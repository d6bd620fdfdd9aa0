"""A per-request timeline of trustyard's proxy during one cold ``uv pip install`` (issue 17).

    uv run python benchmarks/proxy/timeline.py [--out DIR] [--upstream URL]

Starts the proxy in this process (one uvicorn worker, an empty data directory, the same app
``trustyard serve --upstream`` runs), with two probes that change nothing it does: an ASGI
wrapper that notes, for every client request, when it arrived, when the answer's headers and
its last byte were sent, and how many bytes; and wrappers around the upstream client's page
fetch and file download (start, headers, end, bytes). Then runs the same cold install as
``run.py`` (empty uv cache, new venv) against it, and writes ``timeline.json`` (every event)
and ``timeline.md`` (a table per request, in arrival order, and a summary: concurrency of
client requests and upstream fetches over time, the time between a file's upstream end and
its answer's first byte, ...). The first measurement of where the cold time goes; ``run.py``
is what the targets are judged by.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "benchmarks" / ".work" / "proxy-timeline"
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402 - the harness's install and checks, reused as they are

from trustyard.index.app import create_app  # noqa: E402
from trustyard.index.context import open_index  # noqa: E402
from trustyard.index.upstream import client as upstream_client  # noqa: E402
from trustyard.index.upstream import proxy as upstream_proxy  # noqa: E402

try:  # absent before the write-behind (so the tool also times older trees, e.g. main's)
    from trustyard.index.upstream import writeback
except ImportError:  # pragma: no cover
    writeback = None  # type: ignore[assignment]
from trustyard.settings import load_settings  # noqa: E402

T0 = time.monotonic()
EVENTS: list[dict[str, Any]] = []
_LOCK = threading.Lock()


def now() -> float:
    """Seconds since this script started."""
    return round(time.monotonic() - T0, 4)


def note(**event: Any) -> dict[str, Any]:
    """Record one event (a dict updated in place as the request goes on)."""
    with _LOCK:
        EVENTS.append(event)
    return event


class Probe:
    """ASGI wrapper: arrival, response start, response end and bytes of every request."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event = note(
            kind="client",
            path=scope["path"],
            accept=dict(scope["headers"]).get(b"accept", b"").decode()[:40],
            range=dict(scope["headers"]).get(b"range", b"").decode(),
            arrived=now(),
            bytes=0,
        )

        async def probed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                event["status"] = message["status"]
                event["headers_sent"] = now()
            elif message["type"] == "http.response.body":
                event["bytes"] += len(message.get("body", b""))
                if "first_body" not in event and message.get("body"):
                    event["first_body"] = now()
                if not message.get("more_body", False):
                    event["ended"] = now()
            await send(message)

        await self.app(scope, receive, probed)


def probe_upstream() -> None:
    """Wrap the upstream client's page fetch and file download, and the proxy's steps."""
    client_cls = upstream_client.UpstreamClient
    page, download = client_cls.project_page, client_cls.download

    async def project_page(self: Any, name: str, etag: str | None) -> Any:
        event = note(kind="upstream-page", path=name, started=now())
        try:
            answer = await page(self, name, etag)
        except Exception as exc:
            event.update(error=f"{type(exc).__name__}: {exc} ({exc.__cause__!r})", failed=now())
            raise
        event.update(ended=now(), status=answer.status, bytes=len(answer.body))
        return answer

    async def file_download(self: Any, url: str, target: Path, **kwargs: Any) -> Any:
        event = note(kind="upstream-file", path=url.rsplit("/", 1)[-1], started=now())
        progress = kwargs.get("on_progress")

        def on_progress(size: int) -> None:
            event.setdefault("first_chunk", now())
            if progress is not None:
                progress(size)

        kwargs["on_progress"] = on_progress
        try:
            got = await download(self, url, target, **kwargs)
        except Exception as exc:
            event.update(error=f"{type(exc).__name__}: {exc} ({exc.__cause__!r})", failed=now())
            raise
        event.update(ended=now(), bytes=got.size)
        return got

    client_cls.project_page = project_page  # type: ignore[method-assign]
    client_cls.download = file_download  # type: ignore[method-assign]

    proxy_cls = upstream_proxy.UpstreamProxy
    if writeback is not None:
        write = writeback.WriteBehind._write

        def batch(self: Any, jobs: list[Any]) -> None:
            event = note(kind="step", path="write_batch", started=now(), arg=str(len(jobs)))
            try:
                write(self, jobs)
            finally:
                event["ended"] = now()

        writeback.WriteBehind._write = batch  # type: ignore[method-assign]
    for name in ("_read_page", "_read_file"):
        original = getattr(proxy_cls, name)

        def timed(self: Any, *args: Any, _original: Any = original, _name: str = name) -> Any:
            event = note(kind="step", path=_name, started=now(), arg=str(args[0])[:40])
            try:
                return _original(self, *args)
            finally:
                event["ended"] = now()

        setattr(proxy_cls, name, timed)
    parse = upstream_proxy.parse_page

    def parse_page(body: bytes, content_type: str, url: str, name: str) -> Any:
        event = note(kind="step", path="parse_page", started=now(), arg=name)
        try:
            return parse(body, content_type, url, name)
        finally:
            event["ended"] = now()

    upstream_proxy.parse_page = parse_page  # type: ignore[assignment]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data: Path, port: int, upstream: str, ready: threading.Event) -> uvicorn.Server:
    settings = load_settings(
        {"data_dir": data, "host": "127.0.0.1", "port": port, "upstream": upstream}
    )
    app = Probe(create_app(settings, open_index(settings)))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve())

    threading.Thread(target=run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    ready.set()
    return server


def summary(events: list[dict[str, Any]], install: tuple[float, float]) -> list[str]:
    """What the table shows in a few lines."""
    clients = [e for e in events if e["kind"] == "client" and "ended" in e]
    pages = [e for e in clients if e["path"].startswith("/simple/")]
    files = [e for e in clients if e["path"].startswith("/files/")]
    ups_pages = [e for e in events if e["kind"] == "upstream-page" and "ended" in e]
    ups_files = [e for e in events if e["kind"] == "upstream-file" and "ended" in e]
    steps: dict[str, list[float]] = {}
    for e in events:
        if e["kind"] == "step" and "ended" in e:
            steps.setdefault(e["path"], []).append(e["ended"] - e["started"])
    start, end = install

    def busy(spans: list[tuple[float, float]]) -> float:
        total, last = 0.0, start
        for begin, b in sorted(spans):
            a = max(begin, last)
            if b > a:
                total += b - a
                last = b
        return total

    def peak(spans: list[tuple[float, float]]) -> int:
        marks = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
        level = top = 0
        for _, delta in marks:
            level += delta
            top = max(top, level)
        return top

    lines = [
        f"- install wall time: {end - start:.2f} s",
        f"- client requests: {len(pages)} pages, {len(files)} files;"
        f" peak concurrency pages {peak([(e['arrived'], e['ended']) for e in pages])},"
        f" files {peak([(e['arrived'], e['ended']) for e in files])}",
        f"- first page request at +{min(e['arrived'] for e in pages) - start:.2f} s, last page"
        f" answered at +{max(e['ended'] for e in pages) - start:.2f} s; first file request at"
        f" +{min((e['arrived'] for e in files), default=start) - start:.2f} s, last file"
        f" answered at +{max((e['ended'] for e in files), default=start) - start:.2f} s",
        f"- upstream page fetches: {len(ups_pages)},"
        f" busy {busy([(e['started'], e['ended']) for e in ups_pages]):.2f} s,"
        f" peak {peak([(e['started'], e['ended']) for e in ups_pages])},"
        f" sum {sum(e['ended'] - e['started'] for e in ups_pages):.2f} s",
        f"- upstream file fetches: {len(ups_files)},"
        f" busy {busy([(e['started'], e['ended']) for e in ups_files]):.2f} s,"
        f" peak {peak([(e['started'], e['ended']) for e in ups_files])},"
        f" sum {sum(e['ended'] - e['started'] for e in ups_files):.2f} s,"
        f" {sum(e['bytes'] for e in ups_files) / 1e6:.1f} MB",
    ]
    page_over = []
    for e in pages:
        up = next((u for u in ups_pages if f"/simple/{u['path']}/" == e["path"]), None)
        if up is not None and "headers_sent" in e:
            page_over.append((e["headers_sent"] - up["ended"], e["path"]))
    if page_over:
        page_over.sort()
        lines.append(
            "- page: upstream end -> our headers: median"
            f" {page_over[len(page_over) // 2][0] * 1000:.0f} ms, max"
            f" {page_over[-1][0] * 1000:.0f} ms ({page_over[-1][1]})"
        )
    file_over = []
    for e in files:
        name = e["path"].rsplit("/", 1)[-1]
        up = next((u for u in ups_files if u["path"] == name), None)
        if up is not None and "first_body" in e:
            file_over.append((e["first_body"] - up["started"], up["ended"] - up["started"], name))
    if file_over:
        file_over.sort()
        lines.append(
            "- file: upstream start -> our first body byte: median"
            f" {file_over[len(file_over) // 2][0] * 1000:.0f} ms; sum of (first byte - upstream"
            f" end) {sum(a - b for a, b, _ in file_over):.2f} s"
        )
    for e in events:
        if "error" in e:
            lines.append(
                f"- {e['kind']} {e['path']} failed at +{e['failed'] - start:.2f} s: {e['error']}"
            )
    for name, spans in sorted(steps.items()):
        lines.append(
            f"- step {name}: {len(spans)} calls, sum {sum(spans):.2f} s, max {max(spans):.3f} s"
        )
    return lines


def table(events: list[dict[str, Any]], start: float) -> list[str]:
    rows = ["| kind | path | arrived/started | headers | first byte | ended | bytes | status |"]
    rows.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def rel(value: float | None) -> str:
        return "" if value is None else f"{value - start:.3f}"

    for e in sorted(events, key=lambda e: e.get("arrived", e.get("started", 0))):
        if e["kind"] == "step":
            continue
        rows.append(
            f"| {e['kind']} | {e['path'][-70:]} | {rel(e.get('arrived', e.get('started')))} |"
            f" {rel(e.get('headers_sent'))} | {rel(e.get('first_body', e.get('first_chunk')))} |"
            f" {rel(e.get('ended'))} | {e.get('bytes', '')} | {e.get('status', '')} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=WORK)
    parser.add_argument("--upstream", default=bench.PYPI)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    probe_upstream()
    port = free_port()
    ready = threading.Event()
    server = serve(WORK / "data", port, args.upstream, ready)
    ready.wait()
    venv = WORK / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    subprocess.run(["uv", "venv", "-q", "--python", args.python, str(venv)], check=True, env=env)
    cache = Path(tempfile.mkdtemp(dir=WORK))
    command = [
        "uv", "pip", "install", "--no-config", "--python", str(venv / "bin" / "python"),
        "--index-url", f"http://127.0.0.1:{port}/simple/", "--cache-dir", str(cache),
        "-r", str(bench.PACKAGES_IN), "-c", str(bench.PACKAGES_TXT),
    ]  # fmt: skip
    load = os.getloadavg()
    start = now()
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    end = now()
    server.should_exit = True
    time.sleep(0.5)
    report = [
        f"# Proxy timeline: one cold install, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"`{' '.join(command)}` exit {done.returncode}; load before {load}, after"
        f" {os.getloadavg()}",
        "",
        *summary(EVENTS, (start, end)),
        "",
        "Times in seconds from the install's start.",
        "",
        *table(EVENTS, start),
    ]
    (args.out / "timeline.md").write_text("\n".join(report) + "\n")
    (args.out / "timeline.json").write_text(
        json.dumps({"install": [start, end], "events": EVENTS}, indent=1)
    )
    print("\n".join(report[:20]))
    if done.returncode:
        print(done.stderr[-3000:])
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
