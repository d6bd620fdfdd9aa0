"""The policy gate on upstream files, end to end in this process (issue 18): the cooldown
hides young files from every listing and answers 403 on their URLs, exceptions let them
through until they expire, the emergency cut-off, ``policy explain``; an injected clock, no
sleeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import UPSTREAM, ProxyIndex
from trustyard.cli.main import main
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.db.models import File, JournalEntry
from trustyard.index.services import policy
from trustyard.index.services.accounts import utcnow
from trustyard.index.upstream.explain import explain

JSON = {"Accept": SIMPLE_V1_JSON}
Wheels = Callable[[str, str], Path]
DAY = timedelta(days=1)
UP = ("--upstream", UPSTREAM)  # the CLI reads the proxy's cache of it (fetched by the test)


def publish(index: LocalIndex, wheel: Path, *, age: timedelta = timedelta(0)) -> None:
    """Upload ``wheel`` to the upstream as alice, dated ``age`` ago (the upstream's own
    upload time, which its pages give as PEP 700 ``upload-time``)."""
    answer = index.upload(index.create_token("alice"), wheel)
    assert answer.status_code == 200, answer.text
    if age:
        with index.db.write() as session:
            session.execute(
                update(File).where(File.filename == wheel.name).values(upload_time=utcnow() - age)
            )


class Clock:
    """The proxy's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def later(self, delta: timedelta) -> None:
        """``delta`` after the wall clock's now. Upload times and exception expiries are set
        by the wall clock when the test makes them, after this clock was made: moving it on
        from its own start fell short of them by however long the test took until then (over a
        second on a loaded machine: the old flake of the exception and cooldown tests)."""
        self.now = utcnow() + delta


@pytest.fixture
def clock(proxy: ProxyIndex) -> Clock:
    c = Clock()
    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.clock = c
    return c


def set_policy(proxy: ProxyIndex, change: Callable[[Any], object]) -> None:
    with proxy.db.write() as session:
        change(session)
    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.forget_policy()


def cooldown(proxy: ProxyIndex, age: timedelta) -> None:
    set_policy(proxy, lambda session: policy.set_min_age(session, age, "test"))


def filenames(proxy: ProxyIndex, name: str) -> list[str]:
    answer = proxy.get(f"/simple/{name}/", headers=JSON)
    assert answer.status_code == 200, answer.text
    return [f["filename"] for f in answer.json()["files"]]


def url_of(upstream: LocalIndex, proxy: ProxyIndex, wheel: Path) -> str:
    """Our URL of ``wheel`` as a lockfile would have pinned it (before any cooldown)."""
    entries = proxy.get(f"/simple/{wheel.name.split('-')[0]}/", headers=JSON).json()["files"]
    (entry,) = [e for e in entries if e["filename"] == wheel.name]
    return str(entry["url"]).removeprefix("../..")


