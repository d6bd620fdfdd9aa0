"""A publisher kind is one module: declared once, it appears everywhere a kind is used.

The kind below (CircleCI, which pypi-attestations knows but trustyard does not ship) is
declared here as a module in ``trustyard/oidc/publishers/`` would declare it, and registered
in :data:`KINDS` only. Then, in this process and on a real SQLite index: the CLI takes its
options and registers it, the web forms show its fields, a form gives its configuration, the
token exchange applies its claim checks, its attestation identity is a PEP 740 publisher, and
``verify --publisher`` parses and prints it. Anything still listing the kinds by hand fails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from trustyard.attestations.identity import attestation_identity
from trustyard.cli.main import main
from trustyard.index.context import IndexContext, open_index
from trustyard.index.db.models import OidcKeySet
from trustyard.index.services import accounts, issuers, projects
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.provenance import describe_publisher as describe_provenance
from trustyard.index.services.publishers import add_pending_publisher, list_publishers
from trustyard.index.services.trusted_publishing import DatabaseKeys, mint_token
from trustyard.index.web.render import page
from trustyard.oidc.devkeys import generate_key_file, sign
from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.publishers import KINDS, spec_forms
from trustyard.oidc.publishers.base import Claims, Config, Field, PublisherKind, present
from trustyard.release.verify import describe_publisher, parse_publisher
from trustyard.settings import load_settings

ISSUER = "https://oidc.circleci.example/org/7"
AUDIENCE = "trustyard-test"
PROJECT_CLAIM = "oidc.circleci.com/project-id"
DEFINITION_CLAIM = "oidc.circleci.com/pipeline-definition-id"


# -- the module: what adding a kind takes --------------------------------------------------


def _same(claim: str, key: str) -> Any:
    def check(config: Config, value: object, _claims: Claims) -> str | None:
        return None if value == config[key] else f"Check failed for required claim {claim!r}"

    return check


def _project_id(value: str) -> str | None:
    if value.replace("-", "").isalnum():
        return None
    return f"--project-id must be a CircleCI project id, not {value!r}"


def _parse_spec(spec: str) -> dict[str, str] | None:
    project, _, definition = spec.partition("/")
    if not project or not definition or "/" in definition:
        return None
    return {"project_id": project, "pipeline_definition_id": definition}


CIRCLECI = PublisherKind(
    name="circleci",
    default_issuer=ISSUER,
    display_name="CircleCI",
    summary="a CircleCI pipeline",
    title="CircleCI pipelines",
    html_id="cc",
    fields=(
        Field(
            "project_id",
            required=True,
            help="the project's id",
            label="Project id",
            check=_project_id,
        ),
        Field("pipeline_definition_id", required=True, label="Pipeline definition id"),
        Field("issuer", help="the organisation's issuer URL"),
    ),
    required_claims={
        PROJECT_CLAIM: _same(PROJECT_CLAIM, "project_id"),
        DEFINITION_CLAIM: _same(DEFINITION_CLAIM, "pipeline_definition_id"),
        "jti": present,
    },
    lookup_of_config=lambda config: config["project_id"],
    lookup_of_claims=lambda claims: (
        value if isinstance(value := claims.get(PROJECT_CLAIM), str) else None
    ),
    description=lambda config: [
        f"CircleCI project {config['project_id']}",
        f"pipeline {config['pipeline_definition_id']}",
    ],
    attestation_fields={
        "project_id": "project_id",
        "pipeline_definition_id": "pipeline_definition_id",
    },
    spec_form="PROJECT-ID/PIPELINE-DEFINITION-ID",
    parse_spec=_parse_spec,
    spec_of=lambda config: f"{config['project_id']}/{config['pipeline_definition_id']}",
)
CONFIG = {"project_id": "p-1", "pipeline_definition_id": "d-1"}


@pytest.fixture
def kind(monkeypatch: pytest.MonkeyPatch) -> PublisherKind:
    """The kind, registered in the one list for this test only."""
    monkeypatch.setitem(KINDS, CIRCLECI.name, CIRCLECI)
    return CIRCLECI


@pytest.fixture
def index(tmp_path: Path) -> IndexContext:
    """A real index on SQLite with a user, a project and the kind's issuer allowed."""
    ctx = open_index(load_settings({"data_dir": tmp_path}, environ={}))
    with ctx.db.write() as session:
        accounts.create_user(session, "owner", "correct horse battery staple")
        projects.create_project(session, "widgets", owner="owner")
        issuers.add_issuer(session, ISSUER, allow_private_address=False, actor=None)
    return ctx


def trustyard(index: IndexContext, *args: str) -> int:
    return main([*args, "--data", str(index.settings.data_dir)])


# -- everything derives from it --------------------------------------------------------------


