"""The legacy upload API's decisions, in the order PyPI makes them (warehouse forklift/legacy.py).

:func:`accept_upload` takes a parsed form and a spooled file and either stores the file with its
catalogue rows in one atomic step, answers that identical bytes are already there, or raises an
:class:`~trustyard.errors.Error` carrying PyPI's message and status.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from packaging.metadata import Metadata, parse_email
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustyard.dists.archives import inspect_archive
from trustyard.dists.digests import StreamingDigests, check_supplied_digests
from trustyard.dists.filenames import (
    WHEEL_SUFFIX,
    InvalidFilename,
    check_filename_matches_metadata,
    check_upload_filename,
    distribution_key,
    parse_dist_filename,
)
from trustyard.dists.metadata import (
    FileDependencies,
    check_dependencies_agree,
    file_metadata_vouches,
    metadata_from_form,
)
from trustyard.errors import Error, Forbidden, InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File, FilenameRegistry, Project, Release
from trustyard.index.services import continuity, provenance, statuses
from trustyard.index.services.accounts import Identity, require_upload_token, utcnow
from trustyard.index.services.descriptions import DescriptionRenderer, render_for_upload
from trustyard.index.services.journal import record
from trustyard.index.services.namespaces import check_may_create
from trustyard.index.services.projects import create_project, find_project
from trustyard.index.services.publishers import token_publisher
from trustyard.index.services.roles import Permission, permissions_of_user
from trustyard.index.services.upload_limits import check_sizes
from trustyard.index.storage.base import Storage
from trustyard.index.upload_form import UploadForm
from trustyard.settings import Settings

HELP_URL = "https://pypi.org/help/"
NON_USER_CREATE = (
    "Non-user identities cannot create new projects. This was probably caused by successfully"
    " using a pending publisher but specifying the project name incorrectly (either in the"
    " publisher or in your project's metadata). Please ensure that both match."
)
OLD_RELEASE = "Uploading new files to releases older than {days} days is not allowed."
# PyPI's words for a name used before (warehouse forklift before PR #18925), said here of a
# filename that names the same distribution as one used before (issue 14, finding 12).
REUSED = (
    "This filename has already been used, use a different version."
    f" See {HELP_URL}#file-name-reuse for more information."
)
# Form fields that are not core metadata and hold one value (warehouse's UploadForm reads the
# first); given twice they are refused, so that no two readers of the form can disagree.
SINGLE_FORM_FIELDS = (
    ":action",
    "protocol_version",
    "filetype",
    "pyversion",
    "comment",
    "md5_digest",
    "sha256_digest",
    "blake2_256_digest",
)


class Gone(Error):
    """An action PyPI retired (410)."""

    status = 410


class UploadOutcome(enum.Enum):
    """What an accepted upload did."""

    STORED = "stored"
    ALREADY_PRESENT = "already-present"  # identical bytes under the same name: PyPI's 200
    # Stored, but held for an owner's approval (issue 18's publisher continuity): not served.
    HELD = "held"


@dataclass(frozen=True)
class _Checked:
    """An upload that passed every check that needs no lock."""

    metadata: Metadata
    name: str
    version: Version
    filetype: str


def storage_key(blake2_256: str, filename: str) -> str:
    """PyPI's content-addressed path: ``ab/cd/<rest of blake2b-256>/<filename>``."""
    return f"{blake2_256[:2]}/{blake2_256[2:4]}/{blake2_256[4:]}/{filename}"


def check_action(form: UploadForm) -> None:
    """Only ``file_upload`` remains of the legacy actions; the others are gone (410)."""
    action = form.first(":action")
    if action == "file_upload":
        return
    if action in {"submit", "submit_pkg_info"}:
        raise Gone(
            "Project pre-registration is no longer required or supported, upload your files"
            " instead."
        )
    if action == "doc_upload":
        raise Gone(
            "Uploading documentation is no longer supported, we recommend using"
            " https://readthedocs.org/."
        )
    raise InvalidInput(f"Invalid value for ':action': {action!r}; only 'file_upload' is supported.")


def _form_error(value: str, field: str, error: str) -> InvalidInput:
    return InvalidInput(
        f"'{value}' is an invalid value for {field}. Error: {error} See"
        " https://packaging.python.org/specifications/core-metadata for more information."
    )


