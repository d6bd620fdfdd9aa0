"""PEP 740 in-process: a real attestation (the pypi-attestations vectors, verified offline
against Sigstore's production root) uploaded through Trusted Publishing, served by the
Integrity API and linked from the simple pages; refusals of attestations that do not fit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.attestations.vectors import (
    MODELS_ATTESTATION,
    PUBLISH,
    REPOSITORY,
    SDIST,
    SLSA,
    WORKFLOW,
    field,
)
from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.index.services import projects, publishers
from trustyard.index.services.roles import HOST
from trustyard.oidc.devclaims import GitHubRun

PROJECT, VERSION = "pypi-attestations", "0.0.19"
INTEGRITY = "application/vnd.pypi.integrity.v1+json"
WHERE = f"/integrity/{PROJECT}/{VERSION}/{SDIST.name}/provenance"


@dataclass
class World:
    index: LocalIndex
    issuer: LocalIssuer
    audience: str

    def token(self) -> str:
        run = GitHubRun(repository=REPOSITORY, workflow=WORKFLOW, ref="refs/tags/v0.0.19")
        jwt = self.issuer.mint(self.audience, run.claims())
        answer = self.index.post("/_/oidc/mint-token", content=json.dumps({"token": jwt}))
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    def upload(self, token: str, path: Path, attestations: str | None) -> httpx.Response:
        extra = {"attestations": attestations} if attestations is not None else {}
        return self.index.upload(token, path, **extra)


@pytest.fixture(scope="module")
def world(shared_index: LocalIndex, local_issuer: LocalIssuer) -> World:
    index = shared_index
    index.trust_issuer(local_issuer.url)
    index.create_user("pa-owner")
    with index.db.write() as session:
        projects.create_project(session, PROJECT, owner="pa-owner")
        publishers.add_publisher(
            session,
            PROJECT,
            "github",
            {"repository": REPOSITORY, "workflow": WORKFLOW, "issuer": local_issuer.url},
            actor=HOST,
        )
    return World(index, local_issuer, index.ctx.audience)


@pytest.mark.parametrize(
    ("attestations", "message"),
    [
        ("not json", "Invalid attestations supplied during upload"),
        ("[]", "Invalid attestations supplied during upload"),
        (field(MODELS_ATTESTATION), "Could not verify"),
        (field(PUBLISH, PUBLISH), "Invalid attestations supplied during upload"),
    ],
)
def test_refused_attestations(world: World, attestations: str, message: str) -> None:
    answer = world.upload(world.token(), SDIST, attestations)
    assert answer.status_code == 400
    assert message in answer.text
    assert world.index.get(WHERE).status_code == 404


def test_attestations_need_trusted_publishing(world: World) -> None:
    token = world.index.create_token("pa-owner")
    answer = world.upload(token, SDIST, field(PUBLISH, SLSA))
    assert answer.status_code == 400
    assert "Invalid attestations" in answer.text


def test_accepted_provenance_is_served(world: World) -> None:
    answer = world.upload(world.token(), SDIST, field(PUBLISH, SLSA))
    assert answer.status_code == 200, answer.text
    provenance = world.index.get(WHERE)
    assert provenance.status_code == 200
    assert provenance.headers["content-type"].startswith(INTEGRITY)
    bundles = provenance.json()["attestation_bundles"]
    assert bundles[0]["publisher"]["repository"] == REPOSITORY
    as_json = world.index.get(WHERE, headers={"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")
    head = world.index.request("HEAD", WHERE)
    assert head.status_code == 200
    assert head.content == b""
    listed = world.index.get(
        f"/simple/{PROJECT}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    (entry,) = listed["files"]
    assert entry["provenance"].endswith(WHERE)
    assert "data-provenance" in world.index.get(f"/simple/{PROJECT}/").text
    page = world.index.get(f"/project/{PROJECT}/")
    assert REPOSITORY in page.text
    for missing in (
        f"/integrity/{PROJECT}/9.9/{SDIST.name}/provenance",
        f"/integrity/-bad-/{VERSION}/{SDIST.name}/provenance",
        f"/integrity/nothing-here/{VERSION}/{SDIST.name}/provenance",
    ):
        assert world.index.get(missing).status_code == 404, missing


def test_provenance_links_follow_the_host_asked_for(world: World) -> None:
    """Links are under the Host the request names; a Host that is no host name is replaced
    by the address the connection came to."""
    if world.index.get(WHERE).status_code != 200:
        assert world.upload(world.token(), SDIST, field(PUBLISH, SLSA)).status_code == 200
    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    for host, expected in (
        ("mirror.example:8443", "http://mirror.example:8443"),
        ("not a host!", "http://index.test"),
    ):
        listed = world.index.get(f"/simple/{PROJECT}/", headers={**accept, "Host": host}).json()
        (entry,) = listed["files"]
        assert entry["provenance"] == expected + WHERE, host
