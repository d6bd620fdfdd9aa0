"""A strict ``[[placeholder]]`` renderer for the shipped templates.

Templates hold GitHub expressions (``${{ ... }}``) and shell variables (``$TAG``), so neither
``string.Template`` nor Jinja syntax fits; ``[[name]]`` collides with neither. An unknown or
missing placeholder is an error, never an empty string. ``[[uses:owner/repo[/path]]]`` expands
to the pinned ``uses:`` value from the pins table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

from trustyard.errors import InvalidInput
from trustyard.scaffold.pins import PinTable

_PLACEHOLDER = re.compile(r"\[\[([a-z_]+|uses:[A-Za-z0-9_.\-/]+)\]\]")


def template_text(name: str) -> str:
    """A template shipped in ``trustyard/scaffold/templates`` (``.tmpl`` keeps linters off)."""
    folder = resources.files("trustyard.scaffold").joinpath("templates")
    return folder.joinpath(f"{name}.tmpl").read_text(encoding="utf-8")


def render(text: str, values: Mapping[str, str], pins: PinTable, source: str) -> str:
    """Replace every placeholder; report all unknown ones together."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("uses:"):
            target = key.removeprefix("uses:")
            owner, _, rest = target.partition("/")
            repo_name, _, path = rest.partition("/")
            pin = pins.get(f"{owner}/{repo_name}")
            if pin is None:
                missing.append(f"no pin for action {owner}/{repo_name}")
                return match.group(0)
            return pin.uses(path)
        if key not in values:
            missing.append(f"no value for [[{key}]]")
            return match.group(0)
        return values[key]

    out = _PLACEHOLDER.sub(replace, text)
    if missing:
        raise InvalidInput(f"template {source}: " + "; ".join(sorted(set(missing))))
    return out
