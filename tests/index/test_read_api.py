"""The read side over HTTP: simple API (PEP 503/691/700/592/658/714), files, JSON API."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import boto3
import pytest
from botocore.config import Config

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import download, request, upload_file
from tests.services import Backend, parse_bucket_url

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def published(
    index: IndexServer, uploader: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """``Read_Api`` 1.0 (wheel + sdist), 1.1 (wheel, requires-python), 2.0rc1 (wheel)."""
    tmp = tmp_path_factory.mktemp("published")
    files = {
        "w10": build_wheel(tmp, "read-api", "1.0"),
        "s10": build_sdist(tmp, "read-api", "1.0"),
        "w11": build_wheel(tmp, "read-api", "1.1", metadata_extra="Requires-Python: >=3.9\n"),
        "w20": build_wheel(tmp, "read-api", "2.0rc1"),
    }
    for key, path in files.items():
        version = {"w10": "1.0", "s10": "1.0", "w11": "1.1", "w20": "2.0rc1"}[key]
        extra = {"requires_python": ">=3.9"} if key == "w11" else {}
        answer = upload_file(index, uploader, path, "Read_Api", version, **extra)
        assert answer.status == 200, answer.reason
    return files


def get(index: IndexServer, path: str, **headers: str):  # type: ignore[no-untyped-def]
    return request(index, "GET", path, headers=headers)


def test_project_page_json_shape(index: IndexServer, published: dict[str, Path]) -> None:
    answer = get(index, "/simple/read-api/", Accept=JSON)
    assert answer.status == 200
    assert answer.headers["content-type"] == JSON
    assert answer.headers["vary"] == "Accept, Accept-Encoding, Authorization"
    page = json.loads(answer.body)
    assert page["meta"]["api-version"] == "1.4"
    assert page["meta"]["_last-serial"] == int(answer.headers["x-pypi-last-serial"])
    assert page["name"] == "read-api"
    assert page["versions"] == ["1.0", "1.1", "2.0rc1"]
    by_name = {f["filename"]: f for f in page["files"]}
    assert set(by_name) == {p.name for p in published.values()}
    wheel = by_name[published["w11"].name]
    data = published["w11"].read_bytes()
    assert wheel["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert wheel["size"] == len(data)
    assert wheel["requires-python"] == ">=3.9"
    assert wheel["yanked"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", wheel["upload-time"])
    assert wheel["core-metadata"] == wheel["data-dist-info-metadata"]
    assert set(wheel["core-metadata"]) == {"sha256"}
    assert by_name[published["s10"].name]["core-metadata"] is False
    assert wheel["provenance"] is None


def test_project_page_html_shape(index: IndexServer, published: dict[str, Path]) -> None:
    answer = get(index, "/simple/read-api/")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert '<meta name="pypi:project-status" content="active">' in html
    assert re.search(r"<!--SERIAL \d+-->", html)
    wheel = published["w11"]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    anchor = re.search(
        rf'<a href="([^"]+)#sha256={digest}"([^>]*)>{re.escape(wheel.name)}</a>', html
    )
    assert anchor, html
    assert 'data-requires-python="&gt;=3.9"' in anchor.group(2)
    assert 'data-core-metadata="sha256=' in anchor.group(2)
    assert "data-yanked" not in anchor.group(2)
    # v1+html is the same document under its own media type
    v1 = get(index, "/simple/read-api/", Accept="application/vnd.pypi.simple.v1+html")
    assert v1.headers["content-type"].startswith("application/vnd.pypi.simple.v1+html")
    assert v1.body == answer.body


def test_non_normalized_name_redirects(index: IndexServer, published: dict[str, Path]) -> None:
    for spelling in ("Read_Api", "READ.API", "read--api"):
        answer = get(index, f"/simple/{spelling}/")
        assert answer.status == 301
        assert answer.headers["location"] == "/simple/read-api/"
    assert get(index, "/simple/read-api").status == 301


def test_unknown_project_is_404(index: IndexServer) -> None:
    assert get(index, "/simple/no-such-project/").status == 404
    assert get(index, "/simple/%00bad/").status == 404


def test_etag_and_304(index: IndexServer, published: dict[str, Path]) -> None:
    first = get(index, "/simple/read-api/", Accept=JSON)
    etag = first.headers["etag"]
    again = get(index, "/simple/read-api/", Accept=JSON, **{"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    html = get(index, "/simple/read-api/", **{"If-None-Match": etag})
    assert html.status == 200  # another representation, another ETag


def test_yank_shows_in_both_formats_and_bumps_serial(
    index: IndexServer, published: dict[str, Path]
) -> None:
    before = get(index, "/simple/read-api/", Accept=JSON)
    index.cli("admin", "project", "yank", "read-api", "1.1", "--reason", "bad <build>")
    after = get(index, "/simple/read-api/", Accept=JSON)
    assert int(after.headers["x-pypi-last-serial"]) > int(before.headers["x-pypi-last-serial"])
    assert after.headers["etag"] != before.headers["etag"]
    files = {f["filename"]: f for f in json.loads(after.body)["files"]}
    assert files[published["w11"].name]["yanked"] == "bad <build>"
    assert files[published["w10"].name]["yanked"] is False
    assert 'data-yanked="bad &lt;build&gt;"' in get(index, "/simple/read-api/").text
    index.cli("admin", "project", "unyank", "read-api", "1.1")
    files = {
        f["filename"]: f
        for f in json.loads(get(index, "/simple/read-api/", Accept=JSON).body)["files"]
    }
    assert files[published["w11"].name]["yanked"] is False
    # One yank function for the CLI and the pages: unyanking what is not yanked is refused.
    again = index.cli("admin", "project", "unyank", "read-api", "1.1", check=False)
    assert (again.returncode, "1.1 is not yanked" in again.stderr) == (1, True), again.stderr


def test_index_page(index: IndexServer, published: dict[str, Path]) -> None:
    page = json.loads(get(index, "/simple/", Accept=JSON).body)
    assert page["meta"]["api-version"] == "1.4"
    names = {p["name"]: p["_last-serial"] for p in page["projects"]}
    assert "Read_Api" in names  # the display name, as first uploaded
    html = get(index, "/simple/").text
    assert '<a href="read-api/">Read_Api</a>' in html


def _file_url(index: IndexServer, filename: str) -> str:
    page = json.loads(get(index, "/simple/read-api/", Accept=JSON).body)
    url: str = next(f["url"] for f in page["files"] if f["filename"] == filename)
    assert url.startswith("../../files/")
    return url.removeprefix("../..")


def test_files_are_content_addressed_and_immutable(
    index: IndexServer, published: dict[str, Path]
) -> None:
    wheel = published["w10"]
    data = wheel.read_bytes()
    path = _file_url(index, wheel.name)
    blake2 = hashlib.blake2b(data, digest_size=32).hexdigest()
    assert path == f"/files/{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/{wheel.name}"
    answer = download(index, path)
    assert answer.status == 200
    assert answer.body == data
    assert answer.headers["content-length"] == str(len(data))
    assert answer.headers["content-type"] == "application/zip"
    assert "immutable" in answer.headers["cache-control"]
    sdist = download(index, _file_url(index, published["s10"].name))
    assert sdist.body == published["s10"].read_bytes()
    assert "content-encoding" not in sdist.headers  # a .tar.gz must reach pip as it is


def test_range_requests(index: IndexServer, published: dict[str, Path]) -> None:
    data = published["w10"].read_bytes()
    path = _file_url(index, published["w10"].name)
    part = download(index, path, {"Range": "bytes=10-99"})
    assert part.status == 206
    assert part.body == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(data)}"
    tail = download(index, path, {"Range": "bytes=-22"})
    assert tail.body == data[-22:]
    assert download(index, path, {"Range": f"bytes={len(data) + 5}-"}).status == 416
    # pip's lazy wheel (fast-deps) needs a 200 to its HEAD, which it does not redirect.
    head = request(index, "HEAD", path)
    assert (head.status, head.headers["accept-ranges"], head.headers["content-length"]) == (
        200,
        "bytes",
        str(len(data)),
    )


def test_core_metadata_file(index: IndexServer, published: dict[str, Path]) -> None:
    page = json.loads(get(index, "/simple/read-api/", Accept=JSON).body)
    entry = next(f for f in page["files"] if f["filename"] == published["w10"].name)
    metadata = download(index, entry["url"].removeprefix("../..") + ".metadata")
    assert metadata.status == 200
    assert hashlib.sha256(metadata.body).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Name: read-api" in metadata.body
    sdist = next(f for f in page["files"] if f["filename"] == published["s10"].name)
    assert download(index, sdist["url"].removeprefix("../..") + ".metadata").status == 404


def test_unknown_and_hostile_file_paths(index: IndexServer, published: dict[str, Path]) -> None:
    for path in (
        "/files/aa/bb/cc/nothing.whl",
        "/files/../trustyard.sqlite3",
        "/files/%2e%2e/trustyard.sqlite3",
        "/files/",
        "/files/aa/../../trustyard.sqlite3",
    ):
        assert get(index, path).status == 404, path


def test_json_api_project(index: IndexServer, published: dict[str, Path]) -> None:
    answer = get(index, "/pypi/Read_Api/json")
    assert answer.status == 200
    document = json.loads(answer.body)
    assert set(document) == {
        "info",
        "last_serial",
        "project-status",  # PEP 792, as PyPI's JSON API carries it
        "releases",
        "urls",
        "vulnerabilities",
    }
    assert document["project-status"] == {"status": "active"}
    assert document["info"]["name"] == "Read_Api"
    assert document["info"]["version"] == "1.1"  # the newest final release, not 2.0rc1
    assert set(document["releases"]) == {"1.0", "1.1", "2.0rc1"}
    entry = next(f for f in document["releases"]["1.0"] if f["packagetype"] == "sdist")
    data = published["s10"].read_bytes()
    assert entry["digests"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "blake2b_256": hashlib.blake2b(data, digest_size=32).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),  # noqa: S324 - PyPI's JSON API lists md5
    }
    assert entry["url"].startswith(index.url + "/files/")
    assert entry["size"] == len(data)
    assert document["last_serial"] == int(answer.headers["x-pypi-last-serial"])


def test_json_api_release_and_redirects(index: IndexServer, published: dict[str, Path]) -> None:
    document = json.loads(get(index, "/pypi/Read_Api/2.0rc1/json").body)
    assert "releases" not in document
    assert document["info"]["version"] == "2.0rc1"
    assert [u["filename"] for u in document["urls"]] == [published["w20"].name]
    redirect = get(index, "/pypi/read-api/json")
    assert redirect.status == 301
    assert redirect.headers["location"] == "/pypi/Read_Api/json"
    assert get(index, "/pypi/Read_Api/2.0.0rc1/json").status == 301
    missing = get(index, "/pypi/Read_Api/9.9/json")
    assert missing.status == 404
    assert json.loads(missing.body) == {"message": "Not Found"}
    assert get(index, "/pypi/nope/json").status == 404


def test_upload_error_reason_phrase_reaches_the_status_line(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "reason-phrase", "1.0")
    answer = upload_file(index, uploader, wheel, "reason-phrase", "1.0", sha256_digest="0" * 64)
    assert answer.status == 400
    assert (
        answer.reason
        == "The digest supplied does not match a digest calculated from the uploaded file."
    )


def test_identical_reupload_is_200_and_changes_nothing(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "reupload", "1.0")
    assert upload_file(index, uploader, wheel, "reupload", "1.0").status == 200
    serial = get(index, "/simple/reupload/").headers["x-pypi-last-serial"]
    again = upload_file(index, uploader, wheel, "reupload", "1.0")
    assert (again.status, again.body) == (200, b"")
    assert get(index, "/simple/reupload/").headers["x-pypi-last-serial"] == serial


def test_one_sdist_per_release(index: IndexServer, uploader: str, tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "one-sdist", "1.0")
    assert upload_file(index, uploader, sdist, "one-sdist", "1.0").status == 200
    # 1.0.0 is the same release as 1.0 (canonical versions match)
    other = build_sdist(tmp_path / "b", "one-sdist", "1.0.0")
    answer = upload_file(index, uploader, other, "one-sdist", "1.0.0")
    assert answer.status == 400
    assert answer.reason == "Only one sdist may be uploaded per release."


def test_legacy_routes(index: IndexServer) -> None:
    assert request(index, "POST", "/legacy").status == 308
    assert request(index, "POST", "/legacy").headers["location"] == "/legacy/"
    assert get(index, "/legacy/").status == 200


def test_license_files_must_be_in_the_archive(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    extra = "License-Expression: MIT\nLicense-File: LICENSE.txt\n"
    fields = {"metadata_version": "2.4", "license_expression": "MIT", "license_file": "LICENSE.txt"}
    missing = build_wheel(tmp_path / "a", "licensed", "1.0", metadata_extra=extra)
    answer = upload_file(index, uploader, missing, "licensed", "1.0", **fields)
    assert answer.status == 400
    assert (
        answer.reason
        == f"License-File LICENSE.txt does not exist in distribution file {missing.name}"
    )
    present = build_wheel(
        tmp_path / "b",
        "licensed",
        "1.0",
        metadata_extra=extra,
        files={"licensed-1.0.dist-info/licenses/LICENSE.txt": b"MIT"},
    )
    assert upload_file(index, uploader, present, "licensed", "1.0", **fields).status == 200
    sdist = build_sdist(
        tmp_path / "c", "licensed", "1.0", metadata_extra=extra, files={"LICENSE.txt": b"MIT"}
    )
    assert upload_file(index, uploader, sdist, "licensed", "1.0", **fields).status == 200


# -- issue 14: what the index shows is what it stores and what installers get -----------------


def test_version_is_stored_normalised(index: IndexServer, uploader: str, tmp_path: Path) -> None:
    """Finding 11: PyPI stores ``str(Version)`` (warehouse forklift: ``version=str(meta.version)``),
    so a release uploaded as ``V3.0.0`` is 3.0.0 everywhere."""
    wheel = build_wheel(tmp_path, "norm-version", "3.0.0")
    answer = upload_file(index, uploader, wheel, "norm-version", "V3.0.0")
    assert answer.status == 200, answer.reason
    document = json.loads(get(index, "/pypi/norm-version/json").body)
    assert document["info"]["version"] == "3.0.0"
    assert list(document["releases"]) == ["3.0.0"]
    page = json.loads(get(index, "/simple/norm-version/", Accept=JSON).body)
    assert page["versions"] == ["3.0.0"]
    assert index.query(
        "SELECT r.version FROM releases r JOIN projects p ON p.id = r.project_id"
        " WHERE p.normalized_name = 'norm-version'"
    ) == [("3.0.0",)]


def test_shown_dependencies_are_the_files_own(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    """Finding 14: the JSON API and the project page show the dependencies installers read. An
    sdist of Metadata-Version 2.1 vouches for nothing (its form is all there is); the first
    wheel's METADATA then gives the release's dependencies, and each file's
    ``requires-python`` is its own."""
    sdist = build_sdist(tmp_path, "shown-deps", "1.0", metadata_version="2.1")
    assert upload_file(index, uploader, sdist, "shown-deps", "1.0").status == 200
    wheel = build_wheel(
        tmp_path,
        "shown-deps",
        "1.0",
        metadata_extra="Requires-Dist: needed-dependency>=2\nRequires-Python: >=3.10\n",
    )
    answer = upload_file(
        index,
        uploader,
        wheel,
        "shown-deps",
        "1.0",
        requires_dist="needed-dependency>=2",
        requires_python=">=3.10",
    )
    assert answer.status == 200, answer.reason
    info = json.loads(get(index, "/pypi/shown-deps/json").body)["info"]
    assert info["requires_dist"] == ["needed-dependency>=2"]
    assert info["requires_python"] == ">=3.10"
    page = json.loads(get(index, "/simple/shown-deps/", Accept=JSON).body)
    by_name = {f["filename"]: f for f in page["files"]}
    assert by_name[wheel.name]["requires-python"] == ">=3.10"
    assert by_name[sdist.name].get("requires-python") is None
    html = get(index, "/project/shown-deps/").text
    assert "needed-dependency&gt;=2" in html or "needed-dependency>=2" in html


# Legacy catalogue rows: filenames the upload checks accepted before finding 15 was fixed.
HOSTILE_NAMES = [
    "legacy_names-1.0-py3-\u4e2d\u6587-any.whl",  # not Latin-1: a 500 on the S3 stream path
    'legacy_names-1.0-py3-a"b; filename=evil.exe-any.whl',  # would break out of the quotes
    "legacy_names-1.0-py3-na\u00efve-any.whl",  # Latin-1 but not ASCII
]


def _place_legacy_file(server: IndexServer, filename: str) -> str:
    """Put a file row and its bytes in place behind the index's back; return its URL path."""
    data = b"legacy bytes of " + filename.encode()
    blake2 = hashlib.blake2b(data, digest_size=32).hexdigest()
    key = f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/{filename}"
    if server.storage is None:
        target = server.data / "files" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    else:
        bucket, prefix = parse_bucket_url(server.storage)
        client = boto3.session.Session().client(
            "s3", config=Config(s3={"addressing_style": "path"})
        )
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}" if prefix else key, Body=data)
    (release_id,) = server.query(
        "SELECT r.id FROM releases r JOIN projects p ON p.id = r.project_id"
        " WHERE p.normalized_name = 'legacy-names'"
    )[0]
    server.execute(
        "INSERT INTO files (release_id, filename, filetype, python_version, size, sha256,"
        " blake2_256, md5, path, upload_time)"
        " VALUES (:release, :filename, 'bdist_wheel', 'py3', :size, :sha256, :blake2, :md5,"
        " :path, :now)",
        release=release_id,
        filename=filename,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        blake2=blake2,
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - the catalogue's column
        path=key,
        now=datetime.now(UTC).replace(tzinfo=None),
    )
    return "/files/" + quote(key)


