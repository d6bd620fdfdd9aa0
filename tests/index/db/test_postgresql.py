"""The catalogue on a real PostgreSQL: migrations, `trustyard migrate`, refusals, bad URLs.

Single-backend by nature: each test is about PostgreSQL itself (or SQLite's counterpart of
one of its refusals), so it names its database explicitly instead of asking for ``backend``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.attestations.vectors import PROVENANCE
from tests.conftest import PYTHON, free_port
from tests.index.db.test_migrations import minted_tokens_survive_the_token_publishers_migration
from tests.services import PostgresServer
from trustyard.errors import ConfigurationError
from trustyard.index.db.engine import Database, DatabaseUnavailable, database_url
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import Base, File, Provenance, Release
from trustyard.index.db.search_schema import is_schema_object
from trustyard.index.services.accounts import create_user
from trustyard.index.services.catalogue import project_detail
from trustyard.index.services.projects import create_project, delete_file
from trustyard.index.services.provenance import find_file_provenance
from trustyard.index.services.roles import HOST


def trustyard(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    return subprocess.run(
        [PYTHON, "-m", "trustyard", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_migrations_produce_exactly_the_models_on_postgresql(database_url: str) -> None:
    db = Database(database_url)
    try:
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
        db.migrate()  # idempotent
    finally:
        db.dispose()


def test_minted_tokens_survive_the_token_publishers_migration_on_postgresql(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        minted_tokens_survive_the_token_publishers_migration(db)
    finally:
        db.dispose()


def test_instances_migrating_together_take_turns(database_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        db = Database(database_url)
        try:
            db.migrate()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = Database(database_url)
    assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
    db.dispose()


def test_serialise_makes_writers_of_one_name_take_turns(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        with db.write() as session:
            db.serialise(session, "upload:racer")
            order.append("second")

    with db.write() as session:
        db.serialise(session, "upload:racer")
        thread = threading.Thread(target=second)
        thread.start()
        inside.wait(0.5)  # give the second writer time to reach (and wait on) the lock
        with db.write() as other:
            db.serialise(other, "upload:another-project")  # a different name does not wait
        order.append("first")
    thread.join()
    db.dispose()
    assert order == ["first", "second"]


def test_migrate_command_upgrades_a_schema_that_is_behind(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    command.upgrade(db.alembic_config(), "0001")
    db.dispose()

    refused = trustyard(
        "serve", "--database", database_url, "--port", str(free_port()), cwd=tmp_path
    )
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert line.startswith("trustyard: error: the database schema is at 0001,"), line
    assert f"this trustyard needs {SCHEMA_HEAD}: run `trustyard migrate --database" in line
    assert "trustyard-test-password" not in line  # the password is masked
    assert len(refused.stderr.strip().splitlines()) == 1

    check = trustyard("migrate", "--check", "--database", database_url, cwd=tmp_path)
    assert (check.returncode, check.stdout.strip()) == (
        1,
        f"schema at 0001, this trustyard needs {SCHEMA_HEAD}",
    )
    done = trustyard("migrate", "--database", database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"schema upgraded from 0001 to {SCHEMA_HEAD}"
    again = trustyard("migrate", "--database", database_url, cwd=tmp_path)
    assert again.stdout.strip() == f"schema already at {SCHEMA_HEAD}"
    assert trustyard("migrate", "--check", "--database", database_url, cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_admin_commands_refuse_a_schema_that_is_behind_on_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'trustyard.sqlite3'}")
    command.upgrade(db.alembic_config(), "0001")
    db.dispose()
    refused = trustyard(
        "admin",
        "user",
        "create",
        "bob",
        "--password-stdin",
        "--data",
        str(data),
        cwd=tmp_path,
        stdin="correct horse battery\n",
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"trustyard: error: the database schema is at 0001, this trustyard needs {SCHEMA_HEAD}:"
        f" run `trustyard migrate --data '{data}'` first"
    )
    assert trustyard("migrate", "--data", str(data), cwd=tmp_path).returncode == 0
    db = Database(f"sqlite:///{data / 'trustyard.sqlite3'}")
    assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
    db.dispose()


def test_a_schema_newer_than_the_code_is_refused(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    refused = trustyard(
        "serve", "--database", database_url, "--port", str(free_port()), cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "schema is at 9999, newer than this trustyard knows" in refused.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "trustyard: error: not a database URL: 'not a url'"),
        (
            "mysql://u:p@127.0.0.1/x",
            "trustyard: error: unsupported database 'mysql': use sqlite:/// or postgresql://",
        ),
    ],
)
def test_bad_database_urls_give_one_line(url: str, expected: str, tmp_path: Path) -> None:
    result = trustyard("migrate", "--database", url, cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (1, expected)


def test_wrong_password_and_unreachable_server_give_one_line(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    admin = make_url(postgres_server.admin_url)
    wrong = admin.set(password="not-the-password").render_as_string(hide_password=False)
    result = trustyard("migrate", "--database", wrong, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trustyard: error: cannot use the database postgresql+psycopg://")
    assert "password authentication failed" in lines[0]
    assert "not-the-password" not in lines[0]

    closed = admin.set(port=free_port()).render_as_string(hide_password=False)
    result = trustyard(
        "admin", "project", "create", "x", "--owner", "a", "--database", closed, cwd=tmp_path
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot use the database" in lines[0]
    assert "refused" in lines[0].lower()


def test_plain_postgresql_scheme_means_psycopg() -> None:
    assert database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    with pytest.raises(ConfigurationError):
        database_url("oracle://u@h/d")
    assert issubclass(DatabaseUnavailable, Exception)


def test_provenance_rows_on_postgresql(database_url: str) -> None:
    """PEP 740 provenance as JSON on PostgreSQL: stored, listed, served, deleted with its file."""
    document = json.loads(PROVENANCE.read_text())
    publisher = document["attestation_bundles"][0]["publisher"]
    db = Database(database_url)
    try:
        db.migrate()
        now = datetime(2026, 1, 1)
        with db.write() as session:
            create_user(session, "alice", "a long password")
            project = create_project(session, "pypi-attestations", owner="alice")
            release = Release(
                project_id=project.id,
                version="0.0.19",
                canonical_version="0.0.19",
                created=now,
                core_metadata={},
            )
            session.add(release)
            session.flush()
            file = File(
                release_id=release.id,
                filename="pypi_attestations-0.0.19.tar.gz",
                filetype="sdist",
                python_version="source",
                size=1,
                sha256="a" * 64,
                blake2_256="b" * 64,
                md5="c" * 32,
                path="bb/bb/x/pypi_attestations-0.0.19.tar.gz",
                upload_time=now,
            )
            session.add(file)
            session.flush()
            session.add(Provenance(file_id=file.id, publisher=publisher, provenance=document))
        with db.read() as session:
            view = project_detail(session, "pypi-attestations")
            assert view is not None
            assert [f.provenance_publisher for f in view.files] == [publisher]
            found = find_file_provenance(
                session, "PyPI.Attestations", "0.0.19.0", "pypi_attestations-0.0.19.tar.gz"
            )
            assert found.provenance == document
        with db.write() as session:
            delete_file(session, "pypi_attestations-0.0.19.tar.gz", actor=HOST)
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM provenance")).scalar() == 0
    finally:
        db.dispose()
