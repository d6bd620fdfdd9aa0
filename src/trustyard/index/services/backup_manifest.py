"""``manifest.json`` of an index export, read and written one file entry at a time.

The manifest (format version 1, see :mod:`trustyard.index.services.backup`) lists every
exported file; at 500,000 files ``json.loads`` of it alone held hundreds of MiB. Both sides
here stream its ``"files"`` member and hold the other members (a few hundred bytes) whole; the
bytes written are exactly ``json.dumps(manifest, indent=1, sort_keys=True) + "\\n"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from trustyard.atomicfiles import atomic_writer

FILES = "files"
CHUNK = 1 << 20
# No member of the manifest other than "files" (streamed) comes near this: a larger value is
# refused rather than read whole.
MAX_VALUE = 16 << 20

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class ManifestSyntaxError(ValueError):
    """The manifest is not valid JSON (or has an absurdly large member)."""


class _Reader:
    """JSON values read from a text stream through a window of a few MiB."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        if len(self.text) - self.pos > MAX_VALUE:
            raise ManifestSyntaxError(f"a value of more than {MAX_VALUE} characters")
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def take(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise ManifestSyntaxError(f"expected {char!r}, found {found or 'the end'!r}")
        self.pos += 1

    def value(self) -> Any:
        """The next complete JSON value (a number is complete once a character follows it)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if not self._more():
                    raise
                continue
            if end < len(self.text) or self.eof:
                self.pos = end
                return value
            self._more()  # then decode again: at the end of the file, the same value

    def members(self) -> Iterator[str]:
        """The keys of an object, each yielded when its value is next to read (the caller
        reads it)."""
        self.take("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ManifestSyntaxError(f"an object key is not a string: {key!r}")
            self.take(":")
            yield key
            if self.peek() != ",":
                self.take("}")
                return
            self.pos += 1


def read_manifest(path: Path, on_file: Callable[[str, Any], None]) -> Any:
    """The manifest's members except ``"files"``, whose entries go to ``on_file(key, entry)``
    in file order as they are read; ``"files"`` itself is then ``{}`` (it was an object).

    A duplicate key reaches ``on_file`` twice (``json.loads`` would keep the last silently).
    Raises :class:`ValueError` (or :class:`UnicodeDecodeError`) when the file is not JSON.
    A top-level value other than an object is returned as it is.
    """
    with path.open(encoding="utf-8") as handle:
        reader = _Reader(handle)
        if reader.peek() != "{":
            whole: Any = reader.value()
        else:
            whole = {}
            for key in reader.members():
                if key == FILES and reader.peek() == "{":
                    whole[key] = {}
                    for name in reader.members():
                        on_file(name, reader.value())
                else:
                    whole[key] = reader.value()
        if reader.peek():
            raise ManifestSyntaxError("extra data after the manifest")
    return whole


def _indented(value: Any, depth: int) -> str:
    return json.dumps(value, indent=1, sort_keys=True).replace("\n", "\n" + " " * depth)


def write_manifest(
    path: Path, members: dict[str, Any], files: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    """Write ``members`` plus ``"files"`` (entries in key order, consumed as they are written)
    to a temporary file, then rename it to ``path``: a reader sees the manifest whole or not
    at all. If ``files`` raises, the temporary file is removed."""
    with atomic_writer(path, encoding="utf-8") as out:
        for number, key in enumerate(sorted({*members, FILES})):
            out.write(("{\n" if number == 0 else ",\n") + f" {json.dumps(key)}: ")
            if key != FILES:
                out.write(_indented(members[key], 1))
                continue
            out.write("{")
            empty = True
            for name, entry in files:
                out.write(("\n" if empty else ",\n") + f"  {json.dumps(name)}: ")
                out.write(_indented(entry, 2))
                empty = False
            out.write("}" if empty else "\n }")
        out.write("\n}\n")
