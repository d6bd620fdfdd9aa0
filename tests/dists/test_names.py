"""Tests for project-name validity and PEP 503 normalization.
Spec: core metadata ``Name``, PEP 503, warehouse's PROJECT_NAME_RE.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from packaging.utils import canonicalize_name

from trustyard.dists import archives, digests, filenames, metadata, names, platforms
from trustyard.dists.names import (
    PROJECT_NAME_RE,
    InvalidProjectName,
    NormalizedName,
    is_valid_project_name,
    normalize_name,
)
from trustyard.errors import InvalidInput

VALID = [
    "a",
    "A",
    "7",
    "requests",
    "Django",
    "zope.interface",
    "oslo_concurrency",
    "foo-bar",
    "Foo__Bar",
    "a-_.b",
    "a.1",
    "0x",
    "x" * 200,
]

INVALID = [
    "",
    "-foo",
    "foo-",
    "_foo",
    "foo_",
    ".foo",
    "foo.",
    "foo bar",
    " foo",
    "foo ",
    "foo\n",
    "foo\x00",
    "foo/bar",
    "foo\\bar",
    "foo+bar",
    "foo@1",
    "café",
    "\u212aiwi",  # KELVIN SIGN: IGNORECASE alone would let it match "K"
    "\u0131nt",  # dotless i
    "\u017fix",  # long s
    "\uff46\uff4f\uff4f",  # full-width "foo"
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name: str) -> None:
    assert is_valid_project_name(name)
    assert PROJECT_NAME_RE.fullmatch(name)


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names(name: str) -> None:
    assert not is_valid_project_name(name)


@pytest.mark.parametrize("name", INVALID)
def test_normalize_rejects_invalid_names_with_pypi_message(name: str) -> None:
    with pytest.raises(InvalidProjectName) as caught:
        normalize_name(name)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.message == (
        f"{name!r} is an invalid value for Name. Error: Start and end with a letter or numeral "
        "containing only ASCII numeric and '.', '_' and '-'. "
        "See https://packaging.python.org/specifications/core-metadata for more information."
    )


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("requests", "requests"),
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("oslo_concurrency", "oslo-concurrency"),
        ("Foo__Bar", "foo-bar"),
        ("a-_.b", "a-b"),
        ("A.B-C_D", "a-b-c-d"),
        ("FOO---BAR", "foo-bar"),
        ("x", "x"),
    ],
)
def test_normalize_name(name: str, normalized: str) -> None:
    result: NormalizedName = normalize_name(name)
    assert result == normalized


@pytest.mark.parametrize("name", VALID)
def test_normalize_agrees_with_packaging(name: str) -> None:
    assert normalize_name(name) == canonicalize_name(name, validate=True)


@pytest.mark.parametrize("name", INVALID)
def test_regex_agrees_with_packaging_validation(name: str) -> None:
    with pytest.raises(ValueError, match="name is invalid"):
        canonicalize_name(name, validate=True)


@pytest.mark.parametrize("module", [archives, digests, filenames, metadata, names, platforms])
def test_public_api(module: ModuleType) -> None:
    """Every module lists its public names, and ``dir()`` shows only those."""
    assert sorted(dir(module)) == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name)
