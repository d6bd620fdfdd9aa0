"""``serve`` with a cooldown refuses an upstream that gives no upload times (devpi's HTML
``+simple`` pages, a JSON index older than PEP 700), and accepts one that does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import UpstreamWire
from trustyard.errors import ConfigurationError
from trustyard.index.upstream.probe import check_at_start, upload_times_problem


async def html_index(request: object) -> HTMLResponse:
    # What devpi-server answers for /root/pypi/+simple/ (PEP 503 only).
    return HTMLResponse('<html><body><a href="pip/">pip</a></body></html>')


async def json_1_0(request: object) -> JSONResponse:
    return JSONResponse(
        {"meta": {"api-version": "1.0"}, "projects": [{"name": "pip"}]},
        media_type="application/vnd.pypi.simple.v1+json",
    )


@pytest.mark.parametrize(
    ("endpoint", "problem"), [(html_index, "not PEP 691 JSON"), (json_1_0, "1.0")]
)
def test_an_upstream_without_upload_times_is_refused(endpoint: object, problem: str) -> None:
    app = Starlette(routes=[Route("/simple/", endpoint)])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as refused:
        check_at_start("http://devpi.test/simple/", 5.0, "3d", httpx.ASGITransport(app=app))
    assert problem in refused.value.message
    assert "min_release_age 3d needs upload times" in refused.value.message
    assert "--min-release-age 0" in refused.value.message


def test_a_pep_700_upstream_is_accepted(tmp_path: Path, portal: BlockingPortal) -> None:
    upstream = LocalIndex(tmp_path / "upstream", portal)
    try:
        check_at_start(
            "http://upstream.test/simple/", 5.0, "3d", httpx.ASGITransport(app=upstream.app)
        )
    finally:
        upstream.close()
    assert upload_times_problem("application/vnd.pypi.simple.v1+json", b'{"meta": {}}') is not None
    assert (
        upload_times_problem("application/vnd.pypi.simple.v1+json", b'{"meta":{"api-version":"1.4"')
        is None
    )


def test_an_upstream_down_at_start_does_not_stop_the_start(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    upstream = LocalIndex(tmp_path / "upstream", portal)
    try:
        wire = UpstreamWire(upstream.app)
        wire.down = True
        warning = check_at_start("http://upstream.test/simple/", 5.0, "3d", wire)
    finally:
        upstream.close()
    assert warning is not None
    assert "cannot check that the upstream gives upload times" in warning
