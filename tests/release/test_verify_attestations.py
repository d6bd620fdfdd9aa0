"""``trustyard verify --publisher``: a release built, attested in (development) GitHub Actions,
published through Trusted Publishing with its PEP 740 attestations to a real trustyard index,
then verified hash by hash and attestation by attestation; missing provenance, another
publisher, another Sigstore root and hostile Integrity API answers give clear verdicts."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import IndexServer, start_index
from tests.devsigstore import GITHUB_ISSUER, DevSigstore, start_dev_sigstore
from tests.index.conftest import request, upload_built
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.release.conftest import git, make_repo
from trustyard.attestations.trust import PUBLISH_V1
from trustyard.cli.main import main
from trustyard.dists.mediatypes import INTEGRITY_V1_JSON
from trustyard.errors import InvalidInput
from trustyard.release.build import BuildOptions, build_release
from trustyard.release.simple_client import IndexFile
from trustyard.release.verify import (
    ATTESTED,
    INVALID_PROVENANCE,
    MAX_PROVENANCE_BYTES,
    NO_PROVENANCE,
    OTHER_PUBLISHER,
    SIGNED,
    check_attestations,
    parse_publisher,
)

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

NAME = "ty-sample-hatchling"
REPOSITORY = "octo/ty-sample"
PUBLISHER = f"github:{REPOSITORY}/release.yml"
CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "ACTIONS_ID_TOKEN_REQUEST_URL")


@dataclass
class World:
    repo: Path
    index: IndexServer
    issuer: DevIssuer
    sigstore: DevSigstore
    uploader: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Iterator[World]:
    """v0.1.0 attested and published through Trusted Publishing with its attestations;
    v0.2.0 published with an API token and no attestations."""
    root = tmp_path_factory.mktemp("verify-attestations")
    repo = make_repo("hatchling", root / "repo")
    issuer = start_dev_issuer(root / "issuer")
    sigstore = start_dev_sigstore(root / "sigstore", issuer_map={issuer.url: GITHUB_ISSUER})
    index = start_index(root / "index", "--sigstore-trust-config", str(sigstore.trust_config_path))
    try:
        index.trust_issuer(issuer.url)
        index.create_user("alice")
        uploader = index.create_token("alice")
        index.cli("admin", "project", "create", NAME, "--owner", "alice")
        index.cli(
            "publisher", "add", NAME, "github", "--repository", REPOSITORY,
            "--workflow", "release.yml", "--issuer", issuer.url,
        )  # fmt: skip
        # v0.2.0 goes up with an API token, on purpose: the owner lets such uploads through
        # (publisher continuity would hold them for approval: tested on its own).
        index.cli("policy", "hold-token-uploads", NAME, "off")
        commit = git(repo, "rev-parse", "HEAD").strip()
        dist = build_release(
            BuildOptions(repo, ref="v0.1.0", cache_dir=uv_cache), root / "dist", root / "work"
        ).artifacts
        environ = issuer.env(
            "--repository", REPOSITORY, "--workflow", "release.yml",
            "--ref", "refs/tags/v0.1.0", "--sha", commit,
        )  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:
            for name in CI_VARIABLES:
                patch.delenv(name, raising=False)
            for name, value in environ.items():
                patch.setenv(name, value)
            config = str(sigstore.trust_config_path)
            assert main(["attest", str(root / "dist"), "--sigstore-trust-config", config]) == 0
        # Trusted Publishing: the dev issuer's token for the index, exchanged for an upload token
        oidc = issuer.token(
            index.audience, "--repository", REPOSITORY, "--workflow", "release.yml",
            "--ref", "refs/tags/v0.1.0", "--sha", commit,
        )  # fmt: skip
        minted = request(
            index,
            "POST",
            "/_/oidc/mint-token",
            json.dumps({"token": oidc}).encode(),
            {"Content-Type": "application/json"},
        )
        assert minted.status == 200, minted.text
        token = json.loads(minted.body)["token"]
        for path in dist:
            attestation = (path.parent / f"{path.name}.publish.attestation").read_text()
            answer = upload_built(index, token, path, attestations=f"[{attestation.strip()}]")
            assert answer.status == 200, answer.text
        # v0.2.0: no attestations
        for file in ("pyproject.toml", "src/ty_sample_hatchling/__init__.py"):
            (repo / file).write_text((repo / file).read_text().replace("0.1.0", "0.2.0"))
        git(repo, "commit", "-qam", "0.2.0", date="2024-05-01T00:00:00+00:00")
        git(repo, "tag", "v0.2.0")
        for path in build_release(
            BuildOptions(repo, ref="v0.2.0", cache_dir=uv_cache), root / "dist2", root / "work2"
        ).artifacts:
            assert upload_built(index, uploader, path).status == 200
        yield World(repo, index, issuer, sigstore, uploader)
    finally:
        index.stop()
        sigstore.stop()
        issuer.stop()


def verify(
    world: World, version: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object]]:
    code = main(
        [
            "verify", f"{NAME}=={version}", "--index", world.index.simple_url,
            "--source", str(world.repo), "--json", *extra,
        ]
    )  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def statuses(report: dict[str, object]) -> dict[str, tuple[str, str]]:
    attestations = report["attestations"]
    assert isinstance(attestations, list)
    return {a["filename"]: (a["status"], a["detail"]) for a in attestations}


@pytest.mark.slow
def test_attested_release_verifies_for_its_publisher(
    world: World, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = str(world.sigstore.trust_config_path)
    code, report = verify(
        world, "0.1.0", capsys, "--publisher", PUBLISHER, "--sigstore-trust-config", trust
    )
    assert code == 0, report
    assert report["verified"] is True
    assert report["publisher"] == PUBLISHER
    found = statuses(report)
    assert len(found) == 2
    for status, detail in found.values():
        assert status == ATTESTED
        assert detail == f"1 attestation(s) verified for {PUBLISHER}"
    attestations = report["attestations"]
    assert isinstance(attestations, list)
    assert all(a["predicate_types"] == [PUBLISH_V1] for a in attestations)

    # without --publisher: reported, checked against the publisher it names, never decisive
    code, report = verify(world, "0.1.0", capsys, "--sigstore-trust-config", trust)
    assert code == 0
    assert {s for s, _ in statuses(report).values()} == {SIGNED}

    # the human format names the expected publisher and each file's status
    human = [
        "verify", f"{NAME}==0.1.0", "--index", world.index.simple_url,
        "--source", str(world.repo), "--publisher", PUBLISHER, "--sigstore-trust-config", trust,
    ]  # fmt: skip
    assert main(human) == 0
    out = capsys.readouterr().out
    assert f"expected publisher: {PUBLISHER}" in out
    assert out.count(ATTESTED) == 2


@pytest.mark.slow
def test_another_publisher_fails_with_a_clear_verdict(
    world: World, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = str(world.sigstore.trust_config_path)
    for other in ("github:octo/other/release.yml", f"github:{REPOSITORY}/ci.yml"):
        code, report = verify(
            world, "0.1.0", capsys, "--publisher", other, "--sigstore-trust-config", trust
        )
        assert code == 1
        assert report["verified"] is False
        # the rebuild itself still matched: only the attestations fail
        files = report["files"]
        assert isinstance(files, list)
        assert {f["verdict"] for f in files} == {"reproduced"}
        for status, detail in statuses(report).values():
            assert status == OTHER_PUBLISHER
            assert detail == f"its provenance names {PUBLISHER}, not {other}"


@pytest.mark.slow
def test_missing_provenance_fails_only_when_a_publisher_is_expected(
    world: World, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(world, "0.2.0", capsys, "--publisher", PUBLISHER)
    assert code == 1
    for status, detail in statuses(report).values():
        assert status == NO_PROVENANCE
        assert detail == "the index lists no provenance for it"
    code, report = verify(world, "0.2.0", capsys)
    assert code == 0
    assert {s for s, _ in statuses(report).values()} == {NO_PROVENANCE}


@pytest.mark.slow
def test_another_sigstore_root_does_not_verify(
    world: World, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the production root (the default) never issued the development certificates
    code, report = verify(world, "0.1.0", capsys, "--publisher", PUBLISHER)
    assert code == 1
    for status, detail in statuses(report).values():
        assert status == INVALID_PROVENANCE
        assert "Verification failed" in detail


@pytest.mark.parametrize(
    ("spec", "kind", "config"),
    [
        (PUBLISHER, "github", {"repository": REPOSITORY, "workflow": "release.yml"}),
        (
            "github:o/r/release.yaml@pypi",
            "github",
            {"repository": "o/r", "workflow": "release.yaml", "environment": "pypi"},
        ),
        (
            "gitlab:grp/proj/.gitlab-ci.yml",
            "gitlab",
            {"project": "grp/proj", "workflow_path": ".gitlab-ci.yml"},
        ),
        (
            "gitlab:grp/sub/proj//ci/release.yml@prod",
            "gitlab",
            {"project": "grp/sub/proj", "workflow_path": "ci/release.yml", "environment": "prod"},
        ),
        ("google:b@p.iam.gserviceaccount.com", "google", {"email": "b@p.iam.gserviceaccount.com"}),
    ],
)
def test_publisher_specs(spec: str, kind: str, config: dict[str, str]) -> None:
    parsed = parse_publisher(spec)
    assert (parsed.kind, parsed.config) == (kind, config)
    assert parsed.identity() is not None


@pytest.mark.parametrize(
    "spec",
    [
        "octo/proj/release.yml",
        "github:",
        "github:octo/release.yml",
        "github:octo/proj/sub/release.yml",
        "github:octo/proj/release",
        "github:octo//release.yml",
        "github:octo/proj/release yml.yml",
        "gitlab:proj/.gitlab-ci.yml",
        "gitlab:grp/proj",
        "google:not-an-email",
        "circleci:123",
    ],
)
def test_bad_publisher_specs_are_refused_before_any_work(
    spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(
        InvalidInput, match=re.escape("is not one of github:OWNER/REPO/WORKFLOW.yml")
    ):
        parse_publisher(spec)
    code = main(
        [
            "verify", f"{NAME}==0.1.0", "--index", "http://127.0.0.1:9/simple/",
            "--source", ".", "--publisher", spec,
        ]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert f"--publisher {spec!r} is not one of" in err
    assert "cannot reach the index" not in err  # refused before any network


class _Hostile(http.server.BaseHTTPRequestHandler):
    """An Integrity API that answers badly in every way a verifier must survive."""

    answers: ClassVar[dict[str, tuple[int, str, bytes]]] = {
        "/huge": (200, INTEGRITY_V1_JSON, b"[" + b" " * MAX_PROVENANCE_BYTES + b"]"),
        "/html": (200, "text/html", b"<html></html>"),
        "/broken": (500, "text/plain", b"oops"),
        "/garbage": (200, INTEGRITY_V1_JSON, b"\xff{not json"),
        "/shape": (200, INTEGRITY_V1_JSON, b'{"version": 2, "attestation_bundles": []}'),
        "/empty": (200, INTEGRITY_V1_JSON, b'{"version": 1, "attestation_bundles": []}'),
        "/gone": (404, "application/json", b'{"message": "No provenance available"}'),
    }

    def do_GET(self) -> None:
        status, media, body = self.answers[self.path]
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (
            "/huge",
            INVALID_PROVENANCE,
            f"the provenance is larger than {MAX_PROVENANCE_BYTES} bytes",
        ),
        ("/html", INVALID_PROVENANCE, "unexpected content type 'text/html' for a provenance"),
        ("/broken", INVALID_PROVENANCE, "the index answered 500"),
        ("/garbage", INVALID_PROVENANCE, "not a PEP 740 provenance object"),
        ("/shape", INVALID_PROVENANCE, "not a PEP 740 provenance object (version:"),
        ("/empty", NO_PROVENANCE, "its provenance holds no attestation"),
        ("/gone", NO_PROVENANCE, "answered 404"),
    ],
)
def test_hostile_integrity_answers(hostile: str, path: str, status: str, detail: str) -> None:
    wheel = "demo-1.0-py3-none-any.whl"
    file = IndexFile(wheel, f"{hostile}/files/{wheel}", "a" * 64, False, f"{hostile}{path}")
    expected = parse_publisher(PUBLISHER).identity()
    [verdict] = check_attestations([file], {wheel: "a" * 64}, expected, None)
    assert verdict.status == status
    assert detail in verdict.detail
