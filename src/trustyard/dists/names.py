"""Project names: validity (core metadata ``Name``; PyPI's PROJECT_NAME_RE) and normalization.
Spec: PEP 503 and https://packaging.python.org/specifications/name-normalization/.
"""

from __future__ import annotations

import re

from packaging.utils import NormalizedName, canonicalize_name

from trustyard.errors import InvalidInput

__all__ = [
    "PROJECT_NAME_RE",
    "InvalidProjectName",
    "NormalizedName",
    "is_valid_project_name",
    "normalize_name",
]

# PyPI (warehouse/utils/project.py) and the core metadata spec: start and end with an ASCII
# letter or digit; only ASCII letters, digits, '.', '_' and '-' in between. ``re.ASCII`` matters:
# without it IGNORECASE lets U+212A KELVIN SIGN match ``K``, and "\u212aiwi" would normalize
# to "kiwi".
PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE | re.ASCII)

# PyPI's form message for a name that fails PROJECT_NAME_RE (warehouse/forklift/forms.py).
NAME_RULE = (
    "Start and end with a letter or numeral containing only ASCII numeric and '.', '_' and '-'."
)


class InvalidProjectName(InvalidInput):
    """A project name that breaks the core metadata ``Name`` rule."""


def is_valid_project_name(name: str) -> bool:
    """Whether ``name`` is a valid project name (core metadata ``Name``; PyPI's regex).

    The whole string must match: a trailing newline is not tolerated.
    """
    return PROJECT_NAME_RE.fullmatch(name) is not None


def normalize_name(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a valid project name.

    Runs of ``-``, ``_`` and ``.`` become one ``-`` and letters are lower-cased.
    Raises :class:`InvalidProjectName` (an ``InvalidInput``) for an invalid name, with PyPI's
    form message.
    """
    if not is_valid_project_name(name):
        raise InvalidProjectName(
            f"{name!r} is an invalid value for Name. Error: {NAME_RULE} "
            "See https://packaging.python.org/specifications/core-metadata for more information."
        )
    return canonicalize_name(name)


def __dir__() -> list[str]:
    return __all__
