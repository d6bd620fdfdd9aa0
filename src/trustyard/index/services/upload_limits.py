"""PyPI's size limits on uploads: a limit per file and one on a project's total (warehouse
forklift/legacy.py, step 9 of its checks; the admin's per-project limits: admin/forms.py).

The index's defaults (``max_upload_size``, 100 MiB, and ``max_project_size``, 10 GiB, as PyPI)
apply to every project; an admin may raise either for one project, the file limit up to
PyPI's cap of 1 GiB. A project's own limit never lowers the default (warehouse takes the
``max`` of the two), so, as PyPI's admin form does, a limit below the default is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from trustyard.dists.names import normalize_name
from trustyard.errors import Error, InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File, Project, Release
from trustyard.index.services.journal import record
from trustyard.index.services.projects import find_project
from trustyard.settings import GiB, MiB, Settings

# warehouse constants.UPLOAD_LIMIT_CAP: no project's files may be larger.
UPLOAD_LIMIT_CAP = 1 * GiB
FILE_TOO_LARGE = "File too large. Limit for project '{name}' is {limit} MB."
PROJECT_TOO_LARGE = (
    "Project size too large. Limit for project '{name}' total size is {limit}. See"
    " https://docs.pypi.org/project-management/storage-limits"
    "#requesting-a-project-size-limit-increase"
)
# PyPI sets no cap on a project's total; the catalogue's 64-bit column does.
LARGEST_TOTAL_SIZE_LIMIT = (2**63 - 1) // GiB * GiB
DEFAULT = "default"  # the CLI's word for "no limit of the project's own"


def file_limit(settings: Settings, project: Project | None) -> int:
    """The largest file ``project`` accepts (a new project: the index's default)."""
    own = project.upload_limit if project is not None else None
    return max(settings.max_upload_size, own or 0)


def project_size_limit(settings: Settings, project: Project | None) -> int:
    """The largest total of ``project``'s files."""
    own = project.total_size_limit if project is not None else None
    return max(settings.max_project_size, own or 0)


def _total_size_text(limit: int) -> str:
    """PyPI states the total in whole GB (its limits are whole GiB); a smaller limit, which
    only an operator's setting can give, in MB rather than as "0 GB"."""
    return f"{limit // GiB} GB" if limit >= GiB else f"{limit // MiB} MB"


def _size_text(size: int) -> str:
    """A size for the admin, in the largest binary unit that divides it."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (1024, "KiB")):
        if size and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def project_total_size(session: Session, project: Project) -> int:
    """The total size of the project's stored files (warehouse Project.total_size)."""
    total = session.scalar(
        select(func.coalesce(func.sum(File.size), 0))
        .join(Release, File.release_id == Release.id)
        .where(Release.project_id == project.id)
    )
    return int(total or 0)


def check_sizes(
    session: Session, settings: Settings, project: Project | None, name: str, size: int
) -> None:
    """Step 9: the file within the project's file limit, then the project within its total.

    As on PyPI, this comes before the duplicate check: a project at its limit refuses even an
    identical re-upload.
    """
    shown = project.name if project is not None else name
    limit = file_limit(settings, project)
    if size > limit:
        raise InvalidInput(FILE_TOO_LARGE.format(name=shown, limit=limit // MiB))
    total_limit = project_size_limit(settings, project)
    current = project_total_size(session, project) if project is not None else 0
    if size + current > total_limit:
        raise InvalidInput(
            PROJECT_TOO_LARGE.format(name=shown, limit=_total_size_text(total_limit))
        )


def upload_ceiling(db: Database, settings: Settings) -> int:
    """The largest file any project accepts: what an upload's body may carry at most.

    Read for every upload before its body (one indexed ``MAX``), so a limit an admin raises
    holds at once on every instance. Should the catalogue not answer, PyPI's cap is returned:
    the upload then reaches the route, which answers for the database (503) or the project.
    """
    try:
        with db.read() as session:
            raised = session.scalar(select(func.max(Project.upload_limit)))
    except (Error, SQLAlchemyError):
        return max(settings.max_upload_size, UPLOAD_LIMIT_CAP)
    return max(settings.max_upload_size, raised or 0)


@dataclass(frozen=True)
class StreamLimits:
    """The file limits known before an upload's body is read, for the refusal of a file that
    grows past every project's limit while it streams in."""

    default: int
    raised: Mapping[str, int]  # normalised project name -> its own (larger) file limit

    @property
    def ceiling(self) -> int:
        """The largest file any project accepts."""
        return max([self.default, *self.raised.values()])

    def too_large_message(self, name: str) -> str:
        """PyPI's message for a file over the limit of the project ``name`` (from the form)."""
        own = self.raised.get(normalize_name(name), 0) if name else 0
        return FILE_TOO_LARGE.format(name=name, limit=max(self.default, own) // MiB)


def stream_limits(session: Session, settings: Settings) -> StreamLimits:
    """The index's file limit and every project limit an admin raised (a handful of rows)."""
    rows = session.execute(
        select(Project.normalized_name, Project.upload_limit).where(
            Project.upload_limit.is_not(None)
        )
    )
    return StreamLimits(settings.max_upload_size, {name: limit for name, limit in rows if limit})


# -- the admin's per-project limits ------------------------------------------------------------


@dataclass(frozen=True)
class ProjectLimits:
    """A project's limits as they apply, and whether each is the index's default."""

    name: str
    upload_limit: int
    upload_limit_is_default: bool
    total_size_limit: int
    total_size_limit_is_default: bool

    def describe(self) -> str:
        """One line for the admin: ``NAME: upload limit 200 MiB, total size limit 10 GiB``."""
        upload = _size_text(self.upload_limit)
        total = _size_text(self.total_size_limit)
        return (
            f"{self.name}: upload limit {upload}{' (default)' * self.upload_limit_is_default},"
            f" total size limit {total}{' (default)' * self.total_size_limit_is_default}"
        )


def project_limits(settings: Settings, project: Project) -> ProjectLimits:
    """The limits that apply to ``project``."""
    return ProjectLimits(
        name=project.name,
        upload_limit=file_limit(settings, project),
        upload_limit_is_default=project.upload_limit is None,
        total_size_limit=project_size_limit(settings, project),
        total_size_limit_is_default=project.total_size_limit is None,
    )


def _parse_limit(
    text: str, *, option: str, unit: int, unit_name: str, low: int, high: int
) -> int | None:
    """A limit in whole ``unit_name``s, within [low, high] bytes; ``default`` gives None."""
    stripped = text.strip()
    if stripped.lower() == DEFAULT:
        return None
    if not re.fullmatch(r"-?[0-9]+", stripped):
        raise InvalidInput(
            f"{option} must be a whole number of {unit_name} or '{DEFAULT}', not {text!r}"
        )
    value = int(stripped) * unit
    if value < low:
        raise InvalidInput(
            f"{option} can not be less than the index's default of {_size_text(low)},"
            f" not {stripped} {unit_name}"
        )
    if value > high:
        raise InvalidInput(f"{option} can not be greater than {high // unit} {unit_name}")
    return value


def set_project_limits(
    session: Session,
    settings: Settings,
    name: str,
    *,
    upload_limit: str | None,
    total_size_limit: str | None,
    actor: str | None,
) -> ProjectLimits:
    """Set (or with ``default``, clear) a project's own limits; None leaves one unchanged.

    Every problem is found before anything changes and reported together; each change is
    journalled.
    """
    problems: list[str] = []
    values: dict[str, int | None] = {}
    limits = (
        ("upload_limit", upload_limit, "--upload-limit", MiB, "MiB"),
        ("total_size_limit", total_size_limit, "--total-size-limit", GiB, "GiB"),
    )
    bounds = {
        "upload_limit": (settings.max_upload_size, UPLOAD_LIMIT_CAP),
        "total_size_limit": (settings.max_project_size, LARGEST_TOTAL_SIZE_LIMIT),
    }
    for field, text, option, unit, unit_name in limits:
        if text is None:
            continue
        low, high = bounds[field]
        try:
            values[field] = _parse_limit(
                text, option=option, unit=unit, unit_name=unit_name, low=low, high=high
            )
        except InvalidInput as exc:
            problems.append(exc.message)
    project = find_project(session, name)
    if project is None:
        problems.insert(0, f"no project named {name!r}")
    if problems or project is None:
        raise InvalidInput("; ".join(problems))
    for field, text, *_ in limits:
        if text is None or getattr(project, field) == values[field]:
            continue
        value = values[field]
        setattr(project, field, value)
        shown = "the index's default" if value is None else _size_text(value)
        what = field.replace("_", " ")
        record(session, action=f"set {what} to {shown}", actor=actor, project=project)
    return project_limits(settings, project)
