"""``SHA256SUMS`` files: the ``sha256sum`` tool's output format (GNU coreutils), read and written.
A release lists its distributions' hashes in one; approvals and attestations are bound to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from trustyard.errors import InvalidInput

__all__ = ["InvalidSums", "parse_sha256sums", "render_sha256sums", "sums_differences"]

# "<64 lowercase hex><space><space or '*' (binary mode)><file name without a directory>"
_LINE = re.compile(r"^(?P<sha>[0-9a-f]{64}) [ *](?P<name>[^/\\\n]+)$")


class InvalidSums(InvalidInput):
    """A ``SHA256SUMS`` text that is not ``sha256sum`` output for plain file names."""


def render_sha256sums(files: Mapping[str, str]) -> str:
    """``sha256sum``'s text-mode output (two spaces), sorted by file name."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))


def parse_sha256sums(text: str, origin: str) -> dict[str, str]:
    """Read ``sha256sum`` output into file name -> sha256; every line must be valid.

    Blank lines are ignored; a name listed twice, a path with a directory, or upper-case hex
    (which ``sha256sum`` never writes) is refused, naming ``origin`` and the line number.
    """
    files: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None or match["name"] in {".", ".."}:
            raise InvalidSums(
                f"{origin} line {number} is not '<sha256>  <filename>': {line[:120]!r}"
            )
        if match["name"] in files:
            raise InvalidSums(f"{origin} line {number} lists {match['name']} a second time")
        files[match["name"]] = match["sha"]
    return files


def sums_differences(listed: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """Every way ``listed`` (a SHA256SUMS) disagrees with ``actual`` hashes, one line each."""
    problems = []
    for name in sorted(set(listed) | set(actual)):
        if name not in listed:
            problems.append(f"{name}: not listed")
        elif name not in actual:
            problems.append(f"{name}: listed, but there is no such file")
        elif listed[name] != actual[name]:
            problems.append(f"{name}: listed as {listed[name]}, but the file is {actual[name]}")
    return problems
