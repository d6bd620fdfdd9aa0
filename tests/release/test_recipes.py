"""Recipe inference without building: clues read from published files, candidate recipes and
their order, the interpreter of the time, grades of archives, and the recipe's record form."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trustyard.release.buildenv.interpreters import pyenv_interpreter
from trustyard.release.clues import HATCHLING_DEFAULT_EPOCH, Clues, backend_pin, read_clues
from trustyard.release.grades import equivalence, sdist_content_problems
from trustyard.release.rebuild import MissingInterpreter, Rebuilder
from trustyard.release.recipes import (
    Recipe,
    candidate_recipes,
    interpreter_of_the_time,
    recipe_from_json,
)

COMMIT = 1656590400  # 2022-06-30T12:00:00Z
UPLOAD = datetime(2022, 7, 2, 19, 18, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("generator", "pin"),
    [
        ("flit 3.7.1", "flit-core==3.7.1"),
        ("hatchling 1.11.1", "hatchling==1.11.1"),
        ("poetry-core 1.9.0", "poetry-core==1.9.0"),
        ("pdm-backend (2.4.9)", "pdm-backend==2.4.9"),
        ("setuptools (75.1.0)", "setuptools==75.1.0"),
        ("bdist_wheel (0.43.0)", "wheel==0.43.0"),
        ("uv 0.7.3", "uv-build==0.7.3"),
        ("someone's-tool 1.0", None),
        ("", None),
        (None, None),
    ],
)
def test_backend_pin_from_generator(generator: str | None, pin: str | None) -> None:
    assert backend_pin(generator) == pin


def sdist(path: Path, mtimes: list[int], gzip_mtime: int = 0) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for number, mtime in enumerate(mtimes):
            data = f"file {number}\n".encode()
            info = tarfile.TarInfo(f"p-1.0/f{number}.txt")
            info.size, info.mtime = len(data), mtime
            archive.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=gzip_mtime))
    return path


def wheel(path: Path, generator: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("p-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nGenerator: {generator}\n")
        archive.writestr(
            "p-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: p\nVersion: 1.0\nRequires-Python: >=3.8\n",
        )
    return path


def test_clues_of_a_release(tmp_path: Path) -> None:
    files = [
        sdist(tmp_path / "p-1.0.tar.gz", [COMMIT, COMMIT], gzip_mtime=COMMIT),
        wheel(tmp_path / "p-1.0-py3-none-any.whl", "flit 3.7.1"),
    ]
    clues = read_clues(files, UPLOAD)
    assert clues.generator == "flit 3.7.1"
    assert clues.backend_pin == "flit-core==3.7.1"
    assert clues.metadata_version == "2.1"
    assert clues.requires_python == ">=3.8"
    assert clues.sdist_gzip_mtime == COMMIT
    assert clues.sdist_mtimes == {COMMIT}
    assert not clues.sde_unset_first(COMMIT)


def test_the_pure_wheel_names_the_backend(tmp_path: Path) -> None:
    """tomli 2.4.0: setuptools built the mypyc wheels, flit the pure one (and the sdist)."""
    files = [
        wheel(tmp_path / "p-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "setuptools (80.9.0)"),
        wheel(tmp_path / "p-1.0-py3-none-any.whl", "flit 3.12.0"),
    ]
    assert read_clues(files, UPLOAD).backend_pin == "flit-core==3.12.0"


@pytest.mark.parametrize(
    ("mtimes", "unset_first"),
    [
        ([COMMIT], False),
        ([HATCHLING_DEFAULT_EPOCH], True),  # hatchling, poetry-core without SDE
        ([1656700001, 1656700002], True),  # a checkout's times (flit, setuptools)
        ([], False),
    ],
)
def test_sde_order_follows_the_sdists_times(mtimes: list[int], unset_first: bool) -> None:
    clues = Clues(generator="hatchling 1.18.0", sdist_mtimes=frozenset(mtimes), upload_time=UPLOAD)
    recipes = candidate_recipes(clues, COMMIT, running_python="3.11")
    first = recipes[0]
    assert (first.source_date_epoch is None) is unset_first
    assert first.exclude_newer == UPLOAD
    assert first.constraints == ("hatchling==1.18.0",)
    assert first.python is None


def test_candidates_are_short_and_ordered() -> None:
    clues = Clues(generator="flit 3.7.1", requires_python=">=3.7", upload_time=UPLOAD)
    recipes = candidate_recipes(
        clues, COMMIT, running_python="3.11", version_env={"SETUPTOOLS_SCM_PRETEND_VERSION": "1"}
    )
    described = [(r.exclude_newer, r.source_date_epoch, r.python) for r in recipes]
    commit_time = datetime.fromtimestamp(COMMIT, UTC)
    assert described == [
        (UPLOAD, COMMIT, None),
        (UPLOAD, None, None),
        (commit_time, COMMIT, None),
        (commit_time, None, None),
        (UPLOAD, COMMIT, "3.10"),  # the newest Python in July 2022
        (UPLOAD, None, "3.10"),
        (UPLOAD, COMMIT, "3.7"),  # the oldest Requires-Python allows
        (UPLOAD, None, "3.7"),
    ]
    assert all(r.version_env == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1"} for r in recipes)


def test_without_an_upload_time_requirements_are_those_of_the_commit() -> None:
    recipes = candidate_recipes(Clues(), COMMIT, running_python="3.11")
    assert {r.exclude_newer for r in recipes} == {datetime.fromtimestamp(COMMIT, UTC)}


def test_interpreter_of_the_time() -> None:
    assert interpreter_of_the_time(datetime(2024, 12, 6, tzinfo=UTC), ">=3.8") == ["3.13", "3.8"]
    assert interpreter_of_the_time(datetime(2023, 1, 1, tzinfo=UTC), None) == ["3.11", "3.7"]
    assert interpreter_of_the_time(None, ">=3.8") == []


def test_a_missing_interpreter_is_named_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(MissingInterpreter) as caught:
        Rebuilder(tmp_path).interpreter("3.4")
    assert caught.value.python == "3.4"
    assert "uv python install cpython@3.4" in caught.value.message


def test_recipe_round_trips_and_prints_as_uv_build() -> None:
    recipe = Recipe(COMMIT, UPLOAD, ("flit-core==3.7.1",), None, "UTC", {})
    back = recipe_from_json(recipe.to_json("sdist"))
    assert back == (recipe, "sdist")
    line = recipe.uv_command("v0.1.0", "sdist")
    assert line == (
        f"git checkout v0.1.0 && SOURCE_DATE_EPOCH={COMMIT} TZ=UTC uv build "
        "--exclude-newer 2022-07-02T19:18:01Z --build-constraints <(printf '%s\\n' "
        "flit-core==3.7.1)"
    )
    unset = Recipe(None, UPLOAD, (), "3.8", "UTC", {"PDM_BUILD_SCM_VERSION": "1.0"})
    line = unset.uv_command("v1.0", "published-sdist", "p-1.0.tar.gz")
    assert line.startswith("mkdir sdist && tar -xzf p-1.0.tar.gz -C sdist && ")
    assert "SOURCE_DATE_EPOCH" not in line
    assert "PDM_BUILD_SCM_VERSION=1.0" in line
    assert line.endswith(
        "uv build --wheel --python 3.8 --exclude-newer 2022-07-02T19:18:01Z sdist/p-1.0"
    )


@pytest.mark.parametrize(
    "doc",
    [None, [], {"source_date_epoch": "x"}, {"wheel_from": "elsewhere"}, {"exclude_newer": "soon"}],
)
def test_not_a_recipe(doc: object) -> None:
    assert recipe_from_json(doc) is None


def test_equivalence_names_what_differs(tmp_path: Path) -> None:
    a = sdist(tmp_path / "a" / "p-1.0.tar.gz", [COMMIT, COMMIT], gzip_mtime=1)
    b = sdist(tmp_path / "b" / "p-1.0.tar.gz", [COMMIT + 5, COMMIT], gzip_mtime=2)
    found = equivalence(a, b)
    assert found is not None
    assert found.aspects == ("gzip header", "mtime")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f0.txt").write_text("file 0\n")
    assert sdist_content_problems(a, tree, None) == [
        "f1.txt is not in the tag's tree (and from the rebuilt sdist's)"
    ]
    (tree / "f1.txt").write_text("file 1\n")
    assert sdist_content_problems(a, tree, None) == []
    (tree / "f1.txt").write_text("changed\n")
    assert sdist_content_problems(a, tree, b) == []  # generated: as the rebuild makes it


def test_pyenv_versions_are_found_where_uv_sees_only_shims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv finds pyenv's shims on PATH (which fail unless their version is selected), not the
    interpreters under ``$PYENV_ROOT/versions``: the newest patch of the minor is taken."""
    for version, executable in [
        ("3.8.9", True),
        ("3.8.18", True),
        ("3.8.20", False),  # not executable: not an interpreter
        ("3.9.1", True),
        ("3.8-dev", True),  # not a release
    ]:
        minor = ".".join(version.split(".")[:2]).removesuffix("-dev")
        binary = tmp_path / "versions" / version / "bin" / f"python{minor}"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755 if executable else 0o644)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert pyenv_interpreter("cpython@3.8") == str(
        tmp_path / "versions" / "3.8.18" / "bin" / "python3.8"
    )
    assert pyenv_interpreter("cpython@3.10") is None
    assert pyenv_interpreter("cpython@3.8t") is None  # free-threaded builds: not by name
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "nowhere"))
    assert pyenv_interpreter("cpython@3.8") is None
