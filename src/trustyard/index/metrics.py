"""Prometheus metrics of the index (issue 19): every metric, and one call per measured event.

Exposed in Prometheus' text format (https://prometheus.io/docs/instrumenting/exposition_formats/)
by :mod:`prometheus_client`, the Prometheus project's own client, on a separate address
(``--metrics-bind``, :func:`serve_metrics`), never on the index's public port: the figures say
how busy the index is, which refusals it gives and how its caches behave, which is for its
operator, not for every client, and a separate address can be kept on loopback or an internal
network without any credentials.

Two ways of keeping the values, chosen by :mod:`prometheus_client` when it is first imported:

- in-process (one server process, and the tests): the values live in this process and
  :data:`REGISTRY` is what a scrape reads;
- multiprocess (``serve --workers N``): the server sets ``PROMETHEUS_MULTIPROC_DIR`` to a
  directory of its own before the workers start, each worker writes its values to files there
  and the scrape, in the supervising process, adds them up (:func:`scrape_registry`). Gauges
  count only live workers (``livesum``): the supervisor forgets a dead worker's gauges
  (:func:`forget_process`), its counters stay in the sums as Prometheus expects.

Because of the second mode, every value here is kept as its event happens (a gauge moves on
each checkout, each page cached): a collector that read a pool or a cache at scrape time would
run in the supervisor, which has neither. Labels take values from fixed sets only (a surface's
name, a status class, a reason from a closed list): never a path, a project name or anything a
client chooses, so the number of series stays bounded whatever the traffic.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustyard.errors import ConfigurationError
from trustyard.settings import Bind

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
NO_SURFACE = "none"  # a request no surface claims (an unknown path)

# Every metric is registered here rather than in prometheus_client's global registry: what a
# scrape shows is exactly this list (no collectors some imported library registered).
REGISTRY = CollectorRegistry(auto_describe=True)

# Cached pages answer in well under a millisecond; uploads and file downloads take seconds.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

REQUEST_SECONDS = Histogram(
    "trustyard_http_request_duration_seconds",
    "Time from a request's arrival until its response was sent, by surface and status class.",
    ("surface", "status"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPLOADS = Counter(
    "trustyard_uploads",
    "Uploads to /legacy/ by outcome: stored, already-present, held, refused.",
    ("outcome",),
    registry=REGISTRY,
)
UPLOAD_REFUSALS = Counter(
    "trustyard_upload_refusals",
    "Uploads refused, by the HTTP status of the refusal.",
    ("status",),
    registry=REGISTRY,
)
UPLOAD_BYTES = Counter(
    "trustyard_upload_bytes",
    "Bytes of distribution files in accepted uploads, by outcome.",
    ("outcome",),
    registry=REGISTRY,
)
MINTS = Counter(
    "trustyard_trusted_publishing_mints",
    "Upload tokens minted by Trusted Publishing.",
    registry=REGISTRY,
)
MINT_REFUSALS = Counter(
    "trustyard_trusted_publishing_refusals",
    "Trusted Publishing token exchanges refused, by reason (the error code clients see).",
    ("reason",),
    registry=REGISTRY,
)
PAGE_CACHE_LOOKUPS = Counter(
    "trustyard_page_cache_lookups",
    "Simple pages served from a process's rendered-page cache (hit) or rendered (miss).",
    ("cache", "result"),
    registry=REGISTRY,
)
PAGE_CACHE_ENTRIES = Gauge(
    "trustyard_page_cache_entries",
    "Entries held in memory: rendered simple pages (simple), upstream listings (upstream).",
    ("cache",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
UPSTREAM_EVENTS = Counter(
    "trustyard_upstream_events",
    "The pull-through proxy's events (the counters `trustyard upstream status` shows).",
    ("event",),
    registry=REGISTRY,
)
DB_CONNECTIONS_IN_USE = Gauge(
    "trustyard_db_connections_in_use",
    "Catalogue connections checked out of the pools.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_POOL_SIZE = Gauge(
    "trustyard_db_pool_size",
    "Connections the pools keep (their configured size; more may open for a burst).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

# The closed sets label values come from (anything else is counted as "other").
MINT_REASONS = frozenset(
    {
        "invalid-payload",
        "invalid-token",
        "invalid-publisher",
        "invalid-pending-publisher",
        "invalid-reuse-token",
        "rate-limited",
    }
)
UPLOAD_OUTCOMES = frozenset({"stored", "already-present", "held"})
UPSTREAM_EVENT_NAMES = frozenset(
    {
        "page_hits",
        "page_fetches",
        "page_stale",
        "page_failures",
        "file_hits",
        "file_fetches",
        "file_refused",
    }
)
CACHES = frozenset({"simple", "upstream"})


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


def status_class(status: int) -> str:
    """``2xx``, ``3xx``, ``4xx`` or ``5xx`` (anything else, as a 1xx, is ``other``)."""
    return f"{status // 100}xx" if 200 <= status < 600 else "other"


# -- one call per measured event ------------------------------------------------------------


def request_done(surface: str, status: int, seconds: float) -> None:
    """A request of ``surface`` was answered with ``status`` after ``seconds``."""
    REQUEST_SECONDS.labels(surface, status_class(status)).observe(seconds)


def upload_accepted(outcome: str, size: int) -> None:
    """An upload ended well (``UploadOutcome`` value) with a file of ``size`` bytes."""
    label = _bounded(outcome, UPLOAD_OUTCOMES)
    UPLOADS.labels(label).inc()
    UPLOAD_BYTES.labels(label).inc(size)


def upload_refused(status: int) -> None:
    """An upload was refused with ``status``."""
    UPLOADS.labels("refused").inc()
    UPLOAD_REFUSALS.labels(str(status) if 100 <= status < 600 else "other").inc()


def token_minted() -> None:
    """Trusted Publishing minted an upload token."""
    MINTS.inc()


def mint_refused(reason: str | None) -> None:
    """Trusted Publishing refused an exchange for ``reason`` (the refusal's error code)."""
    MINT_REFUSALS.labels(_bounded(reason or "", MINT_REASONS)).inc()


def page_cache_lookup(cache: str, *, hit: bool) -> None:
    """A simple page of ``cache`` was served from memory (``hit``) or rendered."""
    _lookup_counter(cache, hit).inc()


@functools.cache
def _lookup_counter(cache: str, hit: bool) -> Counter:
    """The labelled counter, looked up once: every cached page counts itself, and
    ``labels()`` checks and locks on each call (a profile of cached pages showed it)."""
    return PAGE_CACHE_LOOKUPS.labels(_bounded(cache, CACHES), "hit" if hit else "miss")


def page_cache_resized(cache: str, change: int) -> None:
    """``cache`` holds ``change`` more entries (fewer when negative)."""
    if change:
        PAGE_CACHE_ENTRIES.labels(_bounded(cache, CACHES)).inc(change)


def upstream_event(name: str) -> None:
    """The upstream proxy counted ``name`` (one of :data:`UPSTREAM_EVENT_NAMES`)."""
    UPSTREAM_EVENTS.labels(_bounded(name, UPSTREAM_EVENT_NAMES)).inc()


def watch_pool(engine: Engine) -> None:
    """Follow ``engine``'s pool: its size now, its connections in use as they are checked out
    and in (SQLAlchemy pool events, so the figure is right in every worker's file)."""
    size = getattr(engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.inc(size())

    def checked_out(*_args: Any) -> None:
        DB_CONNECTIONS_IN_USE.inc()

    def checked_in(*_args: Any) -> None:
        DB_CONNECTIONS_IN_USE.dec()

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)


# -- request latency --------------------------------------------------------------------------


class RequestMetrics:
    """Outer ASGI layer: times every HTTP request and labels it with its surface's name.

    ``surface_of`` names the surface whose mount will take the request (or None); it is asked
    before the request is routed, as routing rewrites the scope's paths. The time runs until
    the app returns, i.e. until the last byte of the response was handed to the server; a
    request that ended in an exception without a response counts as a 500, as the server
    answers it.
    """

    def __init__(self, app: ASGIApp, surface_of: Callable[[Scope], str | None]) -> None:
        self.app = app
        self.surface_of = surface_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, noting the status and the time taken."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        surface = self.surface_of(scope) or NO_SURFACE
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            request_done(surface, status, time.perf_counter() - started)


# -- the scrape ---------------------------------------------------------------------------------


def multiprocess_directory() -> str | None:
    """The directory workers write their values to, when this process runs in that mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry(directory: str | None) -> CollectorRegistry:
    """What a scrape reads: the workers' files added up, or this process's own values."""
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    # prometheus_client's multiprocess module carries no annotations.
    prometheus_multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def forget_process(pid: int, directory: str) -> None:
    """A worker is gone: drop its gauges (its counters still count)."""
    prometheus_multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape on stderr (a scrape every few seconds would drown the access log)."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def _only_metrics(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``/metrics`` only, 404 for every other path; a ``Server`` header of our own (wsgiref's
    default names the Python version)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("Server", "trustyard-metrics")], *rest)

        if environ.get("PATH_INFO") != METRICS_PATH:
            start("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not found: the metrics are at /metrics\n"]
        return app(environ, start)

    return wsgi


class MetricsServer:
    """The metrics endpoint on its own address, served by a thread of the process that runs
    uvicorn (its supervisor, with several workers): one endpoint however many workers share the
    public port, and nothing on that port that a client could reach."""

    def __init__(self, bind: Bind, registry: CollectorRegistry) -> None:
        family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET

        class Server(ThreadingWSGIServer):
            address_family = family

        try:
            self._server = make_server(
                bind.host,
                bind.port,
                _only_metrics(make_wsgi_app(registry)),
                server_class=Server,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot serve the metrics on {bind}: {exc}") from exc
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="trustyard-metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the address."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_metrics(bind: Bind, directory: str | None) -> MetricsServer:
    """Start serving the scrape of :func:`scrape_registry` on ``bind``."""
    return MetricsServer(bind, scrape_registry(directory))
