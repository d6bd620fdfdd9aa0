"""Which Sigstore root verifies PEP 740 attestations, and the verification of one attestation.
Follows pypi-attestations' ``Attestation.verify`` (pypi/pypi-attestations ``_impl.py``, 0.0.30).

Verification never touches the network. The default trust is the production ``trusted_root.json``
that sigstore-python ships inside its package, read directly: ``Verifier.production(offline=True)``
would instead copy it into the user's cache directory and then trust whatever root that cache
holds. A private Sigstore instance is named by a ``ClientTrustConfig`` file
(``--sigstore-trust-config``). Either way the verifier is built here with
``Verifier(trusted_root=...)`` and pypi-attestations' own checks (one subject, its filename, its
sha256, a known predicate type) are repeated with its exact wording, so that an index on a
private instance refuses attestations with the same reasons as PyPI.

sigstore and pypi-attestations are imported inside the functions: importing them costs about a
second, which ``trustyard serve`` must not pay at start.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from trustyard.dists.filenames import SDIST_SUFFIXES, WHEEL_SUFFIX
from trustyard.errors import ConfigurationError, Error

if TYPE_CHECKING:
    from pypi_attestations import Attestation, Publisher
    from sigstore.models import ClientTrustConfig
    from sigstore.verify import Verifier

__all__ = [
    "PUBLISH_V1",
    "SLSA_PROVENANCE_V1",
    "SUPPORTED_PREDICATE_TYPES",
    "AttestationError",
    "TrustConfigError",
    "load_trust_config",
    "verify_attestation",
]

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
# PyPI accepts these two, at most one of each per file (warehouse attestations/services.py).
SUPPORTED_PREDICATE_TYPES = (PUBLISH_V1, SLSA_PROVENANCE_V1)

CLIENT_TRUST_CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# Where sigstore-python keeps its embedded copy of the production instance's TUF targets.
_EMBEDDED_PRODUCTION = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"

VERIFY_FAILED = "Could not verify the uploaded artifact using the included attestation: "
UNKNOWN_ERROR = "Unknown error while trying to verify included attestations: "


class AttestationError(Error):
    """An attestation that cannot be accepted; the message is the reason, in PyPI's words."""


class TrustConfigError(ConfigurationError):
    """The ``--sigstore-trust-config`` file cannot be used."""


def load_trust_config(path: Path | None) -> ClientTrustConfig | None:
    """The private Sigstore instance that ``path`` describes; None means the production one.

    The file is sigstore's ``ClientTrustConfig`` JSON (``sigstore --trust-config``); it is
    checked here, once, so that a broken file stops ``serve`` at start, not the first upload.
    """
    if path is None:
        return None
    from sigstore.errors import Error as SigstoreError  # noqa: PLC0415 - slow import
    from sigstore.models import ClientTrustConfig  # noqa: PLC0415
    from sigstore.verify import Verifier  # noqa: PLC0415

    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustConfigError(f"cannot read the Sigstore trust config {path}: {exc}") from exc
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrustConfigError(f"the Sigstore trust config {path} is not JSON: {exc}") from exc
    media_type = document.get("mediaType") if isinstance(document, dict) else None
    if media_type != CLIENT_TRUST_CONFIG_TYPE:
        raise TrustConfigError(
            f"{path} is not a Sigstore ClientTrustConfig: its mediaType is {media_type!r},"
            f" not {CLIENT_TRUST_CONFIG_TYPE!r}"
        )
    try:
        config = ClientTrustConfig.from_json(raw)
        Verifier(trusted_root=config.trusted_root)  # certificate authorities and logs present
    except (ValueError, SigstoreError) as exc:
        raise TrustConfigError(f"{path} is not a usable Sigstore trust config: {exc}") from exc
    return config


@functools.cache
def _production_verifier() -> Verifier:
    from sigstore.models import TrustedRoot  # noqa: PLC0415 - slow import
    from sigstore.verify import Verifier  # noqa: PLC0415

    embedded = resources.files("sigstore._store").joinpath(_EMBEDDED_PRODUCTION)
    with resources.as_file(embedded.joinpath("trusted_root.json")) as path:
        root = TrustedRoot.from_file(str(path))
    return Verifier(trusted_root=root)


