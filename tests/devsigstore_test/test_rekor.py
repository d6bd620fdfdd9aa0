"""The development Rekor v1 over HTTP: every entry's proof, checkpoint and SET verify with
sigstore-python's own checks at every tree size, and malformed or forged entries are refused."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import VerificationError
from sigstore.models import TransparencyLogEntry

from tests.devsigstore import DevSigstore
from tests.devsigstore_test.conftest import call, raw_exchange

ENTRIES = "/api/v1/log/entries"
KEY = ec.generate_private_key(ec.SECP256R1())
PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def hashedrekord(data: bytes, *, signature: bytes | None = None) -> dict[str, Any]:
    """A proposed hashedrekord entry for ``data`` signed with ``KEY``."""
    digest = hashlib.sha256(data).digest()
    if signature is None:
        signature = KEY.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(PEM).decode()},
            },
        },
    }


def dsse(payload: bytes, *, verifier_key: ec.EllipticCurvePrivateKey = KEY) -> dict[str, Any]:
    payload_type = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %b %d %b" % (len(payload_type), payload_type.encode(), len(payload), payload)
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": payload_type,
        "signatures": [
            {"sig": base64.b64encode(KEY.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()}
        ],
    }
    verifier = verifier_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": json.dumps(envelope),
                "verifiers": [base64.b64encode(verifier).decode()],
            }
        },
    }


def post(sigstore: DevSigstore, entry: Any) -> tuple[int, Any]:
    answer = call(sigstore, "POST", ENTRIES, content=json.dumps(entry).encode())
    return answer.status_code, answer.json()


def check(sigstore: DevSigstore, answer: dict[str, Any]) -> TransparencyLogEntry:
    """sigstore-python's verification of an entry: Merkle proof, signed checkpoint, SET."""
    entry = TransparencyLogEntry._from_v1_response(answer)
    keyring = sigstore.trust_config().trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    entry._verify(keyring)
    return entry


def test_every_entry_verifies_at_every_tree_size(sigstore: DevSigstore) -> None:
    start = call(sigstore, "GET", "/api/v1/log").json()["treeSize"]
    uuids = []
    for n in range(13):
        status, answer = post(sigstore, hashedrekord(f"artifact {n}".encode()))
        assert status == 201
        (uuid,) = answer
        uuids.append(uuid)
        assert answer[uuid]["logIndex"] == start + n
        assert check(sigstore, answer)._inner.inclusion_proof.tree_size == start + n + 1
        # Every earlier entry, fetched again, proves inclusion in the grown tree.
        for earlier in uuids:
            fetched = call(sigstore, "GET", f"{ENTRIES}/{earlier}")
            assert fetched.status_code == 200
            check(sigstore, fetched.json())
    by_index = call(sigstore, "GET", f"{ENTRIES}?logIndex={start + 3}").json()
    assert list(by_index) == [uuids[3]]
    info = call(sigstore, "GET", "/api/v1/log").json()
    assert info["treeSize"] == start + 13
    assert info["rootHash"] == by_index[uuids[3]]["verification"]["inclusionProof"]["rootHash"]
    assert info["signedTreeHead"].startswith(f"{sigstore.log.origin}\n{start + 13}\n")


def test_a_proof_for_another_entry_is_refused(sigstore: DevSigstore) -> None:
    _, first = post(sigstore, hashedrekord(b"first"))
    _, second = post(sigstore, hashedrekord(b"second"))
    (body_first,) = first.values()
    (body_second,) = second.values()
    body_first["body"] = body_second["body"]
    with pytest.raises(VerificationError, match="inclusion proof contains invalid root hash"):
        check(sigstore, first)


def test_dsse_entries_record_hashes_and_verifiers(sigstore: DevSigstore) -> None:
    status, answer = post(sigstore, dsse(b'{"_type": "https://in-toto.io/Statement/v1"}'))
    assert status == 201
    (entry,) = answer.values()
    body = json.loads(base64.b64decode(entry["body"]))
    assert body["kind"] == "dsse"
    assert body["spec"]["payloadHash"] == {
        "algorithm": "sha256",
        "value": hashlib.sha256(b'{"_type": "https://in-toto.io/Statement/v1"}').hexdigest(),
    }
    assert body["spec"]["signatures"][0]["verifier"] == base64.b64encode(PEM).decode()
    check(sigstore, answer)


