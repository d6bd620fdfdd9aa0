"""PEP 740 on the index: an upload's attestations checked into provenance, and read back.
Follows warehouse ``attestations/services.py`` (upload) and ``api/integrity.py`` (serving).

The checks themselves live in :mod:`trustyard.attestations.verify`; this module supplies what
only the index knows (which publisher minted the upload's token, the configured Sigstore
trust) and finds a file's provenance by project, version and filename as PyPI's traversal does.
sigstore and pypi-attestations are imported only when an upload carries attestations.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_version
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File, Project, Provenance, Release
from trustyard.index.services import continuity
from trustyard.index.services.accounts import Identity
from trustyard.index.services.publishers import kind_of, token_publisher
from trustyard.index.services.statuses import require_files_offered
from trustyard.oidc.publishers import kind_of_attestation

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig


class AttestationTrust:
    """The Sigstore trust this index verifies attestations with, loaded once, on first use."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded = False
        self._config: ClientTrustConfig | None = None

    def config(self) -> ClientTrustConfig | None:
        """The private instance's trust config, or None for the production instance."""
        if self.path is None:
            return None
        with self._lock:
            if not self._loaded:
                from trustyard.attestations.trust import load_trust_config  # noqa: PLC0415

                self._config = load_trust_config(self.path)
                self._loaded = True
        return self._config


@dataclass(frozen=True)
class CheckedProvenance:
    """Verified attestations of an upload, as the provenance row to store with its file."""

    publisher: dict[str, Any]
    document: dict[str, Any]

    def row(self, file_id: int) -> Provenance:
        """The ``provenance`` row of the file ``file_id``."""
        return Provenance(file_id=file_id, publisher=self.publisher, provenance=self.document)


def check_upload(
    db: Database,
    identity: Identity,
    project_id: int | None,
    values: Sequence[str],
    *,
    filename: str,
    sha256: str,
    trust: AttestationTrust,
) -> CheckedProvenance:
    """Verify the ``attestations`` field (``values``) of an upload of ``filename`` to the
    project ``project_id``, against the publisher of that project the upload's token matched."""
    from trustyard.attestations.verify import check_upload_attestations  # noqa: PLC0415

    kind_name: str | None = None
    attestation_publisher: dict[str, Any] | None = None
    if identity.publisher_identity is not None and project_id is not None:
        with db.read() as session:  # closed before the (slow) verification
            publisher = token_publisher(session, identity.token_id, project_id)
            if publisher is not None:
                kind = kind_of(publisher.kind)
                kind_name = kind.display_name
                attestation_publisher = kind.attestation_publisher(publisher.config)
    document = check_upload_attestations(
        values,
        publisher_kind=kind_name,
        publisher_identity=attestation_publisher,
        filename=filename,
        sha256=sha256,
        trust=trust.config(),
    )
    return CheckedProvenance(
        publisher=dict(document["attestation_bundles"][0]["publisher"]), document=document
    )


@dataclass(frozen=True)
class FileProvenance:
    """A file found by the Integrity API, and its provenance if it has one."""

    filename: str
    provenance: dict[str, Any] | None


def find_file_provenance(
    session: Session, project_name: str, version: str, filename: str
) -> FileProvenance:
    """The file ``filename`` of ``project_name`` ``version``, as PyPI's traversal finds it.

    The project name is normalised (no redirect), the version canonicalised, the filename
    matched exactly and only within that release.
    """
    if not is_valid_project_name(project_name):
        raise NotFound(f"no project named {project_name[:200]!r}")
    project = session.scalar(
        select(Project).where(Project.normalized_name == normalize_name(project_name))
    )
    if project is None:
        raise NotFound(f"no project named {project_name[:200]!r}")
    require_files_offered(session, project)  # PEP 792: nothing of a quarantined project's files
    canonical = canonicalize_version(version)
    releases = session.scalars(
        select(Release).where(
            Release.project_id == project.id, Release.canonical_version == canonical
        )
    ).all()
    if not releases:
        raise NotFound(f"{project.name} has no release {version[:100]!r}")
    row = session.execute(
        select(File.filename, Provenance.provenance, File.sha256)
        .outerjoin(Provenance, Provenance.file_id == File.id)
        .where(File.release_id == releases[0].id, File.filename == filename)
    ).first()
    if row is None:
        raise NotFound(f"{project.name} {releases[0].version} has no file {filename[:400]!r}")
    continuity.require_local_served(session, project.normalized_name, row[0], row[2])
    return FileProvenance(filename=row[0], provenance=row[1])


def describe_publisher(publisher: Mapping[str, Any]) -> str:
    """A provenance publisher (pypi-attestations' object) in a few words, for people."""
    kind = kind_of_attestation(publisher)
    if kind is None:
        return str(publisher.get("kind"))
    return kind.describe(kind.config_of_attestation(publisher), ", ")
