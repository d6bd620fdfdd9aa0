"""Tests for streaming digests and PyPI's checks of supplied digests.
Spec: warehouse ``forklift/forms.py`` (UploadForm) and ``forklift/legacy.py`` (digest check).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from trustyard.dists.digests import (
    DigestMismatch,
    InvalidDigest,
    StreamingDigests,
    check_supplied_digests,
    digests_of_file,
)
from trustyard.errors import InvalidInput

DATA = b"trustyard " * 1000
MD5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()
BLAKE2 = hashlib.blake2b(DATA, digest_size=32).hexdigest()
MISMATCH = "The digest supplied does not match a digest calculated from the uploaded file."
SHA256_FORMAT = (
    "Invalid value for sha256_digest. Error: Use a valid, hex-encoded, SHA256 message digest."
)
BLAKE2_FORMAT = (
    "Invalid value for blake2_256_digest. Error: Use a valid, hex-encoded, BLAKE2 message digest."
)


@pytest.fixture
def computed() -> StreamingDigests:
    digests = StreamingDigests()
    digests.update(DATA)
    return digests


def test_empty_stream() -> None:
    digests = StreamingDigests()
    assert digests.size == 0
    assert digests.md5 == hashlib.md5(b"", usedforsecurity=False).hexdigest()
    assert digests.sha256 == hashlib.sha256(b"").hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(b"", digest_size=32).hexdigest()


@pytest.mark.parametrize("chunk_size", [1, 7, 1000, len(DATA), len(DATA) * 2])
def test_chunking_does_not_change_digests(chunk_size: int) -> None:
    digests = StreamingDigests()
    for start in range(0, len(DATA), chunk_size):
        digests.update(DATA[start : start + chunk_size])
    assert (digests.md5, digests.sha256, digests.blake2_256) == (MD5, SHA256, BLAKE2)
    assert digests.size == len(DATA)


def test_digests_are_lowercase_hex(computed: StreamingDigests) -> None:
    for value in (computed.md5, computed.sha256, computed.blake2_256):
        assert value == value.lower()
        int(value, 16)
    assert len(computed.md5) == 32
    assert len(computed.sha256) == len(computed.blake2_256) == 64


def test_digests_of_file(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    data = DATA * 500  # larger than one read chunk
    path.write_bytes(data)
    digests = digests_of_file(path)
    assert digests.size == len(data)
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()


@pytest.mark.parametrize(
    ("md5", "sha256", "blake2_256"),
    [
        (MD5, None, None),
        (None, SHA256, None),
        (None, None, BLAKE2),
        (MD5, SHA256, BLAKE2),
        (None, SHA256.upper(), BLAKE2.upper()),
        (MD5.upper(), None, None),
        ("", SHA256, ""),
        (None, SHA256.swapcase(), None),
    ],
)
def test_matching_digests_pass(
    computed: StreamingDigests, md5: str | None, sha256: str | None, blake2_256: str | None
) -> None:
    check_supplied_digests(computed, md5=md5, sha256=sha256, blake2_256=blake2_256)


@pytest.mark.parametrize(
    ("md5", "sha256", "blake2_256"),
    [(None, None, None), ("", "", ""), (None, "", None)],
)
def test_at_least_one_digest_is_required(
    computed: StreamingDigests, md5: str | None, sha256: str | None, blake2_256: str | None
) -> None:
    with pytest.raises(InvalidDigest) as caught:
        check_supplied_digests(computed, md5=md5, sha256=sha256, blake2_256=blake2_256)
    assert caught.value.message == "Error: Include at least one message digest."


@pytest.mark.parametrize(
    ("sha256", "blake2_256", "message"),
    [
        ("abc", None, SHA256_FORMAT),
        (SHA256[:-1], None, SHA256_FORMAT),
        (SHA256 + "0", None, SHA256_FORMAT),
        (SHA256[:-1] + "g", None, SHA256_FORMAT),
        (SHA256 + "\n", None, SHA256_FORMAT),
        (" " + SHA256, None, SHA256_FORMAT),
        ("٣" * 64, None, SHA256_FORMAT),  # non-ASCII digits
        (None, "xyz", BLAKE2_FORMAT),
        (None, BLAKE2[:32], BLAKE2_FORMAT),
        ("nope", "nope", f"{BLAKE2_FORMAT} {SHA256_FORMAT}"),
    ],
)
def test_malformed_sha256_and_blake2_are_form_errors(
    computed: StreamingDigests, sha256: str | None, blake2_256: str | None, message: str
) -> None:
    with pytest.raises(InvalidDigest) as caught:
        check_supplied_digests(computed, md5=None, sha256=sha256, blake2_256=blake2_256)
    assert caught.value.message == message


def test_md5_has_no_format_rule_but_must_match(computed: StreamingDigests) -> None:
    with pytest.raises(DigestMismatch):
        check_supplied_digests(computed, md5="not hex at all", sha256=None, blake2_256=None)


@pytest.mark.parametrize(
    ("md5", "sha256", "blake2_256"),
    [
        ("0" * 32, None, None),
        (None, "0" * 64, None),
        (None, None, "0" * 64),
        (MD5, SHA256, "0" * 64),  # every supplied digest must match
        ("0" * 32, SHA256, BLAKE2),
        (None, BLAKE2, SHA256),  # swapped
        (SHA256, None, None),
    ],
)
def test_mismatch(
    computed: StreamingDigests, md5: str | None, sha256: str | None, blake2_256: str | None
) -> None:
    with pytest.raises(DigestMismatch) as caught:
        check_supplied_digests(computed, md5=md5, sha256=sha256, blake2_256=blake2_256)
    assert caught.value.message == MISMATCH
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status == 400
