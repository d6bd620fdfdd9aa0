"""Starting and stopping a development Sigstore (Fulcio + CT log key + Rekor v1) in-process.
Stands in for public Sigstore, which tests cannot reach: see the package docstring.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sigstore.models import ClientTrustConfig

from tests.devsigstore.ctlog import CTLog
from tests.devsigstore.errors import DevSigstoreError
from tests.devsigstore.fulcio import FulcioCA
from tests.devsigstore.identity import IdentityVerifier
from tests.devsigstore.rekor import TransparencyLog
from tests.devsigstore.server import DevSigstoreServer
from tests.devsigstore.trustconfig import client_trust_config

__all__ = ["TRUST_CONFIG_FILE", "DevSigstore", "start_dev_sigstore"]

TRUST_CONFIG_FILE = "trust-config.json"
CA_FILE = "fulcio-ca.pem"


@dataclass
class DevSigstore:
    """A running development Sigstore; ``trust_config_path`` is for ``--sigstore-trust-config``."""

    url: str
    trust_config_path: Path
    fulcio: FulcioCA
    log: TransparencyLog
    ctlog: CTLog
    _server: DevSigstoreServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def trust_config(self) -> ClientTrustConfig:
        """The instance's ClientTrustConfig, as sigstore-python loads it from the file."""
        return ClientTrustConfig.from_json(self.trust_config_path.read_text())

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> DevSigstore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _check_issuer_map(issuer_map: Mapping[str, str]) -> dict[str, str]:
    problems = []
    if not issuer_map:
        problems.append("the issuer map is empty: no token could ever be accepted")
    for token_issuer, cert_issuer in issuer_map.items():
        for url in (token_issuer, cert_issuer):
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                problems.append(f"{url!r} is not an http(s) issuer URL")
    if problems:
        raise DevSigstoreError("bad issuer map: " + "; ".join(problems))
    return dict(issuer_map)


def start_dev_sigstore(
    workdir: Path, *, issuer_map: Mapping[str, str], name: str = "devsigstore"
) -> DevSigstore:
    """Serve a fresh Fulcio CA, CT log key and Rekor v1 log on ``http://127.0.0.1:<port>``.

    ``issuer_map`` maps each accepted token issuer (``iss``, e.g. the development issuer's URL)
    to the issuer written in certificates (e.g. ``https://token.actions.githubusercontent.com``
    so that pypi-attestations' ``GitHubPublisher`` policy accepts them). Writes
    ``workdir/trust-config.json`` (the ClientTrustConfig) and ``workdir/fulcio-ca.pem``.
    Every instance has its own keys: one instance's certificates fail against another's root.
    """
    issuers = _check_issuer_map(issuer_map)
    workdir.mkdir(parents=True, exist_ok=True)
    ctlog = CTLog()
    fulcio = FulcioCA(ctlog, IdentityVerifier(issuers), name=f"{name}-fulcio")
    log = TransparencyLog(f"{name}-rekor")
    server = DevSigstoreServer(("127.0.0.1", 0), fulcio, log)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subject = fulcio.cert.subject
    organization = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    document = client_trust_config(
        url=url,
        ca_chain_der=[fulcio.cert.public_bytes(serialization.Encoding.DER)],
        ca_subject=(str(organization), str(common_name)),
        ct_key=ctlog.key.public_key(),
        rekor_key=log.key.public_key(),
        start=fulcio.not_before,
    )
    trust_config_path = workdir / TRUST_CONFIG_FILE
    trust_config_path.write_text(json.dumps(document, indent=2) + "\n")
    (workdir / CA_FILE).write_text(fulcio.pem())
    thread = threading.Thread(target=server.serve_forever, name=f"{name}-http", daemon=True)
    thread.start()
    return DevSigstore(
        url=url,
        trust_config_path=trust_config_path,
        fulcio=fulcio,
        log=log,
        ctlog=ctlog,
        _server=server,
        _thread=thread,
    )
