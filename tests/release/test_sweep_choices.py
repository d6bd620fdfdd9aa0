"""The sweep's choices without a build: which versions ``--versions`` takes, which tag
``--tag-pattern`` gives each, and the refusals of bad input (before any network or build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from tests.release.conftest import git, make_repo
from trustyard.cli.main import main
from trustyard.errors import InvalidInput
from trustyard.release.sweep import parse_project_name, parse_selection
from trustyard.release.tags import DEFAULT_PATTERNS, match_tags, parse_tag_pattern, repository_tags

VERSIONS = [Version(v) for v in ("0.9", "1.0rc1", "1.0", "1.1", "2.0", "2.1.dev3")]


def chosen(text: str) -> list[str]:
    return [str(v) for v in parse_selection(text).choose(VERSIONS)]


def test_all_and_last_take_every_version_in_order() -> None:
    assert chosen("all") == ["0.9", "1.0rc1", "1.0", "1.1", "2.0", "2.1.dev3"]
    assert chosen("last:2") == ["2.0", "2.1.dev3"]
    assert chosen("last:99") == chosen("all")


def test_a_specifier_admits_pre_releases_only_when_it_names_one() -> None:
    assert chosen(">=1.0,<2") == ["1.0", "1.1"]
    assert chosen("==1.0rc1") == ["1.0rc1"]
    assert chosen(">=2.1.dev0") == ["2.1.dev3"]
    assert chosen("~=1.0") == ["1.0", "1.1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("last:0", "last:N needs a whole number N of at least 1"),
        ("last:x", "last:N needs a whole number"),
        ("last:-1", "last:N needs a whole number"),
        ("newest", "is not all, last:N or a PEP 440 specifier"),
        (">>1", "is not all, last:N or a PEP 440 specifier"),
        ("", "--versions is empty"),
    ],
)
def test_bad_selection(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_selection(text)


def test_project_name() -> None:
    assert parse_project_name("Secure-Package-Template") == "Secure-Package-Template"
    with pytest.raises(InvalidInput, match="give the project name alone"):
        parse_project_name("pkg==1.0")
    with pytest.raises(InvalidInput, match="not a valid project name"):
        parse_project_name("-pkg")


def test_templates_and_regexes_find_the_version() -> None:
    template = parse_tag_pattern("mypkg-v{version}")
    assert template.version_of("mypkg-v1.2.3") == (Version("1.2.3"), "1.2.3")
    assert template.version_of("mypkg-v1.2.3-final") is None  # the whole tag must fit
    assert template.version_of("other-v1.2.3") is None
    assert template.version_of("mypkg-vnext") is None  # not a PEP 440 version
    dots = parse_tag_pattern("a.b{version}")  # literal dots, not any character
    assert dots.version_of("axb1.0") is None
    regex = parse_tag_pattern(r"(?P<version>[0-9.]+)-final")
    assert regex.version_of("1.0-final") == (Version("1.0"), "1.0")
    assert regex.version_of("x1.0-final") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{version}-{version}", "may appear only once"),
        ("v(", "is not a regular expression"),
        (r"v(\d+)", "needs a named group"),
        ("v {version}", "no spaces"),
        ("", "give a template"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_bad_tag_pattern(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_tag_pattern(text)


def test_tags_match_by_pep_440_equality_and_pattern_order(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo", tag=None)
    for tag in ("v1.0.0", "v1.0", "1.1", "v1.1", "2026.07.22", "release-2.0", "nightly"):
        git(repo, "tag", tag)
    tags = repository_tags(repo)
    assert sorted(tags) == sorted(
        ["v1.0.0", "v1.0", "1.1", "v1.1", "2026.07.22", "release-2.0", "nightly"]
    )
    versions = [Version(v) for v in ("1.0", "1.1", "2.0", "2026.7.22", "3.0")]
    assert match_tags(tags, versions) == {
        Version("1.0"): "v1.0",  # spelled as the version, before v1.0.0
        Version("1.1"): "v1.1",  # v{version} before {version}
        Version("2026.7.22"): "2026.07.22",  # zero padding is the same version
    }
    release = [parse_tag_pattern("release-{version}"), *DEFAULT_PATTERNS]
    assert match_tags(tags, versions, release)[Version("2.0")] == "release-2.0"


def test_bare_repository_tags(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(tmp_path / "bare.git"))
    assert repository_tags(tmp_path / "bare.git") == ["v0.1.0"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--versions", "all", "--ref", "v1"], "--ref name one release"),
        (["--versions", "all", "--build-env", "x.json"], "--build-env name one release"),
        (["--tag-pattern", "v{version}"], "--tag-pattern chooses tags for --versions"),
        (["--versions", "last:0"], "last:N needs a whole number"),
        (["--versions", "all", "--tag-pattern", "v("], "is not a regular expression"),
    ],
)
def test_cli_refuses_before_reading_anything(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", "pkg", "--index", "http://127.0.0.1:9/simple/", "--source", "."]
    assert main([*args, *extra]) == 1
    assert message in capsys.readouterr().err


def test_cli_sweep_wants_a_bare_name(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["verify", "pkg==1.0", "--index", "http://127.0.0.1:9/simple/", "--source", "."]
    assert main([*args, "--versions", "all"]) == 1
    assert "give the project name alone" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--source", ".", "--from-sdist"], "--from-sdist rebuilds from the index's sdists"),
        (["--from-sdist", "--tag-pattern", "v{version}"], "--from-sdist rebuilds without git"),
        ([], "give --source (or --from-sdist)"),
        (["--from-sdist", "--save-build-env", "FILE"], "with --versions it names a directory"),
    ],
)
def test_cli_sweep_sources_are_checked_before_reading_anything(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    extra = [str(file) if e == "FILE" else e for e in extra]
    args = ["verify", "pkg", "--index", "http://127.0.0.1:9/simple/", "--versions", "all"]
    assert main([*args, *extra]) == 1
    assert message in capsys.readouterr().err
