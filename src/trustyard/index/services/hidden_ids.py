"""The private projects a listing leaves out, bound as one JSON array (issues 19 and 20).

``read_access.hidden_from`` gives the ids a reader may not read; on an index with many private
projects that set is large. Bound one parameter per id, a statement grows with it and, past
65,535 ids, passes the limit of PostgreSQL's protocol on parameters. Bound as one JSON array,
the statement stays the same size and the database builds the set once (an ephemeral index on
SQLite, a hashed subplan on PostgreSQL).
"""

from __future__ import annotations

import json

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session


def subquery_sql(dialect: str) -> str:
    """SQL selecting the ids of the JSON array bound as ``:hidden``."""
    if dialect == "sqlite":
        return "SELECT value FROM json_each(:hidden)"
    return "SELECT CAST(value AS integer) FROM json_array_elements_text(CAST(:hidden AS json))"


def as_parameter(hidden: frozenset[int]) -> str:
    """The value to bind as ``:hidden``."""
    return json.dumps(sorted(hidden))


def projects_not_in(session: Session, hidden: frozenset[int]) -> TextClause:
    """A condition true for the rows of ``projects`` whose id is not in ``hidden``."""
    ids = subquery_sql(session.get_bind().dialect.name)
    return text(f"projects.id NOT IN ({ids})").bindparams(hidden=as_parameter(hidden))
