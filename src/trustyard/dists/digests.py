"""File digests as PyPI's legacy upload API computes and checks them (md5, sha256, blake2b-256).
Behaviour copied from warehouse ``forklift/forms.py`` (UploadForm) and ``forklift/legacy.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path

from trustyard.errors import InvalidInput

__all__ = [
    "DigestMismatch",
    "InvalidDigest",
    "StreamingDigests",
    "check_supplied_digests",
    "digests_of_file",
]

_CHUNK_SIZE = 1024 * 1024

# warehouse UploadForm: sha256_digest and blake2_256_digest must match this, case-insensitively.
_HEX_256_RE = re.compile(r"^[A-F0-9]{64}$", re.IGNORECASE | re.ASCII)

# Form-field messages, exactly as warehouse renders a field without a description
# ("Invalid value for {field}. Error: {message}") or a form-level error ("Error: {message}").
_FORMAT_ERRORS = {
    "blake2_256_digest": "Use a valid, hex-encoded, BLAKE2 message digest.",
    "sha256_digest": "Use a valid, hex-encoded, SHA256 message digest.",
}
NO_DIGEST_MESSAGE = "Error: Include at least one message digest."
MISMATCH_MESSAGE = "The digest supplied does not match a digest calculated from the uploaded file."


class InvalidDigest(InvalidInput):
    """A digest form field is missing or malformed (PyPI's UploadForm rules)."""


class DigestMismatch(InvalidInput):
    """A supplied digest differs from the one computed over the uploaded bytes."""


class StreamingDigests:
    """md5, sha256 and blake2b-256 (``digest_size=32``) of a byte stream, fed chunk by chunk.

    These are the three digests PyPI computes for every upload; all are reported as
    lower-case hex.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._blake2_256 = hashlib.blake2b(digest_size=32)
        self._size = 0

    def update(self, chunk: bytes) -> None:
        """Feed the next chunk of the stream."""
        self._md5.update(chunk)
        self._sha256.update(chunk)
        self._blake2_256.update(chunk)
        self._size += len(chunk)

    def parts(self) -> tuple[tuple[str, Callable[[bytes | memoryview], None]], ...]:
        """Each hash's own ``update``, by name, so that each can be fed from a thread of its
        own (hashlib releases the GIL for buffers of 2 KiB and more); whoever feeds them this
        way says how many bytes went in with :meth:`count`."""
        return (
            ("md5", self._md5.update),
            ("sha256", self._sha256.update),
            ("blake2_256", self._blake2_256.update),
        )

    def count(self, size: int) -> None:
        """Add ``size`` bytes fed through :meth:`parts` to :attr:`size`."""
        self._size += size

    @property
    def md5(self) -> str:
        """The md5 digest, lower-case hex."""
        return self._md5.hexdigest()

    @property
    def sha256(self) -> str:
        """The sha256 digest, lower-case hex."""
        return self._sha256.hexdigest()

    @property
    def blake2_256(self) -> str:
        """The blake2b digest with a 32-byte digest size, lower-case hex."""
        return self._blake2_256.hexdigest()

    @property
    def size(self) -> int:
        """The number of bytes fed so far."""
        return self._size


def digests_of_file(path: Path) -> StreamingDigests:
    """The digests of the file at ``path``, read in bounded chunks."""
    digests = StreamingDigests()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_SIZE):
            digests.update(chunk)
    return digests


def check_supplied_digests(
    computed: StreamingDigests,
    *,
    md5: str | None,
    sha256: str | None,
    blake2_256: str | None,
) -> None:
    """Check the digests a client supplied against the computed ones, as PyPI does.

    - An empty value counts as not supplied; at least one digest is required
      (:class:`InvalidDigest`, "Error: Include at least one message digest.").
    - sha256 and blake2_256 must be 64 hex digits, any case (:class:`InvalidDigest`; every
      malformed field is reported, in PyPI's field order). md5 has no format rule.
    - Every supplied digest is compared as lower-case hex in constant time; any difference
      raises :class:`DigestMismatch`.
    """
    supplied = {"md5": md5 or "", "sha256": sha256 or "", "blake2_256": blake2_256 or ""}
    if not any(supplied.values()):
        raise InvalidDigest(NO_DIGEST_MESSAGE)

    malformed = [
        f"Invalid value for {field}. Error: {message}"
        for field, message in sorted(_FORMAT_ERRORS.items())
        if (value := supplied[field.removesuffix("_digest")]) and not _HEX_256_RE.fullmatch(value)
    ]
    if malformed:
        raise InvalidDigest(" ".join(malformed))

    actual = {"md5": computed.md5, "sha256": computed.sha256, "blake2_256": computed.blake2_256}
    for name, value in supplied.items():
        if value and not hmac.compare_digest(value.lower().encode(), actual[name].encode()):
            raise DigestMismatch(MISMATCH_MESSAGE)


def __dir__() -> list[str]:
    return __all__
