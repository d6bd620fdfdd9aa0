"""The index's TLS files: a local CA and leaf that Python's ssl and the real uv accept."""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import http.server
import ipaddress
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import client_env, tool
from tests.dists.builders import build_wheel
from trustyard.errors import ConfigurationError
from trustyard.index.tls import TlsError, TlsFiles, ensure_tls_files, load_tls_files


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def https_server(files: TlsFiles, root: Path) -> Iterator[int]:
    """A static HTTPS server for ``root`` on a loopback port, using the generated leaf."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def handshake(port: int, ca: Path, server_hostname: str) -> x509.Certificate:
    """Connect trusting only ``ca`` and checking ``server_hostname``; the peer's certificate."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def cert_of(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_generated_ca_and_leaf_have_the_profile_clients_require(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls", ["index.example.test", "10.1.2.3"])
    assert files.ca_cert == tmp_path / "tls" / "ca.pem"
    ca, leaf = cert_of(files.ca_cert), cert_of(files.cert)

    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_constraints.critical
    assert ca_constraints.value.ca
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_usage.key_cert_sign
    assert ca_usage.crl_sign

    leaf_constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert leaf_constraints.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.1.2.3"),
    }
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "index.example.test"}
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    leaf.verify_directly_issued_by(ca)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert datetime.timedelta(days=360) < lifetime < datetime.timedelta(days=370)

    for key_file in (files.key, tmp_path / "tls" / "ca-key.pem"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_files_are_reused_while_they_cover_the_names(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path, ["a.example.test"])
    before = {p: p.read_bytes() for p in (first.ca_cert, first.cert, first.key)}
    again = ensure_tls_files(tmp_path, ["A.example.test."])
    assert again == first
    assert {p: p.read_bytes() for p in (again.ca_cert, again.cert, again.key)} == before


def test_a_new_name_reissues_the_leaf_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path)
    ca_before, leaf_before = first.ca_cert.read_bytes(), first.cert.read_bytes()
    second = ensure_tls_files(tmp_path, ["build.example.test"])
    assert second.ca_cert.read_bytes() == ca_before
    assert second.cert.read_bytes() != leaf_before
    san = cert_of(second.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "build.example.test" in san.value.get_values_for_type(x509.DNSName)


def test_a_leaf_near_expiry_or_damaged_is_replaced(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    ca = cert_of(files.ca_cert)
    ca_key = serialization.load_pem_private_key((tmp_path / "ca-key.pem").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    leaf = cert_of(files.cert)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca.subject)
        .public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=360))
        .not_valid_after(now + datetime.timedelta(days=2))
    )
    for extension in leaf.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    files.cert.write_bytes(
        builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    )

    ensure_tls_files(tmp_path)
    renewed = cert_of(files.cert)
    assert renewed.not_valid_after_utc - now > datetime.timedelta(days=300)
    assert files.ca_cert.read_bytes() == ca.public_bytes(serialization.Encoding.PEM)

    files.cert.write_text("not a certificate\n")
    ensure_tls_files(tmp_path)
    cert_of(files.cert).verify_directly_issued_by(ca)


def test_invalid_host_names_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(TlsError) as caught:
        ensure_tls_files(tmp_path, ["bad name", "-dash.example", "ok.example"])
    assert isinstance(caught.value, ConfigurationError)
    assert "'bad name'" in caught.value.message
    assert "'-dash.example'" in caught.value.message
    assert not (tmp_path / "cert.pem").exists()


def test_python_ssl_trusting_only_the_ca_checks_host_names(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls", ["index.example.test"])
    (tmp_path / "www").mkdir()
    with https_server(files, tmp_path / "www") as port:
        for name in ("127.0.0.1", "localhost", "index.example.test"):
            assert handshake(port, files.ca_cert, name) == cert_of(files.cert)
        with pytest.raises(ssl.SSLCertVerificationError, match=r"other\.example\.test"):
            handshake(port, files.ca_cert, "other.example.test")
        # The system trust store alone does not know the local CA.
        with (
            pytest.raises(ssl.SSLCertVerificationError),
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass


@pytest.mark.slow
def test_uv_installs_over_https_trusting_the_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls")
    www = tmp_path / "www"
    wheel = build_wheel(www / "files", "tls-probe", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    page = www / "simple" / "tls-probe" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        f'<!DOCTYPE html><html><body><a href="../../files/{wheel.name}#sha256={digest}">'
        f"{wheel.name}</a></body></html>\n"
    )
    env = client_env(tmp_path) | {"UV_HTTP_RETRIES": "0"}

    def uv_install(target: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                tool("uv"),
                "pip",
                "install",
                "--python",
                sys.executable,
                "--target",
                str(target),
                "--index-url",
                f"https://127.0.0.1:{port}/simple/",
                "tls-probe",
            ],
            env=env | extra_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with https_server(files, www) as port:
        refused = uv_install(tmp_path / "refused", {})
        assert refused.returncode != 0
        assert "UnknownIssuer" in refused.stderr or "certificate" in refused.stderr.lower()
        assert not (tmp_path / "refused" / "tls_probe").exists()

        trusted = uv_install(tmp_path / "site", {"SSL_CERT_FILE": str(files.ca_cert)})
        assert trusted.returncode == 0, trusted.stderr
    assert (tmp_path / "site" / "tls_probe" / "__init__.py").read_text() == '__version__ = "1.0"\n'


def test_load_tls_files_accepts_a_matching_pair(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, ["index.example.test"])
    checked = load_tls_files(files.cert, files.key)
    assert checked.cert == files.cert
    assert set(checked.names) == {"127.0.0.1", "::1", "localhost", "index.example.test"}


def test_load_tls_files_reports_every_problem(tmp_path: Path) -> None:
    with pytest.raises(TlsError) as missing:
        load_tls_files(tmp_path / "nope.pem", tmp_path / "nokey.pem")
    assert "nope.pem does not exist" in missing.value.message
    assert "nokey.pem does not exist" in missing.value.message

    files = ensure_tls_files(tmp_path / "tls")
    with pytest.raises(TlsError, match="is not the key of the certificate"):
        load_tls_files(files.cert, tmp_path / "tls" / "ca-key.pem")

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    with pytest.raises(TlsError) as both:
        load_tls_files(garbage, garbage)
    assert "holds no PEM certificate" in both.value.message
    assert "holds no PEM private key" in both.value.message

    encrypted = tmp_path / "encrypted.pem"
    key = serialization.load_pem_private_key(files.key.read_bytes(), None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TlsError, match="is encrypted"):
        load_tls_files(files.cert, encrypted)