def _check_form(form: UploadForm) -> _Checked:
    """Steps 1-3: form fields, metadata (packaging, strict PEP 440), the file's presence."""
    for name in SINGLE_FORM_FIELDS:
        given = len(form.fields.get(name, ()))
        if given > 1:
            raise InvalidInput(f"Invalid value for {name}: give it once, not {given} times.")
    protocol = form.first("protocol_version")
    if protocol is not None and protocol != "1":
        raise InvalidInput("Unknown protocol version.")
    metadata = metadata_from_form(form.fields)
    filetype = form.first("filetype") or ""
    if filetype not in {"sdist", "bdist_wheel"}:
        raise _form_error(filetype, "filetype", "Use a known file type.")
    pyversion = form.first("pyversion") or ""
    if filetype != "sdist" and not pyversion:
        raise InvalidInput("Python version is required for binary distribution uploads.")
    if filetype == "sdist" and pyversion not in {"", "source"}:
        raise InvalidInput("Use 'source' as Python version for an sdist.")
    if form.file is None or (form.file.digests.size == 0 and not form.file.filename):
        raise InvalidInput("Upload payload does not have a file.")
    content_type = form.file.content_type
    if not content_type or content_type.startswith("image/"):
        raise InvalidInput("Invalid distribution file.")
    return _Checked(
        metadata=metadata,
        name=metadata.name,
        version=metadata.version,
        filetype=filetype,
    )


def _authorize(session: Session, identity: Identity, name: str) -> Project | None:
    """Steps 4-5: the project exists and the identity may upload to it, or may create it."""
    require_upload_token(identity)
    project = find_project(session, name)
    denied = Forbidden(
        f"The user '{identity.username}' isn't allowed to upload to project '{name}'."
        f" See {HELP_URL}#project-name for more information."
    )
    if identity.publisher_identity is not None:
        if project is None:
            raise InvalidInput(NON_USER_CREATE)
        # Some publisher of this very project must have matched the token's claims, and still
        # exist (issue 14: no other project's publisher decides, and removal revokes).
        if token_publisher(session, identity.token_id, project.id) is None:
            raise denied
        return project
    if project is None:
        if identity.project_id is not None:
            raise denied  # a project-scoped token cannot create projects
        # PEP 752 "Uploads": refused before the body is read, and again under the lock.
        check_may_create(session, name, identity.user_id)
        return None
    if identity.project_id is not None and identity.project_id != project.id:
        raise denied
    # The role is read at every upload, so a token outlives its user's role but not its power.
    if identity.user_id is None or Permission.UPLOAD not in permissions_of_user(
        session, project, identity.user_id
    ):
        raise denied
    return project


def _check_duplicates(session: Session, filename: str, sha256: str, blake2: str) -> bool:
    """Steps 11-12: True for an identical re-upload; raise for any other reuse."""
    existing = session.scalar(
        select(File).where(or_(File.filename == filename, File.blake2_256 == blake2)).limit(1)
    )
    if existing is not None:
        if (existing.filename, existing.sha256, existing.blake2_256) == (filename, sha256, blake2):
            return True
        raise InvalidInput(
            f"File already exists ('{existing.filename}', with blake2_256 hash"
            f" '{existing.blake2_256}'). See {HELP_URL}#file-name-reuse for more information."
        )
    if session.get(FilenameRegistry, filename) is not None:
        raise InvalidInput(
            "This filename was previously used by a file that has since been deleted. Use a"
            f" different version. See {HELP_URL}#file-name-reuse for more information."
        )
    return False


def _check_distribution_reuse(session: Session, filename: str) -> None:
    """A filename that names the same distribution as one ever accepted is refused.

    :func:`distribution_key`: ``beta-2.0.0-py3-none-any.whl`` after
    ``beta-2.0-py3-none-any.whl``, live or deleted, is beta 2.0 for py3-none-any to an
    installer, so accepting it would replace a release's bytes under another name (issue 14,
    finding 12). Runs after :func:`_check_release`, so a second live sdist keeps PyPI's "Only
    one sdist" message.
    """
    try:
        key = distribution_key(parse_dist_filename(filename))
    except InvalidFilename:
        return  # refused later, where the filename is parsed
    used = session.scalar(
        select(FilenameRegistry.filename).where(FilenameRegistry.dist_key == key).limit(1)
    )
    if used is not None:
        raise InvalidInput(
            f"{REUSED} ({filename!r} is the same distribution as {used!r}, which was used"
            " before: same project, version, build tag and tags.)"
        )


