"""The development Fulcio over HTTP: the certificate it issues, and precise refusals of bad
tokens, bad CSRs and hostile requests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pypi_attestations import GooglePublisher
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import VerificationError

from tests.devsigstore import SIGSTORE_AUDIENCE, DevSigstore, start_dev_sigstore
from tests.devsigstore.errors import DevSigstoreError
from tests.devsigstore_test.conftest import RUN, call, raw_exchange
from tests.oidc.conftest import DevIssuer

PATH = "/api/v2/signingCert"


def csr_b64(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None) -> str:
    """base64 of a PEM CSR, as sigstore-python sends it (empty subject, signed by the key)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def request_cert(
    sigstore: DevSigstore, token: str | None, body: Any = None, *, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = (
        raw
        if raw is not None
        else json.dumps({"certificateSigningRequest": csr_b64()} if body is None else body).encode()
    )
    answer = call(sigstore, "POST", PATH, content=content, headers=headers)
    return answer.status_code, answer.json()


def test_issues_a_fulcio_profile_leaf_with_a_valid_sct(
    sigstore: DevSigstore, github_token: str, tmp_path: Path
) -> None:
    status, body = request_cert(sigstore, github_token)
    assert status == 200
    pems = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    leaf, ca = (x509.load_pem_x509_certificate(p.encode()) for p in pems)
    assert ca == sigstore.fulcio.cert
    assert leaf.issuer == ca.subject
    assert leaf.subject == x509.Name([])
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"https://github.com/{RUN.workflow_ref}"
    ]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CODE_SIGNING]
    v1_issuer = leaf.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
    )
    assert isinstance(v1_issuer.value, x509.UnrecognizedExtension)
    assert v1_issuer.value.value == b"https://token.actions.githubusercontent.com"
    # sigstore-python's own SCT check, against the trusted root's CT log key.
    keyring = sigstore.trust_config().trusted_root.ct_keyring(KeyringPurpose.VERIFY)
    verify_sct(leaf, [ca], keyring)
    other = start_dev_sigstore(
        tmp_path / "other",
        issuer_map={"http://x.test": "https://x.test"},
    )
    other.stop()
    with pytest.raises(VerificationError, match="SCT verify failed"):
        verify_sct(leaf, [ca], other.trust_config().trusted_root.ct_keyring(KeyringPurpose.VERIFY))


def _forged_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["repository"] = "octo/evil"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no-token", "an OIDC identity token is required"),
        ("not-a-jwt", "malformed JWT"),
        ("wrong-audience", "audience 'pypi' is not 'sigstore'"),
        ("expired", "it has expired"),
        ("unknown-issuer", "unknown issuer 'https://evil.example'"),
        ("forged-payload", "malformed or invalid token"),
    ],
)
def test_bad_identity_tokens_are_refused_with_401(
    sigstore: DevSigstore, dev_issuer: DevIssuer, github_token: str, case: str, reason: str
) -> None:
    claims = RUN.claims()
    token = {
        "no-token": None,
        "not-a-jwt": "not.a.jwt",
        "wrong-audience": dev_issuer.mint("pypi", claims) if case == "wrong-audience" else "",
        "expired": dev_issuer.mint(SIGSTORE_AUDIENCE, claims, lifetime=1, shift=-120)
        if case == "expired"
        else "",
        "unknown-issuer": dev_issuer.mint(
            SIGSTORE_AUDIENCE, {**claims, "iss": "https://evil.example"}
        )
        if case == "unknown-issuer"
        else "",
        "forged-payload": _forged_payload(github_token),
    }[case]
    status, body = request_cert(sigstore, token)
    assert status == 401
    assert body["code"] == 401
    assert reason in body["message"]


def test_token_without_githubs_claims_is_refused_naming_them(
    sigstore: DevSigstore, dev_issuer: DevIssuer
) -> None:
    token = dev_issuer.mint(SIGSTORE_AUDIENCE, RUN.claims(), drop=["job_workflow_ref", "run_id"])
    status, body = request_cert(sigstore, token)
    assert status == 400
    assert body["message"] == "identity token lacks required claims: job_workflow_ref, run_id"


