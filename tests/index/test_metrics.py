"""The Prometheus metrics in this process (issue 19): each measured event moves its metric.

The values are the in-process ones (:data:`trustyard.index.metrics.REGISTRY`), which every
index of this test process shares: each test reads a metric before and after what it does and
checks the difference. The same calls write to the workers' files under ``serve --workers``
(tests/index/test_metrics_serve.py scrapes a real one).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from uvicorn.supervisors import multiprocess

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.errors import ConfigurationError
from trustyard.index import metrics
from trustyard.index.app import create_app
from trustyard.index.server import MetricsSupervisor, metrics_endpoint
from trustyard.index.services import publishers
from trustyard.oidc.devclaims import GitHubRun
from trustyard.settings import Bind, load_settings, parse_bind

Wheels = Callable[[str, str], Path]
DURATION_COUNT = "trustyard_http_request_duration_seconds_count"


def value(name: str, **labels: str) -> float:
    """The current value of one sample (0 before its first event)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def requests_of(surface: str, status: str) -> float:
    return value(DURATION_COUNT, surface=surface, status=status)


@pytest.fixture(scope="module")
def metered(
    tmp_path_factory: pytest.TempPathFactory, portal: BlockingPortal
) -> Iterator[LocalIndex]:
    """An index with metrics on (the address is only a setting: nothing listens in-process)."""
    index = LocalIndex(tmp_path_factory.mktemp("metered"), portal, metrics_bind="127.0.0.1:9100")
    index.create_user("alice")
    yield index
    index.close()


def test_requests_are_timed_by_surface_and_status_class(metered: LocalIndex) -> None:
    paths = {
        "/simple/": ("simple", "2xx"),
        "/simple/no-such-project-zq/": ("simple", "4xx"),
        "/simple": ("none", "3xx"),  # the router's slash redirect: no mount takes it
        "/pypi/no-such-project-zq/json": ("json", "4xx"),
        "/_/oidc/audience": ("oidc", "2xx"),
        "/no/such/path/zq": ("none", "4xx"),
        "/": ("web", "2xx"),
    }
    expected = dict.fromkeys(paths.values(), 0)
    for label in paths.values():
        expected[label] += 1
    before = {label: requests_of(*label) for label in expected}
    for path, (_surface, status) in paths.items():
        answer = metered.get(path, follow_redirects=False)
        assert f"{answer.status_code // 100}xx" == status, path
    after = {label: requests_of(*label) for label in expected}
    assert {label: after[label] - before[label] for label in expected} == expected


def test_labels_never_carry_a_path_or_a_name(metered: LocalIndex) -> None:
    """Bounded cardinality: whatever a client asks for, no label holds its path or name."""
    metered.get("/simple/a-name-nobody-uses-zq/")
    metered.get("/pypi/a-name-nobody-uses-zq/json")
    metered.get("/an/unknown/path-zq")
    exposed = generate_latest(metrics.REGISTRY).decode()
    assert "zq" not in exposed
    surfaces = {
        sample.labels["surface"]
        for family in text_string_to_metric_families(exposed)
        for sample in family.samples
        if "surface" in sample.labels
    }
    assert surfaces <= {
        "simple",
        "upload",
        "files",
        "json",
        "integrity",
        "oidc",
        "openapi",
        "web",
        metrics.NO_SURFACE,
    }


def test_without_metrics_bind_no_request_is_timed(local_index: LocalIndex) -> None:
    before = requests_of("simple", "2xx")
    assert local_index.get("/simple/").status_code == 200
    assert requests_of("simple", "2xx") == before


def test_a_refusal_before_routing_is_timed_in_its_surface(metered: LocalIndex) -> None:
    """The security layer's 413 comes before routing and is counted all the same."""
    before = requests_of("oidc", "4xx")
    answer = metered.post("/_/oidc/mint-token", content=b"x" * (65 * 1024))
    assert answer.status_code == 413
    assert requests_of("oidc", "4xx") == before + 1


def test_uploads_are_counted_by_outcome_with_their_bytes(
    metered: LocalIndex, wheels: Wheels
) -> None:
    token = metered.create_token("alice")
    wheel = wheels("metered-upload", "1.0")
    size = wheel.stat().st_size
    stored = value("trustyard_uploads_total", outcome="stored")
    present = value("trustyard_uploads_total", outcome="already-present")
    refused = value("trustyard_uploads_total", outcome="refused")
    stored_bytes = value("trustyard_upload_bytes_total", outcome="stored")

    assert metered.upload(token, wheel).status_code == 200
    assert metered.upload(token, wheel).status_code == 200  # the same bytes: PyPI's 200
    denied = metered.upload("pypi-not-a-token", wheel)
    assert denied.status_code == 403
    mismatch = metered.upload(token, wheels("metered-upload", "1.1"), sha256_digest="0" * 64)
    assert mismatch.status_code == 400

    assert value("trustyard_uploads_total", outcome="stored") == stored + 1
    assert value("trustyard_uploads_total", outcome="already-present") == present + 1
    assert value("trustyard_uploads_total", outcome="refused") == refused + 2
    assert value("trustyard_upload_bytes_total", outcome="stored") == stored_bytes + size


