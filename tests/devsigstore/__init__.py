"""A development Sigstore for tests: Fulcio, a CT log key and Rekor v1, in-process, offline.
Copies the REST shapes sigstore-python 4.5 uses (Fulcio ``/api/v2/signingCert``, Rekor v1).

Public Sigstore cannot be reached from the tests, so signing PEP 740 attestations and SLSA
provenance goes through this instance instead::

    with start_dev_sigstore(tmp_path / "sigstore", issuer_map={issuer.url: GITHUB_ISSUER}) as ss:
        config = ss.trust_config()          # or: --sigstore-trust-config ss.trust_config_path
        config.force_tlog_version = 1
        context = SigningContext.from_trust_config(config)
        with context.signer(IdentityToken(token)) as signer:
            attestation = Attestation.sign(signer, Distribution.from_file(wheel))
        Verifier(trusted_root=config.trusted_root).verify_dsse(attestation.to_bundle(), policy)

Tokens come from the development OIDC issuer (``tests.oidc.conftest.start_dev_issuer``) with
audience ``sigstore``; ``issuer_map`` says which real issuer each one stands in for, so that the
certificates carry GitHub's (or GitLab's) issuer and claim extensions. Test infrastructure only:
the CA signs for any token its issuers sign, and the development issuer signs anything.
"""

from tests.devsigstore.claims import GITHUB_ISSUER, GITLAB_ISSUER
from tests.devsigstore.identity import SIGSTORE_AUDIENCE
from tests.devsigstore.instance import TRUST_CONFIG_FILE, DevSigstore, start_dev_sigstore

__all__ = [
    "GITHUB_ISSUER",
    "GITLAB_ISSUER",
    "SIGSTORE_AUDIENCE",
    "TRUST_CONFIG_FILE",
    "DevSigstore",
    "start_dev_sigstore",
]