def _disposition_names(value: str) -> str | None:
    """The filename a client takes from a Content-Disposition: ``filename*`` (RFC 8187) when
    present, as RFC 6266 4.3 tells recipients, else the quoted ``filename``."""
    extended = re.search(r"; filename\*=UTF-8''([A-Za-z0-9%._!~*'()-]+)$", value)
    if extended:
        return unquote(extended.group(1), errors="strict")
    plain = re.fullmatch(r'attachment; filename="([^"\\]*)"', value)
    return plain.group(1) if plain else None


@pytest.mark.parametrize("mode", ["default", "stream-or-accel"])
def test_content_disposition_names_any_stored_file_correctly(
    tmp_path: Path, backend: Backend, mode: str
) -> None:
    """Finding 15: every way a file leaves the index (sent here, relayed from S3, handed to
    nginx, redirected to S3) names it with one RFC 6266 header: quoted, ``filename*`` (RFC 8187)
    for what is not plain ASCII; never a 500, never a name that breaks out of its quotes."""
    data = tmp_path / "data"
    data.mkdir()
    extra: tuple[str, ...] = ()
    if mode != "default":
        if backend.seaweedfs:
            (data / "trustyard.toml").write_text('s3-serve = "stream"\n')
        else:
            extra = ("--accel-redirect", "/internal/")
    server = start_index(data, *extra, backend=backend)
    try:
        server.create_user("alice")
        wheel = build_wheel(tmp_path, "legacy-names", "1.0")
        token = server.create_token("alice")
        assert upload_file(server, token, wheel, "legacy-names", "1.0").status == 200
        names = [*HOSTILE_NAMES, wheel.name]
        paths = {name: _place_legacy_file(server, name) for name in HOSTILE_NAMES}
        (stored,) = server.query("SELECT path FROM files WHERE filename = :f", f=wheel.name)
        paths[wheel.name] = "/files/" + quote(str(stored[0]))
        for name in names:
            for method in ("GET", "HEAD"):
                answer = (
                    download(server, paths[name])
                    if method == "GET"
                    else request(server, "HEAD", paths[name])
                )
                assert answer.status == 200, (name, method, answer.status, answer.text)
                value = answer.headers["content-disposition"]
                assert value.isascii(), value
                assert value.startswith("attachment; filename="), value
                assert _disposition_names(value) == name, (value, name)
                if name == wheel.name:
                    assert value == f'attachment; filename="{name}"'
    finally:
        server.stop()