def _check_release(
    session: Session, settings: Settings, project: Project | None, checked: _Checked
) -> None:
    """Steps 13-14: the release still takes new files; one sdist per release.

    A release's age is that of its row, written with its first file (warehouse compares
    ``Release.created``, PR #19727). Coming after the duplicate check, an identical re-upload
    to an old release still answers 200, which twine's --skip-existing needs (PR #20260).
    """
    if project is None:
        return
    canonical = canonicalize_version(checked.version)
    release = session.scalar(
        select(Release).where(
            Release.project_id == project.id, Release.canonical_version == canonical
        )
    )
    if release is None:
        return
    days = settings.new_files_window_days
    if days and release.created < utcnow() - timedelta(days=days):
        raise InvalidInput(OLD_RELEASE.format(days=days))
    if checked.filetype != "sdist":
        return
    other = session.scalar(
        select(File.id).where(File.release_id == release.id, File.filetype == "sdist").limit(1)
    )
    if other is not None:
        raise InvalidInput("Only one sdist may be uploaded per release.")


def _check_embedded_metadata(raw: bytes, name: str, version: Version) -> None:
    """The file's own metadata must name the same project and version as the form."""
    parsed, _ = parse_email(raw)
    embedded_name = parsed.get("name", "")
    embedded_version = parsed.get("version", "")
    if canonicalize_name(embedded_name) != canonicalize_name(name):
        raise InvalidInput(
            f"Invalid distribution file. The file's metadata names project '{embedded_name}',"
            f" but the upload is for '{name}'."
        )
    try:
        same = Version(embedded_version) == version
    except InvalidVersion:
        same = False
    if not same:
        raise InvalidInput(
            f"Invalid distribution file. The file's metadata has version '{embedded_version}',"
            f" but the upload is for version '{version}'."
        )


def _check_license_files(metadata: Metadata, members: tuple[str, ...], filename: str) -> None:
    """PEP 639: every License-File is in the archive (sdist root, wheel ``.dist-info/licenses``)."""
    wheel = filename.endswith(WHEEL_SUFFIX)
    present = set()
    for member in members:
        top, _, rest = member.partition("/")
        if wheel and top.endswith(".dist-info") and rest.startswith("licenses/"):
            present.add(rest.removeprefix("licenses/"))
        elif not wheel:
            present.add(rest)
    for license_file in metadata.license_files or []:
        if license_file not in present:
            raise InvalidInput(
                f"License-File {license_file} does not exist in distribution file {filename}"
            )


def _check_file_dependencies(
    metadata: Metadata, raw: bytes, filetype: str, filename: str
) -> FileDependencies | None:
    """Issue 14, finding 14: where the file's own metadata is what installers read (a wheel,
    an sdist of Metadata-Version 2.2+), the form must agree with it on Requires-Dist and
    Requires-Python; returns the file's, which the release then shows. None: the file does
    not vouch for its metadata (an older sdist), only the form speaks."""
    if not file_metadata_vouches(raw, wheel=filetype == "bdist_wheel"):
        return None
    return check_dependencies_agree(metadata, raw, filename=filename)


def release_metadata(metadata: Metadata) -> dict[str, Any]:
    """The release's core metadata in the JSON API's ``info`` field names."""
    urls = metadata.project_urls or {}
    return {
        "author": metadata.author or "",
        "author_email": metadata.author_email or "",
        "classifiers": list(metadata.classifiers or []),
        "description": metadata.description or "",
        "description_content_type": metadata.description_content_type,
        "download_url": metadata.download_url or "",
        "dynamic": list(metadata.dynamic or []) or None,
        "home_page": metadata.home_page or "",
        "keywords": ",".join(metadata.keywords or []),
        "license": metadata.license or "",
        "license_expression": metadata.license_expression,
        "license_files": list(metadata.license_files or []) or None,
        "maintainer": metadata.maintainer or "",
        "maintainer_email": metadata.maintainer_email or "",
        "platform": ",".join(metadata.platforms or []) or None,
        "project_urls": dict(urls) or None,
        "provides_extra": [str(e) for e in metadata.provides_extra or []] or None,
        "requires_dist": [str(r) for r in metadata.requires_dist or []] or None,
        "requires_python": str(metadata.requires_python) if metadata.requires_python else "",
        "summary": metadata.summary or "",
    }


