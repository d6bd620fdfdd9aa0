"""schemathesis against a live ``trustyard serve`` with data in it, driven by the index's own
OpenAPI description (``/openapi.json``): no 5xx, and every answer conforms to the description.

Each operation gets a bounded number of generated cases (``MAX_EXAMPLES``, 15 unless
``OPENAPI_EXAMPLES`` says otherwise), plus the examples the description names, which reach the
seeded project; the whole module runs in about a minute.

Both backends: every generated name, version and token reaches the catalogue's queries, and
PostgreSQL refuses some text that SQLite stores (a NUL character), so a case that passes on one
can be a 500 on the other. The second backend costs a seeded index on PostgreSQL + S3 and
the calls (about 20 s alone, most of it starting both servers, which a suite run does once).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import request, upload_file
from tests.services import Backend
from trustyard.index.openapi import DESCRIPTION, EXAMPLE_PROJECT, EXAMPLE_VERSION

# Generated cases per operation; OPENAPI_EXAMPLES=500 for a deeper run.
MAX_EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[IndexServer]:
    tmp = tmp_path_factory.mktemp("openapi")
    data = tmp / "data"
    data.mkdir()
    # schemathesis makes hundreds of calls from one address: no mint limit here.
    (data / "trustyard.toml").write_text('mint-rate-per-address = "off"\n')
    server = start_index(data, backend=backend)
    try:
        server.create_user("alice")
        token = server.create_token("alice")
        for version in ("0.9", EXAMPLE_VERSION):
            wheel = build_wheel(tmp / version, EXAMPLE_PROJECT, version)
            assert upload_file(server, token, wheel, EXAMPLE_PROJECT, version).status == 200
        sdist = build_sdist(tmp / "sdist", EXAMPLE_PROJECT, EXAMPLE_VERSION)
        assert upload_file(server, token, sdist, EXAMPLE_PROJECT, EXAMPLE_VERSION).status == 200
        server.cli("admin", "project", "yank", EXAMPLE_PROJECT, "0.9", "--reason", "old")
        yield server
    finally:
        server.stop()


# The description as data (the served copy is checked to be identical below); the cases are
# sent to the live index of the ``api`` fixture.
# A body over the endpoint's size limit is refused with 413 (RFC 9110), a rejection too.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
)
schema = schemathesis.openapi.from_dict(DESCRIPTION, config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_conforms(case: Case[Any], api: IndexServer) -> None:
    excluded: list[CheckFunction] = []
    if case.path.endswith(("/mint-token", "/burn-token", "/mint-read-token", "/burn-read-token")):
        # PyPI's protocol answers every refused token, well-formed or not, with 422 and a
        # reason code: a schema-valid random token is (rightly) refused.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=api.url, excluded_checks=excluded)


def test_the_served_description_is_the_data_module(api: IndexServer) -> None:
    answer = request(api, "GET", "/openapi.json")
    assert answer.status == 200
    served = json.loads(answer.body)
    assert served["servers"] == [{"url": api.url}]
    assert {k: v for k, v in served.items() if k != "servers"} == DESCRIPTION
    assert served["openapi"].startswith("3.")


def test_the_description_covers_every_json_endpoint() -> None:
    paths = set(DESCRIPTION["paths"])
    assert paths == {
        "/simple/",
        "/simple/{name}/",
        "/pypi/{name}/json",
        "/pypi/{name}/{version}/json",
        "/integrity/{project}/{version}/{file}/provenance",
        "/_/oidc/audience",
        "/_/oidc/mint-token",
        "/_/oidc/github/mint-token",
        "/_/oidc/burn-token",
        "/_/oidc/read-audience",
        "/_/oidc/mint-read-token",
        "/_/oidc/burn-read-token",
        "/.well-known/pytp/{key}",
    }


def test_examples_reach_the_seeded_data(api: IndexServer) -> None:
    """The description's examples name real data, so schemathesis also checks 200 bodies."""
    for path in (
        f"/pypi/{EXAMPLE_PROJECT}/json",
        f"/pypi/{EXAMPLE_PROJECT}/{EXAMPLE_VERSION}/json",
        f"/simple/{EXAMPLE_PROJECT}/",
    ):
        assert request(api, "GET", path).status == 200, path
