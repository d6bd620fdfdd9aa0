"""``trustyard verify`` of releases trustyard did not build (issue 16): each of the four families
of the issue's survey, made as their maintainers made them (plain ``uv build`` at an OLD
backend version, with or without ``SOURCE_DATE_EPOCH``, the wheel from the tree's sdist or from
a checkout with its own mtimes), published to a real index with the upload time of the day,
then verified with nothing but the index and the git repository (or only the index).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.index.conftest import upload_built
from tests.release.conftest import git
from trustyard.cli.main import main
from trustyard.release.buildenv.interpreters import find_interpreter
from trustyard.release.buildenv.uv import uv_binary
from trustyard.release.errors import BuildFailed

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

COMMIT_DATE = "2022-06-30T12:00:00+00:00"
COMMIT_EPOCH = 1656590400


@dataclass(frozen=True)
class Published:
    """A release as its maintainer built and uploaded it. Names have no dashes: flit before
    3.8 names sdists unnormalised (``a-b-1.0.tar.gz``), which PEP 625 uploads refuse."""

    name: str
    repo: Path
    sdist: Path
    wheel: Path


def make_project(root: Path, name: str, pyproject: str, module: str) -> Path:
    """A git repository with one module, committed at COMMIT_DATE and tagged v1.0.0."""
    repo = root / name
    (repo / module).mkdir(parents=True)
    (repo / module / "__init__.py").write_text('"""A sample."""\n\n__version__ = "1.0.0"\n')
    (repo / "README.md").write_text(f"# {name}\n")
    (repo / "pyproject.toml").write_text(pyproject)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "release 1.0.0", date=COMMIT_DATE)
    git(repo, "tag", "v1.0.0", date=COMMIT_DATE)
    return repo


def checkout(repo: Path, dest: Path, mtime: float | None, tag: str = "v1.0.0") -> Path:
    """The tag's files as a maintainer's checkout has them (``mtime``: when they were written;
    ``None``: the commit time, as ``git archive`` writes them)."""
    dest.mkdir(parents=True)
    data = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", tag],
        capture_output=True,
        check=True,
    ).stdout
    archive = dest.with_suffix(".tar")
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    if mtime is not None:
        for number, path in enumerate(sorted(dest.rglob("*"))):
            os.utime(path, (mtime + number, mtime + number))
    return dest


def uv_build(
    project: Path,
    out: Path,
    cutoff: str,
    uv_cache: Path,
    *args: str,
    sde: bool,
    tz: str = "UTC",
    python: str = "3.11",
) -> list[Path]:
    """Plain ``uv build`` as a maintainer ran it on the day (``--exclude-newer``), in ``tz``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "SOURCE_DATE"))}
    env.update(UV_CACHE_DIR=str(uv_cache), UV_NO_CONFIG="1", TZ=tz, UV_PYTHON_DOWNLOADS="never")
    if sde:
        env["SOURCE_DATE_EPOCH"] = str(COMMIT_EPOCH)
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    result = subprocess.run(
        [
            *(uv_binary(), "build", "--quiet", "--python", python, "--exclude-newer", cutoff),
            *("--out-dir", str(out), *args, str(project)),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = set(out.iterdir()) - before
    return sorted(p for p in made if p.name.endswith((".tar.gz", ".whl")))


def publish(index: IndexServer, token: str, upload_time: str, *files: Path) -> None:
    """Upload through the real upload API, then give the files the day's upload time (the
    index stamps the wall clock; PEP 700's ``upload-time`` is what verify reads)."""
    for path in files:
        answer = upload_built(index, token, path)
        assert answer.status == 200, answer.text
    when = datetime.fromisoformat(upload_time.replace("Z", "+00:00")).astimezone(UTC)
    engine = sa.create_engine(index.database)
    with engine.begin() as connection:
        for path in files:
            connection.execute(
                sa.text("UPDATE files SET upload_time = :t WHERE filename = :f"),
                {"t": when.replace(tzinfo=None), "f": path.name},
            )
    engine.dispose()


def from_sdist_wheel(sdist: Path, work: Path, cutoff: str, uv_cache: Path, tz: str = "UTC") -> Path:
    """The wheel built from an sdist unpacked keeping its members' mtimes (``python -m build``)."""
    unpacked = work / "unpacked"
    unpacked.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    (wheel,) = uv_build(top, work / "wheel", cutoff, uv_cache, "--wheel", sde=False, tz=tz)
    return wheel


@pytest.fixture(scope="module")
def flit_sde(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> Published:
    """Family 1: flit_core 3.7.1 (July 2022), built with SOURCE_DATE_EPOCH = commit time."""
    root = tmp_path_factory.mktemp("flit-sde")
    pyproject = (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "tyinfflit"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.7"\n'
        '[tool.flit.module]\nname = "tyinfflit"\n'
    )
    repo = make_project(root, "tyinfflit", pyproject, "tyinfflit")
    tree = checkout(repo, root / "checkout", mtime=1_700_000_000)
    sdist, wheel = uv_build(tree, root / "dist", "2022-07-02T19:18:01Z", uv_cache, sde=True)
    publish(index, uploader, "2022-07-02T19:18:01Z", sdist, wheel)
    return Published("tyinfflit", repo, sdist, wheel)


@pytest.fixture(scope="module")
def hatch_nosde(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> Published:
    """Family 2: hatchling of July 2023, built without SOURCE_DATE_EPOCH (fixed 2020 times)."""
    root = tmp_path_factory.mktemp("hatch-nosde")
    pyproject = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "tyinfhatch"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.8"\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["tyinfhatch"]\n'
    )
    repo = make_project(root, "tyinfhatch", pyproject, "tyinfhatch")
    tree = checkout(repo, root / "checkout", mtime=1_700_000_000)
    sdist, wheel = uv_build(tree, root / "dist", "2023-07-01T10:00:00Z", uv_cache, sde=False)
    publish(index, uploader, "2023-07-01T10:00:00Z", sdist, wheel)
    return Published("tyinfhatch", repo, sdist, wheel)


@pytest.fixture(scope="module")
def flit_checkout(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> Published:
    """Family 3: flit_core 3.7.1 without SOURCE_DATE_EPOCH: the sdist holds the checkout's
    mtimes, the wheel (built from that sdist) holds them too."""
    root = tmp_path_factory.mktemp("flit-checkout")
    pyproject = (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "tyinfflitco"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.7"\n'
        '[tool.flit.module]\nname = "tyinfflitco"\n'
    )
    repo = make_project(root, "tyinfflitco", pyproject, "tyinfflitco")
    tree = checkout(repo, root / "checkout", mtime=1_656_700_000)
    cutoff = "2022-07-02T19:18:01Z"
    (sdist,) = uv_build(tree, root / "dist", cutoff, uv_cache, "--sdist", sde=False)
    wheel = from_sdist_wheel(sdist, root / "wheel", cutoff, uv_cache)
    publish(index, uploader, cutoff, sdist, wheel)
    return Published("tyinfflitco", repo, sdist, wheel)


@pytest.fixture(scope="module")
def flit_london(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> Published:
    """Family 3 built in London (packaging 25.0's case): flit_core 3.7.1 without
    SOURCE_DATE_EPOCH writes each file's mtime as *local* time into the wheel's zip; one module
    was last touched in winter (GMT), the other in summer (BST, +01:00)."""
    root = tmp_path_factory.mktemp("flit-london")
    pyproject = (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "tyinflondon"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.7"\n'
        '[tool.flit.module]\nname = "tyinflondon"\n'
    )
    repo = make_project(root, "tyinflondon", pyproject, "tyinflondon")
    (repo / "tyinflondon" / "winter.py").write_text("SEASON = 'winter'\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--amend", "--no-edit", date=COMMIT_DATE)
    git(repo, "tag", "--force", "v1.0.0", date=COMMIT_DATE)
    tree = checkout(repo, root / "checkout", mtime=1_656_700_000)  # 2022-07-01: BST
    winter = 1_641_038_400  # 2022-01-01T12:00:00Z: GMT
    os.utime(tree / "tyinflondon" / "winter.py", (winter, winter))
    cutoff = "2022-07-02T19:18:01Z"
    (sdist,) = uv_build(tree, root / "dist", cutoff, uv_cache, "--sdist", sde=False)
    wheel = from_sdist_wheel(sdist, root / "wheel", cutoff, uv_cache, tz="Europe/London")
    publish(index, uploader, cutoff, sdist, wheel)
    return Published("tyinflondon", repo, sdist, wheel)


@pytest.fixture(scope="module")
def flit_two_versions(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> dict[str, list[Path]]:
    """Two releases of one project (family 1: flit_core 3.7.1, SOURCE_DATE_EPOCH = commit
    time), 1.0.0 and 1.1.0, each from its own tag: what a sweep walks."""
    root = tmp_path_factory.mktemp("flit-versions")
    pyproject = (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "tyinfsweep"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.7"\n'
        '[tool.flit.module]\nname = "tyinfsweep"\n'
    )
    repo = make_project(root, "tyinfsweep", pyproject, "tyinfsweep")
    for file in (repo / "pyproject.toml", repo / "tyinfsweep" / "__init__.py"):
        file.write_text(file.read_text().replace("1.0.0", "1.1.0"))
    git(repo, "commit", "--quiet", "-am", "release 1.1.0", date=COMMIT_DATE)
    git(repo, "tag", "v1.1.0", date=COMMIT_DATE)
    cutoff = "2022-07-02T19:18:01Z"
    made: dict[str, list[Path]] = {"repo": [repo]}
    for version in ("1.0.0", "1.1.0"):
        tree = checkout(repo, root / version / "checkout", 1_700_000_000, f"v{version}")
        made[version] = uv_build(tree, root / version / "dist", cutoff, uv_cache, sde=True)
        publish(index, uploader, cutoff, *made[version])
    return made


def sweep(
    index: IndexServer, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "tyinfsweep", "--index", index.simple_url, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_sweep_writes_each_proven_releases_build_env(
    flit_two_versions: dict[str, list[Path]],
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (repo,) = flit_two_versions["repo"]
    records = tmp_path / "records"
    source = ("--source", str(repo))
    code, report = sweep(
        index, capsys, *source, "--versions", "all", "--save-build-env", str(records)
    )
    assert code == 0, report
    assert [(r["version"], r["status"]) for r in report["releases"]] == [
        ("1.0.0", "verified"),
        ("1.1.0", "verified"),
    ]
    assert sorted(p.name for p in records.iterdir()) == [
        "tyinfsweep-1.0.0.build-env.json",
        "tyinfsweep-1.1.0.build-env.json",
    ]
    for release in report["releases"]:
        written = Path(release["report"]["build_env"])
        assert written.parent == records
        record = json.loads(written.read_text())
        assert record["source"]["ref"] == f"refs/tags/v{release['version']}"
        assert record["source"]["recipe"]["source_date_epoch"] == COMMIT_EPOCH
        assert {a["filename"] for a in record["artifacts"]} == {
            p.name for p in flit_two_versions[release["version"]]
        }

    # one of them replays with no search
    one = records / "tyinfsweep-1.1.0.build-env.json"
    code, single = verify(
        index,
        "tyinfsweep==1.1.0",
        capsys,
        *source,
        "--build-env",
        str(one),
        "--save-build-env",
        str(tmp_path / "again.json"),
    )
    assert code == 0, single
    assert set(grades(single).values()) == {"reproduced"}


def test_a_sweep_from_the_sdists_needs_no_git(
    flit_two_versions: dict[str, list[Path]],
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = tmp_path / "from-sdist"
    args = ("--from-sdist", "--versions", ">=1.1", "--save-build-env", str(records))
    code, report = sweep(index, capsys, *args)
    assert code == 0, report
    assert report["from_sdist"] is True
    assert report["source"] is None
    (release,) = report["releases"]
    assert (release["version"], release["status"], release["tag"]) == ("1.1.0", "verified", None)
    wheel, sdist = sorted(flit_two_versions["1.1.0"], key=lambda p: p.name.endswith(".tar.gz"))
    assert grades(release["report"]) == {
        sdist.name: "not compared (no git source)",
        wheel.name: "reproduced-from-sdist",
    }
    record = json.loads((records / "tyinfsweep-1.1.0.build-env.json").read_text())
    assert record["source"]["recipe"]["wheel_from"] == "published-sdist"


def installed(request: str) -> str | None:
    """The executable of an installed interpreter (never downloaded), else ``None``."""
    try:
        return find_interpreter(request).executable
    except BuildFailed:
        return None


PYTHON_38 = installed("cpython@3.8")


def test_the_interpreter_of_the_time_is_chosen(
    tmp_path: Path,
    index: IndexServer,
    uploader: str,
    uv_cache: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """httpx 0.28.1's case: hatchling's sdist built with Python 3.8 (whose ``tarfile`` writes
    other device fields) rebuilds byte for byte only under 3.8, which the inference names (the
    oldest ``Requires-Python`` allows) and finds installed."""
    # scripts/test provides it (pyenv's, uv's, or `uv python install 3.8`).
    assert PYTHON_38 is not None, (
        "CPython 3.8 is needed: run scripts/test, or uv python install 3.8"
    )
    pyproject = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "tyinfpy38"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.8"\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["tyinfpy38"]\n'
    )
    repo = make_project(tmp_path, "tyinfpy38", pyproject, "tyinfpy38")
    tree = checkout(repo, tmp_path / "checkout", mtime=1_700_000_000)
    cutoff = "2024-12-06T15:37:23Z"
    made = uv_build(tree, tmp_path / "dist", cutoff, uv_cache, sde=False, python=PYTHON_38)
    publish(index, uploader, cutoff, *made)
    saved = tmp_path / "py38.build-env.json"
    code, report = verify(
        index, "tyinfpy38==1.0.0", capsys, "--source", str(repo), "--save-build-env", str(saved)
    )
    files = {f["filename"]: f for f in report["files"]}
    sdist = next(f for n, f in files.items() if n.endswith(".tar.gz"))
    assert sdist["verdict"] == "reproduced", sdist
    assert "Python 3.8" in sdist["recipe"]
    assert {f["verdict"] for f in files.values()} == {"reproduced"}
    assert code == 0, report
    assert "Python" not in report["recipes_tried"][0]  # the running 3.11 was tried first
    assert "--python 3.8" in report["uv_build"]
    record = json.loads(saved.read_text())
    assert record["python"]["version"].startswith("3.8."), record["python"]


@pytest.fixture(scope="module")
def setuptools_old(
    tmp_path_factory: pytest.TempPathFactory, index: IndexServer, uploader: str, uv_cache: Path
) -> Published:
    """Family 4: setuptools of October 2023 (with ``wheel``), without SOURCE_DATE_EPOCH."""
    root = tmp_path_factory.mktemp("setuptools-old")
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tyinfst"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.8"\n'
    )
    repo = make_project(root, "tyinfst", pyproject, "tyinfst")
    tree = checkout(repo, root / "checkout", mtime=1_696_000_000)
    cutoff = "2023-10-01T10:00:00Z"
    (sdist,) = uv_build(tree, root / "dist", cutoff, uv_cache, "--sdist", sde=False)
    wheel = from_sdist_wheel(sdist, root / "wheel", cutoff, uv_cache)
    publish(index, uploader, cutoff, sdist, wheel)
    return Published("tyinfst", repo, sdist, wheel)


def verify(
    index: IndexServer,
    spec: str,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, dict[str, Any]]:
    code = main(["verify", spec, "--index", index.simple_url, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def grades(report: dict[str, Any]) -> dict[str, str]:
    files = report["files"]
    assert isinstance(files, list)
    return {f["filename"]: f["verdict"] for f in files}


def test_family_1_flit_with_sde_is_reproduced_and_the_recipe_replays(
    flit_sde: Published,
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = tmp_path / "found.build-env.json"
    spec = f"{flit_sde.name}==1.0.0"
    code, report = verify(
        index, spec, capsys, "--source", str(flit_sde.repo), "--save-build-env", str(saved)
    )
    assert grades(report) == {flit_sde.sdist.name: "reproduced", flit_sde.wheel.name: "reproduced"}
    assert code == 0, report
    assert report["schema_version"] == 2
    assert "flit-core==3.7.1" in report["recipes_tried"][0]
    assert f"SOURCE_DATE_EPOCH={COMMIT_EPOCH}" in report["uv_build"]
    assert "--exclude-newer 2022-07-02T19:18:01Z" in report["uv_build"]
    record = json.loads(saved.read_text())
    assert record["backend"]["version"] == "3.7.1"
    assert record["source"]["recipe"]["source_date_epoch"] == COMMIT_EPOCH

    # the written record replays with no search, from a bare mirror of the repository
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(flit_sde.repo), str(bare)], check=True)
    code, report = verify(
        index,
        spec,
        capsys,
        "--source",
        str(bare),
        "--build-env",
        str(saved),
        "--save-build-env",
        str(tmp_path / "again.json"),
    )
    assert code == 0, report
    assert report["recipes_tried"] == [report["recipes_tried"][0]]
    assert set(grades(report).values()) == {"reproduced"}


def test_family_2_hatchling_without_sde_is_reproduced(
    hatch_nosde: Published,
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify(
        index,
        f"{hatch_nosde.name}==1.0.0",
        capsys,
        "--source",
        f"file://{hatch_nosde.repo}",
        "--save-build-env",
        str(tmp_path / "env.json"),
    )
    assert grades(report) == {
        hatch_nosde.sdist.name: "reproduced",
        hatch_nosde.wheel.name: "reproduced",
    }
    assert code == 0, report
    assert "no SOURCE_DATE_EPOCH" in report["recipes_tried"][0]  # the sdist's 2020 times say so
    assert "SOURCE_DATE_EPOCH" not in report["uv_build"]


def test_family_3_flit_wheel_is_reproduced_from_the_published_sdist(
    flit_checkout: Published,
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = f"{flit_checkout.name}==1.0.0"
    save = ("--save-build-env", str(tmp_path / "env.json"))
    code, report = verify(index, spec, capsys, "--source", str(flit_checkout.repo), *save)
    files = {f["filename"]: f for f in report["files"]}
    sdist, wheel = files[flit_checkout.sdist.name], files[flit_checkout.wheel.name]
    assert wheel["verdict"] == "reproduced-from-sdist", wheel
    assert sdist["verdict"] == "equivalent", sdist
    assert "mtime" in sdist["differs_in"]
    assert code == 1  # equivalent is not proof ...
    code, _ = verify(
        index, spec, capsys, "--source", str(flit_checkout.repo), "--accept-equivalent", *save
    )
    assert code == 0  # ... unless accepted

    # no git at all: the wheel from the index's own sdist
    code, report = verify(index, spec, capsys, "--from-sdist", *save)
    assert grades(report) == {
        flit_checkout.sdist.name: "not compared (no git source)",
        flit_checkout.wheel.name: "reproduced-from-sdist",
    }
    assert code == 0, report
    assert "tar -xzf" in report["uv_build"]


def test_the_builders_time_zone_is_inferred_and_only_it_reproduces(
    flit_london: Published,
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The wheel's local zip times name Europe/London; the recipe with it rebuilds the wheel
    byte for byte, the same recipe in UTC does not (``equivalent``: mtime)."""
    spec = f"{flit_london.name}==1.0.0"
    saved = tmp_path / "london.build-env.json"
    source = ("--source", str(flit_london.repo))
    code, report = verify(index, spec, capsys, *source, "--save-build-env", str(saved))
    files = {f["filename"]: f for f in report["files"]}
    wheel = files[flit_london.wheel.name]
    assert wheel["verdict"] == "reproduced-from-sdist", wheel
    assert "TZ=Europe/London" in wheel["recipe"]
    assert "TZ=Europe/London" in report["recipes_tried"][0]
    assert "TZ=Europe/London" in report["uv_build"]
    assert files[flit_london.sdist.name]["verdict"] == "equivalent"  # checkout mtimes
    assert code == 1
    record = json.loads(saved.read_text())
    assert record["source"]["recipe"]["tz"] == "Europe/London"

    # replayed as recorded: the same proof, no search
    again = ("--save-build-env", str(tmp_path / "again.json"))
    code, report = verify(index, spec, capsys, *source, "--build-env", str(saved), *again)
    assert grades(report)[flit_london.wheel.name] == "reproduced-from-sdist"
    assert len(report["recipes_tried"]) == 1

    # the same recipe in UTC: every byte but the summer file's zip time
    record["source"]["recipe"]["tz"] = "UTC"
    utc = tmp_path / "utc.build-env.json"
    utc.write_text(json.dumps(record))
    code, report = verify(index, spec, capsys, *source, "--build-env", str(utc), *again)
    wheel = {f["filename"]: f for f in report["files"]}[flit_london.wheel.name]
    assert wheel["verdict"] == "equivalent", wheel
    assert wheel["differs_in"] == ["mtime"]


def test_family_4_setuptools_sdist_is_the_tags_content(
    setuptools_old: Published,
    index: IndexServer,
    cli_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify(
        index,
        f"{setuptools_old.name}==1.0.0",
        capsys,
        "--source",
        str(setuptools_old.repo),
        "--save-build-env",
        str(tmp_path / "env.json"),
    )
    files = {f["filename"]: f for f in report["files"]}
    sdist, wheel = files[setuptools_old.sdist.name], files[setuptools_old.wheel.name]
    assert sdist["verdict"] == "equivalent", sdist
    assert wheel["verdict"] in {"reproduced-from-sdist", "equivalent"}, wheel
    assert code == 1


def test_a_tampered_sdist_is_not_proof_for_its_wheel(
    tmp_path: Path,
    flit_checkout: Published,
    index: IndexServer,
    uploader: str,
    uv_cache: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The wheel of an sdist that is not the tag's is graded ``differs`` even when it is
    rebuilt from that sdist byte for byte."""
    evil = tmp_path / "evil"
    shutil.copytree(flit_checkout.repo, evil / "repo")
    init = evil / "repo" / "tyinfflitco" / "__init__.py"
    init.write_text(init.read_text().replace("1.0.0", "1.0.1") + "import os  # injected\n")
    pyproject = evil / "repo" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("1.0.0", "1.0.1"))
    tree = evil / "tree"
    shutil.copytree(evil / "repo", tree, ignore=shutil.ignore_patterns(".git"))
    cutoff = "2022-07-02T19:18:01Z"
    (sdist,) = uv_build(tree, evil / "dist", cutoff, uv_cache, "--sdist", sde=False)
    wheel = from_sdist_wheel(sdist, evil / "wheel", cutoff, uv_cache)
    publish(index, uploader, cutoff, sdist, wheel)
    # the honest repository, tagged 1.0.1 without the injected line
    honest = evil / "honest"
    shutil.copytree(flit_checkout.repo, honest)
    init = honest / "tyinfflitco" / "__init__.py"
    init.write_text(init.read_text().replace("1.0.0", "1.0.1"))
    (honest / "pyproject.toml").write_text(pyproject.read_text())
    git(honest, "commit", "--quiet", "-am", "1.0.1", date=COMMIT_DATE)
    git(honest, "tag", "v1.0.1", date=COMMIT_DATE)
    code, report = verify(
        index,
        f"{flit_checkout.name}==1.0.1",
        capsys,
        "--source",
        str(honest),
        "--save-build-env",
        str(tmp_path / "env.json"),
    )
    assert code == 1
    files = {f["filename"]: f for f in report["files"]}
    assert files[wheel.name]["verdict"] == "differs", files[wheel.name]
    assert "not the tag's" in files[wheel.name]["note"]
    assert files[sdist.name]["verdict"] == "differs"


def test_a_wheel_from_a_dirty_sdist_is_judged_against_the_tag(
    tmp_path: Path,
    index: IndexServer,
    uploader: str,
    uv_cache: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """packaging 25.0's case: the sdist was made from a checkout with a stray file (not in
    git), the wheel from that sdist has none: the sdist differs from the tag, but the wheel is
    ``equivalent`` to the tag's (its bytes come from the sdist, its content is the tag's)."""
    pyproject = (
        '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "tyinfdirty"\nversion = "1.0.0"\ndescription = "d"\n'
        'readme = "README.md"\nrequires-python = ">=3.7"\n'
        '[tool.flit.module]\nname = "tyinfdirty"\n'
        '[tool.flit.sdist]\ninclude = ["tests/"]\n'
    )
    repo = make_project(tmp_path, "tyinfdirty", pyproject, "tyinfdirty")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_it.py").write_text("def test_it() -> None: ...\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--amend", "--no-edit", date=COMMIT_DATE)
    git(repo, "tag", "--force", "v1.0.0", date=COMMIT_DATE)
    tree = checkout(repo, tmp_path / "checkout", mtime=1_656_700_000)
    (tree / "tests" / ".pytest_cache").mkdir()
    (tree / "tests" / ".pytest_cache" / "README.md").write_text("# pytest cache\n")
    cutoff = "2022-07-02T19:18:01Z"
    (sdist,) = uv_build(tree, tmp_path / "dist", cutoff, uv_cache, "--sdist", sde=False)
    wheel = from_sdist_wheel(sdist, tmp_path / "wheel", cutoff, uv_cache)
    publish(index, uploader, cutoff, sdist, wheel)
    code, report = verify(
        index,
        "tyinfdirty==1.0.0",
        capsys,
        "--source",
        str(repo),
        "--save-build-env",
        str(tmp_path / "env.json"),
    )
    files = {f["filename"]: f for f in report["files"]}
    assert files[sdist.name]["verdict"] == "differs", files[sdist.name]
    assert files[wheel.name]["verdict"] == "equivalent", files[wheel.name]
    assert "that sdist is not the tag's" in files[wheel.name]["note"]
    assert ".pytest_cache/README.md" in files[wheel.name]["note"]
    assert code == 1


def test_a_tag_no_recipe_can_build_is_a_failed_build(
    tmp_path: Path,
    index: IndexServer,
    uploader: str,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not a verdict on the files: the error of the backend, as before inference."""
    pyproject = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.no_such_backend"\n'
        '[project]\nname = "tyinfbroken"\nversion = "1.0.0"\n'
    )
    repo = make_project(tmp_path, "tyinfbroken", pyproject, "tyinfbroken")
    publish(index, uploader, "2024-01-01T00:00:00Z", build_wheel(tmp_path, "tyinfbroken", "1.0.0"))
    args = ["--source", str(repo), "--time-limit", "1"]
    assert main(["verify", "tyinfbroken==1.0.0", "--index", index.simple_url, *args]) == 1
    assert "the build backend failed" in capsys.readouterr().err
