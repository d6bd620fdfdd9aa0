"""The schema is created only through migrations, and they match the models.

Mostly single-backend: these are SQLite's migrations (PostgreSQL's are checked in
``test_postgresql.py``); no index server runs here. A migration that checks existing rows
runs on both.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from trustyard.errors import Error
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import Base
from trustyard.index.db.search_schema import is_schema_object

# SQLite's reflection cannot read the expression index on lower(username) (Alembic then leaves
# it out of the comparison; test_migrations_produce_exactly_the_models reads it from
# sqlite_master instead); PostgreSQL's comparison checks it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based"),
]


def test_schema_head_constant_is_alembics_head(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == SCHEMA_HEAD


def test_migrations_produce_exactly_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.schema_status() == (None, SCHEMA_HEAD)
    db.migrate()
    assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
    with db.engine.connect() as conn:
        assert (
            compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": is_schema_object}),
                Base.metadata,
            )
            == []
        )
        indexed = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'ix_users_username_lower'")
        ).scalar()
        assert "UNIQUE INDEX" in str(indexed)
        assert "lower(username)" in str(indexed)
    db.migrate()  # idempotent
    db.dispose()


def minted_tokens_survive_the_token_publishers_migration(db: Database) -> None:
    """A token minted before 0009 (bound to one publisher by ``tokens.publisher_id``) keeps
    working after it: bound to that publisher in ``token_publishers``, named by its identity.
    Shared with ``test_postgresql.py``."""
    command.upgrade(db.alembic_config(), "0008")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                " VALUES (1, 'p', 'p', '2026-12-01 00:00:00', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO publishers (id, project_id, kind, issuer, lookup, config, added_by,"
                " created) VALUES (7, 1, 'github', 'https://token.actions.githubusercontent.com',"
                " 'octo/widgets', '{}', 'alice', '2026-12-01 00:00:00')"
            )
        )
        for token, publisher in (("minted", 7), ("users", None)):
            conn.execute(
                text(
                    "INSERT INTO tokens (id, publisher_id, secret_hash, description, created,"
                    " revoked) VALUES (:id, :publisher, 'x', '', '2026-12-01 00:00:00', false)"
                ),
                {"id": token, "publisher": publisher},
            )
    db.migrate()
    with db.engine.connect() as conn:
        tokens = conn.execute(text("SELECT id, publisher_identity FROM tokens ORDER BY id"))
        assert [tuple(row) for row in tokens] == [
            ("minted", "github:octo/widgets@https://token.actions.githubusercontent.com"),
            ("users", None),
        ]
        bound = conn.execute(text("SELECT token_id, publisher_id FROM token_publishers"))
        assert [tuple(row) for row in bound] == [("minted", 7)]
        tables = inspect(conn).get_table_names()
        assert "token_publishers_0009" not in tables
        assert (
            compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": is_schema_object}),
                Base.metadata,
            )
            == []
        )
    # And back: the one publisher returns to the token's own column.
    command.downgrade(db.alembic_config(), "0008")
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, publisher_id FROM tokens ORDER BY id"))
        assert [tuple(row) for row in rows] == [("minted", 7), ("users", None)]


def test_minted_tokens_survive_the_token_publishers_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        minted_tokens_survive_the_token_publishers_migration(db)
    finally:
        db.dispose()


def test_case_insensitive_user_names_migration_names_the_duplicates(
    database_url_of_each_backend: str,
) -> None:
    """0015 makes user names unique whatever their case; accounts that already differ only in
    case are never merged or dropped silently: the migration stops and names them."""
    db = Database(database_url_of_each_backend)
    try:
        scripts = ScriptDirectory.from_config(db.alembic_config())
        before = scripts.get_revision("0015").down_revision
        assert isinstance(before, str)
        command.upgrade(db.alembic_config(), before)
        with db.engine.begin() as conn:
            for number, name in enumerate(("Dup", "dup", "DUP", "single"), start=1):
                conn.execute(
                    text(
                        "INSERT INTO users (id, username, password_hash, created, is_admin)"
                        " VALUES (:id, :name, 'x', :created, false)"
                    ),
                    {"id": number, "name": name, "created": datetime(2026, 1, 1)},
                )
        with pytest.raises(Error, match="differ only in case") as refused:
            db.migrate()
        assert "'Dup', 'dup', 'DUP'" in refused.value.message
        assert "single" not in refused.value.message
        assert db.current_revision() == before  # nothing half-done
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET username = 'dup-2' WHERE id = 2"))
            conn.execute(text("UPDATE users SET username = 'dup-3' WHERE id = 3"))
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, created, is_admin)"
                    " VALUES (9, 'SINGLE', 'x', :created, false)"
                ),
                {"created": datetime(2026, 1, 1)},
            )
    finally:
        db.dispose()


def test_0010_lists_public_and_existing_issuers_and_keeps_an_existing_indexs_audience(
    tmp_path: Path,
) -> None:
    """Issue 14, findings 5 and 4 on upgrade: the issuers existing publishers name stay allowed
    (without private addresses), and an index whose CI jobs already ask for the audience
    ``trustyard`` keeps it; a new index gets a generated one."""
    from alembic import command  # noqa: PLC0415
    from sqlalchemy import text  # noqa: PLC0415

    from trustyard.index.services.issuers import PUBLIC_ISSUERS  # noqa: PLC0415

    old = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    command.upgrade(old.alembic_config(), "0008")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO publishers (project_id, pending_name, kind, issuer, lookup, config,"
                " added_by, created) VALUES (NULL, 'x', 'oidc', 'https://ci.example.com', '',"
                " '{}', 'alice', '2026-01-01 00:00:00')"
            )
        )
    old.migrate()
    with old.engine.connect() as conn:
        rows = conn.execute(text("SELECT url, allow_private_address FROM trusted_issuers"))
        issuers = {str(url): bool(private) for url, private in rows}
        audience = conn.execute(text("SELECT value FROM index_settings")).scalars().all()
    old.dispose()
    assert set(issuers) == {*PUBLIC_ISSUERS, "https://ci.example.com"}
    assert not any(issuers.values())
    assert audience == ["trustyard"]

    new = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    new.migrate()
    with new.engine.connect() as conn:
        audience = conn.execute(text("SELECT value FROM index_settings")).scalars().all()
        listed = conn.execute(text("SELECT url FROM trusted_issuers")).scalars().all()
    new.dispose()
    assert set(listed) == set(PUBLIC_ISSUERS)
    assert len(audience) == 1
    assert audience[0].startswith("trustyard-")
    assert audience[0] != "trustyard"


def test_0016_adds_role_invitations_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0016 adds the table of role invitations (issue 14, finding 3) on both backends: one per
    user and project, and a downgrade to 0010 removes it with the roles left as they were."""
    db = Database(database_url_of_each_backend)
    try:
        command.upgrade(db.alembic_config(), "0010")
        created = {"created": datetime(2026, 12, 1)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, created, is_admin)"
                    " VALUES (1, 'olga', 'x', :created, false), (2, 'sam', 'x', :created, false)"
                ),
                created,
            )
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                    " VALUES (1, 'p', 'p', :created, 0)"
                ),
                created,
            )
            conn.execute(
                text("INSERT INTO roles (user_id, project_id, role) VALUES (1, 1, 'owner')")
            )
        db.migrate()
        invite = text(
            "INSERT INTO role_invitations (user_id, project_id, role, invited_by, created, expires)"
            " VALUES (2, 1, 'maintainer', 'olga', :created, :created)"
        )
        with db.engine.begin() as conn:
            conn.execute(invite, created)
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(invite, created)  # a second invitation of sam to p
        command.downgrade(db.alembic_config(), "0010")
        with db.engine.connect() as conn:
            assert "role_invitations" not in inspect(conn).get_table_names()
            roles = conn.execute(text("SELECT user_id, project_id, role FROM roles")).all()
            assert [tuple(row) for row in roles] == [(1, 1, "owner")]
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0019_adds_namespaces_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0019 adds reserved namespaces and their owners (issue 17, PEP 752) on both backends: one
    row per normal form, owners removed with their namespace, and a downgrade to 0016 removes
    both tables with the users left as they were."""
    db = Database(database_url_of_each_backend)
    try:
        command.upgrade(db.alembic_config(), "0016")
        created = {"created": datetime(2026, 12, 1)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, created, is_admin)"
                    " VALUES (1, 'olga', 'x', :created, false)"
                ),
                created,
            )
        db.migrate()
        reserve = text(
            "INSERT INTO namespaces (prefix, normalized_prefix, added_by, created)"
            " VALUES (:prefix, 'acme', NULL, :created)"
        )
        with db.engine.begin() as conn:
            conn.execute(reserve, {**created, "prefix": "acme"})
            conn.execute(
                text(
                    "INSERT INTO namespace_owners (namespace_id, user_id, added_by, created)"
                    " SELECT id, 1, NULL, :created FROM namespaces"
                ),
                created,
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(reserve, {**created, "prefix": "ACME"})  # the same normal form
        command.downgrade(db.alembic_config(), "0016")
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "namespaces" not in tables
            assert "namespace_owners" not in tables
            assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["olga"]
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0020_adds_project_statuses_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0020 adds PEP 792 statuses (issue 18) on both backends: at most one per project, and a
    downgrade to 0016 removes them with the projects left as they were (all active)."""
    db = Database(database_url_of_each_backend)
    try:
        command.upgrade(db.alembic_config(), "0016")
        created = {"created": datetime(2026, 12, 7)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                    " VALUES (1, 'p', 'p', :created, 0)"
                ),
                created,
            )
        db.migrate()
        status = text(
            "INSERT INTO project_statuses (project_id, status, reason, changed, changed_by)"
            " VALUES (1, 'archived', 'done', :created, 'olga')"
        )
        with db.engine.begin() as conn:
            conn.execute(status, created)
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(status, created)  # a second status of p
        command.downgrade(db.alembic_config(), "0016")
        with db.engine.connect() as conn:
            assert "project_statuses" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT name FROM projects")).scalars().all() == ["p"]
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0022_adds_publisher_continuity_and_takes_it_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0022 adds continuity identities and per-file verdicts (issue 18) on both backends: one
    verdict per file and origin; a downgrade to 0020 removes both tables."""
    db = Database(database_url_of_each_backend)
    try:
        command.upgrade(db.alembic_config(), "0020")
        db.migrate()
        when = {"created": datetime(2026, 12, 7)}
        verdict = text(
            "INSERT INTO file_verdicts (origin, project, filename, sha256, verdict, reason,"
            " created) VALUES ('upstream', 'p', 'p-1.0.tar.gz', :sha, 'held', 'x', :created)"
        )
        with db.engine.begin() as conn:
            conn.execute(verdict, {**when, "sha": "a" * 64})
            conn.execute(
                text(
                    "INSERT INTO publisher_continuity (project, pinned, set_by, set_at)"
                    " VALUES ('p', :pinned, 'admin', :created)"
                ),
                {**when, "pinned": True},
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(verdict, {**when, "sha": "a" * 64})  # the same file twice
        command.downgrade(db.alembic_config(), "0020")
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "file_verdicts" not in tables
            assert "publisher_continuity" not in tables
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0025_adds_organisations_and_teams_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0025 adds organisations and teams (issue 20) on both backends: a project belongs to one
    organisation at most, a team's name is unique in its organisation; a downgrade to 0022
    removes every table it added."""
    db = Database(database_url_of_each_backend)
    added = (
        "organisations",
        "organisation_members",
        "organisation_invitations",
        "organisation_projects",
        "teams",
        "team_members",
        "team_project_roles",
    )
    try:
        command.upgrade(db.alembic_config(), "0022")
        db.migrate()
        when = {"created": datetime(2026, 12, 7)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                    " VALUES (1, 'p', 'p', :created, 0)"
                ),
                when,
            )
            for org_id in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO organisations (id, name, normalized_name, created)"
                        " VALUES (:id, :name, :name, :created)"
                    ),
                    {**when, "id": org_id, "name": f"org{org_id}"},
                )
            conn.execute(
                text(
                    "INSERT INTO organisation_projects (project_id, organisation_id, created)"
                    " VALUES (1, 1, :created)"
                ),
                when,
            )
            conn.execute(
                text(
                    "INSERT INTO teams (organisation_id, name, normalized_name, created)"
                    " VALUES (1, 'T', 't', :created)"
                ),
                when,
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisation_projects (project_id, organisation_id, created)"
                    " VALUES (1, 2, :created)"
                ),
                when,
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO teams (organisation_id, name, normalized_name, created)"
                    " VALUES (1, 't', 't', :created)"
                ),
                when,
            )
        command.downgrade(db.alembic_config(), "0022")
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert not set(added) & set(tables)
    finally:
        db.dispose()


