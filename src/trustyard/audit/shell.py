"""Shell commands in ``run:`` steps and ``*.sh`` files, split the way Scorecard reads them.

Scorecard parses scripts with ``mvdan.cc/sh`` (``checks/raw/shell_download_validate.go``); we
split on line continuations, ``&&``, ``||``, ``;`` and ``|`` and tokenise with :mod:`shlex`,
which is enough for the command shapes Scorecard recognises.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from trustyard.dists.filenames import WHEEL_SUFFIX

_SEPARATORS = re.compile(r"&&|\|\||;|\|")


@dataclass(frozen=True)
class Command:
    """One simple command and the script line it starts on (1-based, within the script)."""

    argv: list[str]
    line: int


def commands(script: str) -> list[Command]:
    """Every simple command of a script, skipping comments and unparsable fragments."""
    found: list[Command] = []
    logical = ""
    start = 0
    for number, raw in enumerate(script.splitlines(), start=1):
        if not logical:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        for part in _SEPARATORS.split(logical):
            try:
                argv = shlex.split(part, comments=True)
            except ValueError:
                continue
            while argv and "=" in argv[0] and not argv[0].startswith("-"):
                argv = argv[1:]  # VAR=value prefixes
            if argv:
                found.append(Command(argv, start))
        logical = ""
    return found


_PYTHON = re.compile(r"^python(2\.7|3)?$")


def pip_install_args(argv: list[str]) -> list[str] | None:
    """The arguments after ``install`` when this is a pip install Scorecard recognises.

    Scorecard counts only ``pip``, ``pip3`` and ``python|python3|python2.7 -m pip``; ``uv pip``,
    ``pipx`` and ``python3.12 -m pip`` are not recognised (reference note B3).
    """
    rest: list[str]
    if argv[0] in ("pip", "pip3"):
        rest = argv[1:]
    elif _PYTHON.match(argv[0]) and argv[1:3] == ["-m", "pip"]:
        rest = argv[3:]
    else:
        return None
    if not rest or rest[0] != "install":
        return None
    return rest[1:]


def pip_install_is_pinned(args: list[str]) -> bool:
    """Scorecard's rule: ``--require-hashes``, only ``*.whl``, or local ``-e`` + ``--no-deps``."""
    if "--require-hashes" in args:
        return True
    positional = [a for a in args if not a.startswith("-")]
    if positional and all(a.endswith(WHEEL_SUFFIX) for a in positional) and "-r" not in args:
        return True
    if "--no-deps" in args and ("-e" in args or "--editable" in args):
        target = args[args.index("-e" if "-e" in args else "--editable") + 1 :]
        value = target[0] if target else ""
        return value.startswith((".", "/")) or bool(re.search(r"@[0-9a-f]{40}$", value))
    return False


def is_download_then_run(script: str) -> bool:
    """``curl ... | sh`` style: a download piped into an interpreter (checked on the raw line)."""
    return bool(re.search(r"\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?(ba|z)?sh\b", script))
