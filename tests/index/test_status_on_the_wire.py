"""PEP 792 statuses as clients on the wire see them (issue 18): ``trustyard serve`` on each
backend, the publishing client that ``trustyard publish``, ``release`` and ``release
add-wheels`` share, and a quarantined file's refusal with the reason in its status line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.index.conftest import request
from trustyard.release.publish import publish_files

NO_CI: dict[str, str] = {}  # no CI environment: a token, never Trusted Publishing


def test_publishing_client_reports_the_status_and_reason(
    index: IndexServer, tmp_path: Path
) -> None:
    index.create_user("wire-olga")
    token = index.create_token("wire-olga")
    first = build_wheel(tmp_path / "a", "wire-demo", "1.0")
    report = publish_files([first], upload_url=index.upload_url, token=token, environ=NO_CI)
    assert report.ok
    index.cli("admin", "project", "status", "wire-demo", "archived", "--reason", "use wire-two")
    second = build_wheel(tmp_path / "b", "wire-demo", "1.1")
    report = publish_files([second], upload_url=index.upload_url, token=token, environ=NO_CI)
    assert not report.ok
    (failed,) = report.with_outcome("failed")
    assert "403" in failed.reason
    assert "Project 'wire-demo' is archived (reason: use wire-two)" in failed.reason
    assert "accepts no new uploads" in failed.reason

    index.cli("admin", "project", "status", "wire-demo", "quarantined", "--reason", "malware")
    answer = request(
        index,
        "GET",
        "/simple/wire-demo/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    listing = json.loads(answer.body)
    assert listing["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert listing["files"] == []
    rows = index.query("SELECT path FROM files")
    refused = request(index, "GET", f"/files/{rows[0][0]}")
    assert refused.status == 403
    assert refused.reason == (
        "Project 'wire-demo' is quarantined (reason: malware): its files are not offered for"
        " download (PEP 792 project status)."
    )
