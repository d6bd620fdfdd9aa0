"""The builder's time zone from a wheel's local zip times (the ``TZ`` recipe dimension): read
from archives made here the way ``zipfile.ZipInfo.from_file`` makes them under a zone."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.release.test_recipes import COMMIT, UPLOAD, sdist
from trustyard.release.clues import Clues, read_clues
from trustyard.release.recipes import Recipe, candidate_recipes, recipe_from_json
from trustyard.release.zones import builder_zones, fixed_zone, observed_offsets, valid_zone

WINTER = 1_641_038_400  # 2022-01-01T12:00:00Z: London on GMT
SUMMER = 1_656_590_400  # 2022-06-30T12:00:00Z: London on BST (+01:00)


def local(instant: int, zone: str) -> tuple[int, int, int, int, int, int]:
    """What ``time.localtime(instant)[:6]`` gives under ``TZ=zone``."""
    moment = datetime.fromtimestamp(instant, UTC).astimezone(ZoneInfo(zone))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def wheel(path: Path, times: dict[str, tuple[int, int, int, int, int, int]]) -> Path:
    """A wheel whose members carry the given zip times, and a WHEEL file of 2016-01-01 (flit's
    time for generated files)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, when in times.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), f"{name}\n")
        info = zipfile.ZipInfo("p-1.0.dist-info/WHEEL", date_time=(2016, 1, 1, 0, 0, 0))
        archive.writestr(info, "Wheel-Version: 1.0\nGenerator: flit 3.9.0\n")
    return path


def release(tmp_path: Path, zone: str, mtimes: list[int]) -> Clues:
    """An sdist with ``f0.txt``... at ``mtimes`` and the wheel flit builds from it in ``zone``
    without SOURCE_DATE_EPOCH (each member at the local time of its mtime)."""
    made = sdist(tmp_path / "p-1.0.tar.gz", mtimes)
    times = {f"f{n}.txt": local(mtime, zone) for n, mtime in enumerate(mtimes)}
    return read_clues([made, wheel(tmp_path / "p-1.0-py3-none-any.whl", times)], UPLOAD)


def test_a_wheel_built_in_london_names_london(tmp_path: Path) -> None:
    clues = release(tmp_path, "Europe/London", [WINTER, SUMMER, SUMMER + 7])
    assert sorted(
        {o for _, o in observed_offsets(dict(clues.wheel_times), dict(clues.sdist_times))}
    ) == [0, 3600]
    zones = clues.zones(COMMIT)
    assert zones[0] == "Europe/London"
    # every zone named has GMT in January and +01:00 in June: the same bytes
    assert "Europe/Lisbon" in zones
    assert "Europe/Berlin" not in zones
    assert "Africa/Lagos" not in zones  # +01:00 all year: wrong in January


def test_a_wheel_built_in_utc_names_no_zone(tmp_path: Path) -> None:
    assert release(tmp_path, "UTC", [WINTER, SUMMER]).zones(COMMIT) == []


def test_one_summer_instant_is_ambiguous_but_still_rebuilds(tmp_path: Path) -> None:
    zones = release(tmp_path, "Europe/Berlin", [SUMMER, SUMMER + 1]).zones(COMMIT)
    assert zones[0] == "Europe/Berlin"  # +02:00 in June; the preferred of its peers
    assert "Africa/Johannesburg" in zones  # +02:00 all year: the same bytes for these times


def test_an_offset_no_zone_has_becomes_a_fixed_posix_zone() -> None:
    times = {"f0.txt": COMMIT + 11 * 3600 + 15 * 60}
    assert builder_zones(times, {"f0.txt": COMMIT}, None) == ["<+1115>-11:15"]
    assert fixed_zone(-5 * 3600 - 30 * 60) == "<-0530>+05:30"
    assert valid_zone("<+1115>-11:15")


def test_times_of_another_origin_say_nothing() -> None:
    """A wheel zipped from a fresh checkout: its times are not the sdist's in any zone."""
    sdist_times = {f"f{n}.txt": WINTER + n for n in range(10)}
    wheel_times = {f"f{n}.txt": SUMMER + 4321 + 3 * n for n in range(10)}
    assert builder_zones(wheel_times, sdist_times, COMMIT) == []


def test_localtime_of_the_commit_names_the_zone() -> None:
    """A backend that writes ``localtime(SOURCE_DATE_EPOCH)`` (no sdist to compare with)."""
    moment = datetime(*local(COMMIT, "Asia/Kolkata"), tzinfo=UTC)
    stamp = int(moment.timestamp())
    zones = builder_zones({"a.py": stamp, "b.py": stamp}, {}, COMMIT)
    assert zones[0] == "Asia/Kolkata"


def test_the_inferred_zone_is_tried_first_then_utc(tmp_path: Path) -> None:
    clues = release(tmp_path, "Europe/London", [WINTER, SUMMER + 60])
    recipes = candidate_recipes(clues, COMMIT, running_python="3.11")
    assert recipes[0].tz == "Europe/London"
    assert recipes[0].source_date_epoch is None  # the sdist's checkout times say so
    assert recipes[1] == Recipe(None, UPLOAD, ("flit-core==3.9.0",), None, "UTC", {})
    assert "TZ=Europe/London" in recipes[0].describe()
    assert (
        recipes[0].uv_command("v1.0", "published-sdist", "p-1.0.tar.gz").count("TZ=Europe/London")
        == 1
    )
    assert recipe_from_json(recipes[0].to_json("published-sdist")) == (
        recipes[0],
        "published-sdist",
    )


@pytest.mark.parametrize("tz", ["Mars/Olympus", "UTC; rm -rf /", 5, "../../etc/passwd"])
def test_a_recipe_with_an_unknown_zone_is_not_a_recipe(tz: object) -> None:
    doc = Recipe(None, UPLOAD).to_json("sdist") | {"tz": tz}
    assert recipe_from_json(doc) is None
