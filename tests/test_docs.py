"""The documents' references to tests name tests that exist, so a claim never points at nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_named_test_exists(doc: Path) -> None:
    missing = []
    for path, name in REFERENCE.findall(doc.read_text(encoding="utf-8")):
        source = ROOT / path
        if not source.is_file() or not re.search(
            rf"^\s*(async )?def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{path}::{name}")
    assert not missing, f"{doc.name} names tests that do not exist: {missing}"


def test_the_threat_model_names_tests() -> None:
    text = (ROOT / "docs/threat-model.md").read_text(encoding="utf-8")
    assert len(REFERENCE.findall(text)) >= 30
