"""``release add-wheels``'s parts on this machine: ``--python`` values, finding an installed
interpreter (never downloading one), a wheel built from a given sdist with a given interpreter,
and the labelled ``attest`` of just those wheels. The whole flow against real indexes is in
``tests/e2e/test_add_wheels.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.release.conftest import COMMIT_EPOCH, git, make_repo
from trustyard.attestations.statements import parse_provenance
from trustyard.cli.main import build_parser, main
from trustyard.cli.release import run, run_add_wheels
from trustyard.errors import InvalidInput
from trustyard.release.add_wheels import parse_python_tags
from trustyard.release.attest import AttestError, AttestOptions, attest_release
from trustyard.release.build import BuildOptions, build_wheel_from_sdist, sha256_of
from trustyard.release.buildenv.cache import EnvCache
from trustyard.release.buildenv.interpreters import find_interpreter
from trustyard.release.errors import BuildFailed

SDIST = "ty_sample_perpython-0.1.0.tar.gz"
WHEEL = "ty_sample_perpython-0.1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "ACTIONS_ID_TOKEN_REQUEST_URL", "SIGSTORE_ID_TOKEN")


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever CI runs the tests, attest must see a developer's machine."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["cp311"], ("cp311",)),
        (["cp314", "cp39", "cp313t"], ("cp314", "cp39", "cp313t")),
    ],
)
def test_python_tags_accepted(values: list[str], expected: tuple[str, ...]) -> None:
    assert parse_python_tags(values) == expected


@pytest.mark.parametrize(
    "value",
    [
        "py3",
        "3.14",
        "cp2",
        "cp27",
        "cp3",
        "cp314tt",
        "CP314",
        "cp3014",
        "cp314 ",
        "pp310",
        "",
        "cp31x",
    ],
)
def test_bad_python_tags_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_python_tags([value])
    assert caught.value.message == (
        f"--python {value!r} is not a CPython interpreter tag such as cp312, cp314 or cp314t "
        "(free-threaded)"
    )


def test_every_bad_python_value_is_reported_together() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_python_tags(["cp311", "py3", "cp311", "x" * 10_000])
    message = caught.value.message
    assert "--python 'py3' is not" in message
    assert "--python cp311 is given twice" in message
    assert message.count("is not a CPython interpreter tag") == 2
    with pytest.raises(InvalidInput, match="name at least one interpreter"):
        parse_python_tags([])


def test_release_keeps_its_dist_positional_and_add_wheels_is_a_first_word() -> None:
    urls = ["--test-index", "http://t/legacy/", "--index", "http://p/legacy/"]
    args = build_parser("release").parse_args(["release", "out", *urls, "--yes"])
    assert (args.run, args.dist, args.yes) == (run, Path("out"), True)
    args = build_parser("release").parse_args(["release", *urls])
    assert (args.run, args.dist) == (run, Path("dist"))
    args = build_parser("release").parse_args(
        ["release", "add-wheels", "--ref", "v1", "--python", "cp314", "--python", "cp313",
         "--index", "http://p/legacy/", "--dist", "d"]
    )  # fmt: skip
    assert args.run is run_add_wheels
    assert (args.pythons, args.ref, args.dist, args.test_index) == (
        ["cp314", "cp313"], "v1", Path("d"), None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--ref", "v1", "--index", "http://p/legacy/"], "--python"),
        (["--python", "cp311", "--index", "http://p/legacy/"], "--ref"),
        (["--ref", "v1", "--python", "cp311"], "--index"),
        (
            ["--ref", "v1", "--python", "cp311", "--index", "u", "--yes", "--approve-file", "f"],
            "not allowed",
        ),
        (["--ref", "v1", "--python", "cp311", "--index", "u", "--allow-dirty"], "unrecognized"),
    ],
)
def test_add_wheels_usage_errors(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["release", "add-wheels", *argv])
    assert exited.value.code == 2
    assert error in capsys.readouterr().err


def test_bad_python_values_stop_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["release", "add-wheels", "--ref", "v0.1.0", "--python", "cp3.14", "--python", "py3",
         "--project", str(tmp_path / "nowhere"), "--dist", str(tmp_path / "dist"),
         "--index", "http://127.0.0.1:9/legacy/", "--yes"]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("trustyard: error: --python 'cp3.14' is not a CPython interpreter tag")
    assert "--python 'py3' is not" in err
    assert not (tmp_path / "dist").exists()


def test_an_interpreter_that_is_not_installed_is_named_and_never_downloaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["release", "add-wheels", "--ref", "v0.1.0", "--python", "cp399", "--python", "cp398",
         "--project", str(tmp_path / "nowhere"), "--dist", str(tmp_path / "dist"),
         "--index", "http://127.0.0.1:9/legacy/", "--yes"]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot build for every requested Python:" in err
    for tag, version in (("cp399", "3.99"), ("cp398", "3.98")):
        assert (
            f"{tag}: no installed Python interpreter matches cpython@{version} (`uv python find` "
            f"never downloads one here): install it first, e.g. `uv python install "
            f"cpython@{version}`"
        ) in err
    assert not (tmp_path / "dist").exists()


def test_find_interpreter_describes_the_installed_cpython() -> None:
    found = find_interpreter("cpython@3.11")
    assert found.tag == "cp311"
    assert found.version.startswith("3.11.")
    assert found.implementation == "CPython"
    assert found.purelib == "lib/python3.11/site-packages"
    assert found.markers["python_version"] == "3.11"
    assert found.markers["implementation_name"] == "cpython"
    assert ".venv" not in found.executable  # a base interpreter, not this project's venv
    with pytest.raises(BuildFailed, match=r"matches cpython@3\.99 "):
        find_interpreter("cpython@3.99")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> tuple[Path, Path]:
    """The per-interpreter sample, tagged, and its ``trustyard build`` output (built once)."""
    root = tmp_path_factory.mktemp("add-wheels")
    repo = make_repo("hatchling_perpython", root / "repo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UV_CACHE_DIR", str(uv_cache))
        assert main(["build", str(repo), "--out", str(root / "dist")]) == 0
    return repo, root / "dist"


@pytest.mark.slow
@pytest.mark.builds
def test_a_wheel_from_the_sdist_with_another_interpreter_is_the_same_bytes(
    built: tuple[Path, Path], tmp_path: Path, uv_cache: Path
) -> None:
    """The base CPython 3.11 (not the venv running trustyard) builds, from the sdist alone, the
    very wheel ``trustyard build`` made, and records what it used."""
    repo, dist = built
    interpreter = find_interpreter("cpython@3.11")
    commit = git(repo, "rev-parse", "v0.1.0^{commit}").strip()
    source = {"commit": commit, "ref": "v0.1.0", "source_date_epoch": COMMIT_EPOCH}
    result = build_wheel_from_sdist(
        dist / SDIST,
        BuildOptions(repo, envs=EnvCache(uv_cache=uv_cache, interpreter=interpreter)),
        tmp_path / "out",
        tmp_path / "work",
        source=source,
        record_name="cp311.build-env.json",
    )
    (wheel,) = result.artifacts
    assert wheel.name == WHEEL
    assert wheel.read_bytes() == (dist / WHEEL).read_bytes()
    record = json.loads((tmp_path / "out/cp311.build-env.json").read_text())
    assert record["python"]["version"] == interpreter.version
    assert record["source"] == source
    assert record["artifacts"] == [{"filename": WHEEL, "sha256": sha256_of(wheel)}]
    assert {d["name"] for d in record["dependencies"]} >= {"hatchling"}
    # without SOURCE_DATE_EPOCH there is nothing reproducible to build
    with pytest.raises(BuildFailed, match="SOURCE_DATE_EPOCH"):
        build_wheel_from_sdist(
            dist / SDIST,
            BuildOptions(repo),
            tmp_path / "out2",
            tmp_path / "work2",
            source={"commit": commit},
            record_name="x.json",
        )


def _labelled_release(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A release directory as ``add-wheels`` leaves it before attesting: the release's files
    and attestation, plus the wheel with its own record ``cp311.build-env.json``."""
    repo, dist = built
    release = tmp_path / "dist"
    shutil.copytree(dist, release)
    assert main(["attest", str(release), "--source", str(repo)]) == 0
    record = json.loads((release / "build-env.json").read_text())
    record["artifacts"] = [a for a in record["artifacts"] if a["filename"] == WHEEL]
    record["source"]["sdist"] = {"filename": SDIST, "sha256": sha256_of(release / SDIST)}
    (release / "cp311.build-env.json").write_text(json.dumps(record))
    return release