def test_duplicates_are_refused_with_409_and_the_existing_uuid(sigstore: DevSigstore) -> None:
    entry = hashedrekord(b"once")
    _, answer = post(sigstore, entry)
    (uuid,) = answer
    again = call(sigstore, "POST", ENTRIES, content=json.dumps(entry).encode())
    assert again.status_code == 409
    assert again.headers["Location"] == f"{ENTRIES}/{uuid}"
    assert uuid in again.json()["message"]


OTHER = ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ([], "the proposed entry must be a JSON object"),
        (
            {"kind": "rekord", "apiVersion": "0.0.2"},
            "unsupported kind 'rekord': this log accepts dsse, hashedrekord; unsupported "
            "apiVersion '0.0.2': this log accepts 0.0.1; 'spec' must be an object",
        ),
        (
            {"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {}},
            "invalid hashedrekord entry: 'signature.content' is required; "
            "'signature.publicKey.content' is required; 'data.hash.algorithm' is required; "
            "'data.hash.value' is required",
        ),
        (
            hashedrekord(b"x", signature=OTHER.sign(b"x", ec.ECDSA(hashes.SHA256()))),
            "the signature does not verify against the digest and public key",
        ),
        (
            {**hashedrekord(b"x"), "spec": {**hashedrekord(b"x")["spec"], "data": {"hash": {"algorithm": "md5", "value": "00"}}}},
            "unsupported hash algorithm 'md5'",
        ),
        (
            {**hashedrekord(b"x"), "spec": {**hashedrekord(b"x")["spec"], "data": {"hash": {"algorithm": "sha256", "value": "abcd"}}}},
            "'data.hash.value' is not a sha256 digest",
        ),
        (
            {**hashedrekord(b"x"), "spec": {**hashedrekord(b"x")["spec"], "signature": {"content": "!!", "publicKey": {"content": base64.b64encode(PEM).decode()}}}},
            "'signature.content' is not base64",
        ),
        (
            {**hashedrekord(b"x"), "spec": {**hashedrekord(b"x")["spec"], "signature": {"content": "AAAA", "publicKey": {"content": base64.b64encode(b"junk").decode()}}}},
            "neither a PEM certificate nor a PEM public key",
        ),
        (dsse(b"{}", verifier_key=OTHER), "DSSE signature 0 verifies against none of the verifiers"),
        (
            {"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {"envelope": "{", "verifiers": ["eA=="]}}},
            "'proposedContent.envelope' is not JSON",
        ),
        (
            {"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {"envelope": "{}", "verifiers": []}}},
            "'proposedContent.verifiers' must be a non-empty list of strings",
        ),
        (
            {"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {"envelope": "{}", "verifiers": ["eA=="]}}},
            "invalid DSSE envelope: 'payloadType' is required; 'payload' is required; 'signatures' is required",
        ),
    ],
    ids=[
        "array", "unknown-kind", "empty-spec", "forged-signature", "md5", "short-digest",
        "signature-not-base64", "key-not-pem", "dsse-wrong-verifier", "envelope-not-json",
        "no-verifiers", "empty-envelope",
    ],
)  # fmt: skip
def test_malformed_entries_are_refused_with_400(
    sigstore: DevSigstore, entry: Any, reason: str
) -> None:
    status, answer = post(sigstore, entry)
    assert status == 400
    assert answer["code"] == 400
    assert reason in answer["message"]


def test_hostile_requests_are_refused(sigstore: DevSigstore) -> None:
    assert call(sigstore, "POST", ENTRIES, content=b"[").status_code == 400
    huge = raw_exchange(
        sigstore, f"POST {ENTRIES} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n".encode()
    )
    assert huge.startswith(b"HTTP/1.1 413 ")
    assert call(sigstore, "GET", f"{ENTRIES}/{'0' * 64}").status_code == 404
    assert call(sigstore, "GET", f"{ENTRIES}/not-hex").status_code == 404
    assert call(sigstore, "GET", f"{ENTRIES}?logIndex=-1").json()["message"] == (
        "logIndex (a non-negative integer) is required"
    )
    assert call(sigstore, "GET", f"{ENTRIES}?logIndex=99999").status_code == 404
    assert call(sigstore, "PUT", ENTRIES).status_code == 405
    key = call(sigstore, "GET", "/api/v1/log/publicKey").text
    assert key == sigstore.log.public_key_pem()
