"""The build-system table and the build-env.json record, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustyard.errors import InvalidInput
from trustyard.release.buildenv import BuildEnvRecord, Pin, read_build_system, unsatisfied
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
