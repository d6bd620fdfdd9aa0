"""What a cooldown costs: the security fixes of the 30 top PyPI projects that it holds back.

For each project in ``top30.json`` the script reads pypi.org's JSON API (``/pypi/NAME/json``:
every release with the upload times of its files) and the project's advisories in the PyPA
advisory database (``vulns/NAME/*.yaml``, the data behind the ``vulnerabilities`` key of
pypi.org's JSON API). A *security-fix release* is a version named as ``fixed`` in an ECOSYSTEM
range of a (not withdrawn) advisory, whose first file was uploaded inside the window (the 12
months before ``--today``). For each one it measures:

- ``held``: how long after the advisory was public a cooldown of C (``--cooldown-days``, 7 by
  default) still kept the fix away, ``max(0, upload + C - max(upload, advisory published))``. A
  fix whose advisory came out after the cooldown had run costs nothing; one disclosed on upload
  day costs all of C.
- ``next<C``: whether another release of the project was uploaded within C after it (a quick
  follow-up, often a regression fix: a cooldown user takes the fix at day C without it).

The exception path, ``trustyard policy allow NAME==VERSION --reason ...``, serves one fix at
once; the number of fixes is the number of exceptions an admin would have written.

Both sources are cached under ``cache/`` (pypi.org responses trimmed to what is measured, with
the size and SHA-256 of each full response) so a second run is offline and gives the same table;
``--refresh`` fetches again. A fetch that fails is reported in the table and the run exits 1.

    uv run python benchmarks/policy/cost.py --advisories /path/to/advisory-database [--refresh]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
PYPI_JSON = "https://pypi.org/pypi/{name}/json"


@dataclass
class Fix:
    version: str
    uploaded: datetime
    advisories: list[str]
    disclosed: datetime | None
    next_release: datetime | None
    cooldown: timedelta

    @property
    def held(self) -> timedelta:
        """Time the advisory was public while the cooldown still withheld the fix."""
        if self.disclosed is None:
            return self.cooldown
        public = max(self.uploaded, self.disclosed)
        return max(timedelta(0), self.uploaded + self.cooldown - public)

    @property
    def superseded(self) -> bool:
        return self.next_release is not None and self.next_release - self.uploaded < self.cooldown


@dataclass
class ProjectResult:
    name: str
    releases_in_window: int = 0
    advisories: int = 0
    fixes: list[Fix] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    error: str | None = None


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fetch_pypi(name: str, refresh: bool, client: httpx.Client) -> dict[str, Any]:
    """First upload time and yanked flag per release, from the cache or pypi.org."""
    path = CACHE / "pypi" / f"{name}.json"
    if path.exists() and not refresh:
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    url = PYPI_JSON.format(name=name)
    response = client.get(url)
    response.raise_for_status()
    body = response.content
    document = response.json()
    releases: dict[str, dict[str, Any]] = {}
    for version, files in document["releases"].items():
        if not files:
            continue
        releases[version] = {
            "first_upload": min(f["upload_time_iso_8601"] for f in files),
            "yanked": all(f.get("yanked", False) for f in files),
        }
    trimmed = {
        "url": url,
        "fetched": datetime.now(UTC).isoformat(timespec="seconds"),
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "latest_version": document["info"]["version"],
        "latest_vulnerabilities": len(document.get("vulnerabilities", [])),
        "releases": releases,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trimmed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return trimmed


class AdvisorySource:
    """The PyPA advisory database, as a checkout or as a (bare) git repository."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.git = not (location / "vulns").is_dir()
        self.revision = self._revision()

    def _run(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "--git-dir", str(self.location), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def _revision(self) -> str:
        if not self.git:
            return "working tree (no git revision)"
        return self._run("log", "-1", "--format=%H %cI").strip()

    def documents(self, name: str) -> list[str]:
        if not self.git:
            folder = self.location / "vulns" / name
            if not folder.is_dir():
                return []
            return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.yaml"))]
        paths = self._run("ls-tree", "--name-only", "HEAD", f"vulns/{name}/").split()
        return [self._run("show", f"HEAD:{path}") for path in paths]


def load_advisories(name: str, source: AdvisorySource | None, refresh: bool) -> dict[str, Any]:
    """The project's advisories, reduced to id, published, withdrawn and fixed versions."""
    path = CACHE / "advisories" / f"{name}.json"
    if path.exists() and not (refresh and source is not None):
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    if source is None:
        raise RuntimeError(f"no cached advisories for {name}; pass --advisories")
    entries = []
    for text in source.documents(name):
        document = yaml.safe_load(text)
        fixed: set[str] = set()
        for affected in document.get("affected", []):
            package = affected.get("package", {})
            if canonicalize_name(package.get("name", "")) != canonicalize_name(name):
                continue
            for span in affected.get("ranges", []):
                if span.get("type") != "ECOSYSTEM":
                    continue
                fixed.update(str(e["fixed"]) for e in span.get("events", []) if "fixed" in e)
        entries.append(
            {
                "id": document["id"],
                "aliases": sorted(str(alias) for alias in document.get("aliases") or []),
                "published": str(document.get("published", "")),
                "withdrawn": str(document["withdrawn"]) if "withdrawn" in document else None,
                "fixed": sorted(fixed),
            }
        )
    cached = {"database_revision": source.revision, "advisories": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cached, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return cached


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def measure(
    name: str,
    pypi: dict[str, Any],
    advisories: dict[str, Any],
    start: datetime,
    end: datetime,
    cooldown: timedelta,
) -> ProjectResult:
    result = ProjectResult(name)
    uploads = {version: _utc(r["first_upload"]) for version, r in pypi["releases"].items()}
    by_version = {v: key for key in uploads if (v := _version(key)) is not None}
    result.releases_in_window = sum(1 for t in uploads.values() if start <= t < end)
    fixed_by: dict[str, list[tuple[str, datetime | None]]] = {}
    live = [a for a in advisories["advisories"] if not a["withdrawn"]]
    result.advisories = len(live)
    for advisory in live:
        published = _utc(advisory["published"]) if advisory["published"] else None
        for fixed in advisory["fixed"]:
            parsed = _version(fixed)
            key = by_version.get(parsed) if parsed is not None else None
            if key is None:
                result.missing.append(f"{advisory['id']}: {fixed}")
                continue
            fixed_by.setdefault(key, []).append((advisory["id"], published))
    ordered = sorted(uploads.values())
    for key, naming in sorted(fixed_by.items(), key=lambda item: uploads[item[0]]):
        uploaded = uploads[key]
        if not start <= uploaded < end:
            continue
        dates = [p for _, p in naming if p is not None]
        later = [t for t in ordered if t > uploaded]
        result.fixes.append(
            Fix(
                version=key,
                uploaded=uploaded,
                advisories=sorted(i for i, _ in naming),
                disclosed=min(dates) if dates else None,
                next_release=later[0] if later else None,
                cooldown=cooldown,
            )
        )
    return result


def _days(value: timedelta) -> str:
    return f"{value.total_seconds() / 86400:.1f}"


def render(results: list[ProjectResult], meta: dict[str, str], cooldown: timedelta) -> str:
    days = cooldown.days
    lines = [f"- {key}: {value}" for key, value in meta.items()]
    lines += [
        "",
        "| project | releases in window | advisories (all time) | fix releases in window "
        f"| fixes (advisories; upload; held after disclosure; next release < {days}d) |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        if result.error:
            lines.append(f"| {result.name} | FETCH FAILED: {result.error} | | | |")
            continue
        details = "; ".join(
            f"{fix.version} ({', '.join(fix.advisories)}; {fix.uploaded:%Y-%m-%d}; "
            f"{_days(fix.held)} d; {'yes' if fix.superseded else 'no'})"
            for fix in result.fixes
        )
        lines.append(
            f"| {result.name} | {result.releases_in_window} | {result.advisories} "
            f"| {len(result.fixes)} | {details or '-'} |"
        )
    fixes = [fix for result in results for fix in result.fixes]
    held = [fix.held.total_seconds() for fix in fixes]
    costly = [fix for fix in fixes if fix.held > timedelta(0)]
    lines += [
        "",
        f"- projects measured: {sum(1 for r in results if not r.error)} of {len(results)}"
        f" (fetch failures: {sum(1 for r in results if r.error)})",
        f"- releases in window: {sum(r.releases_in_window for r in results)}",
        f"- security-fix releases in window: {len(fixes)}"
        f" in {sum(1 for r in results if r.fixes)} projects",
        f"- held back after their advisory was public: {len(costly)}"
        + (
            f" (held {_days(timedelta(seconds=min(held)))}-{_days(timedelta(seconds=max(held)))}"
            f" d, median {_days(timedelta(seconds=statistics.median(held)))} d over all fixes,"
            f" {_days(timedelta(seconds=sum(held)))} fix-days in all)"
            if held
            else ""
        ),
        f"- fixes followed by another release within {days} days: "
        f"{sum(1 for fix in fixes if fix.superseded)}",
        f"- upper bound, every fix disclosed on its upload day: {len(fixes)} fixes x {days} d = "
        f"{days * len(fixes)} fix-days",
        f"- exceptions (`trustyard policy allow NAME==VERSION`) to serve every fix at once: "
        f"{len(fixes)}",
    ]
    missing = [f"{r.name}: {m}" for r in results for m in r.missing]
    if missing:
        lines += ["", "Fixed versions named by advisories but not on pypi.org:", ""]
        lines += [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def _snapshot_date(revisions: set[str]) -> datetime | None:
    """The commit date of the advisory database read ("<sha> <iso date>"), if one."""
    dates = [_utc(r.split()[1]) for r in revisions if len(r.split()) == 2]
    return min(dates) if dates else None


def _first_uploads(name: str) -> list[datetime]:
    cached = json.loads((CACHE / "pypi" / f"{name}.json").read_text(encoding="utf-8"))
    return [_utc(r["first_upload"]) for r in cached["releases"].values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=Path, help="PyPA advisory database (checkout or git)")
    parser.add_argument("--today", default="2026-12-07", help="end of the 12-month window")
    parser.add_argument("--refresh", action="store_true", help="fetch again, ignore the cache")
    parser.add_argument("--cooldown-days", type=int, default=7)
    parser.add_argument("--out", type=Path, help="default: cost-results-<N>d.md here")
    args = parser.parse_args(argv)
    if args.cooldown_days < 1:
        parser.error("--cooldown-days must be at least 1")
    cooldown = timedelta(days=args.cooldown_days)
    out = args.out or HERE / f"cost-results-{args.cooldown_days}d.md"
    end = datetime.fromisoformat(args.today).replace(tzinfo=UTC)
    start = end.replace(year=end.year - 1)
    names = [p["project"] for p in json.loads((HERE / "top30.json").read_text())["projects"]]
    source = AdvisorySource(args.advisories) if args.advisories else None
    results = []
    revisions = set()
    with httpx.Client(timeout=60, headers={"User-Agent": "trustyard-benchmarks/policy"}) as client:
        for name in names:
            try:
                pypi = fetch_pypi(name, args.refresh, client)
                advisories = load_advisories(name, source, args.refresh)
            except (httpx.HTTPError, RuntimeError, subprocess.CalledProcessError) as error:
                reason = " ".join(str(error).split())
                results.append(ProjectResult(name, error=f"{type(error).__name__}: {reason}"))
                continue
            revisions.add(advisories["database_revision"])
            results.append(measure(name, pypi, advisories, start, end, cooldown))
    meta = {
        "window": f"{start:%Y-%m-%d} to {end:%Y-%m-%d} (uploads in [start, end))",
        "cooldown": f"{args.cooldown_days} days",
        "projects": "top30.json (hugovk/top-pypi-packages, 30-day downloads)",
        "advisory database revision": ", ".join(sorted(revisions)) or "none read",
    }
    snapshot = _snapshot_date(revisions)
    if snapshot is not None and snapshot < end:
        after = sum(
            1
            for name, result in zip(names, results, strict=True)
            if not result.error
            for first in _first_uploads(name)
            if snapshot <= first < end
        )
        meta["not covered"] = (
            f"{after} releases uploaded after the advisory snapshot ({snapshot:%Y-%m-%d}): "
            "fixes among them are not counted"
        )
    table = render(results, meta, cooldown)
    out.write_text(table, encoding="utf-8")
    sys.stdout.write(table)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
