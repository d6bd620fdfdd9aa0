"""HTTPS for the index: a local CA and a leaf server certificate, or an operator's own files.
Leaf profile per RFC 5280 / CA/B Forum basics, as rustls-webpki (uv) demands: not a CA, serverAuth.

uv, twine and the publish action call ``https://<upload host:port>/_/oidc/...`` always, so a
local index needs TLS that these clients accept. rustls (uv) refuses a self-signed certificate
used directly as the server certificate (``CaUsedAsEndEntity``), hence a CA (``ca.pem``, the
file clients trust through ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``) that signs a leaf.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import os
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trustyard.atomicfiles import write_atomic
from trustyard.errors import ConfigurationError

__all__ = [
    "DEFAULT_NAMES",
    "ServerCertificate",
    "TlsError",
    "TlsFiles",
    "ensure_tls_files",
    "load_tls_files",
]

# Names every generated leaf covers: the loopback addresses and their usual name.
DEFAULT_NAMES = ("127.0.0.1", "::1", "localhost")

CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=365)
# A certificate this close to its end is replaced rather than reused.
RENEW_BEFORE = datetime.timedelta(days=30)
# Tolerance for clocks that lag the one that issued the certificate.
BACKDATE = datetime.timedelta(hours=1)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

_PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class TlsError(ConfigurationError):
    """Certificate or key files that cannot be used to serve HTTPS."""


@dataclass(frozen=True)
class TlsFiles:
    """A generated set: the CA clients should trust, and the server's certificate and key."""

    ca_cert: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class ServerCertificate:
    """Checked certificate (chain) and key files given by an operator."""

    cert: Path
    key: Path
    names: tuple[str, ...]
    not_after: datetime.datetime


def ensure_tls_files(directory: Path, hostnames: Sequence[str] = ()) -> TlsFiles:
    """Make (once) a local CA and a leaf for the loopback names plus ``hostnames``.

    Files in ``directory``: ``ca.pem`` and ``ca-key.pem`` (the CA), ``cert.pem`` and
    ``key.pem`` (the leaf); keys are written with mode 0600. Existing files are reused while
    they are valid, cover every requested name and are not within 30 days of expiry; otherwise
    the leaf is issued again (the CA is kept, so clients keep trusting the same ``ca.pem``).
    Safe to call from several processes at once.
    """
    names = _normalise_names([*DEFAULT_NAMES, *hostnames])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TlsFiles(
        ca_cert=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem"
    )
    ca_key_path = directory / "ca-key.pem"
    now = datetime.datetime.now(datetime.UTC)
    with _locked(directory / ".lock"):
        ca = _load_ca(files.ca_cert, ca_key_path, now)
        if ca is None:
            ca = _new_ca(now)
            _write(ca_key_path, _key_pem(ca[1]), private=True)
            _write(files.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM))
        ca_cert, ca_key = ca
        if not _leaf_usable(files, ca_cert, names, now):
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            leaf = _new_leaf(leaf_key, ca_cert, ca_key, names, now)
            _write(files.key, _key_pem(leaf_key), private=True)
            _write(files.cert, leaf.public_bytes(serialization.Encoding.PEM))
    return files


