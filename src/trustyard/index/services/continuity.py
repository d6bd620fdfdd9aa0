"""Publisher continuity in the catalogue: identities first seen or pinned, per-file verdicts,
held files and the decisions on them (issue 18). The rule itself (which file is checked,
against what) is :mod:`trustyard.index.upstream.continuity`'s; this module only stores it.

Every pin, unpin, hold, release and reject is journalled with who did it and why. A held
upstream file is named in the journal by its project's normal form without bumping a local
serial (upstream names have none), as the proxy's other journal entries are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustyard.attestations.continuity import describe
from trustyard.dists.names import normalize_name
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import (
    File,
    FileVerdict,
    JournalEntry,
    Project,
    Publisher,
    PublisherContinuity,
    Release,
)
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.journal import record as record_journal
from trustyard.index.services.upstream import bump_generation

UPSTREAM, LOCAL = "upstream", "local"
OK, HELD, RELEASED, REJECTED = "ok", "held", "released", "rejected"
HIDDEN = frozenset({HELD, REJECTED})  # verdicts whose file is not served
MAX_NOTE = 500


@dataclass(frozen=True)
class Verdict:
    """A file's verdict as read (a plain copy, usable once the session is gone)."""

    id: int
    origin: str
    project: str
    filename: str
    sha256: str
    verdict: str
    reason: str
    expected: dict[str, Any] | None
    found: dict[str, Any] | None
    provenance: dict[str, Any] | None
    created: datetime
    decided_by: str | None
    decided: datetime | None
    note: str | None

    @classmethod
    def of(cls, row: FileVerdict) -> Verdict:
        """The copy of ``row``."""
        return cls(
            id=row.id,
            origin=row.origin,
            project=row.project,
            filename=row.filename,
            sha256=row.sha256,
            verdict=row.verdict,
            reason=row.reason,
            expected=row.expected,
            found=row.found,
            provenance=row.provenance,
            created=row.created,
            decided_by=row.decided_by,
            decided=row.decided,
            note=row.note,
        )


@dataclass(frozen=True)
class Identity:
    """A project's recorded identity (a plain copy)."""

    project: str
    identity: dict[str, Any] | None
    pinned: bool
    baseline_sha256: str | None
    baseline_time: str | None
    set_by: str

    @classmethod
    def of(cls, row: PublisherContinuity) -> Identity:
        """The copy of ``row``."""
        return cls(
            row.project,
            row.identity,
            row.pinned,
            row.baseline_sha256,
            row.baseline_time,
            row.set_by,
        )


@dataclass(frozen=True)
class Known:
    """What the catalogue knows of one project's continuity: its identity row (None: never
    seen with provenance) and the verdict of every file checked so far, by sha256."""

    identity: Identity | None
    verdicts: Mapping[str, Verdict]

    def hidden(self) -> dict[str, str]:
        """sha256 -> why, for the files that must not be served."""
        return {sha: _hidden_reason(v) for sha, v in self.verdicts.items() if v.verdict in HIDDEN}


def _hidden_reason(verdict: Verdict) -> str:
    if verdict.verdict == REJECTED:
        return f"rejected by {verdict.decided_by}: {verdict.note or verdict.reason}"
    return f"held for review (publisher continuity, held file {verdict.id}): {verdict.reason}"


def _journal(
    session: Session, action: str, actor: str, project: str, filename: str | None = None
) -> None:
    session.add(
        JournalEntry(
            project_name=project,
            filename=filename,
            action=action,
            actor=actor,
            submitted=utcnow(),
        )
    )


def known(session: Session, origin: str, project: str) -> Known:
    """The identity and verdicts of ``project`` (a normal form) for ``origin``."""
    row = session.get(PublisherContinuity, project) if origin == UPSTREAM else None
    rows = session.scalars(
        select(FileVerdict).where(FileVerdict.origin == origin, FileVerdict.project == project)
    )
    return Known(
        Identity.of(row) if row is not None else None, {r.sha256: Verdict.of(r) for r in rows}
    )


def identity_of(session: Session, project: str) -> Identity | None:
    """The recorded identity of an upstream project, if any."""
    row = session.get(PublisherContinuity, project)
    return Identity.of(row) if row is not None else None


def first_sight(
    session: Session, project: str, *, baseline_sha256: str, baseline_time: str | None
) -> PublisherContinuity:
    """Record the file of first sight of an upstream project (its identity comes with the
    first file that verifies); a pin made before keeps its identity."""
    row = session.get(PublisherContinuity, project)
    if row is None:
        row = PublisherContinuity(
            project=project, identity=None, pinned=False, set_by="upstream", set_at=utcnow()
        )
        session.add(row)
    row.baseline_sha256, row.baseline_time = baseline_sha256, baseline_time
    session.flush()
    return row


