"""The instance's ClientTrustConfig file, as sigstore-python reads it."""

from __future__ import annotations

import json

from sigstore._internal.rekor.client import RekorClient

from tests.devsigstore import TRUST_CONFIG_FILE, DevSigstore
from tests.devsigstore.ctlog import key_id


def test_trust_config_names_this_instance(sigstore: DevSigstore) -> None:
    assert sigstore.trust_config_path.name == TRUST_CONFIG_FILE
    document = json.loads(sigstore.trust_config_path.read_text())
    assert document["mediaType"] == "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    config = sigstore.trust_config()
    signing = config.signing_config
    assert signing.get_fulcio().url == sigstore.url
    (tlog,) = signing.get_tlogs()
    assert isinstance(tlog, RekorClient)
    assert tlog.url == f"{sigstore.url}/api/v1"
    assert signing.get_tsas() == []
    root = config.trusted_root
    assert root.get_fulcio_certs() == [sigstore.fulcio.cert]
    rekor_keys = root._inner.tlogs
    assert [bytes(t.log_id.key_id) for t in rekor_keys] == [sigstore.log.log_id]
    assert [bytes(t.log_id.key_id) for t in root._inner.ctlogs] == [
        key_id(sigstore.ctlog.key.public_key())
    ]
    assert root.get_timestamp_authorities() == []
    assert (
        sigstore.trust_config_path.parent / "fulcio-ca.pem"
    ).read_text() == sigstore.fulcio.pem()
