"""Whether a name is local: the one rule that makes dependency confusion impossible (issue 17).

A local name is answered from this index alone, wholly, never merged with the upstream's
project of the same name: a higher version of an internal name published upstream is
invisible by construction. A name is local when a project exists here, when a pending
publisher names it (its first publish will create it), or when it falls under a reserved
namespace (PEP 752). Everything else is the upstream's (when one is configured).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.index.db.models import Project, Publisher
from trustyard.index.services.namespaces import namespace_for


def local_reason(session: Session, normalized_name: str) -> str | None:
    """Why ``normalized_name`` is local ("project", "pending publisher", "namespace ..."), or
    None when it is not (and may be shown from the upstream)."""
    if session.scalar(select(Project.id).where(Project.normalized_name == normalized_name)):
        return "project"
    pending = select(Publisher.id).where(
        Publisher.project_id.is_(None), Publisher.pending_name == normalized_name
    )
    if session.scalar(pending.limit(1)) is not None:
        return "pending publisher"
    namespace = namespace_for(session, normalized_name)
    if namespace is not None:
        return f"namespace {namespace.prefix}"
    return None


def is_local(session: Session, normalized_name: str) -> bool:
    """True when the name is answered from this index only (see :func:`local_reason`)."""
    return local_reason(session, normalized_name) is not None
