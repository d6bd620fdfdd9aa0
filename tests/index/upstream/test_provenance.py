"""PEP 740 through the proxy: an upstream file's provenance (a real attestation, uploaded to
the upstream through Trusted Publishing) is linked from our pages, served by our Integrity API,
and kept once fetched, so an outage does not hide it."""

from __future__ import annotations

import json

from tests.attestations.vectors import PUBLISH, REPOSITORY, SDIST, SLSA, WORKFLOW, field
from tests.index.conftest import LocalIndex, LocalIssuer
from tests.index.upstream.conftest import ProxyIndex
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.services import projects, publishers
from trustyard.index.services.roles import HOST
from trustyard.oidc.devclaims import GitHubRun

PROJECT, VERSION = "pypi-attestations", "0.0.19"
WHERE = f"/integrity/{PROJECT}/{VERSION}/{SDIST.name}/provenance"


def test_provenance_is_proxied_and_kept(
    upstream: LocalIndex, proxy: ProxyIndex, local_issuer: LocalIssuer
) -> None:
    upstream.trust_issuer(local_issuer.url)
    with upstream.db.write() as session:
        projects.create_project(session, PROJECT, owner="alice")
        publishers.add_publisher(
            session,
            PROJECT,
            "github",
            {"repository": REPOSITORY, "workflow": WORKFLOW, "issuer": local_issuer.url},
            actor=HOST,
        )
    run = GitHubRun(repository=REPOSITORY, workflow=WORKFLOW, ref="refs/tags/v0.0.19")
    jwt = local_issuer.mint(upstream.ctx.audience, run.claims())
    minted = upstream.post("/_/oidc/mint-token", content=json.dumps({"token": jwt}))
    assert minted.status_code == 200, minted.text
    answer = upstream.upload(minted.json()["token"], SDIST, attestations=field(PUBLISH, SLSA))
    assert answer.status_code == 200, answer.text
    original = upstream.get(WHERE).json()

    listed = proxy.get(f"/simple/{PROJECT}/", headers={"Accept": SIMPLE_V1_JSON}).json()
    (entry,) = listed["files"]
    assert entry["provenance"] == "http://index.test" + WHERE
    assert f'data-provenance="http://index.test{WHERE}"' in proxy.get(f"/simple/{PROJECT}/").text
    served = proxy.get(WHERE)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/vnd.pypi.integrity.v1+json")
    assert served.json() == original
    proxy.wire.down = True
    assert proxy.get(WHERE).json() == original
    missing = proxy.get(f"/integrity/{PROJECT}/{VERSION}/nothing-1.0.tar.gz/provenance")
    assert missing.status_code == 404
    other_version = proxy.get(f"/integrity/{PROJECT}/9.9/{SDIST.name}/provenance")
    assert other_version.status_code == 404
