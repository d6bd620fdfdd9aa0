"""Local projects' PEP 792 statuses: who may set which, and what each one refuses.

Who may do what follows PyPI (warehouse ``manage/views`` ``archive_project_view`` and
``unarchive_project_view``: an owner, ``ProjectsWrite``; ``utils/project.py``
``quarantine_project`` and ``clear_project_quarantine``: admins only; "Project is not
modifiable by the project owner while in quarantine", blog.pypi.org 2024-12-30):

- an owner may make the project ``archived``, ``deprecated`` or ``active`` again (PyPI has no
  ``deprecated`` yet; PEP 792's "How to teach this" names it, with archival, as the
  maintainers' own signal to their downstreams);
- only an admin of the index may quarantine a project, or change the status of a quarantined
  one (an owner cannot lift a quarantine, nor archive to hide it);
- a status other than ``active`` needs a reason (shown to installers); every change is
  journalled with who set it and why, and moves the project's serial, so every cached simple
  page is rendered again.

A status change and an upload to the same project take turns (the upload's own lock), so no
upload that checked an "active" project commits after the project was archived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File, Project, ProjectStatusRecord, Release
from trustyard.index.project_status import (
    ACTIVE,
    ProjectStatus,
    StatusMarker,
    checked_reason,
    checked_status,
)
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import Actor, IndexAdmin, Permission, actor_name, require


class StatusRefusal(Forbidden):
    """What a project's status forbids: an upload (archived, quarantined) or a download
    (quarantined). 403, as PyPI refuses uploads to archived projects."""


def upload_lock(normalized_name: str) -> str:
    """The lock uploads to the project hold while they check and commit (services/uploads)."""
    return "upload:" + normalized_name


def status_of(session: Session, project_id: int) -> StatusMarker:
    """The project's PEP 792 status (``active`` when no row says otherwise)."""
    row = session.get(ProjectStatusRecord, project_id)
    if row is None:
        return ACTIVE
    return StatusMarker(ProjectStatus(row.status), row.reason or "")


def require_uploads_allowed(session: Session, project: Project) -> None:
    """Refuse (403) an upload to an archived or quarantined project, naming the status, its
    reason and who can lift it (PEP 792: the index MUST NOT allow uploads then)."""
    marker = status_of(session, project.id)
    if marker.allows_uploads:
        return
    who = "an owner" if marker.status is ProjectStatus.ARCHIVED else "an admin of the index"
    raise StatusRefusal(
        f"Project '{project.name}' is {_said(marker)}: it accepts no new uploads"
        f" (PEP 792 project status); {who} can make it active again."
    )


def require_file_offered(session: Session, file: File) -> None:
    """Refuse (403) a file of a quarantined project: PEP 792's index MUST NOT offer any of its
    distributions, and a pinned URL or a lockfile must not bypass the listings."""
    # One indexed read on every download, and it finds nothing unless the project is
    # quarantined.
    row = session.execute(
        select(Project.name, ProjectStatusRecord.reason)
        .join(Release, Release.project_id == Project.id)
        .join(ProjectStatusRecord, ProjectStatusRecord.project_id == Project.id)
        .where(
            Release.id == file.release_id,
            ProjectStatusRecord.status == ProjectStatus.QUARANTINED.value,
        )
    ).first()
    if row is not None:
        refuse_download(row[0], StatusMarker(ProjectStatus.QUARANTINED, row[1] or ""))


def require_files_offered(session: Session, project: Project) -> None:
    """Refuse (403) anything about one of a quarantined project's files (its bytes, its core
    metadata, its provenance)."""
    marker = status_of(session, project.id)
    if not marker.offers_files:
        refuse_download(project.name, marker)


def refuse_download(name: str, marker: StatusMarker) -> NoReturn:
    raise StatusRefusal(
        f"Project '{name}' is {_said(marker)}: its files are not offered for download"
        " (PEP 792 project status)."
    )


def _said(marker: StatusMarker) -> str:
    return f"{marker.status.value} (reason: {marker.reason})" if marker.reason else marker.status


@dataclass(frozen=True)
class StatusChange:
    """What :func:`set_status` changed."""

    project: str
    before: StatusMarker
    after: StatusMarker


def set_status(
    db: Database, session: Session, name: str, status: str, *, reason: str, actor: Actor
) -> StatusChange:
    """Set the project's PEP 792 status, with the rules of the module's docstring: 400 for an
    unknown status, a missing or bad reason; 403 for what only an admin may do; 409 when
    nothing would change. The one entry point of the CLI and the web pages."""
    wanted = checked_status(status)
    cleaned = checked_reason(reason)
    if wanted is not ProjectStatus.ACTIVE and not cleaned:
        raise InvalidInput(f"give a reason for making a project {wanted.value}")
    project = get_project(session, name)
    require(session, project, actor, Permission.SET_STATUS)
    db.serialise(session, upload_lock(project.normalized_name))
    before = status_of(session, project.id)
    if not isinstance(actor, IndexAdmin):
        if wanted is ProjectStatus.QUARANTINED:
            raise Forbidden(f"only an admin of the index can quarantine {project.name}")
        if before.status is ProjectStatus.QUARANTINED:
            raise Forbidden(
                f"{project.name} is quarantined: only an admin of the index can change its status"
            )
    after = StatusMarker(wanted, cleaned if wanted is not ProjectStatus.ACTIVE else "")
    if after == before:
        raise Conflict(f"{project.name} is already {_said(after)}")
    row = session.get(ProjectStatusRecord, project.id)
    if wanted is ProjectStatus.ACTIVE:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = ProjectStatusRecord(project_id=project.id)
            session.add(row)
        row.status = wanted.value
        row.reason = cleaned
        row.changed = utcnow()
        row.changed_by = actor_name(actor)
    record(
        session,
        action=f"set status {wanted.value}" + (f" ({cleaned})" if cleaned else ""),
        actor=actor_name(actor),
        project=project,
    )
    return StatusChange(project.name, before, after)
