"""The per-request floor under trustyard's pages: its uvicorn, serving the same bytes from a
trivial ASGI app (issue 19, row 2: what a cached ``/simple/<p>/`` costs above the server).

    uv run python benchmarks/floor.py SOURCE_URL --port N [--protocol ours|stock]
                                      [--no-access-log]

Fetches ``SOURCE_URL`` (a running trustyard's ``/simple/<p>/``) once as HTML and once as PEP
691 JSON, keeps each answer's headers and body, then serves them under uvicorn configured by
``trustyard.index.server.uvicorn_options`` (the options ``trustyard serve`` passes: uvloop,
httptools, the access log, keep-alive, concurrency limits), from an app that does nothing but
pick HTML or JSON by ``Accept`` and send the kept answer: the same bytes on the wire as
trustyard's, with none of trustyard's app around them.

``--protocol ours`` (the default) keeps trustyard's connection protocol
(``LimitedHttpProtocol``: head limits and the coalesced write), ``stock`` takes uvicorn's own
httptools protocol; ``--no-access-log`` turns uvicorn's access log off (trustyard logs by
default; nginx in benchmarks/run.py does not). Measure it beside the servers with
``benchmarks/interleaved_cpu.py``; benchmarks/README.md has the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import urllib.request

import uvicorn
from starlette.types import Receive, Scope, Send

from trustyard.index.connection_limits import LimitedHttpProtocol
from trustyard.index.server import lighten_log_records, uvicorn_options
from trustyard.settings import Settings

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# uvicorn writes its own Date and Connection (a copy would duplicate them).
DROPPED = {b"date", b"server", b"connection"}


def fetch(url: str, accept: str | None) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The raw headers and body of one GET of ``url``, without content coding."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.items()
            if name.lower().encode("latin-1") not in DROPPED
        ]
        return headers, response.read()


class KeptAnswers:
    """The trivial app: the kept HTML or JSON answer, chosen by a substring of ``Accept``."""

    def __init__(self, html: tuple[list[tuple[bytes, bytes]], bytes], json: tuple[list, bytes]):
        self.html = html
        self.json = json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        answer = self.html
        for key, value in scope["headers"]:
            if key == b"accept" and b"json" in value:
                answer = self.json
        headers, body = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a running trustyard's /simple/<project>/ URL")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", choices=("ours", "stock"), default="ours")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args()
    app = KeptAnswers(fetch(args.source, None), fetch(args.source, JSON_TYPE))
    settings = dataclasses.replace(
        Settings(), host="127.0.0.1", port=args.port, access_log=not args.no_access_log
    )
    options = uvicorn_options(settings)
    lighten_log_records()  # as serve does
    if args.protocol == "stock":
        options["http"] = "httptools"
    else:
        LimitedHttpProtocol.configure(settings)
    uvicorn.Server(uvicorn.Config(app, **options)).run()


if __name__ == "__main__":
    main()