def accept_upload(
    db: Database,
    storage: Storage,
    settings: Settings,
    identity: Identity,
    form: UploadForm,
    *,
    trust: provenance.AttestationTrust,
    descriptions: DescriptionRenderer,
) -> UploadOutcome:
    """Validate an upload in PyPI's order, then store it atomically; the spool is consumed.

    ``trust`` verifies the PEP 740 attestations an upload may carry; ``descriptions`` renders
    the description (in a worker process, under its budget: this call blocks, off the loop).
    """
    try:
        return _accept(
            db, storage, settings, identity, form, trust=trust, descriptions=descriptions
        )
    finally:
        form.discard()


def _accept(
    db: Database,
    storage: Storage,
    settings: Settings,
    identity: Identity,
    form: UploadForm,
    *,
    trust: provenance.AttestationTrust,
    descriptions: DescriptionRenderer,
) -> UploadOutcome:
    check_action(form)
    checked = _check_form(form)
    upload = form.file
    if upload is None:  # _check_form guarantees a file; this narrows the type
        raise InvalidInput("Upload payload does not have a file.")
    digests = upload.digests
    filename = upload.filename

    with db.read() as session:
        project = _authorize(session, identity, checked.name)
        if project is not None:
            statuses.require_uploads_allowed(session, project)
        project_id = project.id if project is not None else None
        check_upload_filename(filename)
        check_sizes(session, settings, project, checked.name, digests.size)
        check_supplied_digests(
            digests,
            md5=form.first("md5_digest"),
            sha256=form.first("sha256_digest"),
            blake2_256=form.first("blake2_256_digest"),
        )
        if _check_duplicates(session, filename, digests.sha256, digests.blake2_256):
            if continuity.held_verdict(session, digests.sha256) is not None:
                return UploadOutcome.HELD
            return UploadOutcome.ALREADY_PRESENT
        _check_release(session, settings, project, checked)
        _check_distribution_reuse(session, filename)

    dist = parse_dist_filename(filename)
    contents = inspect_archive(
        upload.path,
        dist,
        max_ratio=settings.max_compression_ratio,
        ratio_threshold=settings.compression_ratio_threshold,
        followed=upload.followed_zip,
    )
    check_filename_matches_metadata(
        dist, name=checked.name, version=checked.version, filetype=checked.filetype
    )
    _check_embedded_metadata(contents.metadata, checked.name, checked.version)
    _check_license_files(checked.metadata, contents.members, upload.filename)
    dependencies = _check_file_dependencies(
        checked.metadata, contents.metadata, checked.filetype, upload.filename
    )
    core_metadata = contents.metadata if checked.filetype == "bdist_wheel" else None
    # Rendered once, here, as PyPI does (forklift/legacy.py): a description that fails, or
    # runs out of its budget, refuses the upload; pages show the stored HTML.
    description_html = render_for_upload(
        descriptions,
        checked.metadata.description or "",
        checked.metadata.description_content_type,
    )
    # PEP 740, last of the checks as on PyPI: verified here, stored with the file's row.
    attested = None
    if "attestations" in form.fields:
        attested = provenance.check_upload(
            db,
            identity,
            project_id,
            form.fields["attestations"],
            filename=upload.filename,
            sha256=digests.sha256,
            trust=trust,
        )
    return _store(
        db=db,
        storage=storage,
        settings=settings,
        identity=identity,
        form=form,
        checked=checked,
        core_metadata=core_metadata,
        dependencies=dependencies,
        attested=attested,
        description_html=description_html,
    )


@dataclass(frozen=True)
class Placement:
    """One checked distribution file and what its rows say: what :func:`store_file` writes.

    ``release_metadata`` is the ``core_metadata`` of a release the file creates (JSON API
    names), ``dependencies`` the file's own where it vouches for them; ``upload_time`` None is
    now (an upload), or the time the file was first published elsewhere (``admin import-dir``).
    """

    path: Path
    filename: str
    digests: StreamingDigests
    name: str
    version: Version
    filetype: str
    python_version: str
    requires_python: str | None
    release_metadata: dict[str, Any]
    release_requires_python: str | None
    core_metadata: bytes | None
    dependencies: FileDependencies | None
    description_html: str
    comment: str | None = None
    upload_time: datetime | None = None


