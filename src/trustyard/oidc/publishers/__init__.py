"""Publisher kinds: one module per CI system, each declaring its claim checks as data."""

from __future__ import annotations

from trustyard.oidc.publishers.base import PublisherKind
from trustyard.oidc.publishers.generic import GENERIC
from trustyard.oidc.publishers.github import GITHUB
from trustyard.oidc.publishers.gitlab import GITLAB
from trustyard.oidc.publishers.google import GOOGLE

KINDS: dict[str, PublisherKind] = {kind.name: kind for kind in (GITHUB, GITLAB, GOOGLE, GENERIC)}

__all__ = ["KINDS", "PublisherKind"]