def establish(session: Session, project: str, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """Trust on first use: the first identity a file of ``project`` verified under. Returns
    the identity the project holds afterwards, which a caller compares its file with: this one
    if it was first, else the one another process (instance) established a moment before.

    The row is read locked (``SELECT ... FOR UPDATE``, and afresh), so two first checks at once
    cannot both win: on PostgreSQL the second waits for the first to commit, then finds the
    identity set; SQLite runs one writer at a time.
    """
    row = session.get(PublisherContinuity, project, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    if row.identity is not None:
        return dict(row.identity)
    row.identity, row.set_by, row.set_at = dict(identity), "upstream", utcnow()
    _journal(session, f"publisher continuity: first seen {describe(identity)}", "upstream", project)
    return dict(identity)


def record(
    session: Session,
    *,
    origin: str,
    project: str,
    filename: str,
    sha256: str,
    verdict: str,
    reason: str = "",
    expected: Mapping[str, Any] | None = None,
    found: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    actor: str = "upstream",
) -> FileVerdict | None:
    """Store a file's verdict once (a second instance that decided the same file concurrently
    keeps the first row: None). A held file is journalled with its reason."""
    row = FileVerdict(
        origin=origin,
        project=project,
        filename=filename,
        sha256=sha256,
        verdict=verdict,
        reason=reason,
        expected=dict(expected) if expected is not None else None,
        found=dict(found) if found is not None else None,
        provenance=dict(provenance) if provenance is not None and verdict == HELD else None,
        created=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    if verdict == HELD:
        _journal(session, f"file held ({row.id}): {reason}", actor, project, filename)
    return row


def held_files(
    session: Session, *, every: bool = False, local_project: str | None = None, limit: int = 1000
) -> list[Verdict]:
    """The files waiting for a decision (``every``: decided ones too, not the plain ``ok``),
    oldest first; ``local_project``: only that local project's."""
    wanted = [HELD, RELEASED, REJECTED] if every else [HELD]
    query = select(FileVerdict).where(FileVerdict.verdict.in_(wanted))
    if local_project is not None:
        query = query.where(FileVerdict.origin == LOCAL, FileVerdict.project == local_project)
    rows = session.scalars(query.order_by(FileVerdict.id).limit(limit))
    return [Verdict.of(row) for row in rows]


def _held_row(session: Session, verdict_id: int) -> FileVerdict:
    row = session.get(FileVerdict, verdict_id)
    if row is None or row.verdict == OK:
        raise NotFound(f"no held file {verdict_id}")
    return row


def held_file(session: Session, verdict_id: int) -> Verdict:
    """One held (or decided) file, with its evidence."""
    return Verdict.of(_held_row(session, verdict_id))


def decide(
    session: Session,
    verdict_id: int,
    *,
    release: bool,
    actor: str,
    note: str,
    local_project: str | None = None,
) -> Verdict:
    """Release (serve) or reject (hide for good) a held file, journalled with who and why.
    A rejected file may still be released later; a released one is not decided again.
    ``local_project``: an owner deciding on their project's page may decide only that
    project's local files (any other id is "not found", as it is not theirs)."""
    note = note.strip()
    if not note:
        raise InvalidInput("give the reason for the decision (--reason): it is journalled")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the reason is longer than {MAX_NOTE} characters")
    row = _held_row(session, verdict_id)
    if local_project is not None and (row.origin != LOCAL or row.project != local_project):
        raise NotFound(f"no held file {verdict_id} in {local_project}")
    if row.verdict == RELEASED:
        raise Conflict(f"held file {verdict_id} ({row.filename}) was already released")
    if not release and row.verdict == REJECTED:
        raise Conflict(f"held file {verdict_id} ({row.filename}) was already rejected")
    row.verdict = RELEASED if release else REJECTED
    row.decided_by, row.decided, row.note = actor, utcnow(), note
    word = "released" if release else "rejected"
    action = f"held file {word} ({row.id}): {note}"
    if row.origin == LOCAL:
        # A local project's pages are cached by serial: the journal entry moves it.
        project = session.scalar(select(Project).where(Project.normalized_name == row.project))
        record_journal(session, action=action, actor=actor, project=project, filename=row.filename)
    else:
        _journal(session, action, actor, row.project, row.filename)
        # Running servers keep the listing (and its held files) in memory until the TTL: the
        # generation makes every one of them reload within ``upstream_recheck`` seconds.
        bump_generation(session)
    return Verdict.of(row)


def pin(session: Session, name: str, identity: Mapping[str, Any], *, actor: str) -> str:
    """Pin the identity an upstream project's files must name; checked files keep their
    verdicts, files not yet checked are checked against the pin."""
    project = normalize_name(name)
    row = session.get(PublisherContinuity, project)
    if row is None:
        row = PublisherContinuity(project=project, pinned=True, set_by=actor, set_at=utcnow())
        session.add(row)
    row.identity, row.pinned, row.set_by, row.set_at = dict(identity), True, actor, utcnow()
    _journal(session, f"publisher continuity: pinned {describe(identity)}", actor, project)
    return project


def unpin(session: Session, name: str, *, actor: str) -> str:
    """Drop a pin: the project's identity is learnt again from the next file that verifies."""
    project = normalize_name(name)
    row = session.get(PublisherContinuity, project)
    if row is None or not row.pinned:
        raise NotFound(f"{project} is not pinned")
    row.identity, row.pinned, row.set_by, row.set_at = None, False, actor, utcnow()
    _journal(session, "publisher continuity: unpinned", actor, project)
    return project


def identities(session: Session) -> list[Identity]:
    """Every project's recorded identity (first seen or pinned)."""
    rows = session.scalars(select(PublisherContinuity).order_by(PublisherContinuity.project))
    return [Identity.of(row) for row in rows]


# -- local projects ---------------------------------------------------------------------------

TP_UPLOADER = "trusted publisher "  # how a Trusted Publishing upload names its uploader


def hold_token_uploads(session: Session, project: Project) -> bool:
    """The project's setting: its own choice, else on when it has a trusted publisher."""
    row = session.get(PublisherContinuity, project.normalized_name)
    if row is not None and row.hold_token_uploads is not None:
        return row.hold_token_uploads
    return (
        session.scalar(select(Publisher.id).where(Publisher.project_id == project.id).limit(1))
        is not None
    )


def set_hold_token_uploads(session: Session, project: Project, *, on: bool, actor: str) -> None:
    """Switch the local continuity rule for ``project`` (the caller checked the owner role)."""
    row = session.get(PublisherContinuity, project.normalized_name)
    if row is None:
        row = PublisherContinuity(
            project=project.normalized_name, pinned=False, set_by=actor, set_at=utcnow()
        )
        session.add(row)
    row.hold_token_uploads, row.set_by, row.set_at = on, actor, utcnow()
    state = "on" if on else "off"
    record_journal(
        session,
        action=f"publisher continuity: hold API-token uploads {state}",
        actor=actor,
        project=project,
    )


def local_hold_reason(session: Session, project: Project) -> str | None:
    """Why an API-token upload to ``project`` is held (None: it is not): the rule is on and
    every file the project offers came through Trusted Publishing (files held or rejected
    before do not count; one an owner released does, as the owner then chose it)."""
    if not hold_token_uploads(session, project):
        return None
    hidden = select(FileVerdict.sha256).where(
        FileVerdict.origin == LOCAL,
        FileVerdict.project == project.normalized_name,
        FileVerdict.verdict.in_(HIDDEN),
    )
    uploaders = session.scalars(
        select(File.uploaded_by)
        .join(Release)
        .where(Release.project_id == project.id, File.sha256.not_in(hidden))
    ).all()
    if not uploaders or not all((u or "").startswith(TP_UPLOADER) for u in uploaders):
        return None
    return (
        f"{project.name} has only ever been published through Trusted Publishing and this file"
        " came with an API token: held for an owner's approval"
    )


def local_hidden(session: Session, project: Project) -> dict[str, str]:
    """sha256 -> why, for the project's local files that are not served."""
    return known(session, LOCAL, project.normalized_name).hidden()


def require_local_served(session: Session, project_name: str, filename: str, sha256: str) -> None:
    """Refuse (403, with the reason) a local file that is held or rejected."""
    row = session.scalar(
        select(FileVerdict).where(FileVerdict.origin == LOCAL, FileVerdict.sha256 == sha256)
    )
    if row is not None and row.verdict in HIDDEN and row.project == project_name:
        raise Forbidden(f"{filename} is not served: {_hidden_reason(Verdict.of(row))}")


def held_verdict(session: Session, sha256: str) -> Verdict | None:
    """The local verdict of the file ``sha256`` if it is held (an upload's answer says so)."""
    row = session.scalar(
        select(FileVerdict).where(
            FileVerdict.origin == LOCAL, FileVerdict.sha256 == sha256, FileVerdict.verdict == HELD
        )
    )
    return Verdict.of(row) if row is not None else None


@dataclass(frozen=True)
class Summary:
    """How much the continuity rule covers (``trustyard upstream status``)."""

    tracked: int  # upstream projects whose files carry provenance (a file of first sight)
    pinned: int
    held: int  # upstream files waiting for a decision


def summary(session: Session) -> Summary:
    """Counts for the operator: tracked and pinned upstream projects, held upstream files."""
    tracked = session.scalar(
        select(func.count())
        .select_from(PublisherContinuity)
        .where(PublisherContinuity.baseline_sha256.is_not(None))
    )
    pinned = session.scalar(
        select(func.count()).select_from(PublisherContinuity).where(PublisherContinuity.pinned)
    )
    held = session.scalar(
        select(func.count())
        .select_from(FileVerdict)
        .where(FileVerdict.origin == UPSTREAM, FileVerdict.verdict == HELD)
    )
    return Summary(tracked or 0, pinned or 0, held or 0)