def _tampered_csr() -> str:
    pem = base64.b64decode(csr_b64())
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature's s
    csr = x509.load_der_x509_csr(bytes(der))
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "the request body must be a JSON object"),
        ({}, "certificateSigningRequest (base64 of a PEM CSR) is required"),
        (
            {"certificateSigningRequest": 7},
            "certificateSigningRequest (base64 of a PEM CSR) is required",
        ),
        ({"publicKeyRequest": {}}, "publicKeyRequest is not supported here"),
        ({"certificateSigningRequest": "%%%"}, "certificateSigningRequest is not base64"),
        (
            {"certificateSigningRequest": base64.b64encode(b"hello").decode()},
            "not a PEM certificate signing request",
        ),
        ({"certificateSigningRequest": "A" * 30000}, "larger than 16384 bytes"),
        (
            {
                "certificateSigningRequest": csr_b64(
                    rsa.generate_private_key(65537, 1024)  # noqa: S505 - a weak key on purpose
                )
            },
            "RSA keys must have 2048 to 4096 bits, not 1024",
        ),
        (
            {"certificateSigningRequest": csr_b64(ec.generate_private_key(ec.SECP256K1()))},
            "unsupported elliptic curve secp256k1",
        ),
        ({"certificateSigningRequest": _tampered_csr()}, "no proof of possession"),
    ],
    ids=[
        "array",
        "empty",
        "not-string",
        "legacy",
        "not-base64",
        "not-pem",
        "huge",
        "rsa-1024",
        "secp256k1",
        "bad-signature",
    ],
)
def test_bad_signing_requests_are_refused_with_400(
    sigstore: DevSigstore, github_token: str, body: Any, reason: str
) -> None:
    status, answer = request_cert(sigstore, github_token, body)
    assert status == 400
    assert reason in answer["message"]


def test_rsa_keys_are_certified_too(sigstore: DevSigstore, github_token: str) -> None:
    status, _ = request_cert(
        sigstore,
        github_token,
        {"certificateSigningRequest": csr_b64(rsa.generate_private_key(65537, 2048))},
    )
    assert status == 200


def test_token_in_the_body_is_accepted(sigstore: DevSigstore, github_token: str) -> None:
    body = {
        "credentials": {"oidcIdentityToken": github_token},
        "certificateSigningRequest": csr_b64(),
    }
    status, _ = request_cert(sigstore, None, body)
    assert status == 200


def test_hostile_http_is_refused(sigstore: DevSigstore, github_token: str) -> None:
    status, body = request_cert(sigstore, github_token, raw=b"{not json")
    assert (status, body["code"]) == (400, 400)
    assert body["message"].startswith("the request body is not JSON")
    status, body = request_cert(sigstore, github_token, raw=b"\xff\xfe")
    assert status == 400
    assert call(sigstore, "GET", PATH).status_code == 405
    assert call(sigstore, "GET", "/api/v2/nothing").json() == {
        "code": 404,
        "message": "no such endpoint: /api/v2/nothing",
    }
    huge = raw_exchange(
        sigstore,
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n".encode(),
    )
    assert huge.startswith(b"HTTP/1.1 413 ")
    assert b"over the 1048576 byte limit" in huge
    chunked = raw_exchange(
        sigstore, f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    assert chunked.startswith(b"HTTP/1.1 400 ")
    assert b"chunked request bodies are not supported" in chunked


def test_trust_bundle_is_the_ca(sigstore: DevSigstore) -> None:
    answer = call(sigstore, "GET", "/api/v2/trustBundle").json()
    assert answer == {"chains": [{"certificates": [sigstore.fulcio.pem()]}]}


def test_verified_email_tokens_get_an_email_san(dev_issuer: DevIssuer, tmp_path: Path) -> None:
    google = "https://accounts.google.com"
    with start_dev_sigstore(tmp_path / "ss", issuer_map={dev_issuer.url: google}) as ss:
        claims = {"sub": "1234", "email": "ci@example.com", "email_verified": True}
        status, body = request_cert(ss, dev_issuer.mint(SIGSTORE_AUDIENCE, claims))
        assert status == 200
        leaf = x509.load_pem_x509_certificate(
            body["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        )
        GooglePublisher(email="ci@example.com")._as_policy().verify(leaf)
        with pytest.raises(VerificationError):
            GooglePublisher(email="other@example.com")._as_policy().verify(leaf)
        status, body = request_cert(
            ss, dev_issuer.mint(SIGSTORE_AUDIENCE, {**claims, "email_verified": False})
        )
        assert (status, body["message"]) == (
            400,
            "identity token's email is not verified (email_verified)",
        )
        status, body = request_cert(ss, dev_issuer.mint(SIGSTORE_AUDIENCE, {"sub": "1234"}))
        assert status == 400
        assert body["message"].startswith(
            "no certificate profile for issuer 'https://accounts.google.com'"
        )


def test_issuer_map_is_checked(tmp_path: Path) -> None:
    with pytest.raises(DevSigstoreError, match="the issuer map is empty"):
        start_dev_sigstore(tmp_path, issuer_map={})
    with pytest.raises(
        DevSigstoreError, match="'ftp://x' is not an http\\(s\\) issuer URL; 'nope' is not"
    ):
        start_dev_sigstore(tmp_path, issuer_map={"ftp://x": "nope"})
