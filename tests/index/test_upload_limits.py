"""PyPI's remaining upload rules on a real index: the 14-day window for new files in a release,
the project size limit, and an admin's per-project limits (file and total).

Every refusal is checked three ways, as in ``test_upload_rejections.py``: the status, PyPI's
message to the letter, and a snapshot of catalogue, file store and spool before and after.
A release is made old by moving its stored creation time back, never by waiting.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.utils import canonicalize_version

from tests.conftest import PYTHON, IndexServer, client_env, start_index, twine_command
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import snapshot, upload_file
from tests.services import Backend
from trustyard.settings import MiB

OLD = "Uploading new files to releases older than 14 days is not allowed."
PROJECT_TOO_LARGE = (
    "Project size too large. Limit for project '{name}' total size is {limit}. See"
    " https://docs.pypi.org/project-management/storage-limits"
    "#requesting-a-project-size-limit-increase"
)
# Small defaults, so that the size tests upload little; the admin CLI reads them too.
SETTINGS = 'max-upload-size = "1MiB"\nmax-project-size = "2MiB"\n'


@dataclass
class World:
    index: IndexServer
    token: str
    tmp: Path


def _start(tmp: Path, backend: Backend, *flags: str) -> IndexServer:
    data = tmp / "data"
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text(SETTINGS)
    return start_index(data, *flags, backend=backend)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("upload-limits")
    index = _start(tmp, backend)
    try:
        index.create_user("alice")
        yield World(index, index.create_token("alice"), tmp)
    finally:
        index.stop()


def _wheel(world: World, name: str, version: str, *, size: int = 0, tag: str = "") -> Path:
    extra = {f"{name.replace('-', '_')}/blob.bin": os.urandom(size)} if size else None
    where = world.tmp / f"{name}-{version}-{tag or 'any'}-{size}"
    return build_wheel(where, name, version, files=extra, tag=tag or "py3-none-any")


def _age(index: IndexServer, name: str, version: str, days: float) -> None:
    """Move the release's creation (its first file's upload) ``days`` into the past."""
    where = (
        " WHERE canonical_version = :version"
        " AND project_id = (SELECT id FROM projects WHERE normalized_name = :name)"
    )
    when = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    keys = {"version": canonicalize_version(version), "name": name}
    index.execute("UPDATE releases SET created = :when" + where, when=when, **keys)
    assert len(index.query("SELECT id FROM releases" + where, **keys)) == 1


# -- the window for new files in a release -----------------------------------------------------


def test_a_new_file_in_a_release_older_than_14_days_is_refused(world: World) -> None:
    index, token = world.index, world.token
    first = _wheel(world, "aged", "1.0")
    assert upload_file(index, token, first, "aged", "1.0").status == 200
    sdist = build_sdist(world.tmp / "aged-sdist", "aged", "1.0")
    assert upload_file(index, token, sdist, "aged", "1.0").status == 200
    _age(index, "aged", "1.0", days=14.01)
    before = snapshot(index)

    later = _wheel(world, "aged", "1.0", tag="py311-none-any")
    answer = upload_file(index, token, later, "aged", "1.0")
    assert (answer.status, answer.reason) == (400, OLD)
    assert OLD in answer.text
    # A second sdist would be "Only one sdist may be uploaded per release.": the window comes
    # first (step 13 before 14). A .zip sdist passes the steps before both.
    zipped = world.tmp / "aged-1.0.zip"
    zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    answer = upload_file(index, token, zipped, "aged", "1.0", filetype="sdist", pyversion="source")
    assert (answer.status, answer.reason) == (400, OLD)
    assert snapshot(index) == before


def test_an_identical_reupload_to_an_old_release_still_answers_200(world: World) -> None:
    """The duplicate check comes first, so twine --skip-existing keeps working (PR #20260)."""
    index, token = world.index, world.token
    wheel = _wheel(world, "aged-again", "1.0")
    assert upload_file(index, token, wheel, "aged-again", "1.0").status == 200
    _age(index, "aged-again", "1.0", days=400)
    before = snapshot(index)
    answer = upload_file(index, token, wheel, "aged-again", "1.0")
    assert (answer.status, answer.body) == (200, b"")
    assert snapshot(index) == before


def test_a_release_within_the_window_and_a_new_release_take_files(world: World) -> None:
    index, token = world.index, world.token
    assert upload_file(index, token, _wheel(world, "young", "1.0"), "young", "1.0").status == 200
    _age(index, "young", "1.0", days=13.9)
    later = _wheel(world, "young", "1.0", tag="py311-none-any")
    assert upload_file(index, token, later, "young", "1.0").status == 200
    _age(index, "young", "1.0", days=30)
    assert upload_file(index, token, _wheel(world, "young", "2.0"), "young", "2.0").status == 200


def test_a_window_of_0_days_takes_new_files_for_ever(tmp_path: Path, backend: Backend) -> None:
    # This index's files may be larger than its projects: a first upload meets the total too.
    flags = ("--new-files-window-days", "0", "--max-upload-size", "2MiB")
    index = _start(tmp_path, backend, *flags, "--max-project-size", "1MiB")
    try:
        index.create_user("alice")
        token = index.create_token("alice")
        world = World(index, token, tmp_path)
        assert upload_file(index, token, _wheel(world, "ever", "1.0"), "ever", "1.0").status == 200
        _age(index, "ever", "1.0", days=3650)
        later = _wheel(world, "ever", "1.0", tag="py311-none-any")
        assert upload_file(index, token, later, "ever", "1.0").status == 200

        born_big = _wheel(world, "born-big", "1.0", size=1536 * 1024)
        before = snapshot(index)
        answer = upload_file(index, token, born_big, "born-big", "1.0")
        assert answer.reason == PROJECT_TOO_LARGE.format(name="born-big", limit="1 MB")
        assert snapshot(index) == before
    finally:
        index.stop()


# -- the project size limit --------------------------------------------------------------------


def test_a_project_over_its_total_size_is_refused_until_an_admin_raises_it(world: World) -> None:
    index, token = world.index, world.token
    stored = {}
    for version in ("1.0", "2.0"):  # ~700 KiB each, under the 2 MiB total
        stored[version] = _wheel(world, "sizey", version, size=700 * 1024)
        assert upload_file(index, token, stored[version], "sizey", version).status == 200
    third = _wheel(world, "sizey", "3.0", size=700 * 1024)
    before = snapshot(index)
    answer = upload_file(index, token, third, "sizey", "3.0")
    expected = PROJECT_TOO_LARGE.format(name="sizey", limit="2 MB")
    assert (answer.status, answer.reason) == (400, expected)
    assert expected in answer.text
    # The size check precedes the duplicate check on PyPI: even identical bytes are refused.
    assert upload_file(index, token, stored["1.0"], "sizey", "1.0").reason == expected
    assert snapshot(index) == before

    limits = index.cli("admin", "project", "limits", "sizey", "--total-size-limit", "1")
    assert limits.stdout.strip() == ("sizey: upload limit 1 MiB (default), total size limit 1 GiB")
    assert upload_file(index, token, third, "sizey", "3.0").status == 200


# -- an admin's per-project limits -------------------------------------------------------------


def _limits(index: IndexServer, *args: str) -> subprocess.CompletedProcess[str]:
    return index.cli("admin", "project", "limits", *args, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["limited", "--upload-limit", "-5"],
            "--upload-limit can not be less than the index's default of 1 MiB, not -5 MiB",
        ),
        (
            ["limited", "--upload-limit", "lots"],
            "--upload-limit must be a whole number of MiB or 'default', not 'lots'",
        ),
        (["limited", "--upload-limit", "1025"], "--upload-limit can not be greater than 1024 MiB"),
        (
            ["limited", "--total-size-limit", "1.5"],
            "--total-size-limit must be a whole number of GiB or 'default', not '1.5'",
        ),
        (
            ["limited", "--total-size-limit", "0"],
            "--total-size-limit can not be less than the index's default of 2 MiB, not 0 GiB",
        ),
        (["nope", "--upload-limit", "2"], "no project named 'nope'"),
        (
            ["nope", "--upload-limit", "x", "--total-size-limit", "-1"],
            "no project named 'nope'; --upload-limit must be a whole number of MiB or 'default',"
            " not 'x'; --total-size-limit can not be less than the index's default of 2 MiB,"
            " not -1 GiB",
        ),
    ],
)
def test_bad_limits_are_one_line_exit_2_and_change_nothing(
    world: World, args: list[str], message: str
) -> None:
    index = world.index
    if not index.query("SELECT 1 FROM projects WHERE normalized_name = 'limited'"):
        index.cli("admin", "project", "create", "limited", "--owner", "alice")
    before = snapshot(index)
    result = _limits(index, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"trustyard: error: {message}\n"
    assert result.stdout == ""
    assert snapshot(index) == before


def test_limits_are_shown_set_journalled_and_cleared(world: World) -> None:
    index = world.index
    index.cli("admin", "project", "create", "Tuned", "--owner", "alice")
    assert _limits(index, "tuned").stdout == (
        "Tuned: upload limit 1 MiB (default), total size limit 2 MiB (default)\n"
    )
    shown = _limits(index, "tuned", "--upload-limit", "1024", "--total-size-limit", "20")
    assert shown.stdout == "Tuned: upload limit 1 GiB, total size limit 20 GiB\n"
    assert index.query(
        "SELECT upload_limit, total_size_limit FROM projects WHERE normalized_name = 'tuned'"
    ) == [(1024**3, 20 * 1024**3)]
    _limits(index, "tuned", "--upload-limit", "default")
    journal = index.query(
        "SELECT action, actor FROM journal WHERE project_name = 'tuned' ORDER BY id"
    )
    assert journal == [
        ("create", "alice"),
        ("set upload limit to 1 GiB", "admin"),
        ("set total size limit to 20 GiB", "admin"),
        ("set upload limit to the index's default", "admin"),
    ]
    assert _limits(index, "tuned").stdout == (
        "Tuned: upload limit 1 MiB (default), total size limit 20 GiB\n"
    )


def test_limits_survive_export_and_import(world: World, backend: Backend) -> None:
    index = world.index
    index.cli("admin", "project", "create", "moved-limits", "--owner", "alice")
    _limits(index, "moved-limits", "--upload-limit", "300", "--total-size-limit", "50")
    export = world.tmp / "export"
    index.cli("admin", "export", str(export))
    target = world.tmp / "imported"
    target.mkdir()
    (target / "trustyard.toml").write_text(SETTINGS)
    backend.configure(target)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
        return subprocess.run(
            [PYTHON, "-m", "trustyard", *args, "--data", str(target)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )

    cli("admin", "import", str(export))
    assert cli("admin", "project", "limits", "moved-limits").stdout == (
        "moved-limits: upload limit 300 MiB, total size limit 50 GiB\n"
    )


def test_a_raised_file_limit_lets_larger_files_and_bodies_through(
    tmp_path: Path, backend: Backend
) -> None:
    """Over the default but under the project's limit: accepted, from twine, even when the
    body is larger than the default's body limit (the 413 before reading follows the largest
    limit any project has). Refusals name the project's own limit."""
    index = _start(tmp_path, backend)
    try:
        index.create_user("alice")
        token = index.create_token("alice")
        world = World(index, token, tmp_path)
        for name in ("mid", "big"):
            index.cli("admin", "project", "create", name, "--owner", "alice")
        assert _limits(index, "mid", "--upload-limit", "2").returncode == 0

        # Over the default (1 MiB), within mid's 2 MiB: refused for another project only.
        middling = _wheel(world, "mid", "1.0", size=1536 * 1024)
        assert upload_file(index, token, middling, "mid", "1.0").status == 200
        plain = _wheel(world, "plain", "1.0", size=1536 * 1024)
        before = snapshot(index)
        answer = upload_file(index, token, plain, "plain", "1.0")
        assert (answer.status, answer.reason) == (
            400,
            "File too large. Limit for project 'plain' is 1 MB.",
        )
        # Over every limit, cut off while it streams in: still the project's own limit.
        for name in ("mid", "plain"):
            huge = _wheel(world, name, "2.0", size=3 * 1024 * 1024)
            limit = 2 if name == "mid" else 1
            answer = upload_file(index, token, huge, name, "2.0")
            assert (answer.status, answer.reason) == (
                400,
                f"File too large. Limit for project '{name}' is {limit} MB.",
            )
        assert snapshot(index) == before

        # The body limit is the largest file limit any project has (2 MiB) plus 32 MiB of
        # fields: a larger body is refused before it is read ...
        early = _announce(index, 34 * MiB + 1)
        assert early.startswith(b"HTTP/1.1 413 "), early[:200]
        assert b"an upload may be at most 34 MB (files up to 2 MB)" in early
        large = _wheel(world, "big", "1.0", size=34 * MiB)
        assert large.stat().st_size > 34 * MiB
        # ... until a project may take a larger file: then twine's upload of it goes through.
        assert (
            _limits(index, "big", "--upload-limit", "40", "--total-size-limit", "1").returncode == 0
        )
        twine = twine_command(index.upload_url, token, [large])
        env = client_env(tmp_path)
        done = subprocess.run(
            twine, capture_output=True, text=True, env=env, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        stored = index.query("SELECT size FROM files WHERE filename = :f", f=large.name)
        assert stored == [(large.stat().st_size,)]
    finally:
        index.stop()


def _announce(index: IndexServer, length: int) -> bytes:
    """Send only the head of an upload of ``length`` bytes; whatever the index answers."""
    port = int(index.url.rsplit(":", 1)[1])
    head = (
        "POST /legacy/ HTTP/1.1\r\nHost: index\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer
