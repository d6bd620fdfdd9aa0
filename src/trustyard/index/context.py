"""What every route needs, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from trustyard.errors import ConfigurationError
from trustyard.index.db.engine import Database
from trustyard.index.services.simple_pages import SimplePages
from trustyard.index.services.trusted_publishing import DatabaseKeys
from trustyard.index.storage.local import LocalStorage
from trustyard.settings import Settings


@dataclass(frozen=True)
class IndexContext:
    """The index's settings, catalogue, file store and page cache."""

    settings: Settings
    db: Database
    storage: LocalStorage
    pages: SimplePages
    oidc_keys: DatabaseKeys


def open_index(settings: Settings, *, migrate: bool = True) -> IndexContext:
    """Open (and on the embedded default, create or upgrade) the index described by settings."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    else:
        current, head = db.schema_status()
        if current != head:
            raise ConfigurationError(
                f"the database schema is at {current or 'nothing'}, this trustyard needs {head}:"
                " run `trustyard migrate` first"
            )
    storage = LocalStorage(settings.files_dir, settings.data_dir / "tmp")
    return IndexContext(
        settings=settings,
        db=db,
        storage=storage,
        pages=SimplePages(db, settings.base_url),
        oidc_keys=DatabaseKeys(db),
    )


def context_of(request: Request) -> IndexContext:
    """The index context of the app serving ``request``."""
    ctx: IndexContext = request.app.state.index
    return ctx
