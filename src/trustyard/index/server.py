"""Runs the index under uvicorn, with PyPI-style reason phrases in status lines.

ASGI cannot express a reason phrase, and uvicorn writes the standard one from a table indexed by
status code. The upload API must put its message in the status line (twine prints only that
line), so :class:`ReasonPhraseMiddleware` sets a context variable while the response head is
sent, and the status-line tables are replaced by mappings that consult it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from socket import socket
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http import h11_impl, httptools_impl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.supervisors.multiprocess import Multiprocess

from trustyard.errors import ConfigurationError
from trustyard.index import metrics
from trustyard.index.access_log import LINE_FORMAT, PlainFormatter
from trustyard.index.connection_limits import LimitedHttpProtocol
from trustyard.index.http import REASON_KEY
from trustyard.index.tls import ensure_tls_files, load_tls_files
from trustyard.settings import Settings, load_settings, parse_bind, settings_environ

if TYPE_CHECKING:
    from trustyard.index.context import IndexContext

_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("reason", default=None)


class _StatusLines(dict[int, bytes]):
    """httptools' status-line table, with the current response's reason phrase when it has one."""

    def __missing__(self, code: int) -> bytes:
        return b"HTTP/1.1 %d \r\n" % code

    def __getitem__(self, code: int) -> bytes:
        reason = _reason.get()
        if reason:
            return b"HTTP/1.1 %d %s\r\n" % (code, reason.encode("iso-8859-1", "replace"))
        return super().__getitem__(code)


class _StatusPhrases(dict[int, bytes]):
    """h11's reason-phrase table, likewise."""

    def __getitem__(self, code: int) -> bytes:
        reason = _reason.get()
        if reason:
            return reason.encode("iso-8859-1", "replace")
        return super().__getitem__(code)


def install_reason_phrases() -> None:
    """Swap uvicorn's status-line tables for ones that honour a response's reason phrase."""
    if not isinstance(httptools_impl.STATUS_LINE, _StatusLines):
        httptools_impl.STATUS_LINE = _StatusLines(STATUS_LINE)
    if not isinstance(h11_impl.STATUS_PHRASES, _StatusPhrases):
        h11_impl.STATUS_PHRASES = _StatusPhrases(h11_impl.STATUS_PHRASES)


class ReasonPhraseMiddleware:
    """Outermost ASGI layer: exposes a response's reason phrase while its head is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, watching for a ``http.response.start`` that carries a reason."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_reason(message: Message) -> None:
            reason = message.get(REASON_KEY) if message["type"] == "http.response.start" else None
            if reason is None:
                await send(message)
                return
            token = _reason.set(reason)
            try:
                await send({k: v for k, v in message.items() if k != REASON_KEY})
            finally:
                _reason.reset(token)

        await self.app(scope, receive, send_with_reason)


def lighten_log_records() -> None:
    """Stop every log record of this server process from gathering what no line shows: its
    caller's file and line (a walk up the stack), thread and process names and ids (the
    logging HOWTO's "Optimization" section; ``PlainFormatter``'s format uses none of them).
    A third of the access log's cost per request, measured."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the switch the logging HOWTO documents


def log_config(access_log: bool) -> Mapping[str, Any]:
    """One line per request on stderr: uvicorn's access log, with a timestamp."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"class": f"{PlainFormatter.__module__}.PlainFormatter", "format": LINE_FORMAT}
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {
                "handlers": ["stderr"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "trustyard": {"handlers": ["stderr"], "level": "INFO"},
        },
    }


def worker_app() -> ASGIApp:
    """The app of one worker process, its settings handed down in ``TRUSTYARD_*`` variables."""
    from trustyard.index.app import create_app  # noqa: PLC0415 - keep CLI start-up light
    from trustyard.index.context import open_index  # noqa: PLC0415

    install_reason_phrases()
    lighten_log_records()
    settings = load_settings()
    LimitedHttpProtocol.configure(settings)
    return ReasonPhraseMiddleware(create_app(settings, open_index(settings, migrate=False)))


def _check_cooldown_upstream(context: IndexContext) -> None:
    """With a cooldown in force, the upstream must give upload times (or nothing would ever
    be served): refuse to start otherwise (index/upstream/probe.py says how it is decided)."""
    from trustyard.index.policy.rules import format_age  # noqa: PLC0415
    from trustyard.index.services.policy import stored_min_age  # noqa: PLC0415
    from trustyard.index.upstream.probe import check_at_start  # noqa: PLC0415

    settings = context.settings
    if not settings.upstream:
        return
    with context.db.read() as session:
        age = stored_min_age(session)
    if age:
        warning = check_at_start(settings.upstream, settings.upstream_timeout, format_age(age))
        if warning:
            logging.getLogger("trustyard").warning("%s", warning)


class MetricsSupervisor(Multiprocess):
    """uvicorn's worker supervisor, which also tells the metrics when a worker is gone.

    uvicorn replaces a worker that died (or was retired by SIGHUP or SIGTTOU) without a hook;
    after each of its rounds, the workers it no longer holds are marked dead, so that their
    gauges (connections in use, cached pages) leave the sums while their counters stay.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket], directory: str) -> None:
        super().__init__(config, sockets)
        self.directory = directory
        self._known: set[int] = set()

    def forget_departed(self) -> None:
        """Mark the workers that left since the last round dead."""
        current = {process.pid for process in self.processes if process.pid is not None}
        for pid in self._known - current:
            metrics.forget_process(pid, self.directory)
        self._known = current

    def keep_subprocess_alive(self) -> None:
        """uvicorn's round (restart dead workers), then forget the departed."""
        super().keep_subprocess_alive()
        self.forget_departed()

    def handle_signals(self) -> None:
        """uvicorn's signal handling (which may retire workers), then forget the departed."""
        super().handle_signals()
        self.forget_departed()


