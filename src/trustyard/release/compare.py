"""Member-by-member comparison of two sdists or wheels, as diffoscope reports archives.
Says whether members differ in content or only in metadata, with a short diff for text.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from trustyard.release.normalize import Member, read_members

__all__ = ["ArchiveDiff", "MemberDiff", "compare_archives", "render_diff"]

_MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class MemberDiff:
    """How one member differs. ``kind`` is ``only-left``, ``only-right``, ``content``,
    ``metadata`` or ``order``; ``details`` lists the differing fields or the text diff.
    """

    name: str
    kind: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArchiveDiff:
    """Everything that differs between two archives; empty lists mean same members and data."""

    left: str
    right: str
    container: tuple[str, ...] = ()
    members: tuple[MemberDiff, ...] = field(default=())

    @property
    def content_differs(self) -> bool:
        """True when some member is missing on one side or has other bytes."""
        return any(m.kind in {"only-left", "only-right", "content"} for m in self.members)

    @property
    def identical_members(self) -> bool:
        return not self.container and not self.members


def compare_archives(left: Path, right: Path) -> ArchiveDiff:
    """Compare two archives of the same kind member by member."""
    left_members, left_facts = read_members(left)
    right_members, right_facts = read_members(right)
    container = tuple(
        f"{key}: {left_facts.get(key, '-')!r} != {right_facts.get(key, '-')!r}"
        for key in sorted(set(left_facts) | set(right_facts))
        if left_facts.get(key) != right_facts.get(key)
    )
    by_left = {m.name: m for m in left_members}
    by_right = {m.name: m for m in right_members}
    diffs: list[MemberDiff] = []
    for name in sorted(set(by_left) | set(by_right)):
        a, b = by_left.get(name), by_right.get(name)
        if b is None:
            diffs.append(MemberDiff(name, "only-left", (_describe(a),) if a else ()))
        elif a is None:
            diffs.append(MemberDiff(name, "only-right", (_describe(b),)))
        elif a.data != b.data or a.kind != b.kind or a.link != b.link:
            diffs.append(MemberDiff(name, "content", _content_details(a, b)))
        else:
            fields = _metadata_details(a, b)
            if fields:
                diffs.append(MemberDiff(name, "metadata", fields))
    common = [n for n in (m.name for m in left_members) if n in by_right]
    common_right = [n for n in (m.name for m in right_members) if n in by_left]
    if common != common_right:
        first = next(i for i, (x, y) in enumerate(zip(common, common_right, strict=True)) if x != y)
        diffs.append(
            MemberDiff(
                "(member order)",
                "order",
                (f"position {first}: {common[first]!r} vs {common_right[first]!r}",),
            )
        )
    return ArchiveDiff(left=left.name, right=right.name, container=container, members=tuple(diffs))


def _describe(member: Member) -> str:
    return f"{member.kind}, {len(member.data)} bytes, sha256 {_sha(member.data)[:16]}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata_details(a: Member, b: Member) -> tuple[str, ...]:
    pairs = [
        ("mode", oct(a.mode), oct(b.mode)),
        ("mtime", str(a.mtime), str(b.mtime)),
        ("owner", a.owner, b.owner),
        ("attributes", a.extra, b.extra),
    ]
    return tuple(f"{key}: {x} != {y}" for key, x, y in pairs if x != y)


def _content_details(a: Member, b: Member) -> tuple[str, ...]:
    details = []
    if a.kind != b.kind or a.link != b.link:
        details.append(f"type: {a.kind} {a.link} != {b.kind} {b.link}".replace("  ", " "))
    details.append(
        f"size {len(a.data)} != {len(b.data)}, sha256 {_sha(a.data)[:16]} != {_sha(b.data)[:16]}"
    )
    try:
        left_text, right_text = a.data.decode("utf-8"), b.data.decode("utf-8")
    except UnicodeDecodeError:
        return (*details, "binary content")
    lines = list(
        difflib.unified_diff(
            left_text.splitlines(), right_text.splitlines(), "left", "right", lineterm="", n=1
        )
    )
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"... {len(lines) - _MAX_DIFF_LINES} more diff lines"]
    return (*details, *lines)


def render_diff(diff: ArchiveDiff) -> list[str]:
    """Plain lines for a person: one heading per member, indented details."""
    lines = [f"--- {diff.left}", f"+++ {diff.right}"]
    lines += [f"  archive: {fact}" for fact in diff.container]
    for member in diff.members:
        label = {
            "only-left": "only in the first",
            "only-right": "only in the second",
            "content": "content differs",
            "metadata": "metadata differs",
            "order": "member order differs",
        }[member.kind]
        lines.append(f"  {member.name}: {label}")
        lines += [f"      {detail}" for detail in member.details]
    if diff.identical_members:
        lines.append("  no member-level difference")
    return lines


def __dir__() -> list[str]:
    return __all__
