"""Publisher continuity through the proxy (issue 18): the upstream is a second trustyard whose
Trusted Publishing uploads carry PEP 740 attestations signed by the test suite's own Sigstore
(``tests/devsigstore``); the proxy verifies them offline with that instance's trust config.

Covered: an identity switch is held (invisible, 403 with the reason) and released by an
admin; a file without provenance after attested ones is held; a pin that the files do not
match holds them; older unattested files stay served; each file is checked once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal
from pypi_attestations import Attestation, Distribution
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from tests.devsigstore import GITHUB_ISSUER, SIGSTORE_AUDIENCE, DevSigstore, start_dev_sigstore
from tests.dists.builders import build_wheel
from tests.index.conftest import LocalIndex, LocalIssuer
from tests.index.upstream.conftest import ProxyIndex, UpstreamWire
from trustyard.attestations.continuity import parse_pin
from trustyard.cli.main import main
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.errors import InvalidInput, NotFound
from trustyard.index.services import continuity, projects, publishers
from trustyard.index.services import upstream as cache
from trustyard.index.services.roles import HOST
from trustyard.oidc.devclaims import GitHubRun

NAME = "pkg"
GOOD, OTHER = "octo/pkg", "mallory/pkg"
WORKFLOW = "release.yml"


@pytest.fixture(scope="module")
def sigstore(
    tmp_path_factory: pytest.TempPathFactory, local_issuer: LocalIssuer
) -> Iterator[DevSigstore]:
    instance = start_dev_sigstore(
        tmp_path_factory.mktemp("sigstore"), issuer_map={local_issuer.url: GITHUB_ISSUER}
    )
    yield instance
    instance.stop()


@pytest.fixture
def upstream(
    tmp_path: Path, portal: BlockingPortal, sigstore: DevSigstore, local_issuer: LocalIssuer
) -> Iterator[LocalIndex]:
    """An upstream whose project ``pkg`` may be published from both repositories."""
    index = LocalIndex(
        tmp_path / "upstream", portal, sigstore_trust_config=sigstore.trust_config_path
    )
    index.create_user("alice")
    index.trust_issuer(local_issuer.url)
    with index.db.write() as session:
        projects.create_project(session, NAME, owner="alice")
        for repository in (GOOD, OTHER):
            publishers.add_publisher(
                session,
                NAME,
                "github",
                {"repository": repository, "workflow": WORKFLOW, "issuer": local_issuer.url},
                actor=HOST,
            )
    yield index
    index.close()


@pytest.fixture
def proxy(
    tmp_path: Path, portal: BlockingPortal, upstream: LocalIndex, sigstore: DevSigstore
) -> Iterator[ProxyIndex]:
    index = ProxyIndex(
        tmp_path / "proxy",
        portal,
        UpstreamWire(upstream.app),
        upstream_ttl=0,
        sigstore_trust_config=sigstore.trust_config_path,
    )
    yield index
    index.close()


def publish(
    upstream: LocalIndex,
    issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp: Path,
    version: str,
    *,
    repository: str = GOOD,
    attested: bool = True,
) -> Path:
    """Upload ``pkg`` ``version`` through Trusted Publishing from ``repository``, with a
    publish attestation signed for that workflow (or none)."""
    wheel = build_wheel(tmp / f"dist-{version}", NAME, version)
    run = GitHubRun(repository=repository, workflow=WORKFLOW, ref=f"refs/tags/v{version}")
    fields: dict[str, str | None] = {}
    if attested:
        config = sigstore.trust_config()
        config.force_tlog_version = 1
        token = issuer.mint(SIGSTORE_AUDIENCE, run.claims())
        with SigningContext.from_trust_config(config).signer(IdentityToken(token)) as signer:
            attestation = Attestation.sign(signer, Distribution.from_file(wheel))
        fields["attestations"] = "[" + attestation.model_dump_json() + "]"
    jwt = issuer.mint(upstream.ctx.audience, run.claims())
    minted = upstream.post("/_/oidc/mint-token", content=json.dumps({"token": jwt}))
    assert minted.status_code == 200, minted.text
    answer = upstream.upload(minted.json()["token"], wheel, **fields)
    assert answer.status_code == 200, answer.text
    return wheel


def listed(proxy: ProxyIndex) -> dict[str, str]:
    """filename -> file URL path of what the proxy lists for ``pkg``."""
    page = proxy.get(f"/simple/{NAME}/", headers={"Accept": SIMPLE_V1_JSON})
    assert page.status_code == 200, page.text
    return {f["filename"]: f["url"].removeprefix("http://index.test") for f in page.json()["files"]}


def held(proxy: ProxyIndex) -> list[continuity.Verdict]:
    with proxy.db.read() as session:
        return continuity.held_files(session)


def test_an_identity_switch_is_held_until_an_admin_releases_it(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
) -> None:
    old = build_wheel(tmp_path / "old", NAME, "0.9")
    upstream.import_file(old, owner="alice", upload_time=datetime.now(UTC) - timedelta(days=9))
    first = publish(upstream, local_issuer, sigstore, tmp_path, "1.0")
    assert set(listed(proxy)) == {old.name, first.name}  # older unattested: still served
    with proxy.db.read() as session:
        identity = continuity.identity_of(session, NAME)
        assert identity is not None
        assert identity.identity is not None
        assert identity.identity["repository"] == GOOD
        assert not identity.pinned

    switched = publish(upstream, local_issuer, sigstore, tmp_path, "1.1", repository=OTHER)
    shown = listed(proxy)
    assert switched.name not in shown
    assert first.name in shown
    (row,) = held(proxy)
    assert row.filename == switched.name
    assert "mallory/pkg" in row.reason
    assert "octo/pkg" in row.reason
    assert row.expected is not None
    assert row.expected["repository"] == GOOD
    assert row.found is not None
    assert row.found["repository"] == OTHER
    assert row.provenance is not None
    assert row.provenance["attestation_bundles"]

    # Its URLs answer 403 with the reason: a pinned URL or a lockfile cannot bypass it.
    sha = upstream.get(f"/simple/{NAME}/", headers={"Accept": SIMPLE_V1_JSON}).json()["files"]
    digest = next(f["hashes"]["sha256"] for f in sha if f["filename"] == switched.name)
    for path in (
        f"/files/upstream/{NAME}/{digest}/{switched.name}",
        f"/integrity/{NAME}/1.1/{switched.name}/provenance",
    ):
        refused = proxy.get(path)
        assert refused.status_code == 403, (path, refused.status_code, refused.text)
        assert "held for review" in refused.text
    json_api = proxy.get(f"/pypi/{NAME}/json").json()
    assert switched.name not in {f["filename"] for f in json_api["urls"]}

    fetched = proxy.wire.requests.copy()
    listed(proxy)  # a new load: nothing is verified or fetched again
    provenance_fetches = [p for p in proxy.wire.requests if "/integrity/" in p]
    assert all(proxy.wire.requests[p] == fetched[p] for p in provenance_fetches)

    with proxy.db.write() as session:
        with pytest.raises(InvalidInput):
            continuity.decide(session, row.id, release=True, actor="admin", note=" ")
        continuity.decide(session, row.id, release=True, actor="admin", note="moved org")
    assert switched.name in listed(proxy)
    assert proxy.get(f"/files/upstream/{NAME}/{digest}/{switched.name}").status_code == 200
    assert held(proxy) == []


def test_a_file_without_provenance_after_attested_ones_is_held(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
) -> None:
    first = publish(upstream, local_issuer, sigstore, tmp_path, "1.0")
    assert first.name in listed(proxy)
    bare = publish(upstream, local_issuer, sigstore, tmp_path, "1.1", attested=False)
    assert bare.name not in listed(proxy)
    (row,) = held(proxy)
    assert row.filename == bare.name
    assert "no provenance" in row.reason
    with proxy.db.write() as session:
        continuity.decide(session, row.id, release=False, actor="admin", note="not ours")
    assert bare.name not in listed(proxy)
    assert held(proxy) == []  # decided: no longer waiting


def test_a_pin_the_files_do_not_match_holds_them(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
) -> None:
    with proxy.db.write() as session:
        continuity.pin(session, NAME, parse_pin(f"github:{OTHER}/{WORKFLOW}"), actor="admin")
    first = publish(upstream, local_issuer, sigstore, tmp_path, "1.0")
    assert first.name not in listed(proxy)
    (row,) = held(proxy)
    assert "(pinned)" in row.reason
    with proxy.db.write() as session:
        continuity.unpin(session, NAME, actor="admin")
        with pytest.raises(NotFound):
            continuity.unpin(session, NAME, actor="admin")


def test_an_upstream_without_provenance_makes_the_rule_inert(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
) -> None:
    bare = publish(upstream, local_issuer, sigstore, tmp_path, "1.0", attested=False)
    assert bare.name in listed(proxy)
    with proxy.db.read() as session:
        assert continuity.identity_of(session, NAME) is None
    assert held(proxy) == []


@pytest.mark.parametrize(
    "text",
    ["gitlab:a/b/c.yml", "github:a/b", "github:a/b/c.txt", "github:/b/c.yml", "nothing"],
)
def test_a_malformed_pin_is_refused(text: str) -> None:
    from trustyard.attestations.trust import AttestationError  # noqa: PLC0415

    with pytest.raises(AttestationError, match=r"github:OWNER/REPO/WORKFLOW\.yml"):
        parse_pin(text)


def test_a_pin_with_an_environment() -> None:
    assert parse_pin("github:o/r/w.yml@pypi") == {
        "kind": "GitHub",
        "repository": "o/r",
        "workflow": "w.yml",
        "environment": "pypi",
    }


UNREACHABLE = "http://127.0.0.1:9/simple/"  # the discard port: nothing listens there


def test_the_policy_cli_lists_decides_and_pins(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(upstream, local_issuer, sigstore, tmp_path, "1.0")
    bare = publish(upstream, local_issuer, sigstore, tmp_path, "1.1", attested=False)
    assert bare.name not in listed(proxy)
    where = ["--data", str(proxy.data)]
    capsys.readouterr()
    assert main(["upstream", "status", *where, "--upstream", UNREACHABLE]) == 0
    assert "publisher continuity: 1 projects checked (0 pinned), 1 files held" in (
        capsys.readouterr().out
    )
    assert main(["policy", "held", "list", "--json", *where]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["filename"] == bare.name
    assert shown["expected_text"] == f"github:{GOOD}/{WORKFLOW}"
    with pytest.raises(SystemExit):  # --reason is required
        main(["policy", "release", str(shown["id"]), *where])
    capsys.readouterr()
    assert main(["policy", "release", str(shown["id"]), "--reason", "  ", *where]) == 1
    assert "give the reason" in capsys.readouterr().err
    assert main(["policy", "release", str(shown["id"]), "--reason", "known", *where]) == 0
    assert main(["policy", "release", "999", "--reason", "x", *where]) == 1
    assert "no held file 999" in capsys.readouterr().err
    assert bare.name in listed(proxy)
    assert main(["policy", "pin", NAME, "github:octo/pkg/ci.yml@pypi", *where]) == 0
    assert main(["policy", "pin", NAME, "gitlab:a/b/c.yml", *where]) == 1
    assert main(["policy", "pin", "bad name!", "github:o/r/w.yml", *where]) == 1
    capsys.readouterr()
    assert main(["policy", "pins", *where]) == 0
    assert f"{NAME}\tgithub:octo/pkg/ci.yml@pypi\tpinned" in capsys.readouterr().out
    assert main(["policy", "unpin", NAME, *where]) == 0
    assert main(["policy", "unpin", NAME, *where]) == 1
    assert "is not pinned" in capsys.readouterr().err


def test_upstream_status_says_when_the_rule_is_inert(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bare = publish(upstream, local_issuer, sigstore, tmp_path, "1.0", attested=False)
    assert bare.name in listed(proxy)
    capsys.readouterr()
    where = ["--data", str(proxy.data), "--upstream", UNREACHABLE]
    assert main(["upstream", "status", *where]) == 0
    assert "publisher continuity: inert" in capsys.readouterr().out


def test_a_decision_on_the_cli_reaches_running_servers_at_their_next_recheck(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    local_issuer: LocalIssuer,
    sigstore: DevSigstore,
    tmp_path: Path,
    portal: BlockingPortal,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second server on the same database keeps listings for an hour (its TTL); a file
    released by ``policy release`` is listed there at its next lookup all the same, because
    the decision moved the cache generation (read every ``upstream_recheck`` seconds: 0 here,
    so the next request reads it)."""
    steady = ProxyIndex(
        proxy.data,
        portal,
        UpstreamWire(upstream.app),
        upstream_ttl=3600,
        upstream_recheck=0,
        sigstore_trust_config=sigstore.trust_config_path,
    )
    try:
        publish(upstream, local_issuer, sigstore, tmp_path, "1.0")
        assert len(listed(proxy)) == 1  # the identity is learnt
        bare = publish(upstream, local_issuer, sigstore, tmp_path, "1.1", attested=False)
        assert bare.name not in listed(proxy)
        assert bare.name not in listed(steady)  # in its memory now, held, for an hour
        (row,) = held(proxy)
        with steady.db.read() as session:
            before = cache.generation(session)

        where = ["--data", str(proxy.data)]
        assert main(["policy", "release", str(row.id), "--reason", "known", *where]) == 0
        assert bare.name in listed(steady)
        with steady.db.read() as session:
            assert cache.generation(session) == before + 1

        # Rejecting is followed as well (a released file rejected later is hidden again).
        rejected = publish(upstream, local_issuer, sigstore, tmp_path, "1.2", attested=False)
        assert rejected.name not in listed(proxy)
        assert rejected.name not in listed(steady)
        (again,) = held(proxy)
        assert main(["policy", "reject", str(again.id), "--reason", "not ours", *where]) == 0
        with steady.db.read() as session:
            assert cache.generation(session) == before + 2
        assert rejected.name not in listed(steady)
        assert bare.name in listed(steady)
        capsys.readouterr()
    finally:
        steady.close()
