"""The server process as an operator runs it: options, start-up clean-up, memory, atomicity."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import request, upload_file
from tests.services import Backend


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _reset_hwm(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def test_base_url_makes_file_urls_absolute(tmp_path: Path, backend: Backend) -> None:
    server = start_index(
        tmp_path / "data", "--base-url", "https://pypi.example.com/", backend=backend
    )
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        wheel = build_wheel(tmp_path, "based", "1.0")
        assert upload_file(server, token, wheel, "based", "1.0").status == 200
        page = json.loads(
            request(
                server,
                "GET",
                "/simple/based/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            ).body
        )
        assert page["files"][0]["url"].startswith("https://pypi.example.com/files/")
        redirect = request(server, "GET", "/simple/Based/")
        assert redirect.headers["location"] == "https://pypi.example.com/simple/based/"
        document = json.loads(request(server, "GET", "/pypi/based/json").body)
        assert document["urls"][0]["url"].startswith("https://pypi.example.com/files/")
    finally:
        server.stop()


def test_settings_file_and_environment(tmp_path: Path, backend: Backend) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text('max-upload-size = "1MiB"\n')
    server = start_index(data, backend=backend)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        wheel = build_wheel(
            tmp_path, "limited", "1.0", files={"limited/blob": os.urandom(2 * 1024 * 1024)}
        )
        answer = upload_file(server, token, wheel, "limited", "1.0")
        assert answer.status == 400
        assert answer.reason == "File too large. Limit for project 'limited' is 1 MB."
    finally:
        server.stop()


@pytest.mark.slow
def test_unfinished_uploads_are_swept_and_orphans_never_served(tmp_path: Path) -> None:
    """Embedded default only: the orphan is planted in the local file layout (DATA/files)."""
    data = tmp_path / "data"
    (data / "tmp").mkdir(parents=True)
    leftover = data / "tmp" / "upload-crashed"
    leftover.write_bytes(b"half a wheel")
    # Bytes that reached the store but whose row never committed (a crash between the two).
    orphan = data / "files" / "ab" / "cd" / ("e" * 60) / "orphan-1.0-py3-none-any.whl"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"PK not really")
    server = start_index(data)
    try:
        assert not leftover.exists()
        answer = request(server, "GET", f"/files/ab/cd/{'e' * 60}/orphan-1.0-py3-none-any.whl")
        assert answer.status == 404
    finally:
        server.stop()


def test_upload_memory_does_not_grow_with_file_size(tmp_path: Path, backend: Backend) -> None:
    """A 96 MiB upload streams to disk: the server's peak RSS grows far less than the file."""
    server = start_index(tmp_path / "data", backend=backend)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        small = build_wheel(tmp_path / "s", "memory-probe", "1.0")
        assert upload_file(server, token, small, "memory-probe", "1.0").status == 200
        big = build_wheel(
            tmp_path / "b",
            "memory-probe",
            "2.0",
            files={"memory_probe/blob.bin": os.urandom(96 * 1024 * 1024)},
        )
        pid = server.process.pid
        _reset_hwm(pid)
        baseline = _vm_hwm_kib(pid)
        answer = upload_file(server, token, big, "memory-probe", "2.0")
        assert answer.status == 200, answer.reason
        growth_mib = (_vm_hwm_kib(pid) - baseline) / 1024
        assert growth_mib < 32, f"peak RSS grew by {growth_mib:.0f} MiB for a 96 MiB upload"
    finally:
        server.stop()


def test_several_workers_share_one_catalogue(tmp_path: Path, backend: Backend) -> None:
    server = start_index(tmp_path / "data", "--workers", "2", backend=backend)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        for number in range(4):  # connections land on either worker
            wheel = build_wheel(tmp_path / str(number), "workers", f"1.{number}")
            assert upload_file(server, token, wheel, "workers", f"1.{number}").status == 200
        for _ in range(8):
            page = json.loads(
                request(
                    server,
                    "GET",
                    "/simple/workers/",
                    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                ).body
            )
            assert page["versions"] == ["1.0", "1.1", "1.2", "1.3"]
        refused = upload_file(
            server,
            token,
            build_wheel(tmp_path / "x", "workers", "1.0"),
            "workers",
            "1.0",
            sha256_digest="0" * 64,
        )
        assert refused.reason.startswith("The digest supplied does not match")
        # Both workers came up (the second may still be booting on a loaded machine while
        # the first answered everything above: wait for its line, within a bound).
        deadline = time.monotonic() + 90
        while server.log.read_text().count("Started server process") < 2:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.2)
        assert server.log.read_text().count("Started server process") == 2
    finally:
        server.stop()
