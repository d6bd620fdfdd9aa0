"""The server's log lines: the per-second timestamp cache and the lighter records change no
character of a line (issue 19: the access log is written once per request, and was cheapened)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from trustyard.index.server import PlainFormatter

FORMAT = "%(asctime)s %(levelname)s %(message)s"


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
