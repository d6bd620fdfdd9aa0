"""The index's keys for secrets it must be able to read back (issue 20): TOTP keys, sealed at
rest with AES-256-GCM (NIST SP 800-38D, through ``cryptography``'s ``AESGCM``) under a key
kept outside the database, so that a copy of the database or of an ``admin export`` alone
computes no codes.

The keys live in one file (the ``secrets_key_file`` setting; by default ``secrets.key`` in the
data directory, created on first need with mode 0600): one base64url key of 32 bytes per
line, the first one seals, every one opens. Every instance of an index must read the same file
(several instances on PostgreSQL: provision it to each, as a mounted secret). A sealed value
reads ``ty1:<key id>:<base64url(nonce || ciphertext || tag)>``; the key id is the first 16
hex digits of the key's SHA-256, so a value names the key that opens it and an old key can
stay in the file, below a new one, until every value is sealed again (``admin secrets
rotate-key``). The associated data binds a value to its row (its table and user id): a sealed
value copied onto another account's row does not open there.

An instance whose key file is missing, or lacks a key that seals a row, refuses to start and
says which key it needs, instead of creating one. (Two instances started with different files
before any value is sealed are caught at the first sealed value: the other one cannot open it,
and refuses its next start. Provision the file before the first start.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select

from trustyard.atomicfiles import fsync_directory, write_atomic
from trustyard.errors import ConfigurationError, Error
from trustyard.index.db.engine import Database
from trustyard.index.db.models import TotpSecret

PREFIX = "ty1:"
_NONCE_BYTES = 12  # SP 800-38D §8.2: 96-bit nonces, random (at most 2^32 per key)
_KEY_BYTES = 32
_ID_CHARS = 16


class SecretsUnreadable(Error):
    """A sealed value whose key this instance does not hold, or that does not open (500: the
    operator's to mend, never the user's)."""

    status = 500


def key_id(key: bytes) -> str:
    """The id a sealed value names its key by (not secret: a hash of the key)."""
    return hashlib.sha256(key).hexdigest()[:_ID_CHARS]


def is_sealed(value: str) -> bool:
    """Whether ``value`` is sealed (else: a secret stored before sealing, in clear)."""
    return value.startswith(PREFIX)


def sealed_key_id(value: str) -> str | None:
    """The id of the key that opens ``value``, or None for a value in clear."""
    return value[len(PREFIX) :].partition(":")[0] if is_sealed(value) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keyring:
    """The keys of a key file, the first one sealing."""

    keys: tuple[bytes, ...]

    @property
    def current(self) -> str:
        """The id of the key that seals."""
        return key_id(self.keys[0])

    @property
    def ids(self) -> tuple[str, ...]:
        """Every key's id, in the file's order."""
        return tuple(key_id(key) for key in self.keys)

    def text(self) -> str:
        """The key file's contents."""
        return "".join(f"{_b64(key)}\n" for key in self.keys)


def parse_key_file(path: Path, text: str) -> Keyring:
    """The keys of ``text``, read from ``path``; blank lines and ``#`` comments are skipped."""
    keys: list[bytes] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = _unb64(line)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != _KEY_BYTES:
            raise ConfigurationError(
                f"{path}, line {number}: not a key (base64url of {_KEY_BYTES} bytes)"
            )
        keys.append(key)
    if not keys:
        raise ConfigurationError(f"{path} holds no key")
    return Keyring(tuple(keys))


def new_key() -> bytes:
    """A fresh 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def _create_exclusively(path: Path, text: str) -> bool:
    """Write ``path`` whole with mode 0600 unless it exists (another process won the race):
    the key is written to a private temporary name and linked into place, so no reader ever
    sees a partial file. Whether this call created it."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    write_atomic(temporary, text, mode=0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return True


def _read_key_file(path: Path) -> Keyring | None:
    """The file's keys, None if it does not exist; refused if others may read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{path} may be read by others (mode {stat.S_IMODE(mode):o}): `chmod 600 {path}`"
        )
    try:
        return parse_key_file(path, path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the secrets key file {path}: {exc}") from exc


class SecretKeys:
    """The index's key file, read when the index is opened (:func:`context.open_index` calls
    :meth:`ready`, before any transaction) and again when a value names a key this process does
    not hold yet (another instance's rotation); thread-safe."""

    def __init__(self, path: Path, db: Database) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()
        self._ring: Keyring | None = None

    def ready(self) -> Keyring:
        """The keyring, created on first need; checked against the keys sealed rows name."""
        with self._lock:
            if self._ring is None:
                self._ring = self._load()
            return self._ring

    def _load(self) -> Keyring:
        with self._db.read() as session:
            used = set(
                session.scalars(
                    select(func.substr(TotpSecret.secret, len(PREFIX) + 1, _ID_CHARS))
                    .where(TotpSecret.secret.like(f"{PREFIX}%"))
                    .distinct()
                )
            )
        ring = _read_key_file(self.path)
        if ring is None:
            if used:
                raise ConfigurationError(
                    f"the secrets key file {self.path} is missing: this index's secrets are"
                    f" sealed with key {', '.join(sorted(used))}. Put the index's key file"
                    " there (every instance of an index, and an index restored from an export,"
                    " needs the same file; setting secrets_key_file)"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_exclusively(self.path, Keyring((new_key(),)).text())
            ring = _read_key_file(self.path)
            if ring is None:  # pragma: no cover - removed between the two calls
                raise ConfigurationError(f"{self.path} vanished as it was created")
        lacking = sorted(used - set(ring.ids))
        if lacking:
            raise ConfigurationError(
                f"the secrets key file {self.path} lacks key {', '.join(lacking)}, which seals"
                " secrets of this index: another instance made a key file of its own, or this"
                " is not the index's file. Give every instance the index's own file (or add the"
                " missing key's line to it)"
            )
        return ring

    def _key_for(self, wanted: str) -> bytes:
        ring = self.ready()
        if wanted not in ring.ids:
            # Rotated by another instance since this process read the file? Read it again
            # (the file only: the catalogue's ids were checked by ready(), and this may run
            # inside a write transaction that a second connection must not wait for).
            reread = _read_key_file(self.path)
            if reread is not None and wanted in reread.ids:
                with self._lock:
                    self._ring = ring = reread
        for key in ring.keys:
            if key_id(key) == wanted:
                return key
        raise SecretsUnreadable(
            f"a secret is sealed with key {wanted}, which {self.path} does not hold: put the"
            " index's key file in place"
        )

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` sealed with the current key, bound to ``context`` (its row)."""
        ring = self.ready()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(ring.keys[0]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{ring.current}:{_b64(nonce + sealed)}"

    def open(self, value: str, context: str) -> str:
        """The plaintext of a sealed ``value`` (a value still in clear is returned as it is)."""
        wanted = sealed_key_id(value)
        if wanted is None:
            return value
        key = self._key_for(wanted)
        try:
            raw = _unb64(value[len(PREFIX) + len(wanted) + 1 :])
            plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise SecretsUnreadable(
                "a sealed secret does not open: it was altered, or moved from another row"
            ) from exc
        return plain.decode()

    def rotate(self) -> Keyring:
        """Put a new key first in the file (the old ones stay, to open what they sealed); the
        caller seals every value again."""
        with self._lock:
            ring = self._ring or self._load()
            rotated = Keyring((new_key(), *ring.keys))
            write_atomic(self.path, rotated.text(), mode=0o600)
            self._ring = rotated
            return rotated
