"""The gate's decision for one upstream file: served or refused, and every reason (pure).

Rules, in order (a refusal by an earlier rule is final):

1. **Emergency cut-off**: a file uploaded after the cut-off (or whose upload time is unknown)
   is refused; no exception overrides it (it is the "stop everything new" switch).
2. **Cooldown** (minimum release age): a file younger than ``min_age`` by the upstream's
   PEP 700 ``upload-time`` is refused until it is old enough; a missing or unparseable time
   counts as too young (fail closed). An unexpired exception for the project, or for the
   file's exact version, lets it through.

Further rules (publisher continuity) join :func:`decide` by adding their own reasons; a
:class:`Decision` is refused when any rule refused. ``changes_at`` is the earliest moment the
decision changes by the clock alone (a file coming of age, an exception expiring), so rendered
listings can be cached exactly until then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from packaging.utils import canonicalize_version

from trustyard.errors import InvalidInput

_AGE = re.compile(r"(\d+)([smhdw]?)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_AGE = timedelta(days=366)


def parse_age(text: str, *, what: str = "min-release-age") -> timedelta:
    """``0`` (off) or a whole number with s, m, h, d or w (``7d``, ``36h``); a bare number
    is seconds. At most a year: a longer cooldown is a typo, not a policy."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"invalid {what} {text!r}: use 0 (off) or a whole number with s, m, h, d or w"
            " (e.g. 7d, 36h)"
        )
    age = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2) or "s"])
    if age > MAX_AGE:
        raise InvalidInput(f"invalid {what} {text!r}: at most 366d")
    return age


def format_age(age: timedelta) -> str:
    """The shortest exact spelling of ``age`` in :func:`parse_age`'s units (``0``: off)."""
    seconds = int(age.total_seconds())
    if seconds == 0:
        return "0"
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_upload_time(value: str | None) -> datetime | None:
    """PEP 700 ``upload-time`` (ISO 8601, ``Z`` or an offset) as naive UTC; None when
    missing or unparseable (the caller fails closed)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # no zone: not PEP 700's format, and which moment it names is unknown
    return parsed.astimezone(UTC).replace(tzinfo=None)


def parse_timestamp(text: str) -> datetime:
    """A cut-off given on the command line: ISO 8601 with a zone (``2026-03-24T10:00Z``), or
    a bare date (midnight UTC). Returned as naive UTC."""
    stripped = text.strip()
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid timestamp {text!r}: use ISO 8601 with a zone, e.g. 2026-03-24T10:00:00Z,"
            " or a date (midnight UTC)"
        ) from None
    if parsed.tzinfo is None:
        if len(stripped) > 10:
            raise InvalidInput(
                f"invalid timestamp {text!r}: say which zone (append Z for UTC or +HH:MM)"
            )
        return parsed
    return parsed.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Allowance:
    """An admin's exception: ``project`` (normalized), one ``version`` (PEP 440) or all."""

    id: int
    project: str
    version: str | None
    reason: str
    created_by: str
    expires: datetime | None

    def covers(self, project: str, version: str | None, now: datetime) -> bool:
        """Whether it lets this project's ``version`` through at ``now``."""
        if self.project != project or (self.expires is not None and self.expires <= now):
            return False
        return self.version is None or (
            version is not None
            and canonicalize_version(version) == canonicalize_version(self.version)
        )

    def describe(self) -> str:
        """One line for reasons and listings."""
        what = self.project + (f"=={self.version}" if self.version else "")
        until = f", until {self.expires:%Y-%m-%d %H:%M} UTC" if self.expires else ""
        return f"exception #{self.id} for {what} by {self.created_by} ({self.reason}{until})"


@dataclass(frozen=True)
class PolicyState:
    """Everything the gate decides on, read from the catalogue at one moment."""

    min_age: timedelta = timedelta(0)
    cutoff: datetime | None = None
    allowances: tuple[Allowance, ...] = ()

    @property
    def inert(self) -> bool:
        """No rule can refuse anything: listings pass unchanged."""
        return not self.min_age and self.cutoff is None

    def key(self) -> tuple[object, ...]:
        """Identifies the state (rendered pages are cached per state)."""
        return (self.min_age, self.cutoff, self.allowances)


OPEN = PolicyState()


@dataclass(frozen=True)
class Decision:
    """Whether a file is served now, by which rules, and until when this holds."""

    served: bool
    rule: str  # "cutoff", "age", "exception", "allowed" (or a later rule's name)
    reasons: tuple[str, ...]
    changes_at: datetime | None = None
    available_at: datetime | None = None  # when a refused file becomes servable by age alone
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The reasons as one sentence (the 403 body, ``policy explain``)."""
        return "; ".join(self.reasons)


def decide(
    project: str,
    filename: str,
    *,
    version: str | None,
    upload_time: str | None,
    state: PolicyState,
    now: datetime,
) -> Decision:
    """The gate's decision for one upstream file of ``project`` at ``now`` (naive UTC)."""
    uploaded = parse_upload_time(upload_time)
    if state.cutoff is not None and (uploaded is None or uploaded > state.cutoff):
        when = f"uploaded {uploaded:%Y-%m-%d %H:%M:%S} UTC" if uploaded else "no upload time"
        return Decision(
            False,
            "cutoff",
            (
                f"{filename} is refused by the emergency cut-off ({when}, after"
                f" {state.cutoff:%Y-%m-%d %H:%M:%S} UTC); an admin lifts it with"
                " `trustyard policy cutoff none`",
            ),
        )
    if not state.min_age:
        return Decision(True, "allowed", (f"{filename}: no cooldown is set",))
    allowance = next((a for a in state.allowances if a.covers(project, version, now)), None)
    ready = uploaded + state.min_age if uploaded is not None else None
    if ready is not None and ready <= now:
        age = format_age(timedelta(seconds=int((now - uploaded).total_seconds())))  # type: ignore[operator]
        return Decision(
            True,
            "age",
            (f"{filename} is {age} old, at least the cooldown of {format_age(state.min_age)}",),
        )
    if allowance is not None:
        return Decision(
            True,
            "exception",
            (f"{filename} is younger than the cooldown but let through by {allowance.describe()}",),
            changes_at=_earliest(allowance.expires, ready),
        )
    if ready is None:
        why = (
            f"{filename} has no upload time from the upstream (or one that does not parse):"
            f" a cooldown of {format_age(state.min_age)} fails closed"
        )
    else:
        why = (
            f"{filename} was uploaded {uploaded:%Y-%m-%d %H:%M:%S} UTC, younger than the"
            f" cooldown of {format_age(state.min_age)}: served from"
            f" {ready:%Y-%m-%d %H:%M:%S} UTC"
        )
    return Decision(
        False,
        "age",
        (why + "; an admin may let it through with `trustyard policy allow`",),
        changes_at=ready,
        available_at=ready,
    )


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def earliest_change(decisions: Iterable[Decision]) -> datetime | None:
    """The first moment any of ``decisions`` changes by the clock alone."""
    return _earliest(*(d.changes_at for d in decisions))
