"""The gate's decision, pure (issue 18): durations, upload times, fail-closed, cut-off."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from trustyard.errors import InvalidInput
from trustyard.index.policy.rules import (
    Allowance,
    PolicyState,
    decide,
    format_age,
    parse_age,
    parse_timestamp,
    parse_upload_time,
)
from trustyard.index.upstream.errors import HeldBack
from trustyard.index.upstream.listing import gate, servable
from trustyard.index.upstream.pages import ListedFile, Listing

NOW = datetime(2026, 12, 7, 12, 0, 0)
THREE_DAYS = PolicyState(min_age=timedelta(days=3))


def listed(filename: str, upload_time: str | None, sha: str = "a") -> ListedFile:
    return ListedFile(
        filename=filename,
        url=f"https://files.test/{filename}",
        sha256=sha * 64,
        size=1,
        upload_time=upload_time,
        requires_python=None,
        yanked=False,
        yanked_reason=None,
        metadata_sha256=None,
        provenance=None,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("7d", 7 * 86400), ("36h", 36 * 3600), ("2w", 14 * 86400), ("90", 90)],
)
def test_ages(text: str, seconds: int) -> None:
    assert parse_age(text) == timedelta(seconds=seconds)
    assert parse_age(format_age(parse_age(text))) == parse_age(text)


@pytest.mark.parametrize("text", ["", "7 days", "-1d", "1.5d", "3y", "400d"])
def test_bad_ages_are_refused_precisely(text: str) -> None:
    with pytest.raises(InvalidInput, match="min-release-age"):
        parse_age(text)


def test_upload_times() -> None:
    assert parse_upload_time("2026-12-01T10:00:00.123456Z") == datetime(
        2026, 12, 1, 10, 0, 0, 123456
    )
    assert parse_upload_time("2026-12-01T12:00:00+02:00") == datetime(2026, 12, 1, 10, 0)
    for bad in (None, "", "yesterday", "2026-12-01T10:00:00"):  # no zone: which moment?
        assert parse_upload_time(bad) is None
    assert parse_timestamp("2026-03-24") == datetime(2026, 3, 24)
    assert parse_timestamp("2026-03-24T10:39:00Z") == datetime(2026, 3, 24, 10, 39)


@pytest.mark.parametrize("upload_time", [None, "not a time", "2026-12-07T11:00:00"])
def test_a_missing_or_unparseable_upload_time_fails_closed(upload_time: str | None) -> None:
    verdict = decide(
        "p", "p-1.0.tar.gz", version="1.0", upload_time=upload_time, state=THREE_DAYS, now=NOW
    )
    assert (verdict.served, verdict.rule) == (False, "age")
    assert "no upload time" in verdict.message
    assert verdict.available_at is None
    # ... and the cut-off refuses it as well, whatever the cooldown.
    cut = PolicyState(cutoff=NOW)
    assert (
        decide("p", "f", version="1.0", upload_time=upload_time, state=cut, now=NOW).rule
        == "cutoff"
    )


def test_age_exception_and_expiry() -> None:
    young = "2026-12-06T12:00:00Z"
    refused = decide("p", "f", version="1.0", upload_time=young, state=THREE_DAYS, now=NOW)
    assert not refused.served
    assert refused.available_at == datetime(2026, 12, 9, 12, 0)
    until = NOW + timedelta(hours=1)
    for version in ("1.0", "1", None):
        allowance = Allowance(1, "p", version, "fix", "ada", until)
        state = PolicyState(min_age=timedelta(days=3), allowances=(allowance,))
        through = decide("p", "f", version="1.0.0", upload_time=young, state=state, now=NOW)
        assert (through.served, through.rule, through.changes_at) == (True, "exception", until)
        later = decide("p", "f", version="1.0", upload_time=young, state=state, now=until)
        assert not later.served  # expired by itself, even in a state read before
    other = PolicyState(
        min_age=timedelta(days=3), allowances=(Allowance(1, "p", "1.1", "fix", "ada", None),)
    )
    assert not decide("p", "f", version="1.0", upload_time=young, state=other, now=NOW).served
    assert not decide("q", "f", version="1.1", upload_time=young, state=other, now=NOW).served


def test_the_gate_hides_versions_whose_files_are_all_young_and_refuses_their_urls() -> None:
    files = (
        listed("p-1.0.tar.gz", "2026-11-01T00:00:00Z", "a"),
        listed("p-1.1.tar.gz", "2026-12-07T00:00:00Z", "b"),
        listed("p-1.1-py3-none-any.whl", None, "c"),
    )
    listing = Listing("p", 1, None, None, None, files)
    gated = gate(listing, THREE_DAYS, NOW)
    assert [f.filename for f in gated.files] == ["p-1.0.tar.gz"]
    assert gated.hidden_versions == {"1.1"}
    assert gated.changes_at == datetime(2026, 12, 10)
    assert servable(listing, "a" * 64, "p-1.0.tar.gz", THREE_DAYS, NOW) is files[0]
    with pytest.raises(HeldBack) as refused:
        servable(listing, "c" * 64, "p-1.1-py3-none-any.whl", THREE_DAYS, NOW)
    assert refused.value.status == 403
    assert servable(listing, "d" * 64, "p-1.1.tar.gz", THREE_DAYS, NOW) is None  # 404


@pytest.mark.parametrize("state", [PolicyState(), THREE_DAYS], ids=["no-cooldown", "cooldown"])
def test_a_version_whose_every_file_is_held_disappears(state: PolicyState) -> None:
    """Publisher continuity's held files go through the same gate: hidden, refused (403), and
    a version left with no file is gone from the versioned pages too, with or without a
    cooldown."""
    old = "2026-11-01T00:00:00Z"
    wheel = listed("demo-2.0-py3-none-any.whl", old, "b")
    listing = Listing(
        name="demo",
        last_serial=None,
        status=None,
        status_reason=None,
        versions=None,
        files=(listed("demo-1.0.tar.gz", old, "a"), wheel),
        held={wheel.sha256: "another publisher"},
    )
    gated = gate(listing, state, NOW)
    assert [f.filename for f in gated.files] == ["demo-1.0.tar.gz"]
    assert gated.hidden_versions == {"2.0"}
    with pytest.raises(HeldBack, match="another publisher"):
        servable(listing, wheel.sha256, wheel.filename, state, NOW)
