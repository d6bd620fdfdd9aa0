"""The server's log lines: the per-second timestamp cache, the lighter records and the access log
written once per loop turn change no character of a line (issue 19: the access log is written
once per request, and was cheapened)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_index
from trustyard.index.access_log import LINE_FORMAT, PlainFormatter, TurnAccessLog

FORMAT = LINE_FORMAT


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "f.py", 1, "%s - %d", ("a", 200), None
    )
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


@pytest.mark.parametrize(
    "times",
    [
        (1765155723.0, 1765155723.4567, 1765155723.999),  # one second, formatted once
        (1765155723.999, 1765155724.0001, 1765155723.5),  # across seconds, and back
        (0.25, 86399.75, 86400.0),
    ],
)
def test_plain_formatter_writes_logging_s_own_lines(times: tuple[float, ...]) -> None:
    ours, standard = PlainFormatter(FORMAT), logging.Formatter(FORMAT)
    for created in times:
        record = _record(created)
        assert ours.format(record) == standard.format(record)
    dated = _record(times[0])
    assert ours.formatTime(dated, "%Y") == standard.formatTime(dated, "%Y")


def test_lightened_records_log_the_same_lines() -> None:
    """In a process of its own: the switches are process-wide, as in the server."""
    program = """
import logging, logging.config, sys
from trustyard.index.server import lighten_log_records, log_config
logging.config.dictConfig(dict(log_config(True)))
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/", "1.1", 200)
lighten_log_records()
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/", "1.1", 200)
logging.getLogger("trustyard").warning("a %s", "warning")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 3, done.stderr
    before, after, warning = (line.split(" ", 2) for line in lines)
    assert before[2] == after[2] == 'INFO 1.2.3.4:5 - "GET / HTTP/1.1" 200'
    assert warning[2] == "WARNING a warning"


def _configured(name: str, stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter(LINE_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_the_turn_access_log_writes_logging_s_lines_once_per_turn() -> None:
    ours, theirs = io.StringIO(), io.StringIO()
    logger = _configured("test.turn-access", ours)
    standard = _configured("test.standard-access", theirs)
    args = ("127.0.0.1:5", "GET", "/simple/a%20b/", "1.1", 200)

    async def one_turn() -> list[str]:
        stand_in = TurnAccessLog.standing_in_for(logger, asyncio.get_running_loop())
        assert isinstance(stand_in, TurnAccessLog)
        for _ in range(3):
            stand_in.info('%s - "%s %s HTTP/%s" %d', *args)
            standard.info('%s - "%s %s HTTP/%s" %d', *args)
        written_in_the_turn = ours.getvalue()
        await asyncio.sleep(0)  # the turn ends: the lines are written together
        return [written_in_the_turn, ours.getvalue()]

    during, after = asyncio.run(one_turn())
    assert during == ""
    lines, expected = after.splitlines(), theirs.getvalue().splitlines()
    assert len(lines) == len(expected) == 3
    for line, other in zip(lines, expected, strict=True):
        assert line.split(" ", 2)[2] == other.split(" ", 2)[2]  # all but the clock
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line[:23]), line


def test_another_logging_setup_keeps_uvicorn_s_logger() -> None:
    logger = _configured("test.other-access", io.StringIO())
    logger.handlers[0].setFormatter(logging.Formatter(LINE_FORMAT))

    async def stand_in() -> object:
        return TurnAccessLog.standing_in_for(logger, asyncio.get_running_loop())

    assert asyncio.run(stand_in()) is logger
    logger.handlers[0].setFormatter(PlainFormatter(LINE_FORMAT))
    logger.addHandler(logging.StreamHandler(io.StringIO()))
    assert asyncio.run(stand_in()) is logger


@pytest.mark.slow
def test_a_served_index_logs_one_line_per_request(tmp_path: Path) -> None:
    server = start_index(tmp_path / "data")
    try:
        for _ in range(2):
            urllib.request.urlopen(server.url + "/simple/").close()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.url + "/simple/nothing-here/")
        pattern = re.compile(
            r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO 127\.0\.0\.1:\d+ - "GET (\S+) HTTP/1\.1" (\d+)'
        )
        deadline = time.monotonic() + 10
        while True:
            text = server.log.read_text(errors="replace")
            seen = [m.groups() for m in pattern.finditer(text) if "/simple/" in m.group(1)]
            # A line follows its answer by up to a turn of the loop: wait for the last one.
            if seen[-1:] == [("/simple/nothing-here/", "404")] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert seen[-3:] == [
            ("/simple/", "200"),
            ("/simple/", "200"),
            ("/simple/nothing-here/", "404"),
        ]
    finally:
        server.stop()
