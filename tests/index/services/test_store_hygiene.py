"""``trustyard admin store sweep``: stored bytes that no row names are removed, nothing else.

Orphans are planted in a real index's store (files or a SeaweedFS bucket) beside real uploads;
the sweep runs as the operator runs it (the CLI) or, where the clock matters, through its
service with an explicit "now". Both backends.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PYTHON, IndexServer
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import download, upload_file
from trustyard.index.context import IndexContext, open_index
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File, Release
from trustyard.index.services.store_hygiene import SweepReport, sweep_orphans
from trustyard.index.services.uploads import storage_key
from trustyard.settings import load_settings


@pytest.fixture
def opened(fresh_index: IndexServer) -> Iterator[IndexContext]:
    """The fresh index's catalogue and store, opened beside its server as the CLI opens them."""
    ctx = open_index(load_settings({"data_dir": fresh_index.data}), migrate=False)
    yield ctx
    ctx.db.dispose()


def orphan_key(name: str, version: str, suffix: str = "") -> str:
    """A key shaped as an upload's, for a file the catalogue does not have."""
    filename = f"{name}-{version}-py3-none-any.whl"
    return storage_key(hashlib.blake2b(filename.encode()).hexdigest()[:64], filename) + suffix


def publish_two(index: IndexServer, tmp: Path) -> list[tuple[str, str, str | None]]:
    """A wheel (with its PEP 658 file) and an sdist; (storage key, sha256, metadata sha256)."""
    index.create_user("alice")
    token = index.create_token("alice")
    for dist in (build_wheel(tmp, "kept", "1.0"), build_sdist(tmp, "kept", "1.0")):
        assert upload_file(index, token, dist, "kept", "1.0").status == 200
    rows = index.query("SELECT path, sha256, metadata_sha256 FROM files ORDER BY path")
    return [(str(p), str(s), None if m is None else str(m)) for p, s, m in rows]


def sweep(index: IndexServer, *flags: str) -> tuple[list[str], str]:
    """Run the sweep; the keys it printed, and its summary line."""
    done = index.cli("admin", "store", "sweep", *flags)
    return [line.split("\t")[0] for line in done.stdout.splitlines()], done.stderr.strip()


def test_sweep_removes_old_orphans_and_keeps_every_catalogued_file(
    fresh_index: IndexServer, opened: IndexContext, tmp_path: Path
) -> None:
    rows = publish_two(fresh_index, tmp_path)
    sdist_key = next(key for key, _, metadata in rows if metadata is None)
    # A crashed upload's wheel and metadata; a metadata file beside the sdist, which has none
    # in the catalogue; and a key that is not shaped as the index's (left alone).
    orphans = sorted(
        [orphan_key("kept", "2.0"), orphan_key("kept", "2.0", ".metadata"), sdist_key + ".metadata"]
    )
    for key in orphans:
        opened.storage.put_bytes(key, b"left by a crash " + key.encode())
    opened.storage.put_bytes("notes/README.txt", b"the operator's, not the index's")
    before = fresh_index.snapshot()

    listed, summary = sweep(fresh_index, "--dry-run", "--grace", "0")
    assert listed == orphans
    assert summary.startswith("would remove 3 orphaned files (")
    assert "1 keys left alone" in summary
    assert fresh_index.snapshot() == before

    listed, summary = sweep(fresh_index)  # the default grace, 1h: every orphan is too recent
    assert listed == []
    assert summary.startswith("removed 0 orphaned files (0 bytes)")
    assert "3 orphans kept: younger than the grace period" in summary
    assert fresh_index.snapshot() == before

    size = sum(len(b"left by a crash " + key.encode()) for key in orphans)
    listed, summary = sweep(fresh_index, "--grace", "0")
    assert listed == orphans
    assert summary.startswith(f"removed 3 orphaned files ({size} bytes)")
    after = fresh_index.snapshot()
    assert set(before.files) - set(after.files) == set(orphans)
    assert set(after.files) == {key for key, _, _ in rows} | {
        key + ".metadata" for key, _, metadata in rows if metadata
    } | {"notes/README.txt"}
    journal = fresh_index.query("SELECT action, actor FROM journal ORDER BY id DESC LIMIT 1")
    assert journal == [(f"sweep store: removed 3 orphaned files ({size} bytes)", "admin")]

    for key, sha256, metadata_sha256 in rows:
        served = download(fresh_index, f"/files/{key}")
        assert served.status == 200
        assert hashlib.sha256(served.body).hexdigest() == sha256
        if metadata_sha256 is not None:
            served = download(fresh_index, f"/files/{key}.metadata")
            assert hashlib.sha256(served.body).hexdigest() == metadata_sha256
    assert download(fresh_index, f"/files/{sdist_key}.metadata").status == 404

    listed, summary = sweep(fresh_index, "--grace", "0")  # nothing left to do, nothing journalled
    assert listed == []
    assert fresh_index.query("SELECT count(*) FROM journal WHERE action LIKE 'sweep%'") == [(1,)]