def test_0024_adds_read_tokens_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0024 (issue 20) gives every existing token ``read_only`` false on both backends, adds
    reader policies and token readers; a downgrade to 0022 revokes read tokens (which would
    otherwise upload) and removes the tables and columns."""
    db = Database(database_url_of_each_backend)
    try:
        command.upgrade(db.alembic_config(), "0022")
        when = {"created": datetime(2026, 12, 7)}
        insert = text(
            "INSERT INTO tokens (id, user_id, secret_hash, description, created, revoked)"
            " VALUES (:id, NULL, :hash, '', :created, :revoked)"
        )
        with db.engine.begin() as conn:
            conn.execute(insert, {**when, "id": "old", "hash": "a" * 64, "revoked": False})
        db.migrate()
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT read_only FROM tokens")).scalars().all() == [False]
            conn.execute(insert, {**when, "id": "reader", "hash": "b" * 64, "revoked": False})
            conn.execute(text("UPDATE tokens SET read_only = :t WHERE id = 'reader'"), {"t": True})
        command.downgrade(db.alembic_config(), "0022")
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "reader_policies" not in tables
            assert "token_readers" not in tables
            columns = {c["name"] for c in inspect(conn).get_columns("tokens")}
            assert "read_only" not in columns
            rows = conn.execute(text("SELECT id, revoked FROM tokens")).all()
            revoked = {str(row[0]): bool(row[1]) for row in rows}
            assert revoked == {"old": False, "reader": True}
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0026_adds_second_factors_and_takes_them_away_again(
    database_url_of_each_backend: str,
) -> None:
    """0026 adds TOTP keys, security keys, recovery codes, pending sign-ins and WebAuthn
    challenges (issue 20) on both backends: a credential id is registered once; a downgrade to
    0022 removes every table."""
    db = Database(database_url_of_each_backend)
    tables = (
        "totp_secrets",
        "webauthn_credentials",
        "recovery_codes",
        "pending_sign_ins",
        "webauthn_challenges",
    )
    try:
        command.upgrade(db.alembic_config(), "0022")
        db.migrate()
        when = {"created": datetime(2026, 12, 7)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, password_hash, created)"
                    " VALUES ('tf', 'x', :created)"
                ),
                when,
            )
            user_id = conn.execute(text("SELECT id FROM users WHERE username = 'tf'")).scalar()
        key = text(
            "INSERT INTO webauthn_credentials (user_id, credential_id, public_key, sign_count,"
            " name, created) VALUES (:user, 'abc', 'pk', 0, 'key', :created)"
        )
        with db.engine.begin() as conn:
            conn.execute(key, {**when, "user": user_id})
            conn.execute(
                text(
                    "INSERT INTO totp_secrets (user_id, secret, confirmed, created)"
                    " VALUES (:user, 'JBSWY3DPEHPK3PXP', :yes, :created)"
                ),
                {**when, "user": user_id, "yes": True},
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(key, {**when, "user": user_id})  # the same credential twice
        command.downgrade(db.alembic_config(), "0022")
        with db.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
        assert present.isdisjoint(tables)
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0027_catalogues_existing_organisations_and_goes_back(
    database_url_of_each_backend: str,
) -> None:
    """0027 (issue 20) gives every existing organisation an empty display name and its name a
    row in the catalogue, on both backends; adds requests and team reader policies; a
    downgrade to 0026 removes every table and the column it added."""
    db = Database(database_url_of_each_backend)
    added = (
        "organisation_requests",
        "organisation_names",
        "team_reader_policies",
        "token_team_readers",
    )
    try:
        command.upgrade(db.alembic_config(), "0026")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisations (id, name, normalized_name, created)"
                    " VALUES (7, 'Acme', 'acme', :created)"
                ),
                {"created": datetime(2026, 12, 7)},
            )
        db.migrate()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT display_name FROM organisations")).scalar() == ""
            assert conn.execute(
                text("SELECT normalized_name, organisation_id, retired FROM organisation_names")
            ).all() == [("acme", 7, None)]
        command.downgrade(db.alembic_config(), "0026")
        with db.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            columns = {c["name"] for c in inspect(conn).get_columns("organisations")}
        assert present.isdisjoint(added)
        assert "display_name" not in columns
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_0028_makes_room_for_sealed_totp_keys_and_keeps_them_from_a_downgrade(
    database_url_of_each_backend: str,
) -> None:
    """0028 widens ``totp_secrets.secret`` for sealed keys (issue 20) on both backends, keeping
    keys stored in clear; a downgrade refuses while a sealed key remains (older code cannot
    open it) and goes through once none does."""
    db = Database(database_url_of_each_backend)
    sealed = "ty1:0123456789abcdef:" + "A" * 80
    try:
        command.upgrade(db.alembic_config(), "0027")
        when = {"created": datetime(2026, 12, 7)}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, password_hash, created)"
                    " VALUES ('sealed', 'x', :created), ('clear', 'x', :created)"
                ),
                when,
            )
            ids: dict[str, int] = dict(conn.execute(text("SELECT username, id FROM users")).all())
            conn.execute(
                text(
                    "INSERT INTO totp_secrets (user_id, secret, confirmed, created)"
                    " VALUES (:user, 'JBSWY3DPEHPK3PXP', :yes, :created)"
                ),
                {**when, "user": ids["clear"], "yes": True},
            )
        db.migrate()
        insert = text(
            "INSERT INTO totp_secrets (user_id, secret, confirmed, created)"
            " VALUES (:user, :secret, :yes, :created)"
        )
        with db.engine.begin() as conn:
            conn.execute(insert, {**when, "user": ids["sealed"], "secret": sealed, "yes": True})
            kept: dict[int, str] = dict(
                conn.execute(text("SELECT user_id, secret FROM totp_secrets")).all()
            )
        assert kept == {ids["clear"]: "JBSWY3DPEHPK3PXP", ids["sealed"]: sealed}
        with pytest.raises(Error, match="older trustyard cannot open"):
            command.downgrade(db.alembic_config(), "0027")
        assert db.current_revision() == SCHEMA_HEAD
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM totp_secrets WHERE secret LIKE 'ty1:%'"))
        command.downgrade(db.alembic_config(), "0027")
        db.migrate()
        assert db.current_revision() == SCHEMA_HEAD
    finally:
        db.dispose()