@functools.lru_cache(maxsize=8)
def _instance_verifier(trust: ClientTrustConfig) -> Verifier:
    from sigstore.verify import Verifier  # noqa: PLC0415 - slow import

    return Verifier(trusted_root=trust.trusted_root)


def verifier_for(trust: ClientTrustConfig | None) -> Verifier:
    """The offline verifier of the production instance, or of the configured private one."""
    return _production_verifier() if trust is None else _instance_verifier(trust)


def _dist_identity(filename: str) -> tuple[Any, ...]:
    """What a distribution filename says (name, version, and a wheel's build and tags).

    As pypi-attestations compares a subject with the uploaded file: parsed, not normalised
    further, so ``Foo-1.0.tar.gz`` and ``foo-1.0.tar.gz`` are the same file.
    """
    if filename.endswith(WHEEL_SUFFIX):
        return parse_wheel_filename(filename)
    if filename.endswith(SDIST_SUFFIXES):
        return parse_sdist_filename(filename)
    raise ValueError(f"unknown distribution format: {filename}")


def _failed(reason: str) -> AttestationError:
    return AttestationError(f"{VERIFY_FAILED}Verification failed: {reason}")


def verify_attestation(
    attestation: Attestation,
    *,
    filename: str,
    sha256: str,
    publisher: Publisher,
    trust: ClientTrustConfig | None,
) -> str:
    """Verify one attestation for the file ``filename`` with digest ``sha256``.

    The signing certificate must chain to the trusted root and name ``publisher`` (the
    pypi-attestations identity of the Trusted Publisher that minted the upload token); the
    signed in-toto statement must have exactly one subject, which names this file and its
    sha256, and a predicate type PyPI supports. Returns the predicate type; raises
    :class:`AttestationError` with PyPI's reason otherwise.
    """
    from pydantic import ValidationError  # noqa: PLC0415 - slow imports
    from sigstore.dsse import _Statement  # noqa: PLC0415 - pypi-attestations' in-toto model
    from sigstore.errors import VerificationError as SigstoreVerificationError  # noqa: PLC0415

    try:
        own_identity = _dist_identity(filename)
    except (ValueError, InvalidSdistFilename, InvalidWheelFilename) as exc:
        raise AttestationError(f"{UNKNOWN_ERROR}{exc}") from exc
    try:
        bundle = attestation.to_bundle()
        # pypi-attestations turns a publisher into its sigstore policy the same way.
        policy = publisher._as_policy()
        payload_type, payload = verifier_for(trust).verify_dsse(bundle, policy)
    except SigstoreVerificationError as exc:
        raise _failed(str(exc)) from exc
    except Exception as exc:  # PyPI answers any other failure the same way
        raise AttestationError(f"{UNKNOWN_ERROR}{exc}") from exc
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _failed(f"expected JSON envelope, got {payload_type}")
    try:
        statement = _Statement.model_validate_json(payload)
    except ValidationError as exc:
        raise _failed(f"invalid statement: {exc}") from exc
    if len(statement.subjects) != 1:
        raise _failed("too many subjects in statement (must be exactly one)")
    subject = statement.subjects[0]
    if not subject.name:
        raise _failed("invalid subject: missing name")
    try:
        subject_identity = _dist_identity(subject.name)
    except (ValueError, InvalidSdistFilename, InvalidWheelFilename) as exc:
        raise _failed(f"invalid subject: {exc}") from exc
    if subject_identity != own_identity:
        raise _failed(f"subject does not match distribution name: {subject.name} != {filename}")
    digest = subject.digest.root.get("sha256")
    if digest is None or digest != sha256:
        raise _failed("subject does not match distribution digest")
    if statement.predicate_type not in SUPPORTED_PREDICATE_TYPES:
        raise _failed(f"unknown attestation type: {statement.predicate_type}")
    return statement.predicate_type
