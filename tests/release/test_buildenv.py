"""The build environment: the build-system table, the build-env.json record (including bad
input), pin resolution and the cache of resolutions and venvs."""

from __future__ import annotations

import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from trustyard.errors import InvalidInput
from trustyard.release.buildenv import cache
from trustyard.release.buildenv.cache import EnvCache, env_key
from trustyard.release.buildenv.pins import (
    BuildEnvRecord,
    Pin,
    exclude_newer_text,
    resolve_pins,
    unsatisfied,
)
from trustyard.release.buildenv.system import backend_distribution, read_build_system
from trustyard.release.errors import SourceError

HASH = "a" * 64


def test_pep517_fallback_without_build_system(tmp_path: Path) -> None:
    assert read_build_system(tmp_path).backend == "setuptools.build_meta:__legacy__"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert read_build_system(tmp_path).requires == ("setuptools>=40.8.0",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[build-system\n", "pyproject.toml is not valid TOML"),
        ("[build-system]\nrequires = 'setuptools'\n", "requires must be a list of strings"),
        ("[build-system]\nrequires = ['setup tools >']\n", "invalid requirement"),
        ("[build-system]\nrequires = []\nbuild-backend = 'a b'\n", "is not an object reference"),
        ("[build-system]\nrequires = []\nbackend-path = 'x'\n", "backend-path must be a list"),
    ],
)
def test_bad_build_system(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(SourceError, match=message):
        read_build_system(tmp_path)


def record() -> BuildEnvRecord:
    return BuildEnvRecord(
        backend="hatchling.build",
        backend_name="hatchling",
        backend_version="1.27.0",
        requires=("hatchling>=1.27",),
        pins=(Pin("hatchling", "1.27.0", (HASH,)), Pin("packaging", "25.0", (HASH, "b" * 64))),
        python_version="3.11.7",
        python_implementation="CPython",
        platform="linux-x86_64",
        source={"commit": "c" * 40},
    )


def test_record_round_trips() -> None:
    assert BuildEnvRecord.from_json(record().to_json()) == record()


def test_record_problems_are_reported_together() -> None:
    doc = json.loads(record().to_json())
    doc["version"] = 7
    doc["dependencies"][0]["hashes"] = ["md5:abc"]
    doc["dependencies"][1]["hashes"] = []
    del doc["platform"]
    with pytest.raises(InvalidInput) as caught:
        BuildEnvRecord.from_json(json.dumps(doc), origin="env.json")
    message = caught.value.diagnostics()
    assert message.startswith("env.json is not a valid build environment record: ")
    for part in [
        "version must be 1, not 7",
        "(hatchling) has a bad hash 'md5:abc'",
        "(packaging) has no hashes",
        "platform must be a string",
    ]:
        assert part in message


@pytest.mark.parametrize(
    ("text", "message"), [("{", "is not JSON"), ("[]", "must hold a JSON object")]
)
def test_record_not_json(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BuildEnvRecord.from_json(text)


def test_unsatisfied_requirements() -> None:
    pins = record().pins
    assert unsatisfied(["hatchling>=1.27", "packaging"], pins) == []
    assert unsatisfied(["hatchling>=2", "wheel", "tomli; python_version < '3'"], pins) == [
        "hatchling>=2",
        "wheel",
    ]


FLIT = ["flit_core>=3.2,<4"]


def no_subprocess(*args: object, **kwargs: object) -> str:
    raise AssertionError("a cached answer was expected, not a uv run")


def test_resolution_is_stored_and_reused_until_it_is_old(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = EnvCache(tmp_path, uv_cache).resolve(FLIT)
    assert [p.name for p in pins] == ["flit-core"]
    with monkeypatch.context() as patched:
        patched.setattr(cache, "resolve_pins", no_subprocess)
        assert EnvCache(tmp_path, uv_cache).resolve(list(reversed(FLIT))) == pins
        with pytest.raises(AssertionError, match="a cached answer was expected"):
            EnvCache(tmp_path, uv_cache, max_age=0).resolve(FLIT)
        with pytest.raises(AssertionError, match="a cached answer was expected"):
            EnvCache(tmp_path, uv_cache, refresh=True).resolve(FLIT)


def test_one_cache_resolves_once_even_with_refresh(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``--check`` relies on: both builds share one EnvCache and so one resolution."""
    envs = EnvCache(tmp_path, uv_cache, refresh=True)
    pins = envs.resolve(FLIT)
    monkeypatch.setattr(cache, "resolve_pins", no_subprocess)
    assert envs.resolve(FLIT) == pins


def test_venv_is_made_once_then_reused_and_a_tampered_one_is_replaced(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = EnvCache(tmp_path, uv_cache).resolve(FLIT)
    ready = EnvCache(tmp_path, uv_cache).env(pins)
    assert ready.path == tmp_path / env_key(pins)
    assert backend_distribution(ready, "flit_core.buildapi") == ("flit-core", pins[0].version)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith((".staging", ".disc"))]
    site = next(ready.path.glob("lib/python*/site-packages"))
    assert list(site.rglob("*.pyc")), "bytecode is compiled up front, so imports write nothing"

    with monkeypatch.context() as patched:  # reuse runs no uv at all
        patched.setattr(cache, "run_tool", no_subprocess)
        assert EnvCache(tmp_path, uv_cache).env(pins).python == ready.python

    # remove the backend from the cached venv: it no longer verifies, and is replaced whole
    (ready.path / "sentinel").write_text("")
    for dist_info in site.glob("flit_core-*.dist-info"):
        shutil.rmtree(dist_info)
    again = EnvCache(tmp_path, uv_cache).env(pins)
    assert again.path == ready.path
    assert not (again.path / "sentinel").exists()
    assert list(site.glob("flit_core-*.dist-info"))


def test_concurrent_builds_make_one_venv(tmp_path: Path, uv_cache: Path) -> None:
    pins = EnvCache(tmp_path, uv_cache).resolve(FLIT)
    with ThreadPoolExecutor(3) as pool:  # separate caches: as separate processes would race
        paths = list(pool.map(lambda _: EnvCache(tmp_path, uv_cache).env(pins).path, range(3)))
    assert paths == [tmp_path / env_key(pins)] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([env_key(pins), "resolutions"])


def test_marker_for_other_pins_is_not_trusted(tmp_path: Path, uv_cache: Path) -> None:
    pins = EnvCache(tmp_path, uv_cache).resolve(FLIT)
    ready = EnvCache(tmp_path, uv_cache).env(pins)
    other = (Pin(pins[0].name, pins[0].version, ("0" * 64,)),)
    (tmp_path / env_key(other)).symlink_to(ready.path)  # a cache entry claiming other pins
    assert cache._verified(tmp_path / env_key(other), env_key(other), other) is None


# flit_core 3.7.1 came out in February 2022 and 3.8.0 in November 2022 (their upload times
# on PyPI), so as of mid-2022 the newest flit_core in FLIT's range is 3.7.1.
MID_2022 = datetime(2022, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))


def test_resolution_as_of_a_cut_off(uv_cache: Path) -> None:
    assert exclude_newer_text(MID_2022) == "2022-06-01T10:00:00Z"
    pins = resolve_pins(FLIT, sys.executable, uv_cache, exclude_newer=MID_2022)
    assert [(p.name, p.version) for p in pins] == [("flit-core", "3.7.1")]
    with pytest.raises(ValueError, match="time zone"):
        exclude_newer_text(datetime(2022, 6, 1))  # no time zone: refused


def test_constraints_and_cut_off_are_part_of_a_resolution_key(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend pinned to the version a release was built with resolves to it; a stored
    answer to another question (no pin, another cut-off) is never taken for it."""
    latest = EnvCache(tmp_path, uv_cache).resolve(FLIT)
    assert latest[0].version != "3.7.1"
    pinned = EnvCache(tmp_path, uv_cache, constraints=("flit-core==3.7.1",)).resolve(FLIT)
    assert [(p.name, p.version) for p in pinned] == [("flit-core", "3.7.1")]
    as_of = EnvCache(tmp_path, uv_cache, exclude_newer=MID_2022).resolve(FLIT)
    assert as_of == pinned
    assert len(list((tmp_path / "resolutions").iterdir())) == 3
    monkeypatch.setattr(cache, "resolve_pins", no_subprocess)
    assert EnvCache(tmp_path, uv_cache).resolve(FLIT) == latest
    assert EnvCache(tmp_path, uv_cache, constraints=("flit-core==3.7.1",)).resolve(FLIT) == pinned
    assert EnvCache(tmp_path, uv_cache, exclude_newer=MID_2022).resolve(FLIT) == pinned
    with pytest.raises(AssertionError, match="a cached answer was expected"):
        EnvCache(tmp_path, uv_cache, exclude_newer=MID_2022 + timedelta(days=1)).resolve(FLIT)
