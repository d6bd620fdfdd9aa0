"""What every route needs, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.engine import make_url
from starlette.requests import Request

from trustyard.errors import ConfigurationError
from trustyard.index import metrics
from trustyard.index.db.engine import Database
from trustyard.index.services.audience import index_audience
from trustyard.index.services.descriptions import DescriptionRenderer
from trustyard.index.services.policy_settings import agree_min_release_age
from trustyard.index.services.provenance import AttestationTrust
from trustyard.index.services.secret_keys import SecretKeys
from trustyard.index.services.simple_pages import SimplePages
from trustyard.index.services.trusted_publishing import DatabaseKeys
from trustyard.index.storage.base import Storage
from trustyard.index.storage.local import LocalStorage
from trustyard.index.upstream.client import UpstreamClient
from trustyard.index.upstream.proxy import UpstreamProxy
from trustyard.settings import Settings


class SchemaBehind(ConfigurationError):
    """The database's schema is not the one this trustyard was written for."""


@dataclass(frozen=True)
class IndexContext:
    """The index's settings, catalogue, file store, page cache, trust roots and the worker
    processes that render descriptions (started on first use)."""

    settings: Settings
    db: Database
    storage: Storage
    pages: SimplePages
    oidc_keys: DatabaseKeys
    attestation_trust: AttestationTrust
    descriptions: DescriptionRenderer
    # The Trusted Publishing audience: the setting if given, else the index's own (database).
    audience: str
    # The keys that seal secrets at rest (issue 20: TOTP keys), read on first need.
    secret_keys: SecretKeys
    # The pull-through proxy of the ``upstream`` index (issue 17); None without one.
    upstream: UpstreamProxy | None = None


def migrate_command(settings: Settings) -> str:
    """The command an operator runs to bring this index's schema up to date."""
    if settings.database:
        shown = make_url(settings.database).render_as_string(hide_password=True)
        return f"trustyard migrate --database '{shown}'"
    return f"trustyard migrate --data '{settings.data_dir}'"


def check_schema(db: Database, settings: Settings, *, create: bool) -> None:
    """Refuse a schema that is behind (or ahead of) this code; create an empty one if asked.

    An empty database is created in place (a first start needs no ceremony), but a schema at an
    older revision is never upgraded behind the operator's back: with several instances, and
    with backups to take first, upgrading is a deliberate step (``trustyard migrate``).
    """
    current, head = db.schema_status()
    if current == head:
        return
    if current is None and create:
        db.migrate()
        return
    if current is None:
        raise SchemaBehind(
            f"the database has no trustyard schema: run `{migrate_command(settings)}` first"
        )
    known = db.known_revisions()
    if current not in known:
        raise SchemaBehind(
            f"the database schema is at {current}, newer than this trustyard knows ({head}):"
            " upgrade trustyard"
        )
    raise SchemaBehind(
        f"the database schema is at {current}, this trustyard needs {head}:"
        f" run `{migrate_command(settings)}` first"
    )


def open_storage(settings: Settings) -> Storage:
    """The file store the settings name: an S3 bucket, or files in the data directory."""
    spool = settings.data_dir / "tmp"
    if settings.storage:
        from trustyard.index.storage.s3 import S3Storage  # noqa: PLC0415 - boto3 is slow

        storage = S3Storage(settings.storage, spool)
        storage.check()
        return storage
    return LocalStorage(settings.files_dir, spool)


def open_index(
    settings: Settings,
    *,
    migrate: bool = True,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> IndexContext:
    """Open the index described by settings.

    ``migrate=True`` creates the schema in an empty database; either way a schema at another
    revision than this code's is refused with the command to run. ``upstream_transport``
    carries the upstream's requests elsewhere than the network (tests: an in-process index).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    metrics.watch_pool(db.engine)
    try:
        check_schema(db, settings, create=migrate)
        audience = index_audience(db, settings.oidc_audience)
        agree_min_release_age(db, settings)
        secret_keys = SecretKeys(settings.secrets_key_path, db)
        secret_keys.ready()  # a missing or foreign key file stops here, not at a sign-in
        storage = open_storage(settings)
    except BaseException:
        db.dispose()
        raise
    return IndexContext(
        settings=settings,
        db=db,
        storage=storage,
        pages=SimplePages(db, settings.base_url),
        oidc_keys=DatabaseKeys(db),
        attestation_trust=AttestationTrust(settings.sigstore_trust_config),
        descriptions=DescriptionRenderer(
            workers=settings.description_render_workers,
            budget=settings.description_render_timeout,
        ),
        audience=audience,
        secret_keys=secret_keys,
        upstream=(
            UpstreamProxy(
                settings,
                db,
                storage,
                UpstreamClient(
                    settings.upstream,
                    timeout=settings.upstream_timeout,
                    transport=upstream_transport,
                ),
            )
            if settings.upstream
            else None
        ),
    )


def context_of(request: Request) -> IndexContext:
    """The index context of the app serving ``request``."""
    ctx: IndexContext = request.app.state.index
    return ctx
