"""Property tests (hypothesis) for project names: validity and PEP 503 normalization.
Spec: https://packaging.python.org/specifications/name-normalization/ and PyPI's name regex.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from trustyard.dists.names import (
    PROJECT_NAME_RE,
    InvalidProjectName,
    is_valid_project_name,
    normalize_name,
)

valid_names = st.from_regex(PROJECT_NAME_RE, fullmatch=True)
# Any text, often close to a name: separators, case, non-ASCII look-alikes (KELVIN SIGN).
any_text = st.text(
    st.sampled_from("aZ09._- \n\t/\\\u212a\u0131\xe9\x00") | st.characters(codec=None), max_size=40
)


@given(name=any_text)
def test_any_text_is_a_name_or_refused(name: str) -> None:
    if not is_valid_project_name(name):
        with pytest.raises(InvalidProjectName) as caught:
            normalize_name(name)
        assert caught.value.message.startswith(f"{name!r} is an invalid value for Name.")
    else:
        assert normalize_name(name) == canonicalize_name(name)


@given(name=valid_names)
def test_normalized_name_is_a_fixed_point(name: str) -> None:
    normalized = normalize_name(name)
    assert normalized == canonicalize_name(name)
    assert normalize_name(normalized) == normalized
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", normalized)


@given(name=valid_names, data=st.data())
def test_spellings_of_one_name_normalize_alike(name: str, data: st.DataObject) -> None:
    """Case and runs of ``-``, ``_`` and ``.`` do not matter; nothing else does."""
    respelled = "".join(
        data.draw(st.sampled_from(["-", "_", ".", "_.", "--"])) if char in "-_." else char
        for char in name
    )
    respelled = "".join(c.upper() if data.draw(st.booleans()) else c for c in respelled)
    assert normalize_name(respelled) == normalize_name(name)


@given(name=valid_names, position=st.integers(min_value=0), char=st.characters(codec=None))
def test_a_non_ascii_character_makes_a_name_invalid(name: str, position: int, char: str) -> None:
    if char.isascii():
        return
    index = position % (len(name) + 1)
    with pytest.raises(InvalidProjectName):
        normalize_name(name[:index] + char + name[index:])
