"""Hostile and malformed uploads: each gets a precise 4xx and changes nothing.

Every case is checked three ways: the status code, PyPI's message (in the status line, where
twine shows it, and in the body), and a before/after snapshot of every catalogue table, every
stored file and the upload spool.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import (
    Answer,
    basic,
    multipart,
    post_upload,
    request,
    snapshot,
    upload_fields,
    upload_file,
)
from tests.services import Backend


@dataclass
class World:
    """The module's index with two users, their tokens and one published project."""

    index: IndexServer
    alice: str  # owner of "victim", user-wide token
    mallory: str  # another user, user-wide token
    scoped_other: str  # alice's token scoped to "other-project"
    expired: str
    tmp: Path
    existing_wheel: Path
    deleted_wheel: Path


@pytest.fixture(scope="module")
def world(index: IndexServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("rejections")
    index.create_user("alice")
    index.create_user("mallory")
    alice = index.create_token("alice")
    mallory = index.create_token("mallory")
    index.cli("admin", "project", "create", "other-project", "--owner", "alice")
    scoped_other = index.create_token("alice", "--project", "other-project")
    expired = index.create_token("alice", "--expires", "1h")
    # Time passes for it alone: its expiry moves to its creation (no other token here expires).
    index.execute("UPDATE tokens SET expires = created WHERE expires IS NOT NULL")
    existing = build_wheel(tmp / "ok", "victim", "1.0")
    assert upload_file(index, alice, existing, "victim", "1.0").status == 200
    deleted = build_wheel(tmp / "ok", "victim", "0.9")
    assert upload_file(index, alice, deleted, "victim", "0.9").status == 200
    index.cli("admin", "project", "delete-file", deleted.name)
    deleted_sdist = build_sdist(tmp / "ok", "victim", "0.9")
    assert upload_file(index, alice, deleted_sdist, "victim", "0.9").status == 200
    index.cli("admin", "project", "delete-file", deleted_sdist.name)
    return World(index, alice, mallory, scoped_other, expired, tmp, existing, deleted)


Case = Callable[[World], Answer]


def _wheel(world: World, name: str = "victim", version: str = "2.0", **kw: object) -> Path:
    return build_wheel(world.tmp / f"w-{time.monotonic_ns()}", name, version, **kw)  # type: ignore[arg-type]


def _sdist(world: World, name: str = "victim", version: str = "2.0", **kw: object) -> Path:
    return build_sdist(world.tmp / f"s-{time.monotonic_ns()}", name, version, **kw)  # type: ignore[arg-type]


def _up(
    world: World,
    path: Path,
    *,
    filename: str | None = None,
    data: bytes | None = None,
    name: str = "victim",
    version: str = "2.0",
    token: str | None = None,
    content_type: str = "application/octet-stream",
    **fields: str | None,
) -> Answer:
    """Upload ``path`` (optionally under another filename, or with other bytes)."""
    payload = path.read_bytes() if data is None else data
    form = upload_fields(path, name, version, **fields)
    if data is not None and "sha256_digest" not in fields:
        form = [
            (
                k,
                hashlib.sha256(payload).hexdigest()
                if k == "sha256_digest"
                else hashlib.blake2b(payload, digest_size=32).hexdigest()
                if k == "blake2_256_digest"
                else v,
            )
            for k, v in form
        ]
    return post_upload(
        world.index,
        token or world.alice,
        form,
        [("content", filename or path.name, payload, content_type)],
    )


def _zip_bytes(
    members: dict[str, bytes],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    symlink: str | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _action(action: str) -> Case:
    def case(world: World) -> Answer:
        fields: dict[str, Any] = {":action": action}
        return _up(world, _wheel(world), **fields)

    return case


def _dotdot_sdist(archive: tarfile.TarFile) -> None:
    _add_file(archive, "victim-2.0/PKG-INFO", PKG_INFO)
    _add_file(archive, "victim-2.0/../../evil", b"x")


def _wheel_members(name: str = "victim", version: str = "2.0") -> dict[str, bytes]:
    dist_info = f"{name}-{version}.dist-info"
    return {
        f"{name}/__init__.py": b"",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/RECORD": b"",
    }


def _crafted_wheel(world: World, members: dict[str, bytes], **kw: object) -> Answer:
    path = world.tmp / "victim-2.0-py3-none-any.whl"
    data = _zip_bytes(members, **kw)  # type: ignore[arg-type]
    path.write_bytes(data)
    return _up(world, path)


def _tar_bytes(add: Callable[[tarfile.TarFile], None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        add(archive)
    return buffer.getvalue()


def _add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


PKG_INFO = b"Metadata-Version: 2.1\nName: victim\nVersion: 2.0\n"


def _crafted_sdist(world: World, add: Callable[[tarfile.TarFile], None]) -> Answer:
    path = world.tmp / "victim-2.0.tar.gz"
    path.write_bytes(_tar_bytes(add))
    return _up(world, path)


def _symlink_out(archive: tarfile.TarFile) -> None:
    _add_file(archive, "victim-2.0/PKG-INFO", PKG_INFO)
    link = tarfile.TarInfo("victim-2.0/evil")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../../../etc/passwd"
    archive.addfile(link)


def _hardlink_out(archive: tarfile.TarFile) -> None:
    _add_file(archive, "victim-2.0/PKG-INFO", PKG_INFO)
    link = tarfile.TarInfo("victim-2.0/evil")
    link.type = tarfile.LNKTYPE
    link.linkname = "/etc/shadow"
    archive.addfile(link)


def _raw(world: World, body: bytes, content_type: str, token: str | None = None) -> Answer:
    return request(
        world.index,
        "POST",
        "/legacy/",
        body,
        {"Content-Type": content_type, "Authorization": basic(token or world.alice)},
    )


def _valid_form(world: World) -> tuple[list[tuple[str, str]], list[tuple[str, str, bytes, str]]]:
    path = _wheel(world)
    return upload_fields(path, "victim", "2.0"), [
        ("content", path.name, path.read_bytes(), "application/octet-stream")
    ]


def _repeated(world: World, field: str, values: list[str]) -> Answer:
    """A valid upload whose form gives ``field`` several times (issue 14 finding 11)."""
    path = _wheel(world)
    fields = [(k, v) for k, v in upload_fields(path, "victim", "2.0") if k != field]
    fields += [(field, value) for value in values]
    return post_upload(
        world.index,
        world.alice,
        fields,
        [("content", path.name, path.read_bytes(), "application/octet-stream")],
    )


REUSED = (
    "This filename has already been used, use a different version. See"
    " https://pypi.org/help/#file-name-reuse for more information."
)


def _truncated_multipart(world: World) -> Answer:
    fields, files = _valid_form(world)
    body, content_type = multipart(fields, files)
    return _raw(world, body[: len(body) - 300], content_type)


def _two_files(world: World) -> Answer:
    fields, files = _valid_form(world)
    body, content_type = multipart(fields, files + files)
    return _raw(world, body, content_type)


def _bad_utf8_field(world: World) -> Answer:
    fields, files = _valid_form(world)
    body, content_type = multipart(fields, files)
    body = body.replace(b"A test package", b"A test \xff\xfe package")
    return _raw(world, body, content_type)


def _huge_field(world: World) -> Answer:
    fields, files = _valid_form(world)
    fields.append(("description", "x" * (9 * 1024 * 1024)))
    body, content_type = multipart(fields, files)
    return _raw(world, body, content_type)


def _no_file(world: World) -> Answer:
    fields, _ = _valid_form(world)
    body, content_type = multipart(fields, [])
    return _raw(world, body, content_type)


def _file_in_other_field(world: World) -> Answer:
    fields, files = _valid_form(world)
    body, content_type = multipart(
        fields, [("gpg_signature", "x.asc", b"sig", "text/plain"), *files]
    )
    return _raw(world, body, content_type)


def _bomb(world: World) -> Answer:
    members = _wheel_members()
    members["victim/zeros.bin"] = b"\0" * (65 * 1024 * 1024)
    return _crafted_wheel(world, members)


def _wrong_crc(compression: int) -> Case:
    """A member whose local and central CRC-32 both differ from its data's: refused as
    before the upload's stream followed the zip (the stream's account does not match)."""

    def case(world: World) -> Answer:
        members = {**_wheel_members(), "victim/blob.bin": os.urandom(100_000)}
        data = bytearray(_zip_bytes(members, compression=compression))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
            info = archive.getinfo("victim/blob.bin")
            start_dir = archive.start_dir
        struct.pack_into("<L", data, info.header_offset + 14, info.CRC ^ 1)  # local
        central = data.index(b"PK\x01\x02", start_dir)
        while data[central + 46 : central + 61] != b"victim/blob.bin":
            central = data.index(b"PK\x01\x02", central + 4)
        struct.pack_into("<L", data, central + 16, info.CRC ^ 1)  # central
        path = world.tmp / "victim-2.0-py3-none-any.whl"
        path.write_bytes(bytes(data))
        return _up(world, path)

    return case


def _without(member_suffix: str) -> Case:
    def case(world: World) -> Answer:
        members = {k: v for k, v in _wheel_members().items() if not k.endswith(member_suffix)}
        return _crafted_wheel(world, members)

    return case


def _with_member(name: str) -> Case:
    def case(world: World) -> Answer:
        return _crafted_wheel(world, {**_wheel_members(), name: b"x"})

    return case


CASES: dict[str, tuple[Case, int, str]] = {
    # -- authentication and authorisation (before the body is read) --
    "no credentials": (
        lambda w: post_upload(w.index, None, *_valid_form(w)),
        403,
        "Invalid or non-existent authentication information",
    ),
    "username and password": (
        lambda w: post_upload(w.index, None, *_valid_form(w), auth=basic("secret", "alice")),
        403,
        "Username/Password authentication is no longer supported",
    ),
    "basic auth not base64": (
        lambda w: post_upload(w.index, None, *_valid_form(w), auth="Basic !!!"),
        403,
        "Invalid or non-existent authentication information",
    ),
    "unknown scheme": (
        lambda w: post_upload(w.index, None, *_valid_form(w), auth="Digest abc"),
        403,
        "Invalid or non-existent authentication information",
    ),
    "malformed token": (
        lambda w: post_upload(w.index, "pypi-AgEIcHlwaS5vcmc", *_valid_form(w)),
        403,
        "Invalid API Token: token is malformed",
    ),
    "forged token": (
        lambda w: post_upload(w.index, w.alice[:-4] + "AAAA", *_valid_form(w)),
        403,
        "Invalid API Token: token is not valid",
    ),
    "expired token": (
        lambda w: post_upload(w.index, w.expired, *_valid_form(w)),
        403,
        "Invalid API Token: token is expired",
    ),
    "token scoped to another project": (
        lambda w: post_upload(w.index, w.scoped_other, *_valid_form(w)),
        403,
        "isn't allowed to upload to project 'victim'",
    ),
    "scoped token creating a project": (
        lambda w: _up(w, _wheel(w, "brand-new"), name="brand-new", token=w.scoped_other),
        403,
        "isn't allowed to upload to project 'brand-new'",
    ),
    "another user's project": (
        lambda w: _up(w, _wheel(w), token=w.mallory),
        403,
        "The user 'mallory' isn't allowed to upload to project 'victim'",
    ),
    "bearer token of another user": (
        lambda w: post_upload(w.index, None, *_valid_form(w), auth=f"Bearer {w.mallory}"),
        403,
        "isn't allowed to upload",
    ),
    # -- the request itself --
    "not multipart": (
        lambda w: _raw(w, b'{"name": "victim"}', "application/json"),
        400,
        "multipart/form-data",
    ),
    "no boundary": (
        lambda w: _raw(w, b"--x\r\n", "multipart/form-data"),
        400,
        "boundary is missing",
    ),
    "garbage body": (
        lambda w: _raw(w, b"\x00\x01garbage" * 100, "multipart/form-data; boundary=abc"),
        400,
        "Invalid request",
    ),
    "truncated multipart": (_truncated_multipart, 400, "truncated"),
    "two files": (_two_files, 400, "more than one file"),
    "file in another field": (_file_in_other_field, 400, "unexpected file"),
    "field not UTF-8": (_bad_utf8_field, 400, "is not UTF-8"),
    "oversized field": (_huge_field, 400, "too large"),
    "no file": (_no_file, 400, "Upload payload does not have a file."),
    "retired action submit": (
        _action("submit"),
        410,
        "pre-registration",
    ),
    "retired action doc_upload": (
        _action("doc_upload"),
        410,
        "documentation",
    ),
    "unknown action": (
        _action("delete_everything"),
        400,
        ":action",
    ),
    "unknown protocol version": (
        lambda w: _up(w, _wheel(w), protocol_version="2"),
        400,
        "Unknown protocol version.",
    ),
    # -- metadata --
    "missing name": (lambda w: _up(w, _wheel(w), name=None), 400, "Name"),  # type: ignore[arg-type]
    "invalid name": (lambda w: _up(w, _wheel(w), name="-victim-"), 400, "invalid value for Name"),
    "invalid version": (lambda w: _up(w, _wheel(w), version="2.0-is-not-pep440"), 400, "Version"),
    "local version": (
        lambda w: _up(w, _wheel(w), version="2.0+local"),
        400,
        "The use of local versions in '2.0+local' is not allowed.",
    ),
    "unknown metadata version": (
        lambda w: _up(w, _wheel(w), metadata_version="9.9"),
        400,
        "Metadata-Version",
    ),
    "summary too long": (lambda w: _up(w, _wheel(w), summary="x" * 513), 400, "Summary"),
    "license and license expression": (
        lambda w: _up(
            w, _wheel(w), license="MIT", license_expression="MIT", metadata_version="2.4"
        ),
        400,
        "License",
    ),
    "invalid requirement": (
        lambda w: _up(w, _wheel(w), requires_dist="foo >>> 1"),
        400,
        "Requires-Dist",
    ),
    "direct URL requirement": (
        lambda w: _up(w, _wheel(w), requires_dist="foo @ https://evil.example/foo.whl"),
        400,
        "direct",
    ),
    "version given twice, UNKNOWN first": (
        lambda w: _repeated(w, "version", ["UNKNOWN", "2.0"]),
        400,
        "'UNKNOWN, 2.0' is an invalid value for Version. Error: Give a single value.",
    ),
    "version given twice": (
        lambda w: _repeated(w, "version", ["2.0", "3.0"]),
        400,
        "is an invalid value for Version. Error: Give a single value.",
    ),
    "name given twice": (
        lambda w: _repeated(w, "name", ["victim", "other-project"]),
        400,
        "is an invalid value for Name. Error: Give a single value.",
    ),
    "filetype given twice": (
        lambda w: _repeated(w, "filetype", ["bdist_wheel", "sdist"]),
        400,
        "Invalid value for filetype: give it once, not 2 times.",
    ),
    "sha256 given twice": (
        lambda w: _repeated(w, "sha256_digest", ["a" * 64, "b" * 64]),
        400,
        "Invalid value for sha256_digest: give it once, not 2 times.",
    ),
    "hidden dependency in the wheel": (
        lambda w: _up(w, _wheel(w, metadata_extra="Requires-Dist: evil-dependency\n")),
        400,
        "Requires-Dist: only in the file: 'evil-dependency'; only in the form: none.",
    ),
    "hidden dependency behind a marker": (
        lambda w: _up(
            w,
            _wheel(w, metadata_extra="Requires-Dist: evil; sys_platform == 'linux'\n"),
            requires_dist="evil",
        ),
        400,
        "Requires-Dist: only in the file:",
    ),
    "Requires-Python differs from the wheel's": (
        lambda w: _up(
            w, _wheel(w, metadata_extra="Requires-Python: >=3.99\n"), requires_python=">=3.8"
        ),
        400,
        "Requires-Python: the file says '>=3.99', the form '>=3.8'.",
    ),
    "hidden dependency in a 2.2+ sdist": (
        lambda w: _up(w, _sdist(w, metadata_extra="Requires-Dist: evil-dependency\n")),
        400,
        "Requires-Dist: only in the file: 'evil-dependency'",
    ),
    "unknown filetype": (lambda w: _up(w, _wheel(w), filetype="bdist_egg"), 400, "filetype"),
    "wheel without pyversion": (
        lambda w: _up(w, _wheel(w), pyversion=""),
        400,
        "Python version is required for binary distribution uploads.",
    ),
    # -- digests --
    "no digest": (
        lambda w: _up(w, _wheel(w), sha256_digest=None, blake2_256_digest=None),
        400,
        "Include at least one message digest.",
    ),
    "wrong sha256": (
        lambda w: _up(w, _wheel(w), sha256_digest="a" * 64),
        400,
        "The digest supplied does not match a digest calculated from the uploaded file.",
    ),
    "wrong blake2": (
        lambda w: _up(w, _wheel(w), blake2_256_digest="b" * 64),
        400,
        "does not match",
    ),
    "wrong md5": (lambda w: _up(w, _wheel(w), md5_digest="c" * 32), 400, "does not match"),
    "sha256 not hex": (lambda w: _up(w, _wheel(w), sha256_digest="z" * 64), 400, "SHA256"),
    # -- filenames --
    "slash in filename": (
        lambda w: _up(w, _wheel(w), filename="../victim-2.0-py3-none-any.whl"),
        400,
        "'/'",
    ),
    "backslash in filename": (
        lambda w: _up(w, _wheel(w), filename="..\\victim-2.0-py3-none-any.whl"),
        400,
        "'/'",
    ),
    "control character in filename": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3-none-any\x01.whl"),
        400,
        "Cannot upload a file with",
    ),
    "wrong extension": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0.exe"),
        400,
        "Invalid file extension",
    ),
    "egg": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3.11.egg"),
        400,
        "Invalid file extension",
    ),
    "unparseable wheel name": (
        lambda w: _up(w, _wheel(w), filename="victim.whl"),
        400,
        "victim.whl",
    ),
    "wheel of another project": (
        lambda w: _up(w, _wheel(w, "other-project"), name="victim"),
        400,
        "should contain the normalized project name 'victim'",
    ),
    "version differs from filename": (
        lambda w: _up(w, _wheel(w, "victim", "3.0"), version="2.0"),
        400,
        "ersion",
    ),
    "sdist name not PEP 625": (
        lambda w: _up(w, _sdist(w), filename="Victim-2.0.tar.gz"),
        400,
        "victim-2.0.tar.gz",
    ),
    "markup in a wheel tag": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3-none<script>-any.whl"),
        400,
        "Filename 'victim-2.0-py3-none<script>-any.whl' is invalid:",
    ),
    "space in a wheel tag": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3-no ne-any.whl"),
        400,
        "'victim-2.0-py3-no ne-any.whl'",
    ),
    "non-Latin-1 wheel tag": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3-\u4e2d-any.whl"),
        400,
        "is invalid:",
    ),
    "semicolon in a wheel tag": (
        lambda w: _up(w, _wheel(w), filename="victim-2.0-py3-none;x=1-any.whl"),
        400,
        "is invalid:",
    ),
    "unsupported platform tag": (
        lambda w: _up(w, _wheel(w, tag="cp311-cp311-linux_x86_64")),
        400,
        "unsupported platform tag 'linux_x86_64'",
    ),
    "filetype does not match file": (
        lambda w: _up(w, _wheel(w), filetype="sdist", pyversion="source"),
        400,
        "",
    ),
    "image content type": (
        lambda w: _up(w, _wheel(w), content_type="image/png"),
        400,
        "Invalid distribution file",
    ),
    # -- archives --
    "empty file": (lambda w: _up(w, _wheel(w), data=b""), 400, "Invalid distribution file"),
    "not a zip": (
        lambda w: _up(w, _wheel(w), data=b"PK\x03\x04 this is not a zip file" * 10),
        400,
        "Invalid distribution file",
    ),
    "truncated wheel": (
        lambda w: _up(w, (p := _wheel(w)), data=p.read_bytes()[:-100]),
        400,
        "Invalid distribution file",
    ),
    "truncated sdist": (
        lambda w: _up(w, (p := _sdist(w)), data=p.read_bytes()[:-60]),
        400,
        "Invalid distribution file",
    ),
    "zip bomb": (_bomb, 400, "Invalid distribution file"),
    "stored member with a wrong CRC": (
        _wrong_crc(zipfile.ZIP_STORED),
        400,
        "Corrupt data in 'victim/blob.bin': Bad CRC-32 for file 'victim/blob.bin'",
    ),
    "deflated member with a wrong CRC": (
        _wrong_crc(zipfile.ZIP_DEFLATED),
        400,
        "Corrupt data in 'victim/blob.bin': Bad CRC-32 for file 'victim/blob.bin'",
    ),
    "dotdot member": (
        _with_member("victim/../../../etc/cron.d/evil"),
        400,
        "Invalid distribution file",
    ),
    "absolute member": (_with_member("/etc/cron.d/evil"), 400, "Invalid distribution file"),
    "zip symlink": (
        lambda w: _crafted_wheel(w, _wheel_members(), symlink="victim/link"),
        400,
        "Invalid distribution file",
    ),
    "bzip2 member": (
        lambda w: _crafted_wheel(w, _wheel_members(), compression=zipfile.ZIP_BZIP2),
        400,
        "Invalid distribution file",
    ),
    "wheel without RECORD": (_without("RECORD"), 400, "Invalid distribution file"),
    "wheel without WHEEL": (_without("/WHEEL"), 400, "Invalid distribution file"),
    "wheel without METADATA": (_without("METADATA"), 400, "Invalid distribution file"),
    "sdist without PKG-INFO": (
        lambda w: _crafted_sdist(w, lambda a: _add_file(a, "victim-2.0/setup.py", b"")),
        400,
        "Invalid distribution file",
    ),
    "sdist symlink out": (
        lambda w: _crafted_sdist(w, _symlink_out),
        400,
        "Invalid distribution file",
    ),
    "sdist hardlink out": (
        lambda w: _crafted_sdist(w, _hardlink_out),
        400,
        "Invalid distribution file",
    ),
    "sdist dotdot member": (
        lambda w: _crafted_sdist(w, _dotdot_sdist),
        400,
        "Invalid distribution file",
    ),
    "metadata names another project": (
        lambda w: _crafted_wheel(
            w,
            {
                **_wheel_members(),
                "victim-2.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: other\nVersion: 2.0\n",
            },
        ),
        400,
        "Invalid distribution file",
    ),
    "metadata has another version": (
        lambda w: _crafted_wheel(
            w,
            {
                **_wheel_members(),
                "victim-2.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: victim\nVersion: 9\n",
            },
        ),
        400,
        "Invalid distribution file",
    ),
    # -- reuse --
    "same filename, other bytes": (
        lambda w: _up(w, _wheel(w, "victim", "1.0", files={"victim/x.py": b"1"}), version="1.0"),
        400,
        "File already exists ('victim-1.0-py3-none-any.whl'",
    ),
    "same bytes, other filename": (
        lambda w: _up(
            w, w.existing_wheel, filename="victim-1.0-py2.py3-none-any.whl", version="1.0"
        ),
        400,
        "File already exists",
    ),
    "deleted filename": (
        lambda w: _up(w, _wheel(w, "victim", "0.9", files={"victim/y.py": b"2"}), version="0.9"),
        400,
        "previously used by a file that has since been deleted",
    ),
    "deleted wheel's version spelt another way": (
        lambda w: _up(
            w, _wheel(w, "victim", "0.9.0", files={"victim/z.py": b"3"}), version="0.9.0"
        ),
        400,
        REUSED,
    ),
    "deleted sdist's version spelt another way": (
        lambda w: _up(w, _sdist(w, "victim", "0.9.0", files={"z.py": b"3"}), version="0.9.0"),
        400,
        REUSED,
    ),
    "live wheel's version spelt another way": (
        lambda w: _up(w, _wheel(w, "victim", "1.0.0", files={"victim/z.py": b"4"}), version="1.0"),
        400,
        REUSED,
    ),
    "live wheel's tags in another order": (
        lambda w: _up(
            w,
            _wheel(w, "victim", "1.0", tag="py3-none-any", files={"victim/z.py": b"5"}),
            filename="victim-1.0-py3.py3-none-any.whl",
            version="1.0",
        ),
        400,
        REUSED,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_rejected_and_nothing_changes(world: World, case: str) -> None:
    make, status, message = CASES[case]
    before = snapshot(world.index)
    answer = make(world)
    assert answer.status == status, (answer.status, answer.reason, answer.text)
    assert message in answer.reason, answer.reason
    assert message in answer.text
    assert snapshot(world.index) == before


def test_a_build_tag_makes_a_new_distribution(world: World) -> None:
    """Finding 12's key keeps the build tag: a rebuilt wheel of a live release is accepted
    (what build tags are for), and its own key is burnt in turn."""
    rebuilt = _wheel(world, "victim", "1.0", files={"victim/rebuilt.py": b"1"})
    answer = _up(world, rebuilt, filename="victim-1.0-1-py3-none-any.whl", version="1.0")
    assert answer.status == 200, answer.reason
    again = _wheel(world, "victim", "1.0.0", files={"victim/rebuilt.py": b"2"})
    before = snapshot(world.index)
    answer = _up(world, again, filename="victim-1.0.0-1-py3-none-any.whl", version="1.0.0")
    assert (answer.status, answer.reason.startswith(REUSED)) == (400, True), answer.reason
    assert "'victim-1.0-1-py3-none-any.whl'" in answer.reason
    assert snapshot(world.index) == before


def test_a_wheel_the_stream_cannot_follow_is_read_again(world: World) -> None:
    """A valid wheel whose first member inflates past what the upload's stream may spend before
    the rest has arrived (65 MiB of zeros, the ratio allowed only by the 1.5 MB after it): the
    stream stops following, the check after it reads the archive, the wheel is accepted; the
    same wheel with one byte of its last member damaged is refused."""
    members = {
        "unfollowed/zeros.bin": bytes(65 * 1024 * 1024),
        "unfollowed/blob.bin": os.urandom(1_500_000),
        **_wheel_members("unfollowed", "1.0"),
    }
    data = bytearray(_zip_bytes(members))
    path = world.tmp / "unfollowed-1.0-py3-none-any.whl"
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        blob = archive.getinfo("unfollowed/blob.bin")
    damaged = bytearray(data)
    damaged[blob.header_offset + 30 + len("unfollowed/blob.bin") + len(blob.extra) + 999] ^= 1
    path.write_bytes(bytes(damaged))
    before = snapshot(world.index)
    answer = _up(world, path, name="unfollowed", version="1.0")
    assert answer.status == 400, answer.reason
    assert "Corrupt data in 'unfollowed/blob.bin'" in answer.reason
    assert snapshot(world.index) == before
    path.write_bytes(bytes(data))
    answer = _up(world, path, name="unfollowed", version="1.0")
    assert answer.status == 200, answer.reason


def test_at_least_forty_distinct_cases() -> None:
    assert len(CASES) >= 40


def test_error_as_json_when_asked(world: World) -> None:
    fields, files = _valid_form(world)
    body, content_type = multipart(
        [f for f in fields if f[0] != "sha256_digest"] + [("sha256_digest", "a" * 64)], files
    )
    answer = request(
        world.index,
        "POST",
        "/legacy/",
        body,
        {
            "Content-Type": content_type,
            "Authorization": basic(world.alice),
            "Accept": "application/json",
        },
    )
    assert answer.status == 400
    document = json.loads(answer.body)
    assert document["code"].startswith("400 The digest supplied does not match")
    assert document["title"] == "Bad Request"


def test_file_too_large(tmp_path: Path, backend: Backend) -> None:
    server = start_index(tmp_path / "data", "--max-upload-size", "1MiB", backend=backend)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        big = build_wheel(
            tmp_path / "big", "bigfile", "1.0", files={"bigfile/blob.bin": os.urandom(1536 * 1024)}
        )
        before = snapshot(server)
        answer = upload_file(server, token, big, "bigfile", "1.0")
        assert answer.status == 400
        assert answer.reason == "File too large. Limit for project 'bigfile' is 1 MB."
        assert snapshot(server) == before
    finally:
        server.stop()
