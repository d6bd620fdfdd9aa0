"""``POST /legacy/`` in-process: an accepted upload and each refusal, status and reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.index.conftest import LocalIndex


def test_upload_accepted_then_listed(
    shared_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    shared_index.create_user("up-alice")
    token = shared_index.create_token("up-alice")
    answer = shared_index.upload(token, wheels("up-first", "1.0"))
    assert answer.status_code == 200, answer.text
    page = shared_index.get("/simple/up-first/")
    assert page.status_code == 200
    assert "up_first-1.0-py3-none-any.whl" in page.text
