"""A full disk and a read-only store under a running index: clear errors, nothing lost.

The data directory (files and upload spool) is a small tmpfs, or is bound read-only, made by
the test (``mounts.py``: ``mount`` as root, else a private namespace of the server's own). The
catalogue lives elsewhere, so the admin CLI and the checks read it as usual.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.faults.conftest import (
    Place,
    check_agreement,
    check_served,
    listed,
    publish,
    sha256_of,
    start_faulty,
)
from tests.faults.mounts import Mounted, read_only, small_disk
from tests.index.conftest import upload_file

pytestmark = pytest.mark.slow


def wheel_of(tmp: Path, project: str, size: int) -> Path:
    noise = random.Random(project).randbytes(size)
    return build_wheel(tmp / project, project, "1.0", files={f"{project}/noise.bin": noise})


@contextmanager
def index_on(mounted: Mounted, data: Path, tmp: Path) -> Iterator[tuple[IndexServer, Place]]:
    """An index whose data directory is ``mounted`` and whose catalogue is in ``tmp``."""
    catalogue = f"sqlite:///{tmp / 'catalogue.sqlite3'}"
    settings = data / "trustyard.toml"  # for the admin CLI
    if not settings.exists():
        settings.write_text(f'database = "{catalogue}"\n')
    server = start_faulty(data, mounted.server_env, "--database", catalogue)
    mounted.server = server
    try:
        yield server, Place(data=mounted.seen(data), database=catalogue, storage=None)
    finally:
        server.stop()


def test_a_full_disk_refuses_the_upload_clearly_and_keeps_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    disk = small_disk(data, "8m")
    try:
        with index_on(disk, data, tmp_path) as (server, place):
            server.create_user("alice")
            token = server.create_token("alice")
            kept = wheel_of(tmp_path, "kept", 512 * 1024)
            assert upload_file(server, token, kept, "kept", "1.0").status == 200

            big = wheel_of(tmp_path, "big", 12 * 1024 * 1024)
            refused = upload_file(server, token, big, "big", "1.0")
            assert refused.status == 507, (refused.status, refused.reason, refused.text)
            assert "no space left" in refused.reason.lower(), refused.reason
            assert place.spool() == [], "the refused upload's spool file was left behind"
            assert check_agreement(place) == set()
            check_served(server, place, set())
            assert listed(server, "big") == {}

            # The real client reports the refusal; after it, the index takes uploads again.
            twine = publish("twine", server, token, big, tmp_path)
            assert twine.returncode != 0
            assert "507" in twine.stdout + twine.stderr, twine.stdout + twine.stderr
            after = wheel_of(tmp_path, "after", 512 * 1024)
            assert publish("uv", server, token, after, tmp_path).returncode == 0
            assert listed(server, "after") == {after.name: sha256_of(after.read_bytes())}
            assert listed(server, "kept") == {kept.name: sha256_of(kept.read_bytes())}
            assert check_agreement(place) == set()
    finally:
        disk.unmount()


def test_a_read_only_store_refuses_uploads_clearly_and_keeps_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    catalogue = f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
    (data / "trustyard.toml").write_text(f'database = "{catalogue}"\n')
    # First a normal index with one file, then the same data read-only.
    place = Place(data=data, database=catalogue, storage=None)
    first = start_faulty(data, {}, "--database", catalogue)
    try:
        first.create_user("alice")
        token = first.create_token("alice")
        kept = wheel_of(tmp_path, "kept", 256 * 1024)
        assert upload_file(first, token, kept, "kept", "1.0").status == 200
    finally:
        first.stop()

    frozen = read_only(data)
    try:
        with index_on(frozen, data, tmp_path) as (server, place):
            check_served(server, place, set())
            assert listed(server, "kept") == {kept.name: sha256_of(kept.read_bytes())}
            late = wheel_of(tmp_path, "late", 256 * 1024)
            refused = upload_file(server, token, late, "late", "1.0")
            assert refused.status == 503, (refused.status, refused.reason, refused.text)
            assert "read-only" in refused.reason.lower(), refused.reason
            assert listed(server, "late") == {}
            check_served(server, place, set())

            # Writable again (the operator fixed the disk): the client's retry succeeds.
            frozen.unmount()
            assert publish("twine", server, token, late, tmp_path).returncode == 0
            assert listed(server, "late") == {late.name: sha256_of(late.read_bytes())}
            assert check_agreement(place) == set()
            check_served(server, place, set())
    finally:
        frozen.unmount()
