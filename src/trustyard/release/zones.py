"""The builder's time zone, read from a wheel's zip times: a recipe dimension (``TZ``).

A zip member's time is an MS-DOS date and time with no zone (APPNOTE.TXT 4.4.6).
``zipfile.ZipInfo.from_file`` fills it from ``time.localtime(st_mtime)``, so a backend that
zips files by their mtime when ``SOURCE_DATE_EPOCH`` is unset (flit_core) writes the builder's
*local* time: packaging 25.0's wheel rebuilds only under ``TZ=Europe/London``. Where the same
file's UTC time is known, the difference is the zone's UTC offset at that instant: the sdist
member a wheel member was built from (tar mtimes are seconds since the epoch, POSIX.1-2001
ustar), or the commit time when every member carries one time. The zones that have each
observed offset at each observed instant all rebuild the same bytes; one is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["builder_zones", "fixed_zone", "observed_offsets", "valid_zone", "zones_with"]

QUARTER_HOUR = 900
"""Every UTC offset in use is a whole number of quarter hours (tzdata since 1979)."""
DOS_RESOLUTION = 2
"""MS-DOS times count seconds in twos (APPNOTE.TXT 4.4.6): a zip time may be 1 s early."""
MAX_OFFSET = 14 * 3600
AGREEMENT = 0.8
"""The share of a wheel's matched members whose offset must be a zone's: generated files
(``_version.py``, dist-info) carry other times."""
PREFERRED = (  # where a maintainer most likely is, among zones with identical offsets
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Moscow",
)
_FIXED_RE = re.compile(r"^<[+-]\d{4}>[+-]\d{2}:\d{2}$")


def observed_offsets(
    wheel_times: Mapping[str, int], reference: Mapping[str, int]
) -> list[tuple[int, int]]:
    """``(UTC instant, offset)`` for the wheel members whose zip time is a zone's local time of
    the same file's ``reference`` time (by path: ``pkg/a.py`` matches ``src/pkg/a.py``);
    empty unless most matched members agree (a wheel built from other mtimes says nothing).
    ``wheel_times`` are zip times read as if UTC (``calendar.timegm``)."""
    found: list[tuple[int, int]] = []
    matched = 0
    for name, local in wheel_times.items():
        source = _match(name, reference)
        if source is None:
            continue
        matched += 1
        offset = _as_offset(local - source)
        if offset is not None:
            found.append((source, offset))
    if not matched or len(found) < AGREEMENT * matched:
        return []
    return found


def _match(name: str, reference: Mapping[str, int]) -> int | None:
    if name in reference:
        return reference[name]
    hits = [t for path, t in reference.items() if path.endswith("/" + name)]
    return hits[0] if len(hits) == 1 else None


def _as_offset(difference: int) -> int | None:
    """The quarter-hour offset ``difference`` seconds is, allowing the DOS rounding down."""
    offset = round(difference / QUARTER_HOUR) * QUARTER_HOUR
    if abs(offset) > MAX_OFFSET or not -DOS_RESOLUTION < difference - offset <= 0:
        return None
    return offset


def builder_zones(
    wheel_times: Mapping[str, int], sdist_times: Mapping[str, int], commit_time: int | None
) -> list[str]:
    """The ``TZ`` values that rebuild a wheel's local zip times, most likely first; empty when
    its times are UTC's (or say nothing). The wheel's times are compared with the sdist's
    members, else with the commit time (a backend writing ``localtime(SOURCE_DATE_EPOCH)``)."""
    observed = observed_offsets(wheel_times, sdist_times)
    if not observed and commit_time is not None and wheel_times:
        everyone = dict.fromkeys(wheel_times, commit_time)
        observed = observed_offsets(wheel_times, everyone)
    if not observed or all(offset == 0 for _, offset in observed):
        return []
    named = zones_with(observed)
    offsets = {offset for _, offset in observed}
    if not named and len(offsets) == 1:
        return [fixed_zone(offsets.pop())]
    return named


def zones_with(observed: Iterable[tuple[int, int]]) -> list[str]:
    """The IANA zones whose UTC offset is each ``offset`` at each ``instant``; the usual
    ones first (any of them gives the same bytes)."""
    wanted = sorted(set(observed))
    fitting = [
        zone
        for zone in _zone_names()
        if all(_offset_of(zone, instant) == offset for instant, offset in wanted)
    ]
    rank = {zone: i for i, zone in enumerate(PREFERRED)}
    return sorted(fitting, key=lambda z: (rank.get(z, len(rank)), "/" not in z, z))


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if not z.startswith(("posix/", "right/"))))


def _offset_of(zone: str, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, UTC).astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def fixed_zone(offset: int) -> str:
    """A POSIX ``TZ`` of a fixed offset (POSIX.1-2017 8.3: the sign is west-positive):
    3600 -> ``<+0100>-01:00``."""
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    west = "-" if offset >= 0 else "+"
    return f"<{sign}{hours:02d}{minutes:02d}>{west}{hours:02d}:{minutes:02d}"


def valid_zone(tz: str) -> bool:
    """``UTC``, an IANA zone name, or a fixed offset as :func:`fixed_zone` writes it."""
    if tz == "UTC" or _FIXED_RE.match(tz):
        return True
    if tz not in _zone_names():
        return False
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def __dir__() -> list[str]:
    return __all__
