"""uvicorn's access log, the same lines written once per turn of the event loop (issue 19).

uvicorn logs one line per response through :mod:`logging` (``uvicorn.access``). Measured
beside the server's floor (``benchmarks/floor.py`` with and without its access log), that
line cost a quarter of a cached page's whole CPU time: a ``LogRecord``, the handler's lock,
the formatter, and a ``write`` system call on stderr per request. :class:`TurnAccessLog`
stands in for the logger in the connection protocol (``connection_limits``) when the logger
is configured as :func:`trustyard.index.server.log_config` configures it (one stream handler
with :class:`PlainFormatter` and :data:`LINE_FORMAT`, no filters): it formats the line
itself, as that formatter would, and writes the lines of one turn of the loop together, once
the turn's responses are sent. Any other configuration keeps uvicorn's logger as it is.

The lines, their stream and their order among themselves are unchanged; a line is written
at most one turn of the loop (well under a millisecond under load) after its response, and
may land after a line another logger wrote in that same turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import ClassVar

FLUSH_LINES = 256  # a turn with more responses than this writes more than once
LINE_FORMAT = "%(asctime)s %(levelname)s %(message)s"  # every line the server logs


class PlainFormatter(logging.Formatter):
    """logging's formatter, its default timestamp formatted once per second rather than once
    per line (the access log writes a line per request: a profile of cached pages at c=16
    showed ``strftime``); the text is the same, ``2026-12-08 01:02:03,456``."""

    _second: tuple[int, str] | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """The timestamp of ``record``, as :meth:`logging.Formatter.formatTime` writes it."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self._stamp(record.created, record.msecs)

    def stamp(self, created: float) -> str:
        """The timestamp a record created at ``created`` (``time.time()``) would get."""
        return self._stamp(created, int((created - int(created)) * 1000))

    def _stamp(self, created: float, msecs: float) -> str:
        second = int(created)
        kept = self._second
        if kept is None or kept[0] != second:
            kept = (second, time.strftime(self.default_time_format, self.converter(created)))
            self._second = kept
        if not self.default_msec_format:
            return kept[1]
        return self.default_msec_format % (kept[1], msecs)


class TurnAccessLog:
    """``uvicorn.access``'s ``info``, buffered for one turn of ``loop``."""

    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TurnAccessLog]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        logger: logging.Logger,
        handler: logging.StreamHandler,  # type: ignore[type-arg]
        stamper: PlainFormatter,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._logger = logger
        self._handler = handler
        self._stamper = stamper
        self._loop = loop
        self._lines: list[str] = []

    @classmethod
    def standing_in_for(
        cls, logger: logging.Logger, loop: asyncio.AbstractEventLoop
    ) -> TurnAccessLog | logging.Logger:
        """This loop's stand-in for ``logger``, or ``logger`` itself when it is configured
        otherwise than ``log_config`` configures it (its lines could then differ)."""
        kept = cls._by_loop.get(loop)
        if kept is not None and kept._logger is logger:
            return kept
        handlers = logger.handlers
        if logger.propagate or len(handlers) != 1 or logger.filters:
            return logger
        handler = handlers[0]
        stamper = handler.formatter
        if (
            type(handler) is not logging.StreamHandler
            or handler.filters
            or not isinstance(stamper, PlainFormatter)
            or stamper._fmt != LINE_FORMAT
            or stamper.datefmt is not None
        ):
            return logger
        made = cls(logger, handler, stamper, loop)
        cls._by_loop[loop] = made
        return made

    def info(self, msg: str, *args: object) -> None:
        """Log ``msg % args`` at INFO, as ``Logger.info`` would, at the end of this turn."""
        if not self._logger.isEnabledFor(logging.INFO):
            return
        fields = {"asctime": self._stamper.stamp(time.time()), "levelname": "INFO"}
        line = LINE_FORMAT % {**fields, "message": msg % args} + "\n"
        self._lines.append(line)
        if len(self._lines) == 1:
            self._loop.call_soon(self.flush)
        elif len(self._lines) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines (one write), as the handler writes: under its lock."""
        lines, self._lines = self._lines, []
        if not lines:
            return
        handler = self._handler
        handler.acquire()
        try:
            handler.stream.write("".join(lines))
            handler.flush()
        except Exception:  # noqa: BLE001 - logging never raises into the server either
            handler.handleError(
                logging.LogRecord(self._logger.name, logging.INFO, "", 0, "", None, None)
            )
        finally:
            handler.release()
