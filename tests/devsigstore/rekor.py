"""The development Rekor v1: an in-memory transparency log of ``dsse`` and ``hashedrekord`` entries.
Copies Rekor v1's ``/api/v1/log/entries`` responses as sigstore-python 4.5 reads them.

Each entry answers with ``integratedTime``, ``logIndex``, ``logID`` (hex SHA-256 of the log's
DER public key), ``verification.signedEntryTimestamp`` (ECDSA over the canonical JSON of body,
integratedTime, logID and logIndex) and ``verification.inclusionProof`` (RFC 6962 audit path to
the current root, with a checkpoint in the signed-note format whose signature line names the
log and starts with the first four bytes of the log ID, as sigstore-python matches it).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.devsigstore.ctlog import key_id
from tests.devsigstore.entries import canonical_json, canonicalize
from tests.devsigstore.errors import EntryExists, NotFound
from tests.devsigstore.merkle import inclusion_proof, leaf_hash, root_hash

__all__ = ["TransparencyLog"]


@dataclass(frozen=True)
class _Entry:
    index: int
    body: bytes
    integrated_time: int
    leaf: bytes


class TransparencyLog:
    """One Rekor v1 shard in memory, signing with an ECDSA P-256 key."""

    def __init__(self, name: str = "devsigstore-rekor") -> None:
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"a log name is one word, not {name!r}")
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.log_id = key_id(self.key.public_key())
        self.tree_id = secrets.randbelow(2**63 - 1) + 1
        self.origin = f"{name} - {self.tree_id}"
        self._entries: list[_Entry] = []
        self._leaves: list[bytes] = []
        self._by_leaf: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def public_key_pem(self) -> str:
        """The log's public key (``GET /api/v1/log/publicKey``)."""
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def uuid(self, leaf: bytes) -> str:
        """The entry UUID: tree ID (16 hex digits) and leaf hash, as sharded Rekor writes it."""
        return f"{self.tree_id:016x}{leaf.hex()}"

    def add(self, proposed: Any) -> tuple[str, dict[str, Any]]:
        """Check, canonicalize and append ``proposed``; its UUID and Rekor's answer for it."""
        body = canonicalize(proposed)
        leaf = leaf_hash(body)
        with self._lock:
            if leaf in self._by_leaf:
                raise EntryExists(
                    "an equivalent entry already exists in the transparency log with UUID "
                    + self.uuid(leaf),
                    self.uuid(leaf),
                )
            entry = _Entry(len(self._entries), body, int(time.time()), leaf)
            self._entries.append(entry)
            self._leaves.append(leaf)
            self._by_leaf[leaf] = entry.index
            return self.uuid(leaf), self._render(entry)

    def get(self, uuid: str) -> dict[str, Any]:
        """An entry by UUID (or bare leaf hash), with a proof to the current root."""
        text = uuid.lower()
        tree, leaf_hex = (text[:16], text[16:]) if len(text) == 80 else ("", text)
        try:
            leaf = bytes.fromhex(leaf_hex)
        except ValueError as exc:
            raise NotFound(f"{uuid!r} is not an entry UUID") from exc
        with self._lock:
            index = self._by_leaf.get(leaf)
            if index is None or (tree and tree != f"{self.tree_id:016x}"):
                raise NotFound(f"no entry with UUID {uuid}")
            entry = self._entries[index]
            return {self.uuid(leaf): self._render(entry)}

    def get_by_index(self, index: int) -> dict[str, Any]:
        """An entry by log index."""
        with self._lock:
            if not 0 <= index < len(self._entries):
                raise NotFound(f"no entry at log index {index}")
            entry = self._entries[index]
            return {self.uuid(entry.leaf): self._render(entry)}

    def info(self) -> dict[str, Any]:
        """``GET /api/v1/log``: the current root, size and signed checkpoint."""
        with self._lock:
            root = root_hash(self._leaves)
            return {
                "rootHash": root.hex(),
                "treeSize": len(self._leaves),
                "signedTreeHead": self._checkpoint(len(self._leaves), root),
                "treeID": str(self.tree_id),
            }

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _checkpoint(self, size: int, root: bytes) -> str:
        """A signed note: origin, size, base64 root; a blank line; ``— name base64(hint+sig)``."""
        note = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = base64.b64encode(self.log_id[:4] + self._sign(note.encode())).decode()
        return f"{note}\n\u2014 {self.name} {signature}\n"

    def _render(self, entry: _Entry) -> dict[str, Any]:
        """Rekor's JSON for ``entry``; called with the lock held."""
        body = base64.b64encode(entry.body).decode()
        promise = canonical_json(
            {
                "body": body,
                "integratedTime": entry.integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": entry.index,
            }
        )
        size = len(self._leaves)
        root = root_hash(self._leaves)
        return {
            "body": body,
            "integratedTime": entry.integrated_time,
            "logID": self.log_id.hex(),
            "logIndex": entry.index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self._checkpoint(size, root),
                    "hashes": [h.hex() for h in inclusion_proof(entry.index, self._leaves)],
                    "logIndex": entry.index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": base64.b64encode(self._sign(promise)).decode(),
            },
        }