def test_upload_refusals_are_counted_by_status(metered: LocalIndex, wheels: Wheels) -> None:
    forbidden = value("trustyard_upload_refusals_total", status="403")
    bad = value("trustyard_upload_refusals_total", status="400")
    wheel = wheels("metered-refusal", "1.0")
    assert metered.upload("pypi-not-a-token", wheel).status_code == 403
    token = metered.create_token("alice")
    assert metered.upload(token, wheel, sha256_digest="0" * 64).status_code == 400
    assert value("trustyard_upload_refusals_total", status="403") == forbidden + 1
    assert value("trustyard_upload_refusals_total", status="400") == bad + 1


def test_simple_pages_count_hits_misses_and_entries(metered: LocalIndex, wheels: Wheels) -> None:
    token = metered.create_token("alice")
    assert metered.upload(token, wheels("metered-pages", "1.0")).status_code == 200

    def lookups(result: str) -> float:
        return value("trustyard_page_cache_lookups_total", cache="simple", result=result)

    hits, misses = lookups("hit"), lookups("miss")
    entries = value("trustyard_page_cache_entries", cache="simple")
    assert metered.get("/simple/metered-pages/").status_code == 200
    assert (lookups("hit"), lookups("miss")) == (hits, misses + 1)
    assert value("trustyard_page_cache_entries", cache="simple") == entries + 1
    assert metered.get("/simple/metered-pages/").status_code == 200
    assert metered.get("/simple/metered-pages/").status_code == 200
    assert (lookups("hit"), lookups("miss")) == (hits + 2, misses + 1)
    # the JSON page is another entry; a new file makes the page render again
    assert metered.get("/simple/metered-pages/", headers={"Accept": SIMPLE_V1_JSON}).is_success
    assert value("trustyard_page_cache_entries", cache="simple") == entries + 2
    assert metered.upload(token, wheels("metered-pages", "1.1")).status_code == 200
    assert metered.get("/simple/metered-pages/").status_code == 200
    assert (lookups("hit"), lookups("miss")) == (hits + 2, misses + 3)
    assert value("trustyard_page_cache_entries", cache="simple") == entries + 2


def test_mints_and_refusals_are_counted_by_reason(
    metered: LocalIndex, local_issuer: LocalIssuer, wheels: Wheels
) -> None:
    metered.trust_issuer(local_issuer.url)
    token = metered.create_token("alice")
    assert metered.upload(token, wheels("metered-mint", "0.1")).status_code == 200
    with metered.db.write() as session:
        publishers.add_publisher(
            session,
            "metered-mint",
            "github",
            {
                "repository": "octo/metered",
                "workflow": "release.yml",
                "environment": "pypi",
                "issuer": local_issuer.url,
            },
            actor="alice",
        )
    audience = metered.get("/_/oidc/audience").json()["audience"]

    def exchange(repository: str) -> httpx.Response:
        run = GitHubRun(repository=repository, ref="refs/tags/v1", environment="pypi")
        oidc_token = local_issuer.mint(audience, run.claims())
        return metered.post("/_/oidc/mint-token", content=json.dumps({"token": oidc_token}))

    def refusals(reason: str) -> float:
        return value("trustyard_trusted_publishing_refusals_total", reason=reason)

    mints = value("trustyard_trusted_publishing_mints_total")
    payload, publisher = refusals("invalid-payload"), refusals("invalid-publisher")
    assert exchange("octo/metered").status_code == 200
    assert exchange("octo/metered").status_code == 200
    assert exchange("someone/else").status_code == 422
    assert metered.post("/_/oidc/mint-token", content=b"not json").status_code == 422
    assert metered.post("/_/oidc/mint-token", content=b'{"token": 5}').status_code == 422
    assert value("trustyard_trusted_publishing_mints_total") == mints + 2
    assert refusals("invalid-publisher") == publisher + 1
    assert refusals("invalid-payload") == payload + 2


def test_an_unknown_reason_is_counted_as_other() -> None:
    before = value("trustyard_trusted_publishing_refusals_total", reason="other")
    metrics.mint_refused("a-code-from-somewhere-else")
    metrics.mint_refused(None)
    assert value("trustyard_trusted_publishing_refusals_total", reason="other") == before + 2
    assert (
        value("trustyard_trusted_publishing_refusals_total", reason="a-code-from-somewhere-else")
        == 0
    )


