"""A release's description as sanitised HTML, rendered once at upload as PyPI renders it.

Follows warehouse ``forklift/legacy.py`` (render at upload, refuse an upload whose description
fails to render, store the HTML so that no page view renders) and ``utils/readme.py``
(``text/x-rst`` or no type through readme_renderer's docutils writer, ``text/markdown`` as
CommonMark, anything else as plain text; every result through readme_renderer's nh3
allow-list, so uploaded HTML can never run script in our origin), then images hosted elsewhere
turned into links (``description_images.py``: our CSP would show them broken).

Rendering is CPU work of the uploader's choosing (markdown-it needs seconds for
``"[" * 250000``; docutils recurses once per nesting level), so it runs in a worker process
under a time budget: a thread running docutils cannot be stopped, a process can be killed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import multiprocessing
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from trustyard.errors import Error, InvalidInput
from trustyard.index.services import journal
from trustyard.index.services.description_images import link_external_images
from trustyard.index.services.roles import HOST

if TYPE_CHECKING:
    from trustyard.index.db.engine import Database

# Larger descriptions are stored as escaped plain text, cut here, rather than parsed.
MAX_RENDERED_CHARS = 256 * 1024
HELP_URL = "https://pypi.org/help/#description-content-type"
# A worker imports docutils, markdown-it and nh3 before it takes work: not part of a budget.
WORKER_START_SECONDS = 120.0


class DescriptionFailed(InvalidInput):
    """An upload's description that its renderer refused, or that ran out of its budget."""


class RendererUnavailable(Error):
    """No worker process could be started to render descriptions."""

    status = 503


def failure_message(content_type: str | None) -> str:
    """PyPI's refusal, word for word (warehouse forklift/legacy.py, ``file_upload``)."""
    if content_type:
        message = f"The description failed to render for '{content_type}'."
    else:
        message = "The description failed to render in the default format of reStructuredText."
    return f"{message} See {HELP_URL} for more information."


def plain_html(text: str) -> str:
    """``text`` escaped in ``<pre>``: what a description that cannot be rendered shows."""
    return f"<pre>{escape(text)}</pre>"


def _shortcut(text: str) -> str | None:
    """The HTML of a description that needs no renderer (empty, or too long to parse)."""
    if not text.strip():
        return ""
    if len(text) > MAX_RENDERED_CHARS:
        note = "<p><em>The description is too long to render; its start follows.</em></p>"
        return note + plain_html(text[:MAX_RENDERED_CHARS])
    return None


# -- in the worker -----------------------------------------------------------------------------


@functools.cache
def _renderers() -> tuple[Any, Any, Any]:
    """readme_renderer (docutils) and markdown-it, imported once per worker."""
    import readme_renderer.clean  # noqa: PLC0415
    import readme_renderer.rst  # noqa: PLC0415
    from markdown_it import MarkdownIt  # noqa: PLC0415

    markdown = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return readme_renderer.clean, readme_renderer.rst, markdown


def render_html(text: str, content_type: str | None) -> str | None:
    """Safe HTML for ``text`` declared as ``content_type``, or None when it fails to render.

    Runs the renderers in the calling process, without a budget: call it in a worker (see
    :class:`DescriptionRenderer`). As on PyPI there is no fallback here: undeclared means
    reStructuredText, and reST that docutils reports errors in fails.
    """
    ready = _shortcut(text)
    if ready is not None:
        return ready
    media_type = (content_type or "").split(";")[0].strip().lower()
    clean, rst, markdown = _renderers()
    rendered: str | None
    try:
        if media_type == "text/markdown":
            rendered = markdown.render(text)
        elif media_type in ("text/x-rst", ""):
            rendered = rst.render(text)
        else:
            rendered = plain_html(text)
        if rendered is None:
            return None
        # Everything passes the allow-list, whichever renderer produced it.
        cleaned: str | None = clean.clean(rendered)
    except RecursionError:
        return None  # a description nested deeper than the renderer's stack
    # Images our CSP would block become links (description_images.py).
    return None if cleaned is None else link_external_images(cleaned)


