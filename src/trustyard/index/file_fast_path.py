"""Small distribution files answered from memory before routing (issue 19: installs).

An install fetches, per package, a page, a PEP 658 ``.metadata`` file and a wheel; each file
request cost three catalogue reads in a worker thread, then a ``stat``, an ``open`` and reads in
more worker threads, before a byte went out. Files under ``/files/`` never change under their
path (content-addressed): what can change is whether the path is served at all (a deleted
file, a project made private), and every such change is a catalogue commit, which moves the
change token of :class:`~trustyard.index.services.simple_pages.SimplePages`.

This layer, inside the security layer like :mod:`trustyard.index.simple_fast_path`, lets a
request through to the route and keeps the answer the route gave when all of this holds:

- a ``GET`` of a local file (not ``/files/upstream/``: whether the policy gate serves an
  upstream file changes with the clock, an exception expiring), without ``Range`` or
  ``If-Range`` (those answers are partial), from a request with neither ``Authorization``
  nor a cookie, on a public index: a 200 to an anonymous reader is public by definition
  (a private project's file is refused to them);
- a complete 200 of at most :data:`MAX_FILE` bytes, kept while the cache holds at most
  :data:`MAX_TOTAL` bytes (the oldest go first);
- the change token read before the route ran is still the current one when it is served
  again; with no token (PostgreSQL while its listener is down) nothing is kept.

The kept answer is sent byte for byte as the route sent it (its headers as the read gate left
them; the security layer adds its own again).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustyard.index.services.simple_pages import SimplePages

PREFIX = "/files/"
UPSTREAM = "/files/upstream/"
MAX_FILE = 1 << 20  # a wheel or metadata file kept in memory is at most 1 MiB...
MAX_TOTAL = 64 << 20  # ...and all of them at most 64 MiB
_SKIP = frozenset({b"authorization", b"cookie", b"range", b"if-range"})


@dataclass(frozen=True)
class _Kept:
    token: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _Store:
    """Kept answers by path, oldest first, bounded in bytes (a lock: see PageCache)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Kept] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, path: str) -> _Kept | None:
        with self._lock:
            return self._entries.get(path)

    def put(self, path: str, kept: _Kept) -> None:
        with self._lock:
            old = self._entries.pop(path, None)
            if old is not None:
                self._size -= len(old.body)
            self._entries[path] = kept
            self._size += len(kept.body)
            while self._size > MAX_TOTAL:
                dropped = self._entries.pop(next(iter(self._entries)))
                self._size -= len(dropped.body)


class CachedFiles:
    """ASGI layer: a small public file answered from memory, else the app (module docstring)."""

    def __init__(self, app: ASGIApp, pages: SimplePages, *, private: bool) -> None:
        self.app = app
        self.pages = pages
        self.enabled = not private
        self.store = _Store()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.enabled and scope["type"] == "http" and self._eligible(scope)):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        token = self.pages.change_token()
        kept = self.store.get(path)
        if kept is not None and token is not None and kept.token == token:
            headers = list(kept.headers)  # the layers outside may change the list they get
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": kept.body})
            return
        if token is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._keeping(path, token, send))

    @staticmethod
    def _eligible(scope: Scope) -> bool:
        path: str = scope["path"]
        if scope["method"] != "GET" or scope.get("root_path"):
            return False
        if not path.startswith(PREFIX) or path.startswith(UPSTREAM):
            return False
        return not any(key in _SKIP for key, _ in scope["headers"])

    def _keeping(self, path: str, token: int, send: Send) -> Send:
        """``send``, keeping a copy of a small complete 200 as it passes."""
        head: list[tuple[bytes, bytes]] | None = None
        parts: list[bytes] = []
        size = 0

        async def keep(message: Message) -> None:
            nonlocal head, size
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    head = list(message.get("headers", []))
            elif message["type"] == "http.response.body" and head is not None:
                body: bytes = message.get("body", b"")
                size += len(body)
                if size > MAX_FILE:
                    head = None
                else:
                    parts.append(body)
                    if not message.get("more_body", False):
                        self.store.put(path, _Kept(token, head, b"".join(parts)))
            await send(message)

        return keep