def test_the_catalogue_pool_is_followed(tmp_path: Path, portal: BlockingPortal) -> None:
    size = value("trustyard_db_pool_size")
    index = LocalIndex(tmp_path, portal)
    try:
        assert value("trustyard_db_pool_size") == size + 20
        idle = value("trustyard_db_connections_in_use")
        with index.db.engine.connect() as first, index.db.engine.connect() as second:
            first.execute(text("SELECT 1"))
            second.execute(text("SELECT 1"))
            assert value("trustyard_db_connections_in_use") == idle + 2
        assert value("trustyard_db_connections_in_use") == idle
    finally:
        index.close()


def test_the_endpoint_serves_the_scrape_on_its_own_address() -> None:
    server = metrics.serve_metrics(Bind("127.0.0.1", 0), None)
    try:
        base = f"http://127.0.0.1:{server.port}"
        metrics.token_minted()
        answer = httpx.get(base + "/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert "CPython" not in answer.headers.get("server", "")
        families = {f.name: f for f in text_string_to_metric_families(answer.text)}
        assert {
            "trustyard_http_request_duration_seconds",
            "trustyard_uploads",
            "trustyard_upload_refusals",
            "trustyard_upload_bytes",
            "trustyard_trusted_publishing_mints",
            "trustyard_trusted_publishing_refusals",
            "trustyard_page_cache_lookups",
            "trustyard_page_cache_entries",
            "trustyard_upstream_events",
            "trustyard_db_connections_in_use",
            "trustyard_db_pool_size",
        } <= families.keys()
        (mints,) = families["trustyard_trusted_publishing_mints"].samples[:1]
        assert mints.value == value("trustyard_trusted_publishing_mints_total") >= 1
        assert httpx.get(base + "/").status_code == 404
        assert httpx.get(base + "/metrics/x").status_code == 404
    finally:
        server.close()


def test_an_address_in_use_is_a_start_error() -> None:
    server = metrics.serve_metrics(Bind("127.0.0.1", 0), None)
    try:
        with pytest.raises(ConfigurationError, match="cannot serve the metrics on"):
            metrics.serve_metrics(Bind("127.0.0.1", server.port), None)
    finally:
        server.close()


@pytest.mark.parametrize(
    ("text", "bind"),
    [
        ("127.0.0.1:9100", Bind("127.0.0.1", 9100)),
        ("[::1]:9100", Bind("::1", 9100)),
        ("metrics.internal:9100", Bind("metrics.internal", 9100)),
        (" 0.0.0.0:0 ", Bind("0.0.0.0", 0)),  # noqa: S104 - parsed, not bound
    ],
)
def test_bind_addresses(text: str, bind: Bind) -> None:
    assert parse_bind(text) == bind


@pytest.mark.parametrize("text", ["9100", "127.0.0.1", ":9100", "::1:9100", "host:port", "h:70000"])
def test_bad_bind_addresses_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="metrics_bind"):
        load_settings({"metrics_bind": text}, environ={})


@pytest.mark.parametrize("bind", ["127.0.0.1:8080", "0.0.0.0:8080", "[::]:8080"])
def test_the_metrics_never_share_the_index_address(bind: str) -> None:
    with pytest.raises(ConfigurationError, match="the index's own address"):
        load_settings({"metrics_bind": bind, "port": 8080}, environ={})
    assert load_settings({"metrics_bind": bind, "port": 8081}, environ={}).metrics_bind == bind


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path}, environ={})
    assert settings.metrics_bind is None
    app = create_app(settings)
    try:
        assert not isinstance(app.build_middleware_stack(), metrics.RequestMetrics)
    finally:
        app.state.index.db.dispose()


def test_the_uvicorn_supervisor_still_has_what_metrics_supervisor_overrides() -> None:
    """``MetricsSupervisor`` wraps two rounds of uvicorn's (not public API) and reads its
    ``processes`` and their ``pid``: an update of uvicorn that moves them meets this first."""
    base = multiprocess.Multiprocess
    assert list(inspect.signature(base.__init__).parameters) == ["self", "config", "sockets"]
    for name in ("keep_subprocess_alive", "handle_signals"):
        assert list(inspect.signature(getattr(base, name)).parameters) == ["self"]
        assert getattr(MetricsSupervisor, name) is not getattr(base, name)
    assert "self.processes" in inspect.getsource(base.init_processes)
    assert isinstance(inspect.getattr_static(multiprocess.Process, "pid"), property)


def test_the_endpoint_lives_as_long_as_the_server(tmp_path: Path) -> None:
    """One worker: this process's own values, no directory. Several: a directory of the run,
    removed at the end (the workers' files in it are what the scrape adds up)."""
    single = load_settings({"data_dir": tmp_path, "metrics_bind": "127.0.0.1:0"}, environ={})
    with metrics_endpoint(single) as directory:
        assert directory is None
    several = dataclasses.replace(single, workers=2)
    with metrics_endpoint(several) as directory:
        assert directory is not None
        assert Path(directory).is_dir()
    assert not Path(directory).exists()
    with metrics_endpoint(dataclasses.replace(single, metrics_bind=None)) as directory:
        assert directory is None
