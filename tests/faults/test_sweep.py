"""An upload killed between storing its bytes and committing its row; the sweep removes them.

The server is killed (``inject/sitecustomize.py``) after the wheel and its ``.metadata`` are
stored and before the row commits, leaving both without a row. After a restart, ``trustyard
admin store sweep --grace 0`` removes exactly those two keys; the catalogue and the store then
agree, every catalogued file is served whole, and the real client's retry stores the wheel
again. On SQLite + files and on PostgreSQL + S3.
"""

from __future__ import annotations

import hashlib
import http.client
import signal
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.faults.conftest import (
    Place,
    check_agreement,
    check_served,
    kill,
    listed,
    local_place,
    publish,
    sha256_of,
    start_faulty,
)
from tests.index.conftest import upload_file
from trustyard.index.services.uploads import storage_key

pytestmark = pytest.mark.slow

POINT = "before-commit"  # both files stored, every row flushed, COMMIT not sent


@pytest.fixture(params=["sqlite-files", "postgresql-s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Place, tuple[str, ...]]:
    """Where the index keeps its state, and the flags that tell ``serve`` and the CLI."""
    if request.param == "sqlite-files":
        return local_place(tmp_path / "data"), ()
    database: str = request.getfixturevalue("database_url")
    storage: str = request.getfixturevalue("storage_url")
    return (
        Place(data=tmp_path / "data", database=database, storage=storage),
        ("--database", database, "--storage", storage),
    )


def test_sweep_removes_what_a_killed_upload_stored_and_the_retry_succeeds(
    place: tuple[Place, tuple[str, ...]], tmp_path: Path
) -> None:
    where, flags = place
    server: IndexServer = start_faulty(where.data, {"FAULTS_KILL_AT": f"{POINT}:swept"}, *flags)
    try:
        server.cli(
            "admin", "user", "create", "alice", "--password-stdin", *flags, stdin="pw-pw-pw-pw\n"
        )
        token = server.cli("admin", "token", "create", "alice", *flags).stdout.strip()
        survivor = build_wheel(tmp_path / "dists", "survivor", "1.0")
        assert upload_file(server, token, survivor, "survivor", "1.0").status == 200
        wheel = build_wheel(tmp_path / "dists", "swept", "1.0")
        with pytest.raises((OSError, http.client.HTTPException)):  # no answer: the server died
            upload_file(server, token, wheel, "swept", "1.0")
        assert server.process.wait(timeout=60) == -signal.SIGKILL

        key = storage_key(
            hashlib.blake2b(wheel.read_bytes(), digest_size=32).hexdigest(), wheel.name
        )
        assert check_agreement(where) == {key, key + ".metadata"}
        server = start_index(where.data, *flags)
        swept = server.cli("admin", "store", "sweep", "--grace", "0", *flags)
        assert [line.split("\t")[0] for line in swept.stdout.splitlines()] == [
            key,
            key + ".metadata",
        ]
        assert swept.stderr.startswith("removed 2 orphaned files (")
        assert check_agreement(where) == set()
        check_served(server, where, {key, key + ".metadata"})

        retry = publish("uv", server, token, wheel, tmp_path)
        assert retry.returncode == 0, retry.stdout + retry.stderr
        assert listed(server, "swept") == {wheel.name: sha256_of(wheel.read_bytes())}
        assert check_agreement(where) == set()
        check_served(server, where, set())
    finally:
        kill(server)
