"""Group commit of concurrent exchanges (issue 19): ``Database.write_batched`` and the mint
that uses it.

Jobs submitted while another thread leads a shared write queue up; the test holds the lead
itself until every job is queued, so that they deterministically land in one write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry, Token, UsedJti
from trustyard.index.services import projects, publishers, trusted_publishing
from trustyard.index.services.journal import append
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.errors import TokenRejected


def in_one_batch(db: Database, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on threads of their own while this thread holds the batch's lead, so that
    their writes queue and then go into one shared write; each one's result or exception."""
    outcomes: list[Any] = [None] * len(calls)

    def run(number: int) -> None:
        try:
            outcomes[number] = calls[number]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[number] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    with db._batch_leader:  # the only way to make the batch deterministic
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(db._batch) < len(calls):
            assert time.monotonic() < deadline, "the jobs never queued"
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_a_failing_job_is_rolled_back_alone(local_index: LocalIndex) -> None:
    db = local_index.db
    sessions: list[int] = []

    def job(action: str, fail: bool = False) -> Callable[[], int]:
        def write(session: Session) -> int:
            sessions.append(id(session))
            entry = append(session.connection(), action=action, actor="batch-test")
            if fail:
                raise ValueError(action)
            return entry

        return lambda: db.write_batched(write, durable=False)

    outcomes = in_one_batch(db, [job("batch-a"), job("batch-b", fail=True), job("batch-c")])

    assert isinstance(outcomes[0], int)
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], int)
    assert len(set(sessions)) == 1  # one shared write
    with db.read() as session:
        kept = session.scalars(
            select(JournalEntry.action).where(JournalEntry.actor == "batch-test")
        ).all()
    assert sorted(kept) == ["batch-a", "batch-c"]


def test_a_job_alone_commits_or_rolls_back_whole(local_index: LocalIndex) -> None:
    """A batch of one runs without a savepoint: its error is still its caller's, and nothing
    it wrote before failing is kept."""
    db = local_index.db

    def write(action: str, fail: bool) -> Callable[[Session], int]:
        def job(session: Session) -> int:
            entry = append(session.connection(), action=action, actor="alone-test")
            if fail:
                raise ValueError(action)
            return entry

        return job

    assert isinstance(db.write_batched(write("alone-a", False), durable=False), int)
    with pytest.raises(ValueError, match="alone-b"):
        db.write_batched(write("alone-b", True), durable=False)
    assert isinstance(db.write_batched(write("alone-c", False), durable=False), int)
    with db.read() as session:
        kept = session.scalars(
            select(JournalEntry.action).where(JournalEntry.actor == "alone-test")
        ).all()
    assert sorted(kept) == ["alone-a", "alone-c"]


@pytest.fixture
def github_publisher(local_index: LocalIndex, local_issuer: LocalIssuer) -> str:
    """The audience of ``local_index``, with a project and a GitHub publisher for it."""
    local_index.trust_issuer(local_issuer.url)
    local_index.create_user("batch-owner")
    with local_index.db.write() as session:
        projects.create_project(session, "batched", owner="batch-owner")
        publishers.add_publisher(
            session,
            "batched",
            "github",
            {"repository": "octo/batched", "workflow": "release.yml", "issuer": local_issuer.url},
            actor="batch-owner",
        )
    audience: str = local_index.get("/_/oidc/audience").json()["audience"]
    return audience


def test_concurrent_exchanges_in_one_batch(
    local_index: LocalIndex, local_issuer: LocalIssuer, github_publisher: str
) -> None:
    """Each exchange of a batch gets a token of its own; a token replayed inside the batch is
    exchanged once and refused once (journalled), and the others are unaffected."""
    db = local_index.db
    run = GitHubRun(repository="octo/batched", workflow="release.yml", ref="refs/tags/v1")
    tokens = [local_issuer.mint(github_publisher, run.claims()) for _ in range(5)]
    keys = local_index.ctx.oidc_keys
    trusted_publishing.mint_token(  # warms the JWKS cache (a fetch outside the batch)
        db, github_publisher, local_issuer.mint(github_publisher, run.claims()), keys
    )

    def exchange(token: str) -> Callable[[], trusted_publishing.MintedToken]:
        return lambda: trusted_publishing.mint_token(db, github_publisher, token, keys)

    outcomes = in_one_batch(db, [exchange(token) for token in [*tokens, tokens[2]]])

    refused = [o for o in outcomes if isinstance(o, TokenRejected)]
    minted = [o for o in outcomes if isinstance(o, trusted_publishing.MintedToken)]
    assert len(minted) == 5, outcomes
    assert [error.code for error in refused] == ["invalid-reuse-token"]
    assert len({m.token for m in minted}) == 5
    with db.read() as session:
        stored = session.scalars(
            select(Token.id).where(Token.publisher_identity.is_not(None))
        ).all()
        used = session.scalars(select(UsedJti.jti)).all()
        journal = session.scalars(
            select(JournalEntry.action).where(JournalEntry.project_name == "batched")
        ).all()
        refusals = session.scalars(
            select(JournalEntry.action).where(JournalEntry.action.contains("invalid-reuse-token"))
        ).all()
    assert len(stored) == 6  # the warm-up's and the batch's five
    assert len(used) == 6
    assert sum("minted token" in action for action in journal) == 6
    assert len(refusals) == 1
    for answer in minted:  # every token works: it authenticates as the CI identity
        token_id = answer.token.removeprefix("trustyard-").split(".")[0]
        assert token_id in stored
