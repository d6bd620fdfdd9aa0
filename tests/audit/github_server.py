"""A loopback HTTP server that answers GitHub API requests from recorded JSON responses.

The only mock in these tests, standing in for api.github.com, which this machine cannot reach.
A scenario folder holds ``routes.json``: ``{"GET /path?query": {"status": 200, "file": "x.json"}}``.
Unknown paths answer 404 with GitHub's ``{"message": "Not Found"}`` body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class RecordedGitHub:
    url: str
    requests: list[tuple[str, str | None]] = field(default_factory=list)


@contextmanager
def serve_recorded(scenario: Path) -> Iterator[RecordedGitHub]:
    routes = json.loads((scenario / "routes.json").read_text(encoding="utf-8"))
    state = RecordedGitHub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization")))
            route = routes.get(f"GET {self.path}")
            if route is None:
                status, body = 404, b'{"message": "Not Found"}'
            else:
                status = int(route["status"])
                body = (scenario / route["file"]).read_bytes()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