def load_tls_files(certfile: Path, keyfile: Path) -> ServerCertificate:
    """Check an operator's certificate (PEM, leaf first, chain after) and its private key.

    Every problem found is reported at once: missing or unreadable files, PEM that does not
    parse, an encrypted key, a key that does not match the certificate, an expired certificate.
    """
    problems: list[str] = []
    cert_data = _read(certfile, "certificate", problems)
    key_data = _read(keyfile, "key", problems)
    leaf: x509.Certificate | None = None
    key: _PrivateKey | None = None
    if cert_data is not None:
        try:
            leaf = x509.load_pem_x509_certificates(cert_data)[0]
        except ValueError as exc:
            problems.append(f"{certfile} holds no PEM certificate ({exc})")
    if key_data is not None:
        try:
            loaded = serialization.load_pem_private_key(key_data, password=None)
        except TypeError:
            problems.append(f"{keyfile} is encrypted; give an unencrypted key")
        except ValueError as exc:
            problems.append(f"{keyfile} holds no PEM private key ({exc})")
        else:
            if isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
                key = loaded
            else:
                problems.append(f"{keyfile}: only RSA and EC keys are supported")
    now = datetime.datetime.now(datetime.UTC)
    if leaf is not None and key is not None and not _same_key(leaf, key):
        problems.append(f"{keyfile} is not the key of the certificate in {certfile}")
    if leaf is not None and leaf.not_valid_after_utc <= now:
        problems.append(f"{certfile} expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if not problems:
        # Last word to the TLS library that will serve these files.
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
        except ssl.SSLError as exc:
            problems.append(f"{certfile} and {keyfile} cannot serve TLS: {exc}")
    if problems or leaf is None:
        raise TlsError("unusable TLS files: " + "; ".join(problems))
    return ServerCertificate(
        cert=certfile,
        key=keyfile,
        names=tuple(sorted(_san_names(leaf))),
        not_after=leaf.not_valid_after_utc,
    )


def _normalise_names(raw: Sequence[str]) -> tuple[str, ...]:
    """IP addresses in canonical form, host names lower-case A-labels; invalid names reported."""
    names: list[str] = []
    problems: list[str] = []
    for name in raw:
        text = name.strip().removeprefix("[").removesuffix("]")
        try:
            names.append(str(ipaddress.ip_address(text)))
            continue
        except ValueError:
            pass
        try:
            dns = text.rstrip(".").encode("idna").decode("ascii").lower()
        except UnicodeError:
            problems.append(f"{name!r} is not a valid host name")
            continue
        labels = dns.split(".")
        wildcard = labels[0] == "*" and len(labels) > 2
        if not dns or not all(_LABEL.match(label) for label in labels[1 if wildcard else 0 :]):
            problems.append(f"{name!r} is not a valid host name")
            continue
        names.append(dns)
    if problems:
        raise TlsError("cannot issue a certificate: " + "; ".join(problems))
    return tuple(dict.fromkeys(names))


def _san_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return ips | {name.lower() for name in san.get_values_for_type(x509.DNSName)}


def _load_ca(
    cert_path: Path, key_path: Path, now: datetime.datetime
) -> tuple[x509.Certificate, _PrivateKey] | None:
    """The existing CA, unless it is missing, damaged, not a CA or about to expire."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return None
    if (
        not constraints.ca
        or not _same_key(cert, key)
        or cert.not_valid_after_utc - now < RENEW_BEFORE
    ):
        return None
    return cert, key


def _leaf_usable(
    files: TlsFiles, ca_cert: x509.Certificate, names: tuple[str, ...], now: datetime.datetime
) -> bool:
    """Whether the leaf on disk was issued by this CA, has its key, and covers ``names``."""
    try:
        leaf = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        leaf.verify_directly_issued_by(ca_cert)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return False
    return (
        _same_key(leaf, key)
        and set(names) <= _san_names(leaf)
        and leaf.not_valid_after_utc - now >= RENEW_BEFORE
        and leaf.not_valid_before_utc <= now
    )


def _same_key(cert: x509.Certificate, key: _PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, fmt) == key.public_key().public_bytes(der, fmt)


def _new_ca(now: datetime.datetime) -> tuple[x509.Certificate, _PrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustyard"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"trustyard local CA {os.urandom(4).hex()}"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_leaf(
    key: _PrivateKey,
    ca_cert: x509.Certificate,
    ca_key: _PrivateKey,
    names: tuple[str, ...],
    now: datetime.datetime,
) -> x509.Certificate:
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustyard"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + LEAF_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read(path: Path, what: str, problems: list[str]) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        problems.append(f"{what} file {path} does not exist")
    except OSError as exc:
        problems.append(f"cannot read {what} file {path}: {exc.strerror or exc}")
    return None


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` atomically; private files are created with mode 0600 from the start."""
    write_atomic(path, data, mode=0o600 if private else 0o644)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent starts issue one set of files."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