def _store(
    *,
    db: Database,
    storage: Storage,
    settings: Settings,
    identity: Identity,
    form: UploadForm,
    checked: _Checked,
    core_metadata: bytes | None,
    dependencies: FileDependencies | None,
    attested: provenance.CheckedProvenance | None,
    description_html: str,
) -> UploadOutcome:
    """An upload's placement, stored with the upload's checks repeated under the lock."""
    upload = form.file
    if upload is None:
        raise InvalidInput("Upload payload does not have a file.")
    metadata = checked.metadata
    placement = Placement(
        path=upload.path,
        filename=upload.filename,
        digests=upload.digests,
        name=checked.name,
        version=checked.version,
        filetype=checked.filetype,
        python_version=form.first("pyversion") or "source",
        requires_python=_file_requires_python(metadata, dependencies),
        release_metadata=release_metadata(metadata),
        release_requires_python=str(metadata.requires_python) if metadata.requires_python else None,
        core_metadata=core_metadata,
        dependencies=dependencies,
        description_html=description_html,
        comment=form.first("comment"),
    )

    def guard(session: Session) -> Project | None:
        # Re-check under the write lock: another upload may have won the race.
        project = _authorize(session, identity, checked.name)
        check_sizes(session, settings, project, checked.name, upload.digests.size)
        return project

    def release_guard(session: Session, project: Project | None) -> None:
        _check_release(session, settings, project, checked)

    return store_file(
        db,
        storage,
        placement,
        uploader=identity.username,
        guard=guard,
        release_guard=release_guard,
        attested=attested,
        # Publisher continuity holds API-token uploads, never Trusted Publishing ones.
        hold=continuity.local_hold_reason if identity.publisher_identity is None else None,
    )


def store_file(
    db: Database,
    storage: Storage,
    placement: Placement,
    *,
    uploader: str,
    guard: Callable[[Session], Project | None],
    release_guard: Callable[[Session, Project | None], None] | None = None,
    attested: provenance.CheckedProvenance | None = None,
    how: str = "add",
    hold: Callable[[Session, Project], str | None] | None = None,
) -> UploadOutcome:
    """Write the bytes, then the rows, in one transaction that serialises with other uploads.

    The one storing step of every way a file enters the index (an upload, ``admin
    import-dir``). Under the project's lock: ``guard`` returns the project (None: create it,
    owned by ``uploader``) or refuses; an identical file already present answers
    ``ALREADY_PRESENT``, any other reuse of the filename or bytes is refused; then
    ``release_guard`` and the distribution-reuse check. ``how`` names the journal's verb.
    ``hold`` says why the new file of an existing project is held (publisher continuity;
    None: served): it is stored, counted and its name burnt like any other, but not served.

    Order matters for crash safety: the file is durable on disk before its row commits, and the
    files route serves only files that have a row, so no reader sees one without the other.
    """
    digests = placement.digests
    filename = placement.filename
    key = storage_key(digests.blake2_256, filename)
    placed: list[str] = []
    held_because: str | None = None
    try:
        with db.write() as session:
            # Uploads to one project take turns (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
            # advisory lock), so the checks below see every earlier upload's commit and no
            # two writers ever place the same key, whose bytes the loser would then remove.
            db.serialise(session, statuses.upload_lock(canonicalize_name(placement.name)))
            project = guard(session)
            if project is not None:
                # A status change takes this same lock (services/statuses.set_status), so no
                # file enters a project archived or quarantined since the first check.
                statuses.require_uploads_allowed(session, project)
            if _check_duplicates(session, filename, digests.sha256, digests.blake2_256):
                if continuity.held_verdict(session, digests.sha256) is not None:
                    return UploadOutcome.HELD  # a retry of a held upload hears it again
                return UploadOutcome.ALREADY_PRESENT
            held_because = hold(session, project) if hold is not None and project else None
            if release_guard is not None:
                release_guard(session, project)
            _check_distribution_reuse(session, filename)
            now = utcnow()
            upload_time = placement.upload_time or now
            if project is None:
                # In a reserved namespace only for its owners (create_project checks).
                project = create_project(session, placement.name, owner=uploader)
            release = _find_or_create_release(session, project, placement, uploader, upload_time)
            _show_file_dependencies(release, filename, placement.dependencies)
            if storage.put(key, placement.path):
                placed.append(key)
            metadata_sha256 = None
            if placement.core_metadata is not None:
                if storage.put_bytes(key + ".metadata", placement.core_metadata):
                    placed.append(key + ".metadata")
                metadata_sha256 = hashlib.sha256(placement.core_metadata).hexdigest()
            file = File(
                release_id=release.id,
                filename=filename,
                filetype=placement.filetype,
                python_version=placement.python_version,
                requires_python=placement.requires_python,
                size=digests.size,
                sha256=digests.sha256,
                blake2_256=digests.blake2_256,
                md5=digests.md5,
                path=key,
                metadata_sha256=metadata_sha256,
                upload_time=upload_time,
                uploaded_by=uploader,
                comment=placement.comment,
            )
            session.add(file)
            if attested is not None:
                session.flush()  # the file's id, for its provenance row
                session.add(attested.row(file.id))
            session.add(
                FilenameRegistry(
                    filename=filename,
                    created=now,
                    dist_key=distribution_key(parse_dist_filename(filename)),
                )
            )
            record(
                session,
                action=f"{how} {placement.filetype} file {filename}",
                actor=uploader,
                project=project,
                version=release.version,
                filename=filename,
            )
            if held_because is not None:
                continuity.record(
                    session,
                    origin=continuity.LOCAL,
                    project=project.normalized_name,
                    filename=filename,
                    sha256=digests.sha256,
                    verdict=continuity.HELD,
                    reason=held_because,
                    found=attested.publisher if attested is not None else None,
                    actor=uploader,
                )
    except IntegrityError as exc:
        _unplace(storage, placed)
        # A concurrent writer (another instance) committed the same name or bytes first.
        with db.read() as session:
            if _check_duplicates(session, filename, digests.sha256, digests.blake2_256):
                return UploadOutcome.ALREADY_PRESENT
        raise InvalidInput("File already exists; a concurrent upload won.") from exc
    except BaseException:
        _unplace(storage, placed)
        raise
    return UploadOutcome.STORED if held_because is None else UploadOutcome.HELD


