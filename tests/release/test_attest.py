"""``trustyard attest`` on a real ``trustyard build`` output, unsigned (no CI identity here):
SHA256SUMS that ``sha256sum -c`` accepts, a SLSA v1 statement naming source, environment and
builder, and bad release directories refused with nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypi_attestations import Attestation, GitHubPublisher, GitLabPublisher
from sigstore.models import Bundle
from sigstore.verify import Verifier

from tests.devsigstore import GITHUB_ISSUER, GITLAB_ISSUER, DevSigstore, start_dev_sigstore
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.release.conftest import git, make_repo
from trustyard.attestations.statements import (
    LOCAL_BUILDER_ID,
    parse_provenance,
    provenance_line,
)
from trustyard.attestations.trust import PUBLISH_V1, load_trust_config, verify_attestation
from trustyard.cli.main import main
from trustyard.release.attest import _repository_url, normalize_git_url
from trustyard.release.build import sha256_of
from trustyard.release.buildenv.carried import load_record

SDIST = "ty_sample_hatchling-0.1.0.tar.gz"
WHEEL = "ty_sample_hatchling-0.1.0-py3-none-any.whl"
CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "ACTIONS_ID_TOKEN_REQUEST_URL", "SIGSTORE_ID_TOKEN")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> tuple[Path, Path]:
    """A tagged hatchling sample and its ``trustyard build`` output (built once)."""
    root = tmp_path_factory.mktemp("attest")
    repo = make_repo("hatchling", root / "repo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UV_CACHE_DIR", str(uv_cache))
        assert main(["build", str(repo), "--out", str(root / "dist")]) == 0
    return repo, root / "dist"


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever CI runs the tests, attest must see a developer's machine."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def release(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the release directory."""
    copy = tmp_path / "dist"
    shutil.copytree(built[1], copy)
    return copy


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def attest(*args: str) -> int:
    return main(["attest", *args])


