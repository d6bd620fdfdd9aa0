"""``services/upload_limits.py`` and ``services/ratelimits.py`` in-process: the per-file and
per-project size limits (and an admin's raised ones), the searches and sign-ins that are
counted per address and per account, and the mint limit per publisher."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.dists.builders import build_wheel
from tests.index.conftest import PASSWORD, LocalBrowser, LocalIndex
from trustyard.errors import InvalidInput
from trustyard.index.services import projects, ratelimits, upload_limits
from trustyard.settings import KiB, MiB


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, portal: BlockingPortal) -> Iterator[LocalIndex]:
    """An index that takes files up to 1 MiB, and 2 MiB per project; a user ``lim``."""
    index = LocalIndex(
        tmp_path_factory.mktemp("limits") / "data",
        portal,
        max_upload_size=1 * MiB,
        max_project_size=2 * MiB,
        search_rate_per_address="2/1h",
        sign_in_rate_per_account_address="1/1h",
    )
    index.create_user("lim")
    yield index
    index.close()


def _wheel(tmp: Path, name: str, version: str, size: int) -> Path:
    return build_wheel(
        tmp / f"{name}-{version}", name, version, files={"blob.bin": os.urandom(size)}
    )


def test_file_and_project_limits(small: LocalIndex, tmp_path: Path) -> None:
    token = small.create_token("lim")
    big = small.upload(token, _wheel(tmp_path, "lim-big", "1.0", 1100 * KiB))
    assert big.status_code == 400
    assert "1 MB" in big.text
    for version in ("1.0", "2.0"):
        answer = small.upload(token, _wheel(tmp_path, "lim-fill", version, 900 * KiB))
        assert answer.status_code == 200, answer.text
    full = small.upload(token, _wheel(tmp_path, "lim-fill", "3.0", 900 * KiB))
    assert full.status_code == 400
    assert "total size" in full.text.lower() or "project" in full.text.lower()
    with small.db.write() as session:
        limits = upload_limits.set_project_limits(
            session,
            small.settings,
            "lim-fill",
            upload_limit="2",
            total_size_limit="1",
            actor=None,
        )
    assert limits.describe()
    with small.db.read() as session:
        assert projects.get_project(session, "lim-fill").upload_limit == 2 * MiB
    assert upload_limits.upload_ceiling(small.db, small.settings) == 2 * MiB
    assert small.upload(token, _wheel(tmp_path, "lim-fill", "3.0", 900 * KiB)).status_code == 200
    assert small.upload(token, _wheel(tmp_path, "lim-fill", "4.0", 1500 * KiB)).status_code == 200
    with small.db.write() as session:
        upload_limits.set_project_limits(
            session,
            small.settings,
            "lim-fill",
            upload_limit="default",
            total_size_limit="default",
            actor="root",
        )
        project = projects.get_project(session, "lim-fill")
        assert project.upload_limit is None
        assert upload_limits.project_total_size(session, project) > 3 * MiB


@pytest.mark.parametrize(
    ("upload_limit", "total", "message"),
    [
        ("lots", None, "whole number"),
        ("0", None, "less than"),
        ("999999", None, "greater than"),
        (None, "0", "less than"),
        ("x", "y", "--total-size-limit"),
    ],
)
def test_bad_limits(
    small: LocalIndex, upload_limit: str | None, total: str | None, message: str
) -> None:
    name = f"lim-bad-{upload_limit}-{total}"
    with small.db.write() as session:
        projects.create_project(session, name, owner="lim")
    with small.db.write() as session, pytest.raises(InvalidInput, match=message):
        upload_limits.set_project_limits(
            session,
            small.settings,
            name,
            upload_limit=upload_limit,
            total_size_limit=total,
            actor=None,
        )


def test_limits_of_a_missing_project(small: LocalIndex) -> None:
    with small.db.write() as session, pytest.raises(InvalidInput, match="no project"):
        upload_limits.set_project_limits(
            session, small.settings, "lim-none", upload_limit="2", total_size_limit=None, actor=None
        )


def test_searches_are_counted_per_address(small: LocalIndex) -> None:
    for _ in range(2):
        assert small.get("/search/?q=x").status_code == 200
    limited = small.get("/search/?q=x")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_failed_sign_ins_are_counted(small: LocalIndex) -> None:
    browser = LocalBrowser(small)
    try:
        browser.get("/account/login/")
        wrong = browser.post("/account/login/", {"username": "lim", "password": "nope"})
        assert wrong.status_code == 403
        held = browser.post("/account/login/", {"username": "lim", "password": PASSWORD})
        assert held.status_code == 429
        assert "retry-after" in held.headers
    finally:
        browser.close()


def test_rates_and_refunds(small: LocalIndex) -> None:
    rules = ratelimits.mint_publisher_rules(small.settings, "github:octo/x@issuer")
    counted = ratelimits.hit(small.db, rules, "exchanges", now=1000.0)
    ratelimits.refund(small.db, rules, counted)
    for _ in range(60):
        ratelimits.hit(small.db, rules, "exchanges", now=1000.0)
    with pytest.raises(ratelimits.RateLimited, match="too many exchanges"):
        ratelimits.hit(small.db, rules, "exchanges", now=1000.0)
    # a later window counts afresh
    ratelimits.hit(small.db, rules, "exchanges", now=1000.0 + 3600)
    assert ratelimits.hit(small.db, [], "nothing") >= 0  # no rules: nothing counted
