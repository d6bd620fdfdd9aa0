"""YAML parsed into nodes that remember their line, so every finding can say file:line.

PyYAML's composer keeps marks on each node; scalars stay as written (so ``on:`` is the key
``"on"``, not YAML 1.1's ``True``, as GitHub reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from trustyard.errors import InvalidInput


@dataclass
class Node:
    """A YAML value: ``text`` for scalars, ``items`` for sequences, ``mapping`` for mappings."""

    line: int
    text: str | None = None
    items: list[Node] = field(default_factory=list)
    mapping: dict[str, Node] = field(default_factory=dict)
    kind: str = "scalar"
    tag_null: bool = False
    key_line: int = 0  # the line of the key this value belongs to (0 for the document root)

    @property
    def where(self) -> int:
        """The line to report: the key's line for a mapping value, else the value's."""
        return self.key_line or self.line

    def get(self, key: str) -> Node | None:
        return self.mapping.get(key)

    def str_at(self, key: str) -> str | None:
        node = self.mapping.get(key)
        return node.text if node is not None and node.kind == "scalar" else None

    @property
    def is_mapping(self) -> bool:
        return self.kind == "mapping"

    def scalars(self) -> list[str]:
        """A scalar or a sequence of scalars, as a list (``on: push`` vs ``on: [push]``)."""
        if self.kind == "scalar":
            return [self.text or ""]
        if self.kind == "sequence":
            return [n.text or "" for n in self.items if n.kind == "scalar"]
        return list(self.mapping)


def _convert(node: yaml.Node) -> Node:
    line = int(node.start_mark.line) + 1
    if isinstance(node, yaml.MappingNode):
        result = Node(line=line, kind="mapping")
        for key, value in node.value:
            child = _convert(value)
            child.key_line = int(key.start_mark.line) + 1
            result.mapping[str(key.value)] = child
        return result
    if isinstance(node, yaml.SequenceNode):
        return Node(line=line, kind="sequence", items=[_convert(n) for n in node.value])
    null = node.tag == "tag:yaml.org,2002:null" or node.value in ("", "~", "null")
    return Node(line=line, text=str(node.value), tag_null=null)


def parse_yaml(text: str, source: str) -> Node:
    """Parse one YAML document; a syntax error names the file and line."""
    try:
        composed = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise InvalidInput(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if composed is None:
        return Node(line=1, kind="mapping")
    return _convert(composed)


def load_yaml(path: Path, source: str) -> Node:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{source}: cannot read it ({exc})") from exc
    return parse_yaml(text, source)
