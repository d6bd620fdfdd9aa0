"""The steps ``release`` and ``release add-wheels`` share (``release/promotion.py``), against a
real ``serve --tls`` index: the audience check, publishing to one index, the approval gate.
The whole flows are in ``tests/e2e/test_release.py`` and ``tests/e2e/test_add_wheels.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from trustyard.release.add_wheels import AddWheelsOptions
from trustyard.release.approval import ApprovalRefused
from trustyard.release.oidc_exchange import SharedAudience
from trustyard.release.pipeline import ReleaseOptions
from trustyard.release.promotion import (
    IndexTarget,
    StageFailed,
    approve,
    check_audiences,
    publish_to,
)

pytestmark = pytest.mark.slow  # one `trustyard serve --tls` for the module

NO_CI = {"PATH": "/usr/bin"}


@dataclass
class Site:
    index: IndexServer
    token: str
    tmp: Path

    def options(self, **changes: object) -> ReleaseOptions:
        """``release``'s options for this index as test and production, with a token."""
        target = IndexTarget("production", self.index.upload_url, self.token)
        options = ReleaseOptions(
            project=self.tmp,
            dist=self.tmp,
            test=dataclasses.replace(target, label="test"),
            production=target,
            trusted_publishing="never",
            cacert=self.index.ca,
            environ=NO_CI,
            ask=None,
        )
        return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("promotion")
    index = start_index(tmp / "data", "--tls")
    try:
        index.create_user("alice")
        yield Site(index, index.create_token("alice"), tmp)
    finally:
        index.stop()


def test_audiences_are_compared_only_when_a_ci_token_could_be_replayed(site: Site) -> None:
    """One index as both test and production shares its audience with itself."""
    for harmless in (
        site.options(),  # trusted publishing "never"
        site.options(trusted_publishing="auto"),  # a token for both
    ):
        check_audiences(harmless)
    untokened = IndexTarget("production", site.index.upload_url)
    add_wheels = AddWheelsOptions(
        project=site.tmp,
        ref="v1",
        pythons=("cp311",),
        production=untokened,
        cacert=site.index.ca,
        environ=NO_CI,
    )
    check_audiences(add_wheels)  # no test index: nothing to compare
    with pytest.raises(SharedAudience):
        check_audiences(dataclasses.replace(add_wheels, test=untokened))
    with pytest.raises(SharedAudience):
        check_audiences(site.options(production=untokened, trusted_publishing="auto"))


def test_publish_skips_what_is_there_and_explains_a_closed_release(site: Site) -> None:
    first = build_wheel(site.tmp / "a", "closing", "1.0")
    options = site.options()
    says: list[str] = []
    report = publish_to(options, options.production, [first], stage="publish", say=says.append)
    assert [(f.filename, f.outcome) for f in report.files] == [(first.name, "uploaded")]
    assert any(line.startswith("publish: ") for line in says)
    again = publish_to(options, options.production, [first], stage="publish", say=says.append)
    assert [f.outcome for f in again.files] == ["skipped"]

    when = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=15)
    site.index.execute("UPDATE releases SET created = :when", when=when)
    later = build_wheel(site.tmp / "b", "closing", "1.0", tag="py311-none-any")
    for what in ("file", "wheel"):
        with pytest.raises(StageFailed) as failed:
            publish_to(options, options.test, [later], stage="publish-test", say=says.append, what=what)  # fmt: skip
        assert failed.value.stage == "publish-test"
        lines = failed.value.message.splitlines()
        assert lines[0] == f"publish-test: not every {what} is on the index:"
        assert lines[1].startswith(f"  {later.name}: the index refused the upload: 400 Uploading")
        assert lines[2].endswith(
            f"after that, new {what}s need a new release (a post-release, say)"
        )


def test_approval_is_for_the_exact_hashes(site: Site, tmp_path: Path) -> None:
    files = {"a-1.0-py3-none-any.whl": "a" * 64, "a-1.0.tar.gz": "b" * 64}
    assert approve(site.options(yes=True), files).by == "--yes"
    approval = tmp_path / "SHA256SUMS"
    approval.write_text("".join(f"{digest}  {name}\n" for name, digest in files.items()))
    assert approve(site.options(approve_file=approval), files).by == f"approval file {approval}"
    with pytest.raises(ApprovalRefused, match="does not approve these bytes"):
        approve(site.options(approve_file=approval), {**files, "a-1.0-py2-none-any.whl": "c" * 64})
    # GitHub Actions: the audience is read from production (else "the audience is unknown"),
    # then the job's ID token, which this job may not request
    with pytest.raises(ApprovalRefused, match="cannot read the job's environment"):
        approve(site.options(environ={**NO_CI, "GITHUB_ACTIONS": "true"}), files)
    with pytest.raises(ApprovalRefused, match="approval needed before publishing"):
        approve(site.options(), files)
