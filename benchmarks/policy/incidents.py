"""Replay documented malicious PyPI releases against a minimum-release-age (cooldown) policy.

A cooldown of C serves a file only once it is C old (by its upload time). A malicious file that
PyPI stopped serving before it was C old was therefore never served behind the gate: the
cooldown *blocked* it. Reports give times to the second, minute, hour or only the day, so each
time in ``incidents.toml`` is an interval, the exposure window is an interval too, and the verdict
for a cooldown is "blocked" only when even the longest possible window is shorter than the
cooldown, "served" only when even the shortest is at least as long, and "uncertain" otherwise.

    uv run python benchmarks/policy/incidents.py [--data FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COOLDOWNS = (timedelta(days=1), timedelta(days=3), timedelta(days=7), timedelta(days=14))
PRECISIONS = ("second", "minute", "hour", "day")


class DataError(Exception):
    """The data file breaks a rule (a time without a source, an interval backwards, ...)."""


@dataclass(frozen=True)
class Moment:
    """A time known only to lie in [earliest, latest], and where that was read."""

    earliest: datetime
    latest: datetime
    precision: str
    source: str
    evidence: str


@dataclass(frozen=True)
class Incident:
    id: str
    project: str
    versions: tuple[str, ...]
    vector: str
    upload: Moment
    removal: Moment
    exposure_min: timedelta
    exposure_max: timedelta
    exposure_source: str


def _moment(raw: Any, where: str) -> Moment:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: missing table")
    for key in ("earliest", "latest", "precision", "source", "evidence"):
        if key not in raw:
            raise DataError(f"{where}: missing {key!r}")
    earliest, latest = raw["earliest"], raw["latest"]
    for name, value in (("earliest", earliest), ("latest", latest)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise DataError(f"{where}.{name}: must be a TOML offset date-time (UTC, with 'Z')")
        if value.utcoffset() != timedelta(0):
            raise DataError(f"{where}.{name}: must be in UTC")
    if earliest > latest:
        raise DataError(f"{where}: earliest {earliest} is after latest {latest}")
    if raw["precision"] not in PRECISIONS:
        raise DataError(f"{where}.precision: one of {', '.join(PRECISIONS)}")
    source = str(raw["source"])
    if not source.startswith("https://"):
        raise DataError(f"{where}.source: must be an https URL, got {source!r}")
    return Moment(earliest, latest, raw["precision"], source, str(raw["evidence"]))


def _incident(raw: dict[str, Any]) -> Incident:
    where = f"incident {raw.get('id', '?')}"
    for key in ("id", "project", "versions", "vector"):
        if key not in raw:
            raise DataError(f"{where}: missing {key!r}")
    upload = _moment(raw.get("upload"), f"{where}.upload")
    removal = _moment(raw.get("removal"), f"{where}.removal")
    if removal.latest < upload.earliest:
        raise DataError(f"{where}: removal ends before the upload begins")
    low = max(timedelta(0), removal.earliest - upload.latest)
    high = removal.latest - upload.earliest
    exposure_source = "upload and removal intervals"
    stated = raw.get("exposure")
    if stated is not None:
        if not str(stated.get("source", "")).startswith("https://"):
            raise DataError(f"{where}.exposure: needs an https source")
        exposure_source = stated["source"]
        if "minutes" in stated:
            low = high = timedelta(minutes=int(stated["minutes"]))
        elif "minutes_max" in stated:
            high = min(high, timedelta(minutes=int(stated["minutes_max"])))
            low = min(low, high)
        else:
            raise DataError(f"{where}.exposure: needs 'minutes' or 'minutes_max'")
    return Incident(
        id=str(raw["id"]),
        project=str(raw["project"]),
        versions=tuple(str(v) for v in raw["versions"]),
        vector=str(raw["vector"]),
        upload=upload,
        removal=removal,
        exposure_min=low,
        exposure_max=high,
        exposure_source=exposure_source,
    )


def load(path: Path) -> list[Incident]:
    """Read and check the data file; every time must carry its source."""
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    raws = document.get("incident")
    if not isinstance(raws, list) or not raws:
        raise DataError(f"{path}: no [[incident]] entries")
    incidents = [_incident(raw) for raw in raws]
    ids = [incident.id for incident in incidents]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: duplicate incident ids")
    return incidents


def verdict(incident: Incident, cooldown: timedelta) -> str:
    """Blocked when the file was gone before it was `cooldown` old, whatever the true times."""
    if incident.exposure_max < cooldown:
        return "blocked"
    if incident.exposure_min >= cooldown:
        return "served"
    return "uncertain"


def _duration(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _label(cooldown: timedelta) -> str:
    return f"{cooldown.days}d"


def render(incidents: list[Incident]) -> str:
    """The results as Markdown: one row per incident, then totals per cooldown."""
    heads = ["incident", "versions", "upload (UTC)", "exposure", *map(_label, COOLDOWNS)]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for incident in sorted(incidents, key=lambda i: i.upload.earliest, reverse=True):
        exposure = (
            _duration(incident.exposure_max)
            if incident.exposure_min == incident.exposure_max
            else f"{_duration(incident.exposure_min)} - {_duration(incident.exposure_max)}"
        )
        first, last = incident.upload.earliest, incident.upload.latest
        upload = (
            f"{first:%Y-%m-%d %H:%M}"
            if last - first <= timedelta(minutes=1)
            else f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M}"
        )
        cells = [
            f"{incident.project} ({incident.id})",
            ", ".join(incident.versions),
            upload,
            exposure,
            *(verdict(incident, cooldown) for cooldown in COOLDOWNS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| cooldown | blocked | uncertain | served |")
    lines.append("|---|---|---|---|")
    for cooldown in COOLDOWNS:
        counts = [verdict(incident, cooldown) for incident in incidents]
        lines.append(
            f"| {_label(cooldown)} | {counts.count('blocked')} | {counts.count('uncertain')} "
            f"| {counts.count('served')} |"
        )
    lines.append("")
    lines.append("Sources (upload / removal / exposure):")
    lines.append("")
    for incident in incidents:
        lines.append(
            f"- {incident.id}: {incident.upload.source} / {incident.removal.source} / "
            f"{incident.exposure_source}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "incidents.toml")
    parser.add_argument("--out", type=Path, default=HERE / "incidents-results.md")
    args = parser.parse_args(argv)
    try:
        incidents = load(args.data)
    except (DataError, tomllib.TOMLDecodeError, OSError) as error:
        print(f"incidents.py: {error}", file=sys.stderr)
        return 2
    table = render(incidents)
    args.out.write_text(table, encoding="utf-8")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
