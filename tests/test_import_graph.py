"""The layering of ``src/trustyard`` (docs/architecture.md): every import points downwards.

Read from the source with :mod:`ast` (nothing is imported), so a new upward import fails here
whether or not a test happens to execute it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "trustyard"

# Rank of each top-level part: a module may import its own part or parts of a lower rank.
# Siblings of one rank (index and release, say) never import each other.
RANKS: dict[str, int] = {
    "errors": 0,
    "atomicfiles": 0,
    "dists": 1,
    "settings": 2,
    "attestations": 2,
    "oidc": 2,
    "index": 3,
    "release": 3,
    "audit": 3,
    "scaffold": 3,
    "cli": 4,
    "__main__": 5,
}

# Inside the index: storage and the catalogue's schema know nothing of services; services know
# nothing of the HTTP surfaces that call them.
INDEX_FORBIDDEN: dict[str, frozenset[str]] = {
    "db": frozenset({"services", "routes", "web", "app", "server", "context", "http"}),
    "storage": frozenset({"db", "services", "routes", "web", "app", "server", "context", "http"}),
    "services": frozenset({"routes", "web", "app", "server", "http", "security", "upstream"}),
    # The proxy (issue 17) uses services and storage; the surfaces use it, never the reverse.
    "upstream": frozenset({"routes", "web", "app", "server", "http", "security"}),
}

# Deliberate exceptions, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "index/db/migrations/versions/0011_description_html.py",
        "trustyard.index.services.descriptions",
    ): "the migration renders stored descriptions once, with the renderer uploads use",
}


def _imports(path: Path) -> Iterator[str]:
    """Absolute names of the ``trustyard`` modules that ``path`` imports."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def _part(module: str) -> str:
    return module.split(".")[1]


def _edges() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for target in _imports(path):
            if target.startswith("trustyard."):
                yield path.relative_to(PACKAGE).as_posix(), target


def test_every_part_has_a_rank() -> None:
    parts = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    parts.discard("__init__")
    assert parts <= RANKS.keys(), f"give {sorted(parts - RANKS.keys())} a rank in RANKS"


def test_imports_point_downwards() -> None:
    upward = []
    for source, target in _edges():
        own, other = source.split("/")[0].removesuffix(".py"), _part(target)
        if other in {own, "__init__"} or (source, target) in ALLOWED:
            continue
        if RANKS.get(other, 99) >= RANKS[own]:
            upward.append(f"{source} imports {target}")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_index_layers() -> None:
    upward = []
    for source, target in _edges():
        if not (source.startswith("index/") and target.startswith("trustyard.index.")):
            continue
        own = source.split("/")[1].removesuffix(".py")
        other = target.split(".")[2]
        if other in INDEX_FORBIDDEN.get(own, ()) and (source, target) not in ALLOWED:
            upward.append(f"{source} imports {target}")
    assert not upward, "index imports against its layering:\n" + "\n".join(upward)


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_allowed_exceptions_still_exist(source: str, target: str) -> None:
    """An exception that no longer happens is removed, so the list cannot rot."""
    assert (source, target) in set(_edges())
