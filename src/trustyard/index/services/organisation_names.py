"""The catalogue of organisation names (issue 20): every name an organisation has held, so a
rename or a deletion never frees a name for someone else to take over.

Warehouse keeps ``OrganizationNameCatalog`` for the same reason: links, documentation and
people's habits keep pointing at an old name, and whoever took it next would inherit that
trust (``/org/<old>/`` showing another group's projects, invitations "from Acme" sent by
someone else). The rule here:

- a name held now or before by a live organisation is that organisation's: its old names
  redirect to it (:func:`holder_of`), and nobody else may request, be given or rename to them;
- a deleted organisation's names are *retired*: no user may request them; only an admin of the
  index gives one to a new organisation (``trustyard admin org create``, or approving a
  request knowingly), which is a decision about trust only the host can make;
- an organisation keeps at most :data:`MAX_NAMES` names (renames are refused past it, 409),
  so that renaming cannot be used to hoard names; the host is not bound by it.

Names are compared in their PEP 503 normal form, as project and organisation names are. An
index whose organisations were imported from a format-6 export has no catalogue rows for
them: the organisations' own ``normalized_name`` counts as well (:func:`holder_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict
from trustyard.index.db.models import Organisation, OrganisationName

MAX_NAMES = 10  # names an organisation may have held (its current one included)


@dataclass(frozen=True)
class Holder:
    """Who a name belongs to: a live organisation (``organisation``), or a deleted one's
    retired name (``organisation`` None)."""

    organisation: Organisation | None


def holder_of(session: Session, normal: str) -> Holder | None:
    """The holder of the normalised name ``normal``, or None if it was never used."""
    current = session.scalar(select(Organisation).where(Organisation.normalized_name == normal))
    if current is not None:
        return Holder(current)
    row = session.get(OrganisationName, normal)
    if row is None:
        return None
    org = session.get(Organisation, row.organisation_id) if row.organisation_id else None
    return Holder(org)


def require_free(
    session: Session, name: str, normal: str, *, for_org: Organisation | None, reuse_retired: bool
) -> None:
    """Refuse (409) a name held by another organisation, or a retired one unless
    ``reuse_retired`` (an admin's decision). ``for_org`` may take back its own old names."""
    holder = holder_of(session, normal)
    if holder is None:
        return
    if holder.organisation is not None:
        if for_org is not None and holder.organisation.id == for_org.id:
            return
        raise Conflict(
            f"the organisation name {name!r} is taken (by {holder.organisation.name}, which"
            " holds it now or held it before a rename)"
        )
    if not reuse_retired:
        raise Conflict(
            f"the organisation name {name!r} belonged to an organisation that was deleted: it"
            " stays reserved, and only an admin of the index may give it to a new organisation"
        )


def claim(session: Session, org: Organisation, normal: str, now: datetime) -> None:
    """Record ``normal`` as one of ``org``'s names (taking over a retired row)."""
    row = session.get(OrganisationName, normal)
    if row is None:
        session.add(OrganisationName(normalized_name=normal, organisation_id=org.id, created=now))
    else:
        row.organisation_id, row.retired = org.id, None


def names_held(session: Session, org: Organisation) -> int:
    """How many names ``org`` holds in the catalogue (its current one included)."""
    count = session.scalar(
        select(func.count())
        .select_from(OrganisationName)
        .where(OrganisationName.organisation_id == org.id)
    )
    return int(count or 0)


def old_names(session: Session, org: Organisation) -> list[str]:
    """The organisation's former names, in normal form (they redirect to it)."""
    return list(
        session.scalars(
            select(OrganisationName.normalized_name)
            .where(
                OrganisationName.organisation_id == org.id,
                OrganisationName.normalized_name != org.normalized_name,
            )
            .order_by(OrganisationName.normalized_name)
        )
    )


def retire(session: Session, org: Organisation, now: datetime) -> None:
    """Keep every name of the deleted ``org`` reserved, held by nobody."""
    claim(session, org, org.normalized_name, now)  # an organisation imported without its row
    session.flush()
    for row in session.scalars(
        select(OrganisationName).where(OrganisationName.organisation_id == org.id)
    ):
        row.organisation_id, row.retired = None, now
