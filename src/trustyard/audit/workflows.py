"""GitHub Actions workflows of a checkout, as located nodes: workflows, jobs, steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trustyard.audit.yamlnodes import Node, load_yaml


@dataclass(frozen=True)
class Step:
    job: str
    node: Node

    @property
    def uses(self) -> str | None:
        return self.node.str_at("uses")

    @property
    def run(self) -> str | None:
        return self.node.str_at("run")

    def with_(self, key: str) -> Node | None:
        w = self.node.get("with")
        return w.get(key) if w is not None and w.is_mapping else None


@dataclass(frozen=True)
class Job:
    name: str
    node: Node

    @property
    def steps(self) -> list[Step]:
        steps = self.node.get("steps")
        if steps is None or steps.kind != "sequence":
            return []
        return [Step(self.name, s) for s in steps.items if s.is_mapping]


@dataclass(frozen=True)
class Workflow:
    """One workflow file; ``path`` is relative to the repository root."""

    path: str
    node: Node
    text: str

    @property
    def triggers(self) -> dict[str, Node | None]:
        on = self.node.get("on")
        if on is None:
            return {}
        if on.is_mapping:
            return dict(on.mapping)
        return dict.fromkeys(on.scalars())

    @property
    def jobs(self) -> list[Job]:
        jobs = self.node.get("jobs")
        if jobs is None or not jobs.is_mapping:
            return []
        return [Job(name, node) for name, node in jobs.mapping.items() if node.is_mapping]

    @property
    def steps(self) -> list[Step]:
        return [s for j in self.jobs for s in j.steps]


def load_workflows(root: Path) -> list[Workflow]:
    """``.github/workflows/*.yml`` and ``*.yaml``, sorted, as Scorecard collects them."""
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        relative = path.relative_to(root).as_posix()
        node = load_yaml(path, relative)
        found.append(Workflow(relative, node, path.read_text(encoding="utf-8")))
    return found
