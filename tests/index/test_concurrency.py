"""Racing uploads: exactly one of many writers of the same filename wins."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, snapshot, upload_file


def test_twenty_concurrent_uploads_of_one_filename(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    fresh_index.create_user("alice")
    token = fresh_index.create_token("alice")
    # Twenty wheels with the same filename and different bytes.
    wheels = [
        build_wheel(
            tmp_path / f"v{i}", "racer", "1.0", files={"racer/which.py": f"N = {i}\n".encode()}
        )
        for i in range(20)
    ]
    assert len({hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}) == 20

    def send(wheel: Path) -> Answer:
        return upload_file(fresh_index, token, wheel, "racer", "1.0")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, wheels))

    winners = [w for w, a in zip(wheels, answers, strict=True) if a.status == 200]
    losers = [a for a in answers if a.status != 200]
    assert len(winners) == 1, [(a.status, a.reason) for a in answers]
    assert all(a.status == 400 and a.reason.startswith("File already exists") for a in losers)

    state = snapshot(fresh_index)
    files = state.tables["files"]
    assert len(files) == 1
    winner_blake2 = hashlib.blake2b(winners[0].read_bytes(), digest_size=32).hexdigest()
    stored = {k for k in state.files if not k.endswith(".metadata")}
    assert stored == {
        f"{winner_blake2[:2]}/{winner_blake2[2:4]}/{winner_blake2[4:]}/racer-1.0-py3-none-any.whl"
    }
    assert state.files[next(iter(stored))] == hashlib.sha256(winners[0].read_bytes()).hexdigest()
    assert state.spool == ()