def test_only_orphans_older_than_the_grace_period_go(
    fresh_index: IndexServer, opened: IndexContext
) -> None:
    """The age is the store's own (mtime, S3 LastModified), against the sweep's clock: the
    sweep is told the time, so the test moves it across the grace period instead of waiting."""
    key = orphan_key("aged", "1.0")
    opened.storage.put_bytes(key, b"stored once")
    (written,) = (stored.modified for stored in opened.storage.inventory())
    grace = timedelta(hours=1)
    # A microsecond younger than the grace period: kept, and reported as recent.
    younger = written + grace - timedelta(microseconds=1)
    report = sweep_orphans(opened.db, opened.storage, grace=grace, now=younger)
    assert report.removed == []
    assert [stored.key for stored in report.recent] == [key]
    assert opened.storage.keys() == {key}
    # As old as the grace period: removed.
    report = sweep_orphans(opened.db, opened.storage, grace=grace, now=written + grace)
    assert [stored.key for stored in report.removed] == [key]
    assert report.recent == []
    assert opened.storage.keys() == set()


class Signalling(Database):
    """The real catalogue, announcing each write transaction the sweep opens."""

    def __init__(self, url: str, opening: threading.Event) -> None:
        super().__init__(url)
        self.opening = opening

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Session]:
        self.opening.set()
        with super().write(durable=durable) as session:
            yield session


def test_a_key_that_a_row_names_while_the_sweep_waits_is_kept(
    fresh_index: IndexServer, opened: IndexContext, tmp_path: Path
) -> None:
    """A retried upload finds its bytes already stored and commits a row for them: the sweep
    decides again under the project's upload lock, so it never removes bytes just named."""
    publish_two(fresh_index, tmp_path)
    key = orphan_key("kept", "3.0")
    opened.storage.put_bytes(key, b"an interrupted upload's wheel")
    opening = threading.Event()
    sweeper = Signalling(opened.db.url, opening)
    outcome: list[SweepReport] = []

    # The "retry": holds the project's upload lock while it names the stored key in a row.
    with opened.db.write() as session:
        opened.db.serialise(session, "upload:kept")
        release = session.scalars(select(Release)).first()
        assert release is not None
        session.add(
            File(
                release_id=release.id,
                filename=key.rsplit("/", 1)[-1],
                filetype="bdist_wheel",
                python_version="py3",
                size=29,
                sha256="0" * 64,
                blake2_256=key.split("/")[2].rjust(64, "0"),
                md5="0" * 32,
                path=key,
                upload_time=release.created,
            )
        )
        thread = threading.Thread(
            target=lambda: outcome.append(
                sweep_orphans(sweeper, opened.storage, grace=timedelta(0))
            )
        )
        thread.start()
        # The sweep has listed the store, read the catalogue (without this row) and found the
        # key unnamed; it now waits for the lock this transaction holds.
        assert opening.wait(timeout=60)
    thread.join(timeout=120)
    sweeper.dispose()
    assert outcome, "the sweep did not finish"
    assert [stored.key for stored in outcome[0].orphans] == [key]
    assert outcome[0].removed == []
    assert opened.storage.exists(key)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--grace", "soon"], "argument --grace: invalid grace period 'soon'"),
        (["--grace=-1h"], "argument --grace: invalid grace period '-1h'"),
        (["--grace", "2y"], "argument --grace: invalid grace period '2y'"),
        (["--dry-run=yes"], "argument --dry-run: ignored explicit argument 'yes'"),
    ],
)
def test_bad_options_are_one_precise_line_and_exit_2(
    tmp_path: Path, flags: list[str], problem: str
) -> None:
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "trustyard",
            "admin",
            "store",
            "sweep",
            *flags,
            "--data",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"trustyard admin store sweep: error: {problem}"), lines[0]
    assert not (tmp_path / "d").exists()
