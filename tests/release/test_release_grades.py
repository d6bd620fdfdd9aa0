"""``trustyard release``'s verify stage follows verify's grades: a file the index serves that is
only *equivalent* to the rebuild (same members and contents, other archive metadata) stops the
release unless ``--accept-equivalent`` is given; the stage records every file's verdict."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import IndexServer
from tests.index.conftest import upload_built
from tests.release.conftest import git, make_repo
from trustyard.release.approval import ApprovalRefused
from trustyard.release.build import ENV_RECORD_NAME, BuildOptions, build_release
from trustyard.release.pipeline import STATE_FILE, ReleaseOptions, release
from trustyard.release.promotion import IndexTarget, StageFailed
from trustyard.release.verify import (
    EQUIVALENT,
    IDENTICAL,
    NOT_REBUILDABLE,
    passing_verdicts,
)

UNREACHABLE = "https://127.0.0.1:9/legacy/"


def test_passing_verdicts() -> None:
    assert IDENTICAL in passing_verdicts(accept_equivalent=False)
    assert EQUIVALENT not in passing_verdicts(accept_equivalent=False)
    assert EQUIVALENT in passing_verdicts(accept_equivalent=True)
    assert NOT_REBUILDABLE not in passing_verdicts(accept_equivalent=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo("hatchling", tmp_path_factory.mktemp("grades") / "repo")


def _rezip(wheel: Path, dest: Path) -> Path:
    """The wheel as another zip writer stores it: same members and bytes, other times."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            again = zipfile.ZipInfo(info.filename, date_time=(2030, 1, 2, 3, 4, 6))
            again.external_attr = info.external_attr
            again.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(again, src.read(info))
    return dest


def test_an_equivalent_file_fails_the_stage_unless_accepted(
    repo: Path, index: IndexServer, uploader: str, tmp_path: Path, uv_cache: Path, cli_cache: Path
) -> None:
    built = build_release(
        BuildOptions(repo, ref="v0.1.0", cache_dir=uv_cache), tmp_path / "out", tmp_path / "work"
    )
    sdist, wheel = built.artifacts
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy2(sdist, dist / sdist.name)
    _rezip(wheel, dist / wheel.name)
    shutil.copy2(built.record_path, dist / ENV_RECORD_NAME)
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (dist / sdist.name, dist / wheel.name)
    }
    for name in files:
        answer = upload_built(index, uploader, dist / name)
        assert answer.status == 200, answer.text
    earlier = {"at": "2026-01-01T00:00:00+00:00"}
    (dist / STATE_FILE).write_text(
        json.dumps(
            {
                "version": 1,
                "commit": git(repo, "rev-parse", "v0.1.0^{commit}").strip(),
                "release": "ty-sample-hatchling==0.1.0",
                "files": files,
                "done": {"build": earlier, "attest": earlier, "publish-test": earlier},
            }
        )
    )
    options = ReleaseOptions(
        project=repo,
        dist=dist,
        test=IndexTarget("test", index.upload_url),
        production=IndexTarget("production", UNREACHABLE),
        ref="v0.1.0",
        trusted_publishing="never",
        ask=None,
        environ={},
    )
    said: list[str] = []
    with pytest.raises(StageFailed) as refused:
        release(options, progress=said.append)
    assert refused.value.stage == "verify-test"
    assert f"{wheel.name}: {EQUIVALENT}" in refused.value.message
    assert "pass --accept-equivalent to accept it" in refused.value.message
    assert any("--accept-equivalent accepts it" in line for line in said)

    # Accepted: the stage passes and records each verdict; the approval gate then stops it.
    accepting = ReleaseOptions(**{**options.__dict__, "accept_equivalent": True})
    with pytest.raises(ApprovalRefused):
        release(accepting, progress=said.append)
    done = json.loads((dist / STATE_FILE).read_text())["done"]
    assert done["verify-test"]["verdicts"] == {sdist.name: IDENTICAL, wheel.name: EQUIVALENT}
    assert done["verify-test"]["accept_equivalent"] is True
