"""The real pypi-attestations test vectors in ``tests/data/pypi-attestations`` (see its README)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "data" / "pypi-attestations"

SDIST = VECTORS / "pypi_attestations-0.0.19.tar.gz"
PUBLISH = VECTORS / "pypi_attestations-0.0.19.tar.gz.publish.attestation"
SLSA = VECTORS / "pypi_attestations-0.0.19.tar.gz.slsa.attestation"
PROVENANCE = VECTORS / "pypi_attestations-0.0.19.tar.gz.provenance"
REPOSITORY = "trailofbits/pypi-attestations"

MODELS_SDIST = VECTORS / "pypi_attestation_models-0.0.4a2.tar.gz"
MODELS_ATTESTATION = VECTORS / "pypi_attestation_models-0.0.4a2.tar.gz.attestation"
MODELS_REPOSITORY = "trailofbits/pypi-attestation-models"

WORKFLOW = "release.yml"
PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
SLSA_V1 = "https://slsa.dev/provenance/v1"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def document(path: Path) -> dict[str, Any]:
    """One attestation file as parsed JSON."""
    parsed: dict[str, Any] = json.loads(path.read_text())
    return parsed


def field(*paths: Path) -> str:
    """The ``attestations`` form field uv sends for these files: their JSON in one array."""
    return "[" + ",".join(path.read_text().strip() for path in paths) + "]"
