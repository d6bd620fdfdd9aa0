"""PEP 740 on a real index over HTTP: real attestations uploaded through Trusted Publishing, the
Integrity API, the simple pages and the project page; every refused upload leaves nothing.

Tokens are minted by the index from the development issuer's GitHub-shaped tokens, as the
clients do; the attestations are the real pypi-attestations vectors (``tests/data``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import HttpUrl, TypeAdapter

from tests.attestations.vectors import (
    MODELS_ATTESTATION,
    MODELS_REPOSITORY,
    MODELS_SDIST,
    PROVENANCE,
    PUBLISH,
    PUBLISH_V1,
    REPOSITORY,
    SDIST,
    SLSA,
    WORKFLOW,
    document,
)
from tests.attestations.vectors import field as attestations_field
from tests.conftest import PYTHON, IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, post_upload, request, snapshot, upload_fields
from tests.oidc.conftest import DevIssuer, dev_issuer
from tests.services import Backend
from trustyard.oidc.devclaims import GitHubRun

__all__ = ["dev_issuer"]

PROJECT, VERSION = "pypi-attestations", "0.0.19"
MODELS, MODELS_VERSION = "pypi-attestation-models", "0.0.4a2"
REFUSED = "Invalid attestations supplied during upload: "
NOT_VERIFIED = REFUSED + (
    "Could not verify the uploaded artifact using the included attestation: Verification failed: "
)
INTEGRITY = "application/vnd.pypi.integrity.v1+json"
SDIST_PROVENANCE = f"/integrity/{PROJECT}/{VERSION}/{SDIST.name}/provenance"


def add_github_publisher(
    index: IndexServer, issuer: DevIssuer, project: str, repository: str, workflow: str
) -> None:
    index.trust_issuer(issuer.url)  # again is harmless
    index.cli(
        "publisher",
        "add",
        project,
        "github",
        "--repository",
        repository,
        "--workflow",
        workflow,
        "--issuer",
        issuer.url,
    )


def mint(index: IndexServer, issuer: DevIssuer, repository: str, workflow: str = WORKFLOW) -> str:
    """An upload token minted by the index for a GitHub run of ``repository``/``workflow``."""
    run = GitHubRun(repository=repository, workflow=workflow, ref="refs/tags/v0.0.19")
    jwt = issuer.mint(index.audience, run.claims())
    answer = request(
        index,
        "POST",
        "/_/oidc/mint-token",
        json.dumps({"token": jwt}).encode(),
        {"Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.text
    token: str = json.loads(answer.body)["token"]
    return token


def upload(
    index: IndexServer,
    token: str,
    path: Path,
    attestations: list[str] | None,
    *,
    name: str = PROJECT,
    version: str = VERSION,
    data: bytes | None = None,
) -> Answer:
    """Upload ``path`` (or ``data`` under its name) as twine does, with these attestation fields."""
    payload = path.read_bytes() if data is None else data
    form = upload_fields(
        path,
        name,
        version,
        sha256_digest=hashlib.sha256(payload).hexdigest(),
        blake2_256_digest=hashlib.blake2b(payload, digest_size=32).hexdigest(),
    )
    form += [("attestations", value) for value in attestations or []]
    return post_upload(
        index, token, form, [("content", path.name, payload, "application/octet-stream")]
    )


def provenance_rows(index: IndexServer) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    rows = index.query(
        "SELECT file_id, CAST(publisher AS TEXT), CAST(provenance AS TEXT) FROM provenance"
    )
    return [(int(str(row[0])), json.loads(str(row[1])), json.loads(str(row[2]))) for row in rows]


# -- refusals ------------------------------------------------------------------------------------


@dataclass
class Refusing:
    """An index where the vector sdist is never accepted, with a token per publisher."""

    index: IndexServer
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def refusing(
    tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer, backend: Backend
) -> Iterator[Refusing]:
    tmp = tmp_path_factory.mktemp("attest-refusals")
    index = start_index(tmp / "data", backend=backend)
    try:
        index.create_user("alice")
        world = Refusing(index, tmp, {"api-token": index.create_token("alice")})
        index.cli("admin", "project", "create", PROJECT, "--owner", "alice")
        for label, repository, workflow in [
            ("right", REPOSITORY, WORKFLOW),
            ("other-repository", "trailofbits/other", WORKFLOW),
            ("other-workflow", REPOSITORY, "other.yml"),
        ]:
            add_github_publisher(index, dev_issuer, PROJECT, repository, workflow)
            world.tokens[label] = mint(index, dev_issuer, repository, workflow)
        index.cli(
            "publisher",
            "add",
            PROJECT,
            "oidc",
            "--issuer",
            dev_issuer.url,
            "--claim",
            "repository=acme/generic",
        )
        world.tokens["generic"] = mint(index, dev_issuer, "acme/generic")
        yield world
    finally:
        index.stop()


def _gzip_mtime_changed(path: Path) -> bytes:
    """The same archive with one byte of the gzip header's mtime changed: valid, other sha256."""
    data = bytearray(path.read_bytes())
    data[4] ^= 0x01
    return bytes(data)