@contextlib.contextmanager
def metrics_endpoint(settings: Settings) -> Iterator[str | None]:
    """Serve ``/metrics`` on ``settings.metrics_bind`` while the index runs (nothing when
    unset); yields the directory the workers write their values to when there are several.

    The endpoint is a thread of this process, never a route of the app: with several workers,
    this process is uvicorn's supervisor, the one place that sees every worker's values, and
    the public port never carries it. The directory is made for this run and removed after it
    (prometheus_client's multiprocess mode must start from an empty one).
    """
    if settings.metrics_bind is None:
        yield None
        return
    log = logging.getLogger("trustyard")
    bind = parse_bind(settings.metrics_bind)
    directory = tempfile.mkdtemp(prefix="trustyard-metrics-") if settings.workers > 1 else None
    try:
        server = metrics.serve_metrics(bind, directory)
        try:
            log.info(
                "metrics at http://%s%s (no authentication: keep this address internal)",
                bind if bind.port else f"{bind.host}:{server.port}",
                metrics.METRICS_PATH,
            )
            yield directory
        finally:
            server.close()
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _run_workers(options: dict[str, Any], workers: int, directory: str | None) -> None:
    """uvicorn's several workers, as ``uvicorn.run`` starts them; with metrics, under the
    supervisor that marks departed workers dead, and with the directory their values go to
    (in the environment, read by prometheus_client when a worker imports it)."""
    target = "trustyard.index.server:worker_app"
    if directory is None:
        uvicorn.run(target, factory=True, workers=workers, **options)
        return
    os.environ[metrics.MULTIPROC_ENV] = directory
    config = uvicorn.Config(target, factory=True, workers=workers, **options)
    with contextlib.suppress(KeyboardInterrupt):
        MetricsSupervisor(config, [config.bind_socket()], directory).run()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's configuration for ``settings`` (TLS aside): one home, so that the floor of
    ``benchmarks/floor.py`` runs the very server ``serve`` runs, around a trivial app."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": dict(log_config(settings.access_log)),
        "access_log": settings.access_log,
        "server_header": False,
        # Trust X-Forwarded-For/-Proto only from the configured proxies (rate limits key on
        # the client's address; HSTS and Secure cookies on the scheme).
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "timeout_keep_alive": 30,
        # Connections and requests at once, per process (503 beyond); the per-address cap
        # is LimitedHttpProtocol's.
        "limit_concurrency": settings.limit_concurrency or None,
        # Header size and time limits (slowloris); body limits are the app's SecurityMiddleware.
        "http": LimitedHttpProtocol,
    }


def serve(settings: Settings) -> None:
    """Prepare the data directory once, then serve ``settings`` until interrupted.

    The schema migration and the sweep of unfinished uploads happen here, before any worker
    starts, so that no worker ever removes another one's upload in progress.
    """
    from trustyard.index.app import create_app  # noqa: PLC0415 - keep CLI start-up light
    from trustyard.index.context import open_index  # noqa: PLC0415
    from trustyard.index.services.second_factor import seal_totp_secrets  # noqa: PLC0415

    log = logging.getLogger("trustyard")
    lighten_log_records()
    context = open_index(settings)
    # TOTP keys still in clear (stored before 0028, or imported from such an index's export)
    # are sealed with the key file open_index read (or created).
    sealed = seal_totp_secrets(context.db, context.secret_keys)
    if sealed:
        log.info("sealed %d TOTP key(s) with %s", sealed, context.secret_keys.path)
    swept = context.storage.sweep_temporary()
    if swept:
        log.info("removed %d unfinished upload(s) from the spool", swept)
    _check_cooldown_upstream(context)
    if settings.sigstore_trust_config is not None:
        context.attestation_trust.config()  # a broken file stops the start, not an upload
        log.info("attestations verified against %s", settings.sigstore_trust_config)
    options = uvicorn_options(settings)
    LimitedHttpProtocol.configure(settings)
    log.info("trustyard index, data in %s, %d worker(s)", settings.data_dir, settings.workers)
    scheme = "http"
    if settings.certfile is not None or settings.keyfile is not None:
        if settings.certfile is None or settings.keyfile is None:
            raise ConfigurationError("--certfile and --keyfile go together")
        load_tls_files(settings.certfile, settings.keyfile)
        options.update(ssl_certfile=str(settings.certfile), ssl_keyfile=str(settings.keyfile))
        scheme = "https"
    elif settings.tls:
        names = [n.strip() for n in settings.hostnames.split(",") if n.strip()]
        files = ensure_tls_files(settings.data_dir / "tls", names)
        options.update(ssl_certfile=str(files.cert), ssl_keyfile=str(files.key))
        scheme = "https"
        # The one thing an operator must copy: the CA that clients have to trust.
        print(f"trustyard: TLS CA certificate: {files.ca_cert.resolve()}", file=sys.stderr)
    log.info("serving %s://%s:%d/", scheme, settings.host, settings.port)
    with metrics_endpoint(settings) as directory:
        if settings.workers == 1:
            install_reason_phrases()
            app = ReasonPhraseMiddleware(create_app(settings, context))
            uvicorn.Server(uvicorn.Config(app, **options)).run()
            return
        context.db.dispose()
        os.environ.update(settings_environ(settings))
        _run_workers(options, settings.workers, directory)
