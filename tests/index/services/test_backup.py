"""``trustyard admin export`` / ``import``: a whole index moved between configurations.

The source is the embedded default (SQLite + files) after real uploads; the target is a real
PostgreSQL and a real S3 server (SeaweedFS). pip then installs from the imported index, and
an export of the imported index is byte-for-byte the export it was imported from.

Single-backend by nature: the move is from one backend to the other, so each side names
its own (``tests/e2e/test_export_import.py`` moves a signed release the same way).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, start_index
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import request, upload_file

pytestmark = pytest.mark.slow

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Source:
    index: IndexServer
    export: Path
    token: str
    tmp: Path


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``trustyard <args> --data DATA`` (settings from DATA/trustyard.toml), unchecked."""
    return subprocess.run(
        [PYTHON, "-m", "trustyard", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def configure(data: Path, database: str, storage: str) -> None:
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text(
        f"database = {json.dumps(database)}\nstorage = {json.dumps(storage)}\n"
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """An embedded index with users, tokens, uploads, a yank and a publisher, exported."""
    tmp = tmp_path_factory.mktemp("backup")
    index = start_index(tmp / "embedded")
    try:
        index.create_user("alice")
        index.create_user("bob")
        token = index.create_token("alice")
        for version in ("1.0", "1.1"):
            wheel = build_wheel(tmp / "dists", "moved", version)
            assert upload_file(index, token, wheel, "moved", version).status == 200
        sdist = build_sdist(tmp / "dists", "moved", "1.1")
        assert upload_file(index, token, sdist, "moved", "1.1").status == 200
        index.cli("admin", "project", "yank", "moved", "1.1", "--reason", "broken")
        index.cli(
            "publisher",
            "add",
            "moved",
            "github",
            "--repository",
            "octo/moved",
            "--workflow",
            "release.yml",
        )
        index.cli("admin", "issuer", "add", "https://gitlab.example.com")
        # bob's invitation to moved, not yet accepted (format 3: issue 14, finding 3).
        index.execute(
            "INSERT INTO role_invitations (user_id, project_id, role, invited_by, created,"
            " expires) SELECT u.id, p.id, 'maintainer', 'alice', :created, :expires"
            " FROM users u, projects p WHERE u.username = 'bob' AND p.name = 'moved'",
            created=datetime(2026, 12, 7, 12, 0),
            expires=datetime(2026, 12, 10, 12, 0),
        )
        export = tmp / "export"
        result = index.cli("admin", "export", str(export))
        assert "exported to" in result.stderr, result.stderr
        yield Source(index=index, export=export, token=token, tmp=tmp)
    finally:
        index.stop()


def test_export_lists_every_row_and_file_with_hashes(source: Source) -> None:
    manifest = json.loads((source.export / "manifest.json").read_text())
    assert manifest["tables"]["users"]["rows"] == 2
    assert manifest["tables"]["files"]["rows"] == 3
    assert manifest["tables"]["publishers"]["rows"] == 1
    assert manifest["tables"]["role_invitations"]["rows"] == 1
    # Two wheels with their PEP 658 metadata, and the sdist.
    assert len(manifest["files"]) == 5
    assert sum(key.endswith(".metadata") for key in manifest["files"]) == 2
    users = (source.export / "catalogue" / "users.jsonl").read_text()
    assert users.count('"password_hash": "$argon2') == 2  # hashes, never passwords
    assert "correct horse battery" not in users


def test_import_into_postgresql_and_s3_then_pip_install(
    source: Source, database_url: str, storage_url: str
) -> None:
    target = source.tmp / "scaled"
    configure(target, database_url, storage_url)
    result = cli(target, "admin", "import", str(source.export))
    assert result.returncode == 0, result.stderr
    assert "imported from" in result.stderr

    # The imported index exports exactly what it was imported from.
    again = source.tmp / "re-export"
    assert cli(target, "admin", "export", str(again)).returncode == 0
    for name in sorted((source.export / "catalogue").iterdir()):
        assert (again / "catalogue" / name.name).read_bytes() == name.read_bytes(), name.name
    first = json.loads((source.export / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert second["files"] == first["files"]

    # A second import into the now non-empty index is refused.
    refused = cli(target, "admin", "import", str(source.export))
    assert refused.returncode != 0
    assert "not empty" in refused.stderr

    server = start_index(target)
    try:
        # The index's own audience and its issuer list came along (issue 14, findings 4, 5),
        # replacing what the empty index's migration had put there.
        assert server.audience == source.index.audience
        issuers = server.query("SELECT url FROM trusted_issuers ORDER BY url")
        assert ("https://gitlab.example.com",) in issuers
        assert len(issuers) == 4
        page = request(server, "GET", "/simple/moved/", headers={"Accept": JSON_TYPE})
        assert page.status == 200
        files = json.loads(page.body)["files"]
        assert len(files) == 3
        assert {f["filename"]: f["yanked"] for f in files}["moved-1.1.tar.gz"] == "broken"

        # The old token (only its hash was moved) still uploads, with new serials and ids.
        wheel = build_wheel(source.tmp / "dists", "moved", "1.2")
        answer = upload_file(server, source.token, wheel, "moved", "1.2")
        assert answer.status == 200, answer.text
        # The filename registry came along: a re-upload of an imported file is refused.
        old = build_wheel(source.tmp / "dists-again", "moved", "1.0", files={"x.py": b"1\n"})
        assert upload_file(server, source.token, old, "moved", "1.0").status == 400

        installed = source.tmp / "installed"
        pip = subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "--target",
                str(installed),
                "--index-url",
                server.simple_url,
                "moved==1.0",
            ],
            capture_output=True,
            text=True,
            env=client_env(source.tmp),
            timeout=120,
            check=False,
        )
        assert pip.returncode == 0, pip.stdout + pip.stderr
        assert (installed / "moved" / "__init__.py").is_file()
    finally:
        server.stop()


def _import_copy(source: Source, name: str, damage: object) -> subprocess.CompletedProcess[str]:
    """Copy the export, damage it with ``damage(path)``, import it into a new embedded index."""
    copy = source.tmp / f"damaged-{name}"
    shutil.copytree(source.export, copy)
    assert callable(damage)
    damage(copy)
    data = source.tmp / f"target-{name}"
    result = cli(data, "admin", "import", str(copy))
    assert result.returncode != 0, result.stderr
    # Nothing was imported: the catalogue is still empty and no file was stored.
    assert not (data / "files").exists() or not any(
        p.is_file() for p in (data / "files").rglob("*")
    )
    return result


def _a_wheel(export: Path) -> Path:
    return next(p for p in (export / "files").rglob("*.whl"))


def test_a_tampered_file_is_refused(source: Source) -> None:
    def damage(export: Path) -> None:
        wheel = _a_wheel(export)
        wheel.write_bytes(wheel.read_bytes() + b"\0")

    result = _import_copy(source, "tampered", damage)
    assert "does not match the manifest" in result.stderr
    assert "altered" in result.stderr


def test_a_missing_file_is_refused(source: Source) -> None:
    result = _import_copy(source, "missing", lambda export: _a_wheel(export).unlink())
    assert "missing files/" in result.stderr
    assert "incomplete export" in result.stderr


def test_an_export_without_manifest_is_refused(source: Source) -> None:
    result = _import_copy(source, "no-manifest", lambda export: (export / "manifest.json").unlink())
    assert "no manifest.json" in result.stderr
    assert "incomplete" in result.stderr


def test_an_altered_catalogue_is_refused(source: Source) -> None:
    def damage(export: Path) -> None:
        users = export / "catalogue" / "users.jsonl"
        users.write_text(users.read_text().replace('"bob"', '"mallory"'))

    result = _import_copy(source, "catalogue", damage)
    assert "catalogue/users.jsonl does not match its SHA-256 in the manifest" in result.stderr


def test_a_manifest_rewritten_to_match_other_bytes_is_refused(source: Source) -> None:
    """Changing a file and its manifest entry still fails the catalogue's own digests."""

    def damage(export: Path) -> None:
        wheel = _a_wheel(export)
        wheel.write_bytes(wheel.read_bytes() + b"\0")
        manifest = json.loads((export / "manifest.json").read_text())
        key = wheel.relative_to(export / "files").as_posix()
        manifest["files"][key] = {
            "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            "size": wheel.stat().st_size,
        }
        (export / "manifest.json").write_text(json.dumps(manifest))

    result = _import_copy(source, "rewritten", damage)
    assert "does not match the catalogue's SHA-256" in result.stderr


def test_export_refuses_a_non_empty_directory(source: Source) -> None:
    busy = source.tmp / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    result = cli(source.index.data, "admin", "export", str(busy))
    assert result.returncode != 0
    assert "is not an empty directory" in result.stderr