def test_unsigned_attest_end_to_end(
    built: tuple[Path, Path], release: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = built
    assert attest(str(release), "--source", str(repo)) == 0
    captured = capsys.readouterr()
    assert "NOT signed: no ambient CI identity" in captured.err
    assert "no .publish.attestation was written" in captured.err
    assert "builder: this machine (not a CI run" in captured.out
    assert not list(release.glob("*.publish.attestation"))
    assert not list(release.glob(".*"))  # no temporary files left behind

    # SHA256SUMS: sha256sum's own format, distributions only, sorted
    sums = (release / "SHA256SUMS").read_text()
    assert [line.split("  ")[1] for line in sums.splitlines()] == sorted([SDIST, WHEEL])
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=release,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 2

    # the statement: one JSON line, every artifact a subject with its hash
    lines = (release / "multiple.intoto.jsonl").read_text().splitlines()
    assert len(lines) == 1
    parsed = parse_provenance(lines[0])
    listed = dict(line.split("  ")[::-1] for line in sums.splitlines())
    assert {s.name: s.sha256 for s in parsed.subjects} == listed
    commit = git(repo, "rev-parse", "HEAD").strip()
    source = parsed.source()
    assert source is not None
    assert source.commit == commit
    assert source.ref == "refs/tags/v0.1.0"  # build recorded HEAD; the tag names it
    assert source.repository == repo.resolve().as_uri()  # no remote: the path, plainly
    assert parsed.external_parameters["source"] == {
        "repository": repo.resolve().as_uri(),
        "ref": "refs/tags/v0.1.0",
        "commit": commit,
    }
    record = json.loads((release / "build-env.json").read_text())
    environment = parsed.internal_parameters["buildEnvironment"]
    assert environment["backend"] == record["backend"]
    assert environment["python"] == record["python"]
    assert environment["source_date_epoch"] == record["source"]["source_date_epoch"]
    pins = {
        d["name"]: d["annotations"]["sha256"]
        for d in parsed.raw["predicate"]["buildDefinition"]["resolvedDependencies"][1:]
    }
    assert pins == {
        d["name"]: [h.removeprefix("sha256:") for h in d["hashes"]] for d in record["dependencies"]
    }
    assert parsed.builder_id == LOCAL_BUILDER_ID
    assert parsed.invocation_id is None
    assert parsed.internal_parameters["builder"] == "local"
    # build-env.json travels inside, byte for byte, and verify --build-env reads it from there
    assert parsed.byproduct("build-env.json") == (release / "build-env.json").read_bytes()
    provenance = str(release / "multiple.intoto.jsonl")
    carried = load_record((release / "multiple.intoto.jsonl").read_text(), origin=provenance)
    assert carried.to_json() == (release / "build-env.json").read_text()

    # a rerun is idempotent: same bytes, no --overwrite needed
    before = snapshot(release)
    assert attest(str(release), "--source", str(repo)) == 0
    assert snapshot(release) == before


def test_origin_remote_names_the_repository(
    built: tuple[Path, Path], release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(built[0], clone)
    git(clone, "remote", "add", "origin", "git@github.com:octo/ty-sample.git")
    git(clone, "tag", "-d", "v0.1.0")
    assert attest(str(release), "--source", str(clone), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["signed"] is False
    assert report["source"]["repository"] == "https://github.com/octo/ty-sample"
    assert report["source"]["ref"] is None  # no tag, and the build recorded HEAD
    statement = parse_provenance((release / "multiple.intoto.jsonl").read_text())
    commit = git(clone, "rev-parse", "HEAD").strip()
    assert (
        statement.resolved_dependencies[0].uri == f"git+https://github.com/octo/ty-sample@{commit}"
    )


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:octo/proj.git", "https://github.com/octo/proj"),
        ("https://user:secret@gitlab.com/g/s/p.git", "https://gitlab.com/g/s/p"),
        ("ssh://git@github.com/octo/proj", "https://github.com/octo/proj"),
        ("https://example.org:8443/x/y", "https://example.org/x/y"),
        ("http://127.0.0.1:3000/x/y.git", "http://127.0.0.1:3000/x/y"),
    ],
)
def test_remote_urls_lose_credentials_and_suffix(remote: str, url: str) -> None:
    assert normalize_git_url(remote) == url


def test_github_run_names_the_workflow_and_refuses_without_token_permission(
    built: tuple[Path, Path],
    release: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = built
    commit = git(repo, "rev-parse", "HEAD").strip()
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "octo/ty-sample",
        "GITHUB_WORKFLOW_REF": "octo/ty-sample/.github/workflows/release.yml@refs/tags/v0.1.0",
        "GITHUB_REF": "refs/tags/v0.1.0",
        "GITHUB_SHA": commit,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
    }.items():
        monkeypatch.setenv(name, value)
    before = snapshot(release)
    # in CI without `id-token: write`, attest fails instead of quietly not signing
    assert attest(str(release)) == 1
    assert "add `permissions: id-token: write`" in capsys.readouterr().err
    assert snapshot(release) == before

    assert attest(str(release), "--unsigned", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unsigned_reason"] == "signing was turned off (--unsigned)"
    parsed = parse_provenance((release / "multiple.intoto.jsonl").read_text())
    assert parsed.builder_id == (
        "https://github.com/octo/ty-sample/.github/workflows/release.yml@refs/tags/v0.1.0"
    )
    assert parsed.invocation_id == "https://github.com/octo/ty-sample/actions/runs/4242/attempts/1"
    source = parsed.source()
    assert source is not None
    assert source.uri == "git+https://github.com/octo/ty-sample@refs/tags/v0.1.0"

    # a run for another commit did not build these files
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    assert attest(str(release), "--unsigned", "--overwrite") == 1
    assert f"records commit {commit}, but this CI run is for {'f' * 40}" in capsys.readouterr().err


def test_existing_provenance_is_kept_unless_overwrite(
    built: tuple[Path, Path], release: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (release / "multiple.intoto.jsonl").write_text('{"older": true}\n')
    before = snapshot(release)
    assert attest(str(release), "--source", str(built[0])) == 1
    err = capsys.readouterr().err
    assert "multiple.intoto.jsonl already exists in" in err
    assert "pass --overwrite to replace them" in err
    assert snapshot(release) == before
    assert attest(str(release), "--source", str(built[0]), "--overwrite") == 0
    parse_provenance((release / "multiple.intoto.jsonl").read_text())


def write(path: Path, text: str) -> None:
    path.write_text(text)


def tamper_wheel(release: Path) -> None:
    with (release / WHEEL).open("ab") as stream:
        stream.write(b"\0")


def malformed_env(release: Path) -> None:
    write(release / "build-env.json", '{"version": 1, "dependencies": []}')


def env_without_the_wheel(release: Path) -> None:
    record = json.loads((release / "build-env.json").read_text())
    record["artifacts"] = [a for a in record["artifacts"] if a["filename"] != WHEEL]
    write(release / "build-env.json", json.dumps(record))


def env_with_short_commit(release: Path) -> None:
    record = json.loads((release / "build-env.json").read_text())
    record["source"]["commit"] = "HEAD"
    write(release / "build-env.json", json.dumps(record))


def disagreeing_sums(release: Path) -> None:
    write(release / "SHA256SUMS", f"{'0' * 64}  {SDIST}\n{'1' * 64}  gone-1.0.tar.gz\n")


def garbled_sums(release: Path) -> None:
    write(release / "SHA256SUMS", "not a checksum line\n")


def bad_filename(release: Path) -> None:
    write(release / "notadist.whl", "")
    write(release / "ty_sample_hatchling-0.1.0.tar.gz.whl", "")


def other_release(release: Path) -> None:
    shutil.copy(release / SDIST, release / "other_project-2.0.tar.gz")


def no_env(release: Path) -> None:
    (release / "build-env.json").unlink()


def no_dists(release: Path) -> None:
    for path in release.iterdir():
        path.unlink()


@pytest.mark.parametrize(
    ("damage", "messages"),
    [
        (
            tamper_wheel,
            [f"does not describe these files: {WHEEL} hashes to", "but the build recorded"],
        ),
        (
            malformed_env,
            ["is not a valid build environment record", "dependencies must be a non-empty list"],
        ),
        (env_without_the_wheel, [f"{WHEEL} is not among the artifacts it records"]),
        (env_with_short_commit, ["source.commit is 'HEAD', not a full git commit id"]),
        (no_env, ["build-env.json is missing", "`trustyard build` writes there"]),
        (
            disagreeing_sums,
            [
                "SHA256SUMS disagrees with the distributions",
                f"{SDIST}: listed as {'0' * 64}, but the file is",
                "gone-1.0.tar.gz: listed, but there is no such file",
                f"{WHEEL}: not listed",
            ],
        ),
        (garbled_sums, ["SHA256SUMS line 1 is not '<sha256>  <filename>'"]),
        (bad_filename, ["cannot attest", "notadist.whl", "ty_sample_hatchling-0.1.0.tar.gz.whl"]),
        (
            other_release,
            ["more than one release (other-project 2.0, ty-sample-hatchling 0.1.0)"],
        ),
        (no_dists, ["holds no distributions (.whl, .tar.gz): run trustyard build first"]),
    ],
)
def test_bad_release_directories_are_refused_untouched(
    built: tuple[Path, Path],
    release: Path,
    capsys: pytest.CaptureFixture[str],
    damage: object,
    messages: list[str],
) -> None:
    assert callable(damage)
    damage(release)
    before = snapshot(release)
    assert attest(str(release), "--source", str(built[0])) == 1
    err = capsys.readouterr().err
    assert "trustyard: error: " in err
    for message in messages:
        assert message in err
    assert snapshot(release) == before


def test_missing_directory_and_wrong_source(
    built: tuple[Path, Path],
    release: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert attest(str(tmp_path / "nowhere")) == 1
    assert f"{tmp_path / 'nowhere'} is not a directory" in capsys.readouterr().err
    other = make_repo("flit_core", tmp_path / "other")
    before = snapshot(release)
    assert attest(str(release), "--source", str(other)) == 1
    assert "does not hold commit" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # not a checkout: --source is needed
    assert attest(str(release)) == 1
    assert "pass --source PATH" in capsys.readouterr().err
    assert snapshot(release) == before


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["attest"])
    assert caught.value.code == 2
    assert "the following arguments are required: DIR" in capsys.readouterr().err


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    running = start_dev_issuer(tmp_path_factory.mktemp("attest-issuer") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory: pytest.TempPathFactory, issuer: DevIssuer) -> Iterator[DevSigstore]:
    with start_dev_sigstore(
        tmp_path_factory.mktemp("attest-sigstore"), issuer_map={issuer.url: GITHUB_ISSUER}
    ) as running:
        yield running


@pytest.mark.slow
def test_signed_in_github_actions(
    built: tuple[Path, Path],
    release: Path,
    issuer: DevIssuer,
    sigstore: DevSigstore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = built
    commit = git(repo, "rev-parse", "HEAD").strip()
    environ = issuer.env(
        "--repository", "octo/ty-sample", "--workflow", "release.yml",
        "--ref", "refs/tags/v0.1.0", "--sha", commit,
    )  # fmt: skip
    assert environ["GITHUB_ACTIONS"] == "true"
    for name, value in (environ | {"GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "3"}).items():
        monkeypatch.setenv(name, value)
    config = str(sigstore.trust_config_path)
    assert attest(str(release), "--sigstore-trust-config", config) == 0
    out = capsys.readouterr().out
    assert f"signed with Sigstore as {issuer.url}/" not in out  # identity is the workflow's
    assert (
        "signed with Sigstore as https://github.com/octo/ty-sample/.github/workflows/release.yml"
        f"@refs/tags/v0.1.0 (issuer {GITHUB_ISSUER})"
    ) in out
    trust = load_trust_config(sigstore.trust_config_path)
    assert trust is not None
    publisher = GitHubPublisher(repository="octo/ty-sample", workflow="release.yml")

    # one PEP 740 publish attestation per distribution, under the name uv and twine look for
    for dist in (SDIST, WHEEL):
        attestation = Attestation.model_validate_json(
            (release / f"{dist}.publish.attestation").read_text()
        )
        digest = sha256_of(release / dist)
        assert (
            verify_attestation(
                attestation, filename=dist, sha256=digest, publisher=publisher, trust=trust
            )
            == PUBLISH_V1
        )

    # the provenance: one line, a Sigstore bundle over the SLSA statement
    lines = (release / "multiple.intoto.jsonl").read_text().splitlines()
    assert len(lines) == 1
    statement, bundle_document = provenance_line(lines[0])
    assert bundle_document is not None
    bundle = Bundle.from_json(lines[0])
    verifier = Verifier(trusted_root=trust.trusted_root)
    payload_type, payload = verifier.verify_dsse(bundle, publisher._as_policy())
    assert payload_type == "application/vnd.in-toto+json"
    assert payload == statement
    parsed = parse_provenance(payload)
    assert {s.name for s in parsed.subjects} == {SDIST, WHEEL}
    assert parsed.builder_id == (
        "https://github.com/octo/ty-sample/.github/workflows/release.yml@refs/tags/v0.1.0"
    )
    assert parsed.invocation_id == "https://github.com/octo/ty-sample/actions/runs/99/attempts/3"
    source = parsed.source()
    assert source is not None
    assert (source.repository, source.commit, source.ref) == (
        "https://github.com/octo/ty-sample",
        commit,
        "refs/tags/v0.1.0",
    )
    # a bundle for another workflow's identity does not verify
    with pytest.raises(Exception, match="Certificate"):
        verifier.verify_dsse(
            bundle,
            GitHubPublisher(repository="octo/ty-sample", workflow="ci.yml")._as_policy(),
        )

    # signed files are not replaced without --overwrite; with it they are re-signed
    before = snapshot(release)
    assert attest(str(release), "--sigstore-trust-config", config) == 1
    err = capsys.readouterr().err
    assert "multiple.intoto.jsonl" in err
    assert f"{SDIST}.publish.attestation" in err
    assert "pass --overwrite" in err
    assert snapshot(release) == before
    assert attest(str(release), "--sigstore-trust-config", config, "--overwrite") == 0
    after = snapshot(release)
    assert after["SHA256SUMS"] == before["SHA256SUMS"]
    assert after[f"{WHEEL}.publish.attestation"] != before[f"{WHEEL}.publish.attestation"]


@pytest.mark.slow
def test_bad_trust_config_is_refused_before_writing(
    built: tuple[Path, Path],
    release: Path,
    issuer: DevIssuer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commit = git(built[0], "rev-parse", "HEAD").strip()
    environ = issuer.env("--repository", "octo/ty-sample", "--sha", commit)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "trust.json").write_text('{"mediaType": "something/else"}')
    before = snapshot(release)
    assert attest(str(release), "--sigstore-trust-config", str(tmp_path / "trust.json")) == 1
    assert "is not a Sigstore ClientTrustConfig" in capsys.readouterr().err
    assert snapshot(release) == before


@pytest.mark.slow
def test_signed_in_gitlab_ci(
    built: tuple[Path, Path],
    release: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = built
    commit = git(repo, "rev-parse", "HEAD").strip()
    issuer = start_dev_issuer(tmp_path / "gitlab-issuer")
    try:
        with start_dev_sigstore(
            tmp_path / "sigstore", issuer_map={issuer.url: GITLAB_ISSUER}
        ) as sigstore:
            environ = issuer.env(
                "--gitlab", "--audience", "sigstore", "--project", "grp/ty-sample",
                "--ref", "refs/tags/v0.1.0", "--sha", commit,
            )  # fmt: skip
            assert environ["SIGSTORE_ID_TOKEN"]
            extra = {
                "CI_COMMIT_TAG": "v0.1.0",
                "CI_JOB_URL": "https://gitlab.com/grp/ty-sample/-/jobs/7",
            }
            for name, value in (environ | extra).items():
                monkeypatch.setenv(name, value)
            config = sigstore.trust_config_path
            assert attest(str(release), "--sigstore-trust-config", str(config), "--json") == 0
            report = json.loads(capsys.readouterr().out)
            trust = load_trust_config(config)
    finally:
        issuer.stop()
    assert report["signed"] is True
    assert report["issuer"] == GITLAB_ISSUER
    assert report["builder"] == {
        "kind": "gitlab",
        "id": "https://gitlab.com/grp/ty-sample//.gitlab-ci.yml@refs/tags/v0.1.0",
        "invocation_id": "https://gitlab.com/grp/ty-sample/-/jobs/7",
    }
    assert report["source"]["repository"] == "https://gitlab.com/grp/ty-sample"
    publisher = GitLabPublisher(repository="grp/ty-sample", workflow_filepath=".gitlab-ci.yml")
    for dist in (SDIST, WHEEL):
        attestation = Attestation.model_validate_json(
            (release / f"{dist}.publish.attestation").read_text()
        )
        digest = sha256_of(release / dist)
        assert (
            verify_attestation(
                attestation, filename=dist, sha256=digest, publisher=publisher, trust=trust
            )
            == PUBLISH_V1
        )
    bundle = Bundle.from_json((release / "multiple.intoto.jsonl").read_text())
    assert trust is not None
    Verifier(trusted_root=trust.trusted_root).verify_dsse(bundle, publisher._as_policy())


def test_a_bare_repository_without_origin_is_named_by_its_git_directory(tmp_path: Path) -> None:
    """Provenance of a build from a bare mirror (verify and build accept one) names it."""
    repo = make_repo("hatchling", tmp_path / "repo")
    bare = tmp_path / "mirror.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    git(bare, "remote", "remove", "origin")
    assert _repository_url(bare) == bare.resolve().as_uri()
    assert _repository_url(repo) == repo.resolve().as_uri()
