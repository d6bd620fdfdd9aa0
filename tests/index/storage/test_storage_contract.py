"""One storage interface, two implementations: local files and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import PYTHON
from tests.services import SeaweedServer
from trustyard.errors import ConfigurationError, InvalidInput
from trustyard.index.storage.base import IMMUTABLE, Storage
from trustyard.index.storage.local import LocalStorage
from trustyard.index.storage.s3 import (
    MULTIPART_THRESHOLD,
    S3Storage,
    StorageUnavailable,
    parse_s3_url,
)

KEY = "ab/cd/ef0123/demo-1.0-py3-none-any.whl"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "files", tmp_path / "tmp")
    else:
        server: SeaweedServer = request.getfixturevalue("seaweedfs")
        store = S3Storage(server.new_prefix(), tmp_path / "tmp")
        store.check()
        yield store


def spooled(storage: Storage, data: bytes) -> Path:
    fd, path = storage.spool_file()
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def read(storage: Storage, key: str) -> bytes:
    local = storage.local_path(key)
    if local is not None:
        return local.read_bytes()
    url = storage.download_url(key, key.rsplit("/", 1)[-1])
    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
        return body


def test_put_consumes_the_spool_and_never_overwrites(storage: Storage) -> None:
    first = spooled(storage, b"first bytes")
    assert storage.put(KEY, first) is True
    assert not first.exists()
    second = spooled(storage, b"other bytes")
    assert storage.put(KEY, second) is False  # a key is written once
    assert not second.exists()
    assert read(storage, KEY) == b"first bytes"
    assert storage.exists(KEY)
    assert storage.keys() == {KEY}


def test_put_deferred_replaces_without_checking_then_sync(storage: Storage) -> None:
    """The bulk path of ``admin import``: placed without a check, one flush at the end; a key
    already there (damaged bytes, say) now holds what the import verified."""
    first = spooled(storage, b"damaged bytes")
    assert storage.put(KEY, first) is True
    second = spooled(storage, b"verified bytes")
    storage.put_deferred(KEY, second)
    assert not second.exists()
    storage.put_deferred(KEY + ".metadata", spooled(storage, b"Metadata-Version: 2.1\n"))
    storage.sync()
    assert read(storage, KEY) == b"verified bytes"
    assert read(storage, KEY + ".metadata") == b"Metadata-Version: 2.1\n"
    assert storage.keys() == {KEY, KEY + ".metadata"}


def test_put_bytes_delete_and_keys(storage: Storage) -> None:
    assert storage.put_bytes(KEY + ".metadata", b"Metadata-Version: 2.1\n") is True
    assert storage.put_bytes(KEY + ".metadata", b"changed") is False
    assert read(storage, KEY + ".metadata") == b"Metadata-Version: 2.1\n"
    storage.delete(KEY + ".metadata")
    storage.delete(KEY + ".metadata")  # a missing key is not an error
    assert not storage.exists(KEY + ".metadata")
    assert storage.keys() == set()


def test_inventory_lists_every_key_with_its_size_and_write_time(storage: Storage) -> None:
    """What the orphan sweep measures its grace period against: mtime, or S3 LastModified."""
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    assert list(storage.inventory()) == []
    storage.put_bytes(KEY, b"x" * 1234)
    storage.put_bytes(KEY + ".metadata", b"Metadata-Version: 2.1\n")
    listed = {stored.key: stored for stored in storage.inventory()}
    assert set(listed) == {KEY, KEY + ".metadata"} == storage.keys()
    assert listed[KEY].size == 1234
    assert listed[KEY + ".metadata"].size == len(b"Metadata-Version: 2.1\n")
    for stored in listed.values():
        assert stored.modified.tzinfo is not None
        assert before <= stored.modified <= datetime.now(UTC)


def test_s3_inventory_reads_every_page(seaweedfs: SeaweedServer, tmp_path: Path) -> None:
    """ListObjectsV2 answers 1,000 keys at most per page; the listing follows the pages."""
    store = S3Storage(seaweedfs.new_prefix(), tmp_path / "tmp")
    bucket, prefix = parse_s3_url(store.url)
    client = seaweedfs.client()
    keys = {f"ab/cd/{i:060x}/demo-1.0.tar.gz" for i in range(1005)}
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda k: client.put_object(Bucket=bucket, Key=f"{prefix}/{k}", Body=b"x"), keys
            )
        )
    assert {stored.key for stored in store.inventory()} == keys


def test_local_inventory_ignores_symbolic_links(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "files", tmp_path / "tmp")
    store.put_bytes(KEY, b"bytes")
    (tmp_path / "elsewhere").write_bytes(b"not the store's")
    (tmp_path / "files" / "link").symlink_to(tmp_path / "elsewhere")
    assert [stored.key for stored in store.inventory()] == [KEY]


def test_sweep_removes_unfinished_uploads(storage: Storage) -> None:
    spooled(storage, b"half an upload")
    spooled(storage, b"another")
    assert storage.sweep_temporary() == 2
    assert storage.sweep_temporary() == 0


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a\\b", ""])
def test_keys_cannot_escape(storage: Storage, key: str) -> None:
    if key == "" and isinstance(storage, LocalStorage):
        return  # the local store's root itself; never a key the index produces
    with pytest.raises(InvalidInput):
        storage.exists(key)


@pytest.mark.parametrize("size", [14, MULTIPART_THRESHOLD + 1], ids=["put-object", "multipart"])
@pytest.mark.parametrize("deferred", [False, True], ids=["put", "put-deferred"])
def test_s3_objects_carry_immutable_headers_and_a_download_name(
    seaweedfs: SeaweedServer, tmp_path: Path, size: int, deferred: bool
) -> None:
    store = S3Storage(seaweedfs.new_prefix(), tmp_path / "tmp")
    data = os.urandom(size)
    if deferred:
        store.put_deferred(KEY, spooled(store, data))
    else:
        assert store.put(KEY, spooled(store, data)) is True
    url = store.download_url(KEY, "demo-1.0-py3-none-any.whl")
    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Cache-Control"] == IMMUTABLE
        assert answer.headers["Content-Type"] == "application/zip"
        assert 'filename="demo-1.0-py3-none-any.whl"' in answer.headers["Content-Disposition"]
        assert answer.read() == data
    # The prefix is honoured: the object sits under it in the bucket, and only there.
    bucket, prefix = parse_s3_url(store.url)
    listed = seaweedfs.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    assert [item["Key"] for item in listed.get("Contents", [])] == [f"{prefix}/{KEY}"]


def test_s3_wrong_credentials_and_missing_bucket(
    seaweedfs: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StorageUnavailable, match=r"cannot use the bucket s3://no-such-bucket/x"):
        S3Storage("s3://no-such-bucket/x", tmp_path / "tmp").check()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(StorageUnavailable, match=r"cannot use the bucket s3://trustyard-test/x"):
        S3Storage("s3://trustyard-test/x", tmp_path / "tmp").check()


@pytest.mark.parametrize("url", ["s3:/bucket", "http://bucket/x", "s3://bucket/x?y=1"])
def test_bad_storage_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="storage must look like s3://BUCKET/PREFIX"):
        S3Storage(url, tmp_path)


def test_cli_reports_an_unusable_bucket_in_one_line(
    seaweedfs: SeaweedServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    env["AWS_ACCESS_KEY_ID"] = "nobody-knows-me"
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "trustyard",
            "admin",
            "project",
            "create",
            "demo",
            "--owner",
            "alice",
            "--data",
            str(tmp_path / "data"),
            "--storage",
            "s3://trustyard-test/pkgs",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trustyard: error: cannot use the bucket s3://trustyard-test/pkgs:")
    assert "403" in lines[0] or "InvalidAccessKeyId" in lines[0] or "Forbidden" in lines[0]


def test_read_to_copies_the_stored_bytes(storage: Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    assert storage.put_bytes(KEY, data) is True
    storage.read_to(KEY, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == data


def test_stream_relays_whole_objects_and_single_ranges(storage: Storage) -> None:
    data = bytes(range(256)) * 40
    storage.put_bytes(KEY, data)
    whole = storage.stream(KEY, None)
    if isinstance(storage, LocalStorage):
        assert whole is None  # served from local_path instead
        return
    assert whole is not None
    assert whole.status == 200
    assert whole.headers["Content-Length"] == str(len(data))
    assert b"".join(whole.chunks) == data
    part = storage.stream(KEY, "bytes=100-199")
    assert part is not None
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.chunks) == data[100:200]
    head = storage.stream(KEY, None, body=False)
    assert head is not None
    assert head.headers["Content-Length"] == str(len(data))
    assert list(head.chunks) == []
    beyond = storage.stream(KEY, f"bytes={len(data)}-")
    assert beyond is not None
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