def cli(proxy: ProxyIndex, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*args, "--data", str(proxy.data)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_young_file_is_hidden_everywhere_and_its_urls_answer_403(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels, clock: Clock
) -> None:
    old, young = wheels("coolpkg", "1.0"), wheels("coolpkg", "1.1")
    publish(upstream, old, age=10 * DAY)
    publish(upstream, young)
    pinned = url_of(upstream, proxy, young)  # no cooldown yet: both listed
    cooldown(proxy, 3 * DAY)

    assert filenames(proxy, "coolpkg") == [old.name]
    document = proxy.get("/simple/coolpkg/", headers=JSON).json()
    assert document["versions"] == ["1.0"]
    html = proxy.get("/simple/coolpkg/", headers={"Accept": "text/html"}).text
    assert old.name in html
    assert young.name not in html
    api = proxy.get("/pypi/coolpkg/json").json()
    assert api["info"]["version"] == "1.0"
    assert set(api["releases"]) == {"1.0"}
    assert proxy.get("/pypi/coolpkg/1.1/json").status_code == 404

    for path in (pinned, pinned + ".metadata"):
        refused = proxy.get(path)
        assert refused.status_code == 403, path
        assert "younger than the cooldown of 3d" in refused.text
        assert "served from" in refused.text
    integrity = proxy.get(f"/integrity/coolpkg/1.1/{young.name}/provenance")
    assert integrity.status_code == 403
    assert "cooldown" in integrity.text
    assert proxy.get(pinned.replace("1.1", "1.0").replace(young.name, old.name)).status_code in {
        403,
        404,
    }  # (a wrong sha256 for the old name: never served)

    # Three days later the same (cached) page shows it: no page outlives its first change.
    clock.later(3 * DAY + timedelta(seconds=1))
    assert filenames(proxy, "coolpkg") == [old.name, young.name]
    assert proxy.get("/simple/coolpkg/", headers=JSON).json()["versions"] == ["1.0", "1.1"]
    assert proxy.get(pinned).status_code == 200


def test_an_exception_lets_a_version_through_until_it_expires(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    wheels: Wheels,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fix, other = wheels("fixpkg", "2.0.1"), wheels("fixpkg", "2.1")
    publish(upstream, fix)
    publish(upstream, other)
    pinned = url_of(upstream, proxy, fix)
    cooldown(proxy, 7 * DAY)
    assert filenames(proxy, "fixpkg") == []
    assert proxy.get(pinned).status_code == 403

    code, out, _ = cli(
        proxy,
        "policy",
        "allow",
        "FixPkg==2.0.1",
        "--reason",
        "CVE fix",
        "--expires",
        "2d",
        capsys=capsys,
    )
    assert code == 0
    assert out.startswith("exception #1: fixpkg==2.0.1 until ")
    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.forget_policy()  # another process changed it (else: within STATE_TTL)
    assert filenames(proxy, "fixpkg") == [fix.name]  # exactly that version
    assert proxy.get(pinned).status_code == 200
    with proxy.db.read() as session:
        actions = list(session.scalars(select(JournalEntry.action)))
    assert any(
        "policy exception #1 added for fixpkg==2.0.1" in a and "CVE fix" in a for a in actions
    )

    # Expired: it stops applying by itself (the file is still younger than 7 days).
    clock.later(2 * DAY + timedelta(seconds=1))
    assert filenames(proxy, "fixpkg") == []
    assert proxy.get(pinned).status_code == 403

    # A project-wide exception, then its revocation.
    code, out, _ = cli(proxy, "policy", "allow", "fixpkg", "--reason", "vendored", capsys=capsys)
    assert code == 0
    proxy.ctx.upstream.forget_policy()
    assert filenames(proxy, "fixpkg") == [fix.name, other.name]
    code, out, _ = cli(proxy, "policy", "list", capsys=capsys)
    assert "min-release-age: 7d" in out
    assert "#2 fixpkg [active] by admin (cli: " in out
    assert "#1 fixpkg==2.0.1 [active]" in out  # by the wall clock (the proxy's is 2 days on)
    assert cli(proxy, "policy", "revoke", "2", "--reason", "done", capsys=capsys)[0] == 0
    proxy.ctx.upstream.forget_policy()
    assert filenames(proxy, "fixpkg") == []
    code, _, err = cli(proxy, "policy", "revoke", "2", capsys=capsys)
    assert code == 1
    assert "already revoked" in err


def test_the_emergency_cutoff_refuses_everything_uploaded_after_it(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    wheels: Wheels,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before, after = wheels("cutpkg", "1.0"), wheels("cutpkg", "1.1")
    publish(upstream, before, age=DAY)
    publish(upstream, after)
    pinned = url_of(upstream, proxy, after)
    moment = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli(proxy, "policy", "cutoff", moment, "--reason", "incident", capsys=capsys)[0] == 0
    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.forget_policy()
    assert filenames(proxy, "cutpkg") == [before.name]
    refused = proxy.get(pinned)
    assert refused.status_code == 403
    assert "emergency cut-off" in refused.text
    # An exception does not override the cut-off.
    set_policy(
        proxy,
        lambda s: policy.allow(s, "cutpkg", reason="x", actor="test", expires_in=None),
    )
    assert filenames(proxy, "cutpkg") == [before.name]
    assert cli(proxy, "policy", "cutoff", "none", capsys=capsys)[0] == 0
    proxy.ctx.upstream.forget_policy()
    assert filenames(proxy, "cutpkg") == [before.name, after.name]
    code, _, err = cli(proxy, "policy", "cutoff", "2026-03-24T10:00", capsys=capsys)
    assert code == 1
    assert "say which zone" in err


def test_explain_says_which_rule_decides_each_file(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    wheels: Wheels,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wheel = wheels("whypkg", "3.0")
    publish(upstream, wheel)
    assert filenames(proxy, "whypkg") == [wheel.name]  # cached: the CLI reads the cache
    cooldown(proxy, 3 * DAY)
    assert proxy.ctx.upstream is not None
    (verdict,) = proxy.portal.call(explain, proxy.ctx.upstream, "whypkg", "3.0")
    assert (verdict.decision.served, verdict.decision.rule) == (False, "age")
    assert verdict.decision.available_at is not None

    code, out, err = cli(proxy, "policy", "explain", "whypkg==3.0", *UP, capsys=capsys)
    assert code == 0, err
    assert out.startswith(f"refused {wheel.name} [age]")
    set_policy(
        proxy,
        lambda s: policy.allow(s, "whypkg==3.0", reason="needed", actor="test", expires_in=None),
    )
    code, out, _ = cli(proxy, "policy", "explain", "whypkg==3.0", *UP, capsys=capsys)
    assert out.startswith(f"served  {wheel.name} [exception]")
    assert "exception #1 for whypkg==3.0 by test (needed)" in out
    code, _, err = cli(proxy, "policy", "explain", "whypkg", *UP, capsys=capsys)
    assert code == 1
    assert "name a version" in err