RefusalCase = Callable[[Refusing], tuple[Answer, str]]
ONE = attestations_field(PUBLISH)


def _case(token: str, attestations: list[str], message: str, **kw: Any) -> RefusalCase:
    def run(world: Refusing) -> tuple[Answer, str]:
        return upload(world.index, world.tokens[token], SDIST, attestations, **kw), message

    return run


def _other_file(world: Refusing) -> tuple[Answer, str]:
    wheel = build_wheel(world.tmp / "other-file", PROJECT, VERSION)
    answer = upload(world.index, world.tokens["right"], wheel, [ONE])
    return answer, (
        NOT_VERIFIED + f"subject does not match distribution name: {SDIST.name} != {wheel.name}"
    )


def _broken_certificate() -> str:
    broken = document(PUBLISH)
    broken["verification_material"]["certificate"] = "AAAA"
    return json.dumps([broken])


REFUSALS: dict[str, RefusalCase] = {
    "api-token": _case(
        "api-token",
        [ONE],
        REFUSED + "Attestations are only supported when using Trusted Publishing",
    ),
    "generic-oidc-publisher": _case(
        "generic",
        [ONE],
        REFUSED + "Attestations are not currently supported with OIDC publishers",
    ),
    "other-repository": _case(
        "other-repository",
        [ONE],
        NOT_VERIFIED + "Certificate's OIDCSourceRepositoryURI does not match (got"
        f" https://github.com/{REPOSITORY}, expected https://github.com/trailofbits/other)",
    ),
    "other-workflow": _case(
        "other-workflow",
        [ONE],
        NOT_VERIFIED + "Certificate's Build Config URI (",
    ),
    "tampered-dist": _case(
        "right",
        [ONE],
        NOT_VERIFIED + "subject does not match distribution digest",
        data=_gzip_mtime_changed(SDIST),
    ),
    "attestation-for-another-file": _other_file,
    "two-of-one-predicate-type": _case(
        "right",
        [attestations_field(PUBLISH, PUBLISH)],
        REFUSED + "Multiple attestations for the same file with the same predicate type"
        f" ({PUBLISH_V1}) are not supported",
    ),
    "three": _case(
        "right",
        [attestations_field(PUBLISH, SLSA, PUBLISH)],
        REFUSED + "A maximum of 2 attestations per file are supported",
    ),
    "empty-list": _case(
        "right",
        ["[]"],
        REFUSED + "Malformed attestations: an empty attestation set is not permitted",
    ),
    "not-json": _case(
        "right",
        ["{not json"],
        REFUSED + "Malformed attestations: 1 validation error for list[Attestation] Invalid JSON:",
    ),
    "an-object": _case(
        "right",
        [json.dumps(document(PUBLISH))],
        REFUSED + "Malformed attestations: 1 validation error for list[Attestation]"
        " Input should be a valid array",
    ),
    "sent-twice": _case(
        "right",
        [ONE, ONE],
        REFUSED + "Malformed attestations: the field was sent 2 times; send one JSON list",
    ),
    "oversized": _case(
        "right",
        ["[" + " " * (256 * 1024) + "]"],
        REFUSED + "Malformed attestations: the field is 262146 bytes, more than the 262144 allowed",
    ),
    "broken-certificate": _case(
        "right",
        [_broken_certificate()],
        REFUSED
        + "Unknown error while trying to verify included attestations: invalid X.509 certificate",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_refused_with_pypis_message_and_nothing_changes(refusing: Refusing, case: str) -> None:
    before = snapshot(refusing.index)
    answer, message = REFUSALS[case](refusing)
    assert answer.status == 400, answer.text
    assert answer.reason.startswith(message), answer.reason
    assert message.split(" (")[0] in answer.text
    assert snapshot(refusing.index) == before
    assert provenance_rows(refusing.index) == []


def test_other_workflow_names_both(refusing: Refusing) -> None:
    answer = upload(refusing.index, refusing.tokens["other-workflow"], SDIST, [ONE])
    assert answer.reason.endswith(
        f"does not match expected Trusted Publisher (other.yml @ {REPOSITORY})"
    )
    assert f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@" in answer.reason


# -- an index that accepts them ------------------------------------------------------------------


@dataclass
class Accepting:
    index: IndexServer
    tmp: Path
    alice: str
    models_token: str
    wheel: Path
    before: Answer  # the simple JSON page with only the wheel
    after: Answer  # ... and the attested sdist


@pytest.fixture(scope="module")
def accepting(
    tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer, backend: Backend
) -> Iterator[Accepting]:
    tmp = tmp_path_factory.mktemp("attest-accepted")
    index = start_index(tmp / "data", backend=backend)
    try:
        index.create_user("alice")
        alice = index.create_token("alice")
        for project, repository in [(PROJECT, REPOSITORY), (MODELS, MODELS_REPOSITORY)]:
            index.cli("admin", "project", "create", project, "--owner", "alice")
            add_github_publisher(index, dev_issuer, project, repository, WORKFLOW)
        token = mint(index, dev_issuer, REPOSITORY)
        wheel = build_wheel(tmp / "wheel", PROJECT, VERSION)
        assert upload(index, alice, wheel, None).status == 200
        json_accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
        before = request(index, "GET", f"/simple/{PROJECT}/", headers=json_accept)
        answer = upload(index, token, SDIST, [attestations_field(PUBLISH, SLSA)])
        assert answer.status == 200, answer.reason
        after = request(index, "GET", f"/simple/{PROJECT}/", headers=json_accept)
        yield Accepting(
            index, tmp, alice, mint(index, dev_issuer, MODELS_REPOSITORY), wheel, before, after
        )
    finally:
        index.stop()


def test_provenance_is_served_as_uploaded(accepting: Accepting) -> None:
    answer = request(accepting.index, "GET", SDIST_PROVENANCE)
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"] == INTEGRITY
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-methods"] == "GET"
    assert answer.headers["vary"] == "Accept, Authorization"
    assert answer.headers["cache-control"] == "max-age=600, public"
    provenance = json.loads(answer.body)
    assert provenance["version"] == 1
    [bundle] = provenance["attestation_bundles"]
    assert bundle["publisher"] == {
        "kind": "GitHub",
        "repository": REPOSITORY,
        "workflow": WORKFLOW,
        "environment": None,
    }
    assert bundle["attestations"] == [document(PUBLISH), document(SLSA)]
    # PyPI's own provenance file holds the same publish attestation for the same publisher.
    pypi = json.loads(PROVENANCE.read_text())["attestation_bundles"][0]
    assert pypi["publisher"] == bundle["publisher"]
    assert pypi["attestations"][0] == bundle["attestations"][0]


@pytest.mark.parametrize(
    ("accept", "status", "media"),
    [
        (None, 200, INTEGRITY),
        ("application/json", 200, "application/json"),
        (f"{INTEGRITY};q=0, application/json", 200, "application/json"),
        ("application/json;q=0.5, */*", 200, INTEGRITY),
        ("nonsense", 200, INTEGRITY),
        ("text/html", 406, "application/json"),
        ("application/vnd.pypi.integrity.v1+html", 406, "application/json"),
    ],
)
def test_media_types_as_pypi_negotiates_them(
    accepting: Accepting, accept: str | None, status: int, media: str
) -> None:
    answer = request(
        accepting.index, "GET", SDIST_PROVENANCE, headers={"Accept": accept} if accept else {}
    )
    assert answer.status == status
    assert answer.headers["content-type"] == media
    if status == 406:
        assert json.loads(answer.body) == {"message": "Request not acceptable"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/integrity/PyPI_Attestations/{VERSION}/{SDIST.name}/provenance", 200),
        (f"/integrity/{PROJECT}/0.0.19.0/{SDIST.name}/provenance", 200),
        (f"/integrity/{PROJECT}/{VERSION}/{SDIST.name.upper()}/provenance", 404),
        (f"/integrity/{PROJECT}/0.0.20/{SDIST.name}/provenance", 404),
        (f"/integrity/no-such-project/{VERSION}/{SDIST.name}/provenance", 404),
        (f"/integrity/-bad-/{VERSION}/{SDIST.name}/provenance", 404),
        (f"/integrity/{PROJECT}/{VERSION}/{SDIST.name}", 404),
    ],
)
def test_lookup_normalises_the_name_and_version_not_the_filename(
    accepting: Accepting, path: str, status: int
) -> None:
    answer = request(accepting.index, "GET", path)
    assert answer.status == status, answer.text
    if path.endswith("/provenance"):
        assert answer.headers["content-type"] == (
            INTEGRITY if status == 200 else "application/json"
        )
    assert "location" not in answer.headers


def test_a_file_without_provenance(accepting: Accepting) -> None:
    path = f"/integrity/{PROJECT}/{VERSION}/{accepting.wheel.name}/provenance"
    answer = request(accepting.index, "GET", path)
    assert answer.status == 404
    assert json.loads(answer.body) == {
        "message": f"No provenance available for {accepting.wheel.name}"
    }
    assert "access-control-allow-origin" not in answer.headers


def test_head_gives_the_headers_only(accepting: Accepting) -> None:
    answer = request(accepting.index, "HEAD", SDIST_PROVENANCE)
    assert answer.status == 200
    assert answer.body == b""
    full = request(accepting.index, "GET", SDIST_PROVENANCE)
    assert int(answer.headers["content-length"]) == len(full.body)


def test_simple_json_links_the_provenance(accepting: Accepting) -> None:
    page = json.loads(accepting.after.body)
    assert page["meta"]["api-version"] == "1.4"
    files = {f["filename"]: f for f in page["files"]}
    assert files[accepting.wheel.name]["provenance"] is None
    link = files[SDIST.name]["provenance"]
    # Absolute, as PyPI's, even without --base-url: from the request's scheme and Host.
    assert link == accepting.index.url + SDIST_PROVENANCE
    assert request(accepting.index, "GET", urlsplit(link).path).status == 200
    # The file URLs stay relative without --base-url (pip, uv and pypi-simple join them).
    assert files[SDIST.name]["url"].startswith("../../files/")
    # The page changed: new ETag, newer serial.
    assert accepting.after.headers["etag"] != accepting.before.headers["etag"]
    before = json.loads(accepting.before.body)
    assert page["meta"]["_last-serial"] > before["meta"]["_last-serial"]
    assert all(f["provenance"] is None for f in before["files"])


def test_simple_html_carries_data_provenance_only_when_present(accepting: Accepting) -> None:
    page = request(accepting.index, "GET", f"/simple/{PROJECT}/").text
    [sdist_line] = [line for line in page.splitlines() if f">{SDIST.name}<" in line]
    assert f'data-provenance="{accepting.index.url}{SDIST_PROVENANCE}"' in sdist_line
    [wheel_line] = [line for line in page.splitlines() if f">{accepting.wheel.name}<" in line]
    assert "data-provenance" not in wheel_line
    assert '<meta name="pypi:repository-version" content="1.4">' in page


def test_pypi_simple_reads_the_json_page_of_an_attested_project(accepting: Accepting) -> None:
    """pypi-simple 1.8 (``pep691.File``) validates ``provenance`` as a pydantic ``HttpUrl``, an
    absolute http(s) URL, and so refused every page with a relative one; this is its check."""
    page = json.loads(accepting.after.body)
    links = [f["provenance"] for f in page["files"] if f["provenance"] is not None]
    assert links
    for link in links:
        assert str(TypeAdapter(HttpUrl).validate_python(link)) == link


def test_provenance_links_follow_the_host_each_request_names(accepting: Accepting) -> None:
    """Pages are cached per process: one client's Host must never show in another's page."""
    port = accepting.index.url.rsplit(":", 1)[1]
    for host in ("mirror.example.org:8443", f"localhost:{port}", "[::1]:8080"):
        for accept in ("application/vnd.pypi.simple.v1+json", "text/html"):
            answer = request(
                accepting.index,
                "GET",
                f"/simple/{PROJECT}/",
                headers={"Host": host, "Accept": accept},
            )
            assert f"http://{host}{SDIST_PROVENANCE}" in answer.text, (host, accept)
    plain = request(accepting.index, "GET", f"/simple/{PROJECT}/").text
    assert f'"{accepting.index.url}{SDIST_PROVENANCE}"' in plain
    assert "mirror.example.org" not in plain
    # A Host that is no host name falls back to the address the index was reached at.
    odd = request(
        accepting.index, "GET", f"/simple/{PROJECT}/", headers={"Host": 'x"><b>y</b>'}
    ).text
    assert "<b>" not in odd
    assert f"{accepting.index.url}{SDIST_PROVENANCE}" in odd


def test_project_page_names_the_publisher(accepting: Accepting) -> None:
    page = request(accepting.index, "GET", f"/project/{PROJECT}/{VERSION}/").text
    assert f"GitHub {REPOSITORY}, workflow {WORKFLOW}" in page
    assert f'href="{SDIST_PROVENANCE}"' in page
    assert page.count("GitHub trailofbits") == 1  # the wheel has none


def test_identical_reupload_is_200_and_keeps_the_provenance(accepting: Accepting) -> None:
    rows = provenance_rows(accepting.index)
    answer = upload(accepting.index, accepting.alice, SDIST, None)
    assert answer.status == 200  # PyPI's answer to identical bytes, before any other check
    assert provenance_rows(accepting.index) == rows


def test_deleting_the_file_deletes_its_provenance(accepting: Accepting) -> None:
    path = f"/integrity/{MODELS}/{MODELS_VERSION}/{MODELS_SDIST.name}/provenance"
    answer = upload(
        accepting.index,
        accepting.models_token,
        MODELS_SDIST,
        [attestations_field(MODELS_ATTESTATION)],
        name=MODELS,
        version=MODELS_VERSION,
    )
    assert answer.status == 200, answer.reason
    served = json.loads(request(accepting.index, "GET", path).body)
    assert served["attestation_bundles"][0]["publisher"]["repository"] == MODELS_REPOSITORY
    assert served["attestation_bundles"][0]["attestations"] == [document(MODELS_ATTESTATION)]
    count = len(provenance_rows(accepting.index))
    accepting.index.cli("admin", "project", "delete-file", MODELS_SDIST.name)
    assert request(accepting.index, "GET", path).status == 404
    assert len(provenance_rows(accepting.index)) == count - 1


def test_export_and_import_keep_the_provenance(
    accepting: Accepting, tmp_path: Path, backend: Backend
) -> None:
    export = tmp_path / "export"
    accepting.index.cli("admin", "export", str(export))
    assert json.loads((export / "manifest.json").read_text())["tables"]["provenance"]["rows"] >= 1
    # Only the admin CLI runs on the copy (no server): an IndexServer without its own process.
    backend.configure(tmp_path / "copy")
    target = IndexServer(
        url="", data=tmp_path / "copy", process=accepting.index.process, log=tmp_path / "log"
    )
    target.cli("admin", "import", str(export))
    exported = [
        json.loads(line)
        for line in (export / "catalogue" / "provenance.jsonl").read_text().splitlines()
    ]
    assert [(r[0], r[1], r[2]) for r in provenance_rows(target)] == [
        (row["file_id"], row["publisher"], row["provenance"]) for row in exported
    ]
    assert any(
        row["provenance"]["attestation_bundles"][0]["attestations"]
        == [document(PUBLISH), document(SLSA)]
        for row in exported
    )


@pytest.mark.slow
def test_serving_does_not_import_sigstore() -> None:
    """``trustyard serve`` starts in under 2 s: the Sigstore stack loads on first attestation."""
    code = (
        "import sys, trustyard.cli.main, trustyard.index.app, trustyard.index.server;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " {'sigstore', 'pypi_attestations', 'rfc8785', 'sigstore_models'}))"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
    assert sys.executable == PYTHON