def _serve(conn: Connection) -> None:
    """A worker's loop: ``(text, content_type)`` in, HTML or None out, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is the server's to handle
    _renderers()
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the server went away
        if job is None:
            return
        text, content_type = job
        try:
            result = render_html(text, content_type)
        except Exception:  # noqa: BLE001 - any renderer crash is a description that fails
            result = None
        conn.send(result)


# -- in the server -----------------------------------------------------------------------------


class _WorkerLost(Exception):
    """The worker ran out of budget or died: it is killed, the render has failed."""


class _Worker:
    """One rendering process and our end of its pipe."""

    def __init__(self) -> None:
        # spawn, not fork: the server has threads (and database connections) a fork would copy.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.conn = ours
        self.process: BaseProcess = context.Process(
            target=_serve, args=(theirs,), name="trustyard-describe", daemon=False
        )
        self.process.start()
        theirs.close()
        try:
            if not ours.poll(WORKER_START_SECONDS) or ours.recv() != "ready":
                raise RendererUnavailable("the description renderer did not start")
        except (EOFError, OSError) as exc:
            self.stop()
            raise RendererUnavailable("the description renderer did not start") from exc
        except RendererUnavailable:
            self.stop()
            raise

    def render(self, text: str, content_type: str | None, budget: float) -> str | None:
        try:
            self.conn.send((text, content_type))
            if not self.conn.poll(budget):
                raise _WorkerLost("over budget")
            result: str | None = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _WorkerLost("the worker died") from exc
        return result

    def stop(self) -> None:
        """Kill the process (it may be mid-render) and close the pipe."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class DescriptionRenderer:
    """A pool of at most ``workers`` rendering processes, started on first use, each render
    limited to ``budget`` seconds; blocking, so call it from a thread, never the event loop.

    A worker over budget (or dead) is killed and replaced on the next use; a crash or
    recursion error in the renderers is a failed render. Callers beyond ``workers`` wait
    for a free worker; their wait is not part of their budget.
    """

    def __init__(self, *, workers: int = 2, budget: float = 2.0) -> None:
        if workers < 1 or budget <= 0:
            raise ValueError("a renderer needs at least one worker and a positive budget")
        self.workers = workers
        self.budget = budget
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._registered = False

    def render(self, text: str, content_type: str | None) -> str | None:
        """Sanitised HTML, or None when the description fails to render or over budget."""
        ready = _shortcut(text)
        if ready is not None:
            return ready
        with self._slots:
            worker = self._take()
            try:
                result = worker.render(text, content_type, self.budget)
            except _WorkerLost:
                worker.stop()
                return None
            except BaseException:
                worker.stop()
                raise
            with self._lock:
                self._idle.append(worker)
            return result

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.stop()  # died while idle (killed from outside): not this render's fault
            if not self._registered:
                atexit.register(self.close)  # before multiprocessing joins its children
                self._registered = True
        return _Worker()

    def close(self) -> None:
        """Stop the idle workers (a busy one is stopped by its caller's budget)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)  # asks it to exit; stop() kills it if it does not
            worker.stop()


def render_for_upload(renderer: DescriptionRenderer, text: str, content_type: str | None) -> str:
    """The HTML to store with a new release, or PyPI's refusal (400) when it fails."""
    html = renderer.render(text, content_type)
    if html is None:
        raise DescriptionFailed(failure_message(content_type))
    return html


def render_or_fallback(renderer: DescriptionRenderer, text: str, content_type: str | None) -> str:
    """The HTML to store for a release accepted before rendering was checked at upload: a
    description that fails keeps its text, escaped, as a plain-text fallback."""
    html = renderer.render(text, content_type)
    return plain_html(text) if html is None else html


# -- releases stored without their HTML --------------------------------------------------------

_RELEASES = sa.table(
    "releases",
    sa.column("id", sa.Integer),
    sa.column("core_metadata", sa.JSON),
    sa.column("description_html", sa.Text),
)
_BATCH = 200