def _unplace(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        storage.delete(key)


def _find_or_create_release(
    session: Session, project: Project, placement: Placement, uploader: str, upload_time: datetime
) -> Release:
    """The release the file belongs to, created with it if new. A release's ``created`` is
    its first file's upload time: an imported file older than the release moves it back."""
    canonical = canonicalize_version(placement.version)
    release = session.scalar(
        select(Release).where(
            Release.project_id == project.id, Release.canonical_version == canonical
        )
    )
    if release is not None:
        release.created = min(release.created, upload_time)
        return release
    release = Release(
        project_id=project.id,
        # PyPI stores the normalised version (forklift: ``version=str(meta.version)``).
        version=str(placement.version),
        canonical_version=canonical,
        created=upload_time,
        is_prerelease=placement.version.is_prerelease,
        requires_python=placement.release_requires_python,
        core_metadata=placement.release_metadata,
        description_html=placement.description_html,
    )
    session.add(release)
    session.flush()
    record(
        session,
        action="new release",
        actor=uploader,
        project=project,
        version=release.version,
    )
    return release


def _file_requires_python(metadata: Metadata, dependencies: FileDependencies | None) -> str | None:
    """A file's own Requires-Python (its ``data-requires-python``): the file's where it vouches
    for its metadata, else the form's."""
    if dependencies is not None:
        return dependencies.requires_python or None
    return str(metadata.requires_python) if metadata.requires_python else None


def _show_file_dependencies(
    release: Release, filename: str, dependencies: FileDependencies | None
) -> None:
    """The release shows the dependencies of its first file that vouches for its metadata.

    Until one arrives (a release of older sdists only), the form's are all there is; the first
    wheel (or 2.2+ sdist) then replaces them, so the JSON API and the project page show what
    installers read. Later files leave them: a release has one dependency list on PyPI too.
    """
    if dependencies is None or release.metadata_file is not None:
        return
    release.metadata_file = filename
    release.requires_python = dependencies.requires_python or None
    release.core_metadata = {
        **release.core_metadata,
        "requires_dist": list(dependencies.requires_dist) or None,
        "requires_python": dependencies.requires_python,
    }
