"""``trustyard workflow update-pins``: refresh the pins table from GitHub's REST API.

For each action: ``GET /repos/{repo}/releases/latest`` gives the tag, ``GET
/repos/{repo}/git/ref/tags/{tag}`` gives the object, and an annotated tag is peeled with ``GET
/repos/{repo}/git/tags/{sha}`` until it names a commit. Needs network access to the API (or
``--github-api-url`` pointing at a mirror); the tests serve recorded responses.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from trustyard.errors import Error, InvalidInput
from trustyard.scaffold.pins import Pin, PinTable

GITHUB_API = "https://api.github.com"


class GitHubUnavailable(Error):
    """The GitHub API could not be reached or answered with an error."""


def _get(api: str, path: str, token: str | None) -> Any:
    url = api.rstrip("/") + path
    request = urllib.request.Request(url)  # noqa: S310 - the scheme is checked in resolve_pin
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise GitHubUnavailable(f"GET {url}: GitHub answered {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise GitHubUnavailable(f"GET {url}: cannot reach the GitHub API ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise GitHubUnavailable(f"GET {url}: the answer is not JSON ({exc})") from exc


def _field(data: Any, *keys: str) -> str:
    value = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise GitHubUnavailable(f"unexpected GitHub API answer: no {'.'.join(keys)}")
        value = value[key]
    if not isinstance(value, str):
        raise GitHubUnavailable(f"unexpected GitHub API answer: {'.'.join(keys)} is not text")
    return value


def resolve_pin(repo: str, api: str = GITHUB_API, token: str | None = None) -> Pin:
    """The latest release of ``repo`` as a pin on its commit SHA."""
    if urllib.parse.urlsplit(api).scheme not in ("http", "https"):
        raise InvalidInput(f"--github-api-url {api!r} must be an http(s) URL")
    tag = _field(_get(api, f"/repos/{repo}/releases/latest", token), "tag_name")
    quoted = urllib.parse.quote(tag, safe="")
    obj = _get(api, f"/repos/{repo}/git/ref/tags/{quoted}", token)
    kind, sha = _field(obj, "object", "type"), _field(obj, "object", "sha")
    for _ in range(5):  # annotated tags can point at tags; GitHub allows short chains
        if kind == "commit":
            return Pin(repo, sha, tag)
        if kind != "tag":
            raise GitHubUnavailable(f"{repo} tag {tag} points at a {kind}, not a commit")
        peeled = _get(api, f"/repos/{repo}/git/tags/{sha}", token)
        kind, sha = _field(peeled, "object", "type"), _field(peeled, "object", "sha")
    raise GitHubUnavailable(f"{repo} tag {tag}: too many nested annotated tags")


def update_pins(table: PinTable, api: str = GITHUB_API, token: str | None = None) -> PinTable:
    """A new table with every action moved to its latest release."""
    return {repo: resolve_pin(repo, api, token) for repo in sorted(table)}
