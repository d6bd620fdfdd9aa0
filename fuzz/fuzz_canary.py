"""A fuzz target with a planted bug, to prove that the runner finds and reports findings.
Its parser raises ``IndexError`` (not one of our errors) on inputs that start with ``FUZ!``.

``tests/test_fuzz.py`` runs it and expects exactly this finding: a runner that reports zero
findings here is broken, whatever it reports for the real targets.
"""

from __future__ import annotations

import sys

import atheris

from trustyard.errors import InvalidInput


class CanaryError(InvalidInput):
    """The planted parser's own error (an allowed outcome)."""


@atheris.instrument_func
def parse_canary(data: bytes) -> int:
    """Checks a four-byte magic one byte at a time, then forgets a bounds check."""
    if len(data) < 4:
        raise CanaryError("too short")
    if data[0] != ord("F"):
        raise CanaryError("bad magic at byte 0")
    if data[1] != ord("U"):
        raise CanaryError("bad magic at byte 1")
    if data[2] != ord("Z"):
        raise CanaryError("bad magic at byte 2")
    if data[3] != ord("!"):
        raise CanaryError("bad magic at byte 3")
    return data[len(data)]  # the planted bug: always an IndexError


def test_one_input(data: bytes) -> None:
    """One execution: only our errors may escape."""
    try:
        parse_canary(data)
    except CanaryError:
        return


def main() -> None:
    """Hand the command line (libFuzzer flags, corpus directories) to atheris."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
