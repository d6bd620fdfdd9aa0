"""A small client for GitHub's REST API (``api.github.com``, version 2022-11-28), urllib only.

Used by ``trustyard audit --github``. A 404 is an answer (a branch without protection), not a
failure; other errors become :class:`GitHubError` naming the request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from trustyard.errors import Error, InvalidInput

GITHUB_API = "https://api.github.com"


class GitHubError(Error):
    """GitHub's API could not be reached or answered an error."""


@dataclass(frozen=True)
class GitHub:
    """Requests to one API base with one token."""

    api: str
    token: str | None

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.api).scheme not in ("http", "https"):
            raise InvalidInput(f"--github-api-url {self.api!r} must be an http(s) URL")

    def get(self, path: str, *, missing_ok: bool = False) -> Any:
        """GET ``path``; with ``missing_ok`` a 404 gives ``None``."""
        url = self.api.rstrip("/") + path
        request = urllib.request.Request(url)  # noqa: S310 - scheme checked above
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "trustyard-audit")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            detail = ""
            try:
                detail = json.load(exc).get("message", "")
            except (json.JSONDecodeError, AttributeError, OSError):
                detail = ""
            hint = " (the token may lack admin rights)" if exc.code in (401, 403) else ""
            raise GitHubError(f"GET {path}: GitHub answered {exc.code} {detail}{hint}") from exc
        except urllib.error.URLError as exc:
            raise GitHubError(f"GET {url}: cannot reach the GitHub API ({exc.reason})") from exc
        except json.JSONDecodeError as exc:
            raise GitHubError(f"GET {path}: the answer is not JSON ({exc})") from exc


def parse_repo(slug: str) -> str:
    """Validate ``OWNER/REPO``."""
    parts = slug.split("/")
    if (
        len(parts) != 2
        or not all(parts)
        or any(not p.replace("-", "").replace("_", "").replace(".", "").isalnum() for p in parts)
    ):
        raise InvalidInput(f"--github {slug!r} must be OWNER/REPO")
    return slug