def test_labelled_attest_covers_only_the_chosen_wheels(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = built
    release = _labelled_release(built, tmp_path)
    before = {p.name: p.read_bytes() for p in release.iterdir()}
    result = attest_release(
        AttestOptions(
            release_dir=release, source=repo, distributions=(release / WHEEL,), label="cp311"
        )
    )
    assert not result.signed
    assert result.provenance_path == release / "cp311.intoto.jsonl"
    assert (release / "cp311.SHA256SUMS").read_text() == f"{sha256_of(release / WHEEL)}  {WHEEL}\n"
    statement = parse_provenance((release / "cp311.intoto.jsonl").read_text())
    assert [s.name for s in statement.subjects] == [WHEEL]
    source = statement.source()
    assert source is not None
    assert source.ref == "refs/tags/v0.1.0"
    # the release's own files are left exactly as they were
    after = {p.name: p.read_bytes() for p in release.iterdir() if p.name in before}
    assert after == before
    assert sorted({p.name for p in release.iterdir()} - set(before)) == [
        "cp311.SHA256SUMS",
        "cp311.intoto.jsonl",
    ]


@pytest.mark.parametrize(
    ("label", "chosen", "error"),
    [
        ("../cp311", [WHEEL], "'../cp311' is not a label"),
        ("", [WHEEL], "'' is not a label"),
        (None, [WHEEL], "attesting some of the distributions needs a label"),
        ("cp311", [], "no distributions were chosen"),
        ("cp311", ["other-0.1.0-py3-none-any.whl"], "is not a distribution in"),
        ("cp312", [WHEEL], "cp312.build-env.json is missing"),
        ("cp311", [SDIST], f"{SDIST} is not among the artifacts it records"),
    ],
)
def test_labelled_attest_refusals(
    built: tuple[Path, Path],
    tmp_path: Path,
    label: str | None,
    chosen: list[str],
    error: str,
) -> None:
    repo, _ = built
    release = _labelled_release(built, tmp_path)
    before = {p.name: p.read_bytes() for p in release.iterdir()}
    with pytest.raises(AttestError) as caught:
        attest_release(
            AttestOptions(
                release_dir=release,
                source=repo,
                distributions=tuple(release / name for name in chosen),
                label=label,
            )
        )
    assert error in caught.value.message
    assert {p.name: p.read_bytes() for p in release.iterdir()} == before
