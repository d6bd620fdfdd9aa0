"""Property tests (hypothesis) for upload digests: streaming hashes and PyPI's digest checks.
Behaviour: warehouse ``forklift`` (UploadForm digest fields, the comparison of all three).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustyard.dists.digests import (
    DigestMismatch,
    InvalidDigest,
    StreamingDigests,
    check_supplied_digests,
)

contents = st.binary(max_size=2048)
any_digest = (
    st.none() | st.text(max_size=80) | st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
)


def digests_of(data: bytes, cuts: list[int]) -> StreamingDigests:
    digests = StreamingDigests()
    start = 0
    for cut in sorted({min(cut, len(data)) for cut in cuts} | {len(data)}):
        digests.update(data[start:cut])
        start = cut
    return digests


@given(data=contents, cuts=st.lists(st.integers(min_value=0, max_value=2048), max_size=8))
def test_any_chunking_gives_the_digests_of_the_whole(data: bytes, cuts: list[int]) -> None:
    digests = digests_of(data, cuts)
    assert digests.size == len(data)
    assert digests.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()


@given(data=contents, md5=any_digest, sha256=any_digest, blake2_256=any_digest)
def test_any_supplied_values_pass_or_raise_our_errors(
    data: bytes, md5: str | None, sha256: str | None, blake2_256: str | None
) -> None:
    computed = digests_of(data, [])
    try:
        check_supplied_digests(computed, md5=md5, sha256=sha256, blake2_256=blake2_256)
    except (InvalidDigest, DigestMismatch):
        return
    supplied = {"md5": md5, "sha256": sha256, "blake2_256": blake2_256}
    actual = {"md5": computed.md5, "sha256": computed.sha256, "blake2_256": computed.blake2_256}
    assert any(supplied.values())
    assert all(not value or value.lower() == actual[name] for name, value in supplied.items())


@given(
    data=contents,
    which=st.sets(st.sampled_from(["md5", "sha256", "blake2_256"]), min_size=1),
    upper=st.booleans(),
)
def test_true_digests_in_any_case_pass(data: bytes, which: set[str], upper: bool) -> None:
    computed = digests_of(data, [])
    values = {name: getattr(computed, name) for name in which}
    values = {name: value.upper() if upper else value for name, value in values.items()}
    check_supplied_digests(
        computed,
        md5=values.get("md5"),
        sha256=values.get("sha256"),
        blake2_256=values.get("blake2_256"),
    )


@given(
    data=contents,
    which=st.sampled_from(["md5", "sha256", "blake2_256"]),
    position=st.integers(min_value=0),
    digit=st.sampled_from("0123456789abcdef"),
)
def test_one_changed_digit_is_a_mismatch(
    data: bytes, which: str, position: int, digit: str
) -> None:
    computed = digests_of(data, [])
    true = getattr(computed, which)
    index = position % len(true)
    if true[index] == digit:
        return
    changed = true[:index] + digit + true[index + 1 :]
    with pytest.raises(DigestMismatch):
        check_supplied_digests(
            computed, **{"md5": None, "sha256": None, "blake2_256": None, which: changed}
        )
