"""Fault tests: real ``trustyard serve`` processes, killed, starved and cut off on purpose.

Helpers shared by this folder: starting an index with fault injection armed (``inject/``),
reading back everything the catalogue and the store hold, and checking that they agree and that
the index serves exactly the files that have rows, whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import PYTHON, IndexServer, client_env, start_index, tool
from tests.index.conftest import request
from trustyard.index.storage.s3 import S3Storage

INJECT = Path(__file__).resolve().parent / "inject"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables in this process (which :func:`start_index` copies) for a moment."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_faulty(data: Path, faults: dict[str, str], *extra: str) -> IndexServer:
    """:func:`start_index` with ``inject/sitecustomize.py`` loaded and ``faults`` set for it."""
    path = os.pathsep.join(p for p in (str(INJECT), os.environ.get("PYTHONPATH", "")) if p)
    with environment({"PYTHONPATH": path, **faults}):
        return start_index(data, *extra)


def kill(server: IndexServer) -> None:
    """SIGKILL the server (if the fault did not already) and reap it."""
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(timeout=30)


@dataclass(frozen=True)
class Place:
    """Where one index keeps its catalogue and files (both backends)."""

    data: Path
    database: str  # SQLAlchemy URL
    storage: str | None  # s3:// URL, or None for files under DATA/files

    def keys(self) -> set[str]:
        """Every stored key (read directly: ``data`` may be a ``/proc/PID/root`` view)."""
        if self.storage is None:
            root = self.data / "files"
            return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        return self._bucket.keys()

    def read(self, key: str) -> bytes:
        if self.storage is None:
            return (self.data / "files" / key).read_bytes()
        return self._bucket.read_bytes(key)

    @cached_property
    def _bucket(self) -> S3Storage:
        """One client for every read: making a boto3 client costs about a second."""
        assert self.storage is not None
        return S3Storage(self.storage, self.data.parent / f"{self.data.name}-probe-spool")

    def rows(self) -> list[tuple[str, str, str, str | None]]:
        """(filename, storage key, sha256, metadata sha256) of every file row."""
        engine = create_engine(self.database)
        try:
            with engine.connect() as conn:
                result = conn.execute(
                    text("SELECT filename, path, sha256, metadata_sha256 FROM files")
                )
                return [(r[0], r[1], r[2], r[3]) for r in result]
        finally:
            engine.dispose()

    def spool(self) -> list[str]:
        spool = self.data / "tmp"
        return sorted(p.name for p in spool.iterdir()) if spool.is_dir() else []


def local_place(data: Path) -> Place:
    return Place(data=data, database=f"sqlite:///{data / 'trustyard.sqlite3'}", storage=None)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_agreement(place: Place) -> set[str]:
    """Every row has its file, whole (sha256) and its metadata file; returns keys without rows.

    Run with the server dead or alive: this reads the catalogue and the store directly.
    """
    keys = place.keys()
    with_rows: set[str] = set()
    problems: list[str] = []
    for filename, key, sha256, metadata_sha256 in place.rows():
        with_rows.add(key)
        if key not in keys:
            problems.append(f"row without file: {filename}")
            continue
        if sha256_of(place.read(key)) != sha256:
            problems.append(f"stored bytes differ from the row's sha256: {filename}")
        if metadata_sha256 is not None:
            with_rows.add(key + ".metadata")
            if key + ".metadata" not in keys:
                problems.append(f"row without metadata file: {filename}")
            elif sha256_of(place.read(key + ".metadata")) != metadata_sha256:
                problems.append(f"metadata bytes differ from the row: {filename}")
    assert not problems, problems
    return keys - with_rows


def fetch(server: IndexServer, path: str) -> tuple[int, bytes]:
    """GET ``path``, following a redirect to the object store (as pip does)."""
    answer = request(server, "GET", path)
    if answer.status == 302:
        with urllib.request.urlopen(answer.headers["location"], timeout=60) as response:
            return int(response.status), bytes(response.read())
    return answer.status, answer.body


def check_served(server: IndexServer, place: Place, orphans: set[str]) -> None:
    """Each row's file is served whole and listed; no file without a row is served."""
    for filename, key, sha256, _ in place.rows():
        status, body = fetch(server, f"/files/{key}")
        assert status == 200, (filename, status)
        assert sha256_of(body) == sha256, f"{filename} is served with other bytes"
    for key in orphans:
        status, _ = fetch(server, f"/files/{key}")
        assert status == 404, f"{key} has no row but is served ({status})"


def listed(server: IndexServer, project: str) -> dict[str, str]:
    """filename -> sha256 on the project's PEP 691 page ({} for an unknown project)."""
    page = request(server, "GET", f"/simple/{project}/", headers={"Accept": JSON_TYPE})
    if page.status == 404:
        return {}
    assert page.status == 200, page.text
    return {f["filename"]: f["hashes"]["sha256"] for f in json.loads(page.body)["files"]}


def publish(
    client: str, server: IndexServer, token: str, path: Path, tmp: Path
) -> subprocess.CompletedProcess[str]:
    """Upload ``path`` with the real ``twine`` or ``uv publish``."""
    if client == "twine":
        command = [
            PYTHON,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            server.upload_url,
            "-u",
            "__token__",
            "-p",
            token,
            str(path),
        ]
    else:
        command = [
            tool("uv"),
            "publish",
            "--publish-url",
            server.upload_url,
            "--token",
            token,
            str(path),
        ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=client_env(tmp),
        timeout=120,
        check=False,
    )