def test_the_cli_takes_its_options_and_checks_its_values(
    kind: PublisherKind, index: IndexContext, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--project-id", "p-1", "--pipeline-definition-id", "d-1"]
    assert trustyard(index, "publisher", "add", "widgets", "circleci", *options) == 0
    capsys.readouterr()
    assert trustyard(index, "publisher", "list", "widgets", "--json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["kind"], listed["issuer"], listed["description"]) == (
        "circleci",
        ISSUER,
        "CircleCI project p-1 pipeline d-1",
    )

    bad = ["--project-id", "p/1", "--pipeline-definition-id", "d-1"]
    assert trustyard(index, "publisher", "add", "widgets", "circleci", *bad) == 1
    assert "--project-id must be a CircleCI project id, not 'p/1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        trustyard(index, "publisher", "add", "widgets", "circleci", "--project-id", "p-1")
    assert "--pipeline-definition-id" in capsys.readouterr().err


def test_the_web_forms_show_its_fields(kind: PublisherKind) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    context = {
        "project_name": "widgets",
        "publishers": [],
        "readers": [],
        "may": {"manage-publishers"},
    }
    html = page(request, "manage_project.html", {**context, "section": "publishers"}).body
    assert b'id="add-circleci" aria-labelledby="cc-h"' in html
    assert b'<h3 id="cc-h">CircleCI pipelines</h3>' in html
    assert (
        b'<label for="cc-project-id">Project id</label>'
        b'<input id="cc-project-id" name="project_id" required maxlength="200">'
    ) in html
    assert b'name="pipeline_definition_id" required' in html
    assert b"Add CircleCI publisher" in html
    # the same form, for a reader policy (Trusted Reading)
    assert b'id="reader-circleci" aria-labelledby="rcc-h"' in html
    assert b"Add CircleCI reader" in html
    pending = page(request, "manage_publishing.html", {"pending": []}).body
    assert b'id="pending-circleci"' in pending
    assert b'<input id="pcc-project" name="project_name" required' in pending


def test_a_form_gives_its_configuration(kind: PublisherKind, index: IndexContext) -> None:
    form = {"kind": "circleci", "project_id": " p-1 ", "pipeline_definition_id": "d-1"}
    config = kind.config_from_form(form)
    assert config == {**CONFIG, "issuer": ""}
    with index.db.write() as session:
        add_pending_publisher(
            index.db, session, "gadgets", "circleci", config, owner="owner", limit=3
        )
    with index.db.read() as session:
        [view] = list_publishers(session, "gadgets")
    assert (view.pending, view.description) == (True, "CircleCI project p-1 pipeline d-1")


def test_the_exchange_applies_its_claim_checks(
    kind: PublisherKind, index: IndexContext, tmp_path: Path
) -> None:
    key_path = tmp_path / "issuer.key"
    key = generate_key_file(key_path, "ES256")
    with index.db.write() as session:
        # The issuer's keys as a fetch would have cached them: nothing leaves the process.
        session.add(OidcKeySet(issuer=ISSUER, keys={key.kid: key.public_jwk()}, fetched=utcnow()))
    assert trustyard(index, "publisher", "add", "widgets", "circleci", *_options(CONFIG)) == 0

    def token(jti: str, **claims: str) -> str:
        now = int(time.time())
        base = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": jti}
        return sign({**base, PROJECT_CLAIM: "p-1", DEFINITION_CLAIM: "d-1", **claims}, key_path)

    minted = mint_token(index.db, AUDIENCE, token("one"), DatabaseKeys(index.db))
    assert minted.token
    with pytest.raises(TokenRejected) as refused:
        mint_token(
            index.db, AUDIENCE, token("two", **{DEFINITION_CLAIM: "d-2"}), DatabaseKeys(index.db)
        )
    assert refused.value.message == (
        "valid token, but no corresponding publisher"
        f" (Check failed for required claim {DEFINITION_CLAIM!r})"
    )


def test_its_attestation_identity_and_verify_spec(kind: PublisherKind) -> None:
    identity = attestation_identity(kind.display_name, kind.attestation_publisher(CONFIG))
    assert identity.model_dump() == {
        "kind": "CircleCI",
        "project_id": "p-1",
        "pipeline_definition_id": "d-1",
        "vcs_origin": None,
        "vcs_ref": None,
    }
    assert describe_provenance(identity.model_dump(mode="json")) == (
        "CircleCI project p-1, pipeline d-1"
    )
    spec = parse_publisher("circleci:p-1/d-1")
    assert (spec.kind, spec.config) == ("circleci", CONFIG)
    assert describe_publisher(spec.identity()) == "circleci:p-1/d-1"
    assert "circleci:PROJECT-ID/PIPELINE-DEFINITION-ID" in spec_forms()


def _options(config: dict[str, str]) -> list[str]:
    return [part for key, value in config.items() for part in ("--" + key.replace("_", "-"), value)]