def render_missing(connection: sa.Connection, renderer: DescriptionRenderer) -> int:
    """Store the HTML of every release that has none (a catalogue from before migration 0011,
    or rows imported without it); returns how many. A description that fails keeps a
    plain-text fallback: the release was accepted before uploads were checked.

    Plain SQL on ``connection`` (no ORM models), so that migration 0011 can run it too;
    identical descriptions (one README over many releases) are rendered once.
    """
    done, last = 0, 0
    rendered: dict[tuple[str, str | None], str] = {}

    def html_of(metadata: Any) -> str:
        fields = metadata if isinstance(metadata, dict) else {}
        text = str(fields.get("description") or "")
        content_type = fields.get("description_content_type") or None
        key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), content_type)
        html = rendered.get(key)
        if html is None:
            html = render_or_fallback(renderer, text, content_type)
            if len(rendered) > 1000:
                rendered.clear()
            rendered[key] = html
        return html

    with ThreadPoolExecutor(max_workers=renderer.workers) as pool:
        while True:
            rows = connection.execute(
                sa.select(_RELEASES.c.id, _RELEASES.c.core_metadata)
                .where(_RELEASES.c.id > last, _RELEASES.c.description_html.is_(None))
                .order_by(_RELEASES.c.id)
                .limit(_BATCH)
            ).all()
            if not rows:
                return done
            for (release_id, _), html in zip(
                rows, pool.map(html_of, [row[1] for row in rows]), strict=True
            ):
                connection.execute(
                    sa.update(_RELEASES)
                    .where(_RELEASES.c.id == release_id)
                    .values(description_html=html)
                )
            done += len(rows)
            last = rows[-1][0]


# -- releases rendered by an older renderer ----------------------------------------------------


@dataclass(frozen=True)
class Rerendered:
    """What ``rerender_all`` did: releases read, and those whose stored HTML changed."""

    releases: int
    changed: int


def rerender_all(
    db: Database, renderer: DescriptionRenderer, *, dry_run: bool = False
) -> Rerendered:
    """Render every release's description again from its stored metadata and store the HTML
    that differs (``admin descriptions rerender``): what a renderer upgrade, or a new rule such
    as images becoming links, needs for releases uploaded before it.

    A batch at a time: rendering runs outside any transaction, and each batch's updates commit
    together, only where the stored HTML is still the one that was read (an old release's
    description does not change, but an import may have filled it meanwhile). Re-running is
    harmless. A description that fails today keeps its text as plain HTML, as
    ``render_missing`` does: the release was accepted by the renderer of its day. One journal
    entry records the run.
    """
    seen = changed = 0
    last = 0
    with ThreadPoolExecutor(max_workers=renderer.workers) as pool:
        while True:
            with db.read() as session:
                rows = session.execute(
                    sa.select(
                        _RELEASES.c.id, _RELEASES.c.core_metadata, _RELEASES.c.description_html
                    )
                    .where(_RELEASES.c.id > last)
                    .order_by(_RELEASES.c.id)
                    .limit(_BATCH)
                ).all()
            if not rows:
                break
            fresh = list(pool.map(lambda row: _render_stored(renderer, row[1]), rows))
            updates = [
                (row[0], row[2], html)
                for row, html in zip(rows, fresh, strict=True)
                if html != row[2]
            ]
            if updates and not dry_run:
                with db.write() as session:
                    for release_id, before, html in updates:
                        session.execute(
                            sa.update(_RELEASES)
                            .where(
                                _RELEASES.c.id == release_id,
                                _RELEASES.c.description_html.is_(None)
                                if before is None
                                else _RELEASES.c.description_html == before,
                            )
                            .values(description_html=html)
                        )
            seen += len(rows)
            changed += len(updates)
            last = rows[-1][0]
    if not dry_run:
        with db.write() as session:
            journal.record(
                session,
                action=f"descriptions re-rendered: {changed} of {seen} releases changed",
                actor=HOST.name,
            )
    return Rerendered(seen, changed)


def _render_stored(renderer: DescriptionRenderer, metadata: Any) -> str:
    fields = metadata if isinstance(metadata, dict) else {}
    text = str(fields.get("description") or "")
    return render_or_fallback(renderer, text, fields.get("description_content_type") or None)
