"""Publisher kinds: one module per CI system, each declaring its claim checks as data.

:data:`KINDS` is the one list of kinds: the ``trustyard publisher`` commands, the web forms, the
exchange's claim checks, PEP 740 attestation identities and ``verify --publisher`` all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustyard.oidc.publishers.base import Field, PublisherKind
from trustyard.oidc.publishers.generic import GENERIC
from trustyard.oidc.publishers.github import GITHUB
from trustyard.oidc.publishers.gitlab import GITLAB
from trustyard.oidc.publishers.google import GOOGLE

KINDS: dict[str, PublisherKind] = {kind.name: kind for kind in (GITHUB, GITLAB, GOOGLE, GENERIC)}


def kind_of_attestation(publisher: Mapping[str, Any]) -> PublisherKind | None:
    """The kind whose attestation identity a PEP 740 publisher object is (by its ``kind``)."""
    for kind in KINDS.values():
        if kind.attestation_fields and kind.display_name == publisher.get("kind"):
            return kind
    return None


def spec_forms() -> str:
    """Every ``KIND:SPEC`` form ``verify --publisher`` takes, for help and refusals."""
    return ", ".join(f"{kind.name}:{kind.spec_form}" for kind in KINDS.values() if kind.spec_form)


__all__ = ["KINDS", "Field", "PublisherKind", "kind_of_attestation", "spec_forms"]
