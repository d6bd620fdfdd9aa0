"""PEP 807 (draft) discovery at ``/.well-known/pytp/<sha256 of the upload path>``: the key
of ``/legacy/`` is the PEP's own worked example; the URLs name the host asked; other keys are
404 without a body; a foreign Accept is 406 in the PEP's error shape."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.index.conftest import LocalIndex
from trustyard.index.routes.pytp import discovery_key

# PEP 807, "Trusted Publishing Discovery", step 3: the example's key of ``/legacy/`` (made with
# ``shasum -a 256 <<< '/legacy/'``: with a line break); the text's is the bare path's.
PEP_EXAMPLE_KEY = "af030c06750716b1b35852298fe852b90def13dcbd012a5fe5148470f1206bfc"
TEXT_KEY = hashlib.sha256(b"/legacy/").hexdigest()
PYTP = "application/vnd.pypi.pytp.v1+json"


def test_both_the_texts_key_and_the_examples_key_find_the_document(
    shared_index: LocalIndex,
) -> None:
    assert discovery_key("/legacy/\n") == PEP_EXAMPLE_KEY
    assert discovery_key("/legacy/") == TEXT_KEY
    for key in (PEP_EXAMPLE_KEY, TEXT_KEY):
        assert shared_index.get(f"/.well-known/pytp/{key}").status_code == 200


def test_the_document_names_this_hosts_endpoints(shared_index: LocalIndex) -> None:
    answer = shared_index.get(
        f"/.well-known/pytp/{PEP_EXAMPLE_KEY}",
        headers={"Host": "upload.example.com", "Accept": PYTP},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == PYTP
    assert answer.json() == {
        "audience-endpoint": "http://upload.example.com/_/oidc/audience",
        "mint-token-endpoint": "http://upload.example.com/_/oidc/mint-token",
        "trustyard-read-audience-endpoint": "http://upload.example.com/_/oidc/read-audience",
        "trustyard-mint-read-token-endpoint": "http://upload.example.com/_/oidc/mint-read-token",
        "trustyard-burn-read-token-endpoint": "http://upload.example.com/_/oidc/burn-read-token",
    }
    # what the document points at answers as the PEP says
    audience = shared_index.get("/_/oidc/audience", headers={"Host": "upload.example.com"})
    assert audience.json()["audience"] == shared_index.ctx.audience


def test_without_accept_and_for_the_path_without_its_slash(shared_index: LocalIndex) -> None:
    key = hashlib.sha256(b"/legacy").hexdigest()
    answer = shared_index.get(f"/.well-known/pytp/{key}")
    assert answer.status_code == 200
    assert answer.json()["mint-token-endpoint"].endswith("/_/oidc/mint-token")


def test_another_upload_path_is_404_without_a_body(shared_index: LocalIndex) -> None:
    for path in ("/upload/", "", "/simple/"):
        answer = shared_index.get(f"/.well-known/pytp/{discovery_key(path)}")
        assert answer.status_code == 404
        assert answer.content == b""
    assert shared_index.get("/.well-known/pytp/").status_code == 404


def test_a_foreign_accept_is_406_in_the_peps_error_shape(shared_index: LocalIndex) -> None:
    answer = shared_index.get(
        f"/.well-known/pytp/{PEP_EXAMPLE_KEY}", headers={"Accept": "text/html"}
    )
    assert answer.status_code == 406
    body: dict[str, Any] = answer.json()
    assert body["errors"][0]["code"] == "not-acceptable"
    assert isinstance(body["message"], str)
    assert (
        shared_index.get(
            f"/.well-known/pytp/{PEP_EXAMPLE_KEY}", headers={"Accept": "*/*"}
        ).status_code
        == 200
    )


def test_an_index_without_trusted_publishing_says_404(tmp_path: Path, portal: Any) -> None:
    index = LocalIndex(tmp_path / "off", portal, trusted_publishing=False)
    try:
        assert index.get(f"/.well-known/pytp/{PEP_EXAMPLE_KEY}").status_code == 404
    finally:
        index.close()


def test_the_base_url_wins_over_the_host(tmp_path: Path, portal: Any) -> None:
    index = LocalIndex(tmp_path / "based", portal, base_url="https://pkgs.example.org")
    try:
        answer = index.get(f"/.well-known/pytp/{PEP_EXAMPLE_KEY}", headers={"Host": "evil.test"})
        assert answer.json()["audience-endpoint"] == "https://pkgs.example.org/_/oidc/audience"
    finally:
        index.close()
