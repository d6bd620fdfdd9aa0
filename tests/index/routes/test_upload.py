"""``POST /legacy/`` in-process: an accepted upload and each refusal, by status and message.

The subprocess suite (tests/index/test_upload_rejections.py) checks the same refusals on the
wire, status line and snapshots included; these check every branch of the route and of
``services/uploads.py`` quickly.
"""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import LocalIndex, basic, upload_fields
from trustyard.index.db.models import Release, Token
from trustyard.index.services import accounts, projects
from trustyard.index.services.roles import IndexAdmin
from trustyard.index.upload_form import MAX_PARTS


@dataclass
class World:
    index: LocalIndex
    alice: str  # owns "up-victim"
    mallory: str  # another user
    scoped: str  # alice's token scoped to "up-other"
    tmp: Path


@pytest.fixture(scope="module")
def world(shared_index: LocalIndex, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("uploads")
    index = shared_index
    index.create_user("up-alice")
    index.create_user("up-mallory")
    alice = index.create_token("up-alice")
    assert index.upload(alice, build_wheel(tmp / "a", "up-victim", "1.0")).status_code == 200
    assert index.upload(alice, build_wheel(tmp / "b", "up-other", "1.0")).status_code == 200
    return World(
        index,
        alice=alice,
        mallory=index.create_token("up-mallory"),
        scoped=index.create_token("up-alice", project="up-other"),
        tmp=tmp,
    )


def _built(world: World, version: str, *, sdist: bool = False, name: str = "up-victim") -> Path:
    where = world.tmp / f"{name}-{version}-{'s' if sdist else 'w'}"
    return (build_sdist if sdist else build_wheel)(where, name, version)


def _refused(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert message in answer.text


def test_accepted_wheel_and_sdist_appear_on_the_simple_page(world: World) -> None:
    for path in (_built(world, "2.0"), _built(world, "2.0", sdist=True)):
        assert world.index.upload(world.alice, path).status_code == 200
    page = world.index.get("/simple/up-victim/")
    assert "up_victim-2.0-py3-none-any.whl" in page.text
    assert "up_victim-2.0.tar.gz" in page.text


def test_identical_reupload_is_accepted_and_changes_nothing(world: World) -> None:
    path = _built(world, "3.0")
    assert world.index.upload(world.alice, path).status_code == 200
    assert world.index.upload(world.alice, path).status_code == 200


def test_same_filename_other_bytes_is_refused(world: World) -> None:
    first = _built(world, "4.0")
    assert world.index.upload(world.alice, first).status_code == 200
    other = build_wheel(world.tmp / "other-4", "up-victim", "4.0", files={"x.py": b"1"})
    _refused(world.index.upload(world.alice, other), 400, "File already exists")


def test_second_sdist_in_a_release_is_refused(world: World) -> None:
    assert world.index.upload(world.alice, _built(world, "5.0", sdist=True)).status_code == 200
    # 5.0.0 is release 5.0: its sdist would be the release's second
    second = _built(world, "5.0.0", sdist=True)
    _refused(world.index.upload(world.alice, second), 400, "Only one sdist")


AUTH_CASES: dict[str, tuple[str | None, int, str]] = {
    "none": (None, 403, "Invalid or non-existent authentication"),
    "unknown scheme": ("Digest abc", 403, "Invalid or non-existent authentication"),
    "basic not base64": ("Basic %%%", 403, "Invalid or non-existent authentication"),
    "basic without colon": (
        "Basic " + base64.b64encode(b"nocolon").decode(),
        403,
        "Invalid or non-existent authentication",
    ),
    "password login": (basic("secret", username="up-alice"), 403, "no longer supported"),
    "empty password": (basic("", username="__token__"), 403, "Invalid or non-existent"),
    "malformed token": ("token not-a-token", 403, "token is malformed"),
    "unknown token": (
        "bearer trustyard-" + "0" * 24 + ".secret",
        403,
        "Invalid API Token",
    ),
}


@pytest.mark.parametrize("case", sorted(AUTH_CASES))
def test_unauthenticated_uploads_are_refused(world: World, case: str) -> None:
    auth, status, message = AUTH_CASES[case]
    path = _built(world, "9.0")
    fields = upload_fields(path, "up-victim", "9.0")
    files = [("content", path.name, path.read_bytes(), "application/octet-stream")]
    answer = world.index.post_upload(None, fields, files, auth=auth or "")
    if auth is None:
        answer = world.index.post(
            "/legacy/", content=b"x", headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
    _refused(answer, status, message)


def test_revoked_expired_and_disabled_tokens_are_refused(world: World) -> None:
    index = world.index
    index.create_user("up-gone")
    revoked = index.create_token("up-gone")
    with index.db.write() as session:
        accounts.revoke_token(session, "up-gone", revoked.split("-", 1)[1].split(".")[0])
    _refused(index.upload(revoked, _built(world, "9.1")), 403, "revoked")
    with index.db.write() as session:
        expired = accounts.create_token(
            session, "up-gone", expires_in=accounts.parse_duration("1s")
        )
    with index.db.write() as session:
        session.execute(
            update(Token)
            .where(Token.expires.is_not(None))
            .values(expires=accounts.utcnow().replace(year=2000))
        )
    _refused(index.upload(expired, _built(world, "9.1")), 403, "expired")
    fresh = index.create_token("up-gone")
    with index.db.write() as session:
        accounts.set_disabled(session, "up-gone", disabled=True, actor=None)
    _refused(index.upload(fresh, _built(world, "9.1")), 403, "disabled")


def test_permission_refusals(world: World) -> None:
    index = world.index
    # another user's project
    _refused(index.upload(world.mallory, _built(world, "9.2")), 403, "isn't allowed")
    # a scoped token on another project, and creating a project
    _refused(index.upload(world.scoped, _built(world, "9.2")), 403, "isn't allowed")
    _refused(
        index.upload(world.scoped, _built(world, "1.0", name="up-brand-new")),
        403,
        "isn't allowed",
    )
    # the scoped token on its own project works
    assert index.upload(world.scoped, _built(world, "2.0", name="up-other")).status_code == 200


FORM_CASES: dict[str, tuple[dict[str, str | None], int, str]] = {
    "submit action": ({":action": "submit"}, 410, "pre-registration"),
    "doc upload": ({":action": "doc_upload"}, 410, "Uploading documentation"),
    "unknown action": ({":action": "frobnicate"}, 400, "Invalid value for ':action'"),
    "protocol 2": ({"protocol_version": "2"}, 400, "Unknown protocol version"),
    "filetype egg": ({"filetype": "bdist_egg"}, 400, "filetype"),
    "no pyversion": ({"pyversion": None}, 400, "Python version is required"),
    "bad name": ({"name": "-bad-"}, 400, "name"),
    "bad version": ({"version": "not a version"}, 400, "version"),
    "wrong sha256": ({"sha256_digest": "0" * 64}, 400, "digest"),
    "wrong blake2": ({"blake2_256_digest": "0" * 64}, 400, "digest"),
    "other name": ({"name": "up-other"}, 400, ""),
    "other version": ({"version": "9.9"}, 400, ""),
}


@pytest.mark.parametrize("case", sorted(FORM_CASES))
def test_form_refusals(world: World, case: str) -> None:
    overrides, status, message = FORM_CASES[case]
    path = _built(world, "9.3")
    _refused(world.index.upload(world.alice, path, **overrides), status, message)


def test_duplicate_field_and_sdist_pyversion(world: World) -> None:
    path = _built(world, "9.4")
    fields = [*upload_fields(path, "up-victim", "9.4"), ("protocol_version", "1")]
    files = [("content", path.name, path.read_bytes(), "application/octet-stream")]
    _refused(world.index.post_upload(world.alice, fields, files), 400, "give it once")
    sdist = _built(world, "9.4", sdist=True)
    _refused(world.index.upload(world.alice, sdist, pyversion="py3"), 400, "'source'")


def test_missing_file_and_image_type(world: World) -> None:
    path = _built(world, "9.5")
    fields = upload_fields(path, "up-victim", "9.5")
    _refused(world.index.post_upload(world.alice, fields, []), 400, "does not have a file")
    files = [("content", path.name, path.read_bytes(), "image/png")]
    _refused(world.index.post_upload(world.alice, fields, files), 400, "Invalid distribution")


def test_deleted_filename_cannot_come_back(world: World) -> None:
    path = _built(world, "6.0")
    assert world.index.upload(world.alice, path).status_code == 200
    with world.index.db.write() as session:
        projects.delete_file(session, path.name, actor=IndexAdmin("test"))
    _refused(world.index.upload(world.alice, path), 400, "previously used")


def test_old_release_window(world: World) -> None:
    index = world.index
    assert index.upload(world.alice, _built(world, "7.0")).status_code == 200
    with index.db.write() as session:
        session.execute(
            update(Release)
            .where(Release.version == "7.0")
            .values(created=accounts.utcnow().replace(year=2000))
        )
    _refused(index.upload(world.alice, _built(world, "7.0", sdist=True)), 400, "days")


def test_get_legacy_and_no_slash(world: World) -> None:
    page = world.index.get("/legacy/")
    assert page.status_code == 200
    assert "Legacy upload API" in page.text
    moved = world.index.get("/legacy", follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"] == "/legacy/"
    # a form without ':action' gets the page too
    answer = world.index.post_upload(world.alice, [("name", "x")], [])
    assert answer.status_code == 200
    assert "Legacy upload API" in answer.text


def _rewritten(path: Path, target: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy of the wheel at ``path`` (same filename, in ``target``) with members changed."""
    target.mkdir(parents=True, exist_ok=True)
    copy = target / path.name
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as out:
        for info in source.infolist():
            out.writestr(info, change(info.filename, source.read(info)))
    return copy


def _metadata(change: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    def each(name: str, data: bytes) -> bytes:
        return change(data) if name.endswith(".dist-info/METADATA") else data

    return each


def _twine(world: World, path: Path, name: str, version: str) -> httpx.Response:
    """Upload ``path`` with twine's form (name and version as given, not read from the file)."""
    files = [("content", path.name, path.read_bytes(), "application/octet-stream")]
    return world.index.post_upload(world.alice, upload_fields(path, name, version), files)


def test_embedded_metadata_must_match_the_form(world: World) -> None:
    path = _built(world, "9.6")
    other_name = _rewritten(
        path, world.tmp / "n96", _metadata(lambda d: d.replace(b"Name: up-victim", b"Name: x"))
    )
    _refused(_twine(world, other_name, "up-victim", "9.6"), 400, "names project")
    other_version = _rewritten(
        path, world.tmp / "v96", _metadata(lambda d: d.replace(b"Version: 9.6", b"Version: 9.7"))
    )
    _refused(_twine(world, other_version, "up-victim", "9.6"), 400, "has version")


def test_license_files_must_be_present(world: World) -> None:
    path = build_wheel(
        world.tmp / "lic", "up-victim", "9.8", metadata_extra="License-File: LICENSE\n"
    )
    _refused(world.index.upload(world.alice, path), 400, "License-File LICENSE does not exist")


def test_form_dependencies_must_match_the_file(world: World) -> None:
    path = _built(world, "9.9")
    answer = world.index.upload(world.alice, path, requires_dist="requests")
    assert answer.status_code == 400
    assert "Requires-Dist" in answer.text or "requires" in answer.text.lower()


def test_another_name_for_a_used_distribution(world: World) -> None:
    first = _built(world, "8.0")
    assert world.index.upload(world.alice, first).status_code == 200
    with world.index.db.write() as session:
        projects.delete_file(session, first.name, actor=IndexAdmin("test"))
    again = _built(world, "8.0.0")
    _refused(world.index.upload(world.alice, again), 400, "same distribution")


def _part(headers: str, body: bytes) -> bytes:
    return b"--b\r\n" + headers.encode() + b"\r\n\r\n" + body + b"\r\n"


MALFORMED: dict[str, tuple[str, bytes, str]] = {
    "not multipart": ("application/json", b"{}", "multipart/form-data"),
    "no boundary": ("multipart/form-data", b"", "boundary is missing"),
    "part without a name": (
        "multipart/form-data; boundary=b",
        _part("Content-Disposition: form-data", b"x") + b"--b--\r\n",
        "no Content-Disposition name",
    ),
    "file in another field": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="x"; filename="a.whl"', b"x") + b"--b--\r\n",
        "unexpected file",
    ),
    "two files": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="content"; filename="a.whl"', b"x") * 2
        + b"--b--\r\n",
        "more than one file",
    ),
    "field not UTF-8": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="name"', b"\xff\xfe") + b"--b--\r\n",
        "not UTF-8",
    ),
    "truncated": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="name"', b"x")[:-2],
        "truncated",
    ),
    "field too large": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="summary"', b"x" * (17 * 1024 * 1024))
        + b"--b--\r\n",
        "too large",
    ),
    "too many parts": (
        "multipart/form-data; boundary=b",
        _part('Content-Disposition: form-data; name="classifiers"', b"x") * (MAX_PARTS + 1)
        + b"--b--\r\n",
        "more than",
    ),
    "not a multipart body": (
        "multipart/form-data; boundary=b",
        b"garbage without any boundary\r\n" * 3,
        "Invalid request",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_forms(world: World, case: str) -> None:
    content_type, body, message = MALFORMED[case]
    answer = world.index.post(
        "/legacy/",
        content=body,
        headers={"Content-Type": content_type, "Authorization": basic(world.alice)},
    )
    assert answer.status_code in (400, 413), answer.text
    assert message in answer.text
    assert not any(world.index.data.joinpath("tmp").iterdir())  # the spool is left empty


def test_errors_in_json_for_clients_that_ask(world: World) -> None:
    """PyPI's Pyramid error body as JSON when the client prefers it: message, code, title."""
    answer = world.index.post(
        "/legacy/",
        content=b"x",
        headers={"Content-Type": "multipart/form-data; boundary=b", "Accept": "application/json"},
    )
    assert answer.status_code == 403
    body = answer.json()
    assert body["title"] == "Forbidden"
    assert body["code"].startswith("403 Invalid or non-existent authentication")
    assert "Access was denied" in body["message"]
