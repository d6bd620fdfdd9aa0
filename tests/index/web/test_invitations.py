"""Role invitations on the pages (issue 14, finding 3), through the real application in this
process (``create_app`` behind ``httpx.ASGITransport``, a real SQLite catalogue): an owner
invites, the invitee accepts or declines on their account, the owner revokes; forms carry the
session's CSRF token like every other page's, and every refusal changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import text
from starlette.applications import Starlette

from trustyard.index.app import create_app
from trustyard.index.context import IndexContext
from trustyard.index.services import accounts, collaborators, journal, projects
from trustyard.settings import load_settings

PASSWORD = "correct horse battery"
COLLABORATION = "/manage/project/Thing/collaboration/"
MINE = "/manage/account/invitations/"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One signed-in user's cookie jar and CSRF token, talking to the app in-process."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def get(self, path: str) -> httpx.Response:
        answer = await self.client.get(path)
        found = CSRF.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    async def post(
        self, path: str, fields: dict[str, str] | None = None, *, csrf: bool = True, **headers: str
    ) -> httpx.Response:
        data = dict(fields or {})
        if csrf:
            data["csrf_token"] = self.csrf
        sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return await self.client.post(path, content=urlencode(data), headers=sent)


@dataclass
class Site:
    """The app, its catalogue, and a way to open a signed-in browser on it."""

    app: Starlette
    ctx: IndexContext
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )
        self.clients.append(client)
        return client

    async def signed_in(self, username: str) -> Browser:
        browser = Browser(self.client())
        await browser.get("/account/login/")
        answer = await browser.post("/account/login/", {"username": username, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        await browser.get("/manage/account/")
        return browser


def _run(
    tmp_path: Path, scenario: Callable[[Site], Awaitable[None]]
) -> tuple[dict[str, str], list[str]]:
    """Run ``scenario`` against a new index (olga owns Thing; sam and mia have no role); the
    roles on Thing afterwards, and its journal since its creation, oldest first."""
    app = create_app(load_settings({"data_dir": tmp_path / "data"}))
    site = Site(app, app.state.index)
    with site.ctx.db.write() as session:
        for name in ("olga", "sam", "mia"):
            accounts.create_user(session, name, PASSWORD)
        projects.create_project(session, "Thing", owner="olga")

    async def main() -> None:
        try:
            await scenario(site)
        finally:
            for client in site.clients:
                await client.aclose()

    try:
        asyncio.run(main())
        with site.ctx.db.read() as session:
            roles = {c.username: c.role for c in collaborators.list_collaborators(session, "thing")}
            entries = journal.project_history(session, "thing")
        return roles, [e.action for e in reversed(entries)][1:]
    finally:
        site.ctx.db.dispose()


def _row(html: str, table: str, key: str) -> str:
    """The row of ``table`` (its class) whose data attribute is ``key``; "" if none."""
    body = html.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    for row in body.split("<tr ")[1:]:
        if row.startswith(key):
            return row
    return ""


def test_an_invitation_is_accepted_on_the_invitees_account(tmp_path: Path) -> None:
    async def scenario(site: Site) -> None:
        olga = await site.signed_in("olga")
        await olga.get(COLLABORATION)
        sent = await olga.post(COLLABORATION, {"username": "sam", "role": "maintainer"})
        assert (sent.status_code, sent.headers["location"]) == (303, COLLABORATION)
        page = (await olga.get(COLLABORATION)).text
        assert "Send invitation" in page
        assert _row(page, "collaborators", 'data-username="sam"') == ""  # no role yet
        offered = _row(page, "invitations", 'data-username="sam"')
        assert '<td class="role">maintainer</td>' in offered
        assert 'action="/manage/project/Thing/invitations/sam/revoke/"' in offered

        sam = await site.signed_in("sam")
        assert MINE in (await sam.get("/manage/account/")).text
        mine = (await sam.get(MINE)).text
        row = _row(mine, "invitations", 'data-project="Thing"')
        assert "olga" in row
        assert 'action="/manage/account/invitations/Thing/accept/"' in row
        assert 'action="/manage/account/invitations/Thing/decline/"' in row

        # Forgeries and strangers are refused; nothing changes.
        accept = MINE + "Thing/accept/"
        assert (await sam.post(accept, csrf=False)).status_code == 403
        forged = await sam.post(accept, {"csrf_token": "y" * 43}, csrf=False)
        assert forged.status_code == 403
        assert (await sam.post(accept, Origin="https://evil.example")).status_code == 403
        assert (await sam.post(accept, {"role": "owner"})).status_code == 400
        mia = await site.signed_in("mia")
        stolen = await mia.post(accept)
        assert stolen.status_code == 404
        assert "you have no invitation to &#39;Thing&#39;" in stolen.text
        assert (await mia.post(MINE + "no-such/accept/")).status_code == 404
        assert (await mia.post(MINE + "-x-/accept/")).status_code == 404

        accepted = await sam.post(accept)
        assert (accepted.status_code, accepted.headers["location"]) == (303, COLLABORATION)
        assert "You have no invitations." in (await sam.get(MINE)).text
        page = (await olga.get(COLLABORATION)).text
        assert '<td class="role">maintainer</td>' in _row(
            page, "collaborators", 'data-username="sam"'
        )
        assert '<table class="invitations">' not in page
        assert (await sam.post(accept)).status_code == 404  # once only

    roles, actions = _run(tmp_path, scenario)
    assert roles == {"olga": "owner", "sam": "maintainer"}
    assert actions == ["invite maintainer sam", "accepted maintainer sam"]


def test_owners_revoke_invitees_decline_and_expired_ones_are_refused(tmp_path: Path) -> None:
    async def scenario(site: Site) -> None:
        olga = await site.signed_in("olga")
        await olga.get(COLLABORATION)
        # A signed-out browser is sent to sign in.
        assert (await site.client().get(MINE)).status_code == 303

        for username in ("sam", "mia"):
            invited = await olga.post(COLLABORATION, {"username": username, "role": "owner"})
            assert invited.status_code == 303
        again = await olga.post(COLLABORATION, {"username": "mia", "role": "maintainer"})
        assert again.status_code == 409
        assert "revoke it first" in again.text

        sam = await site.signed_in("sam")
        # sam is invited, not an owner: revoking is an owner's.
        assert (await sam.post("/manage/project/Thing/invitations/mia/revoke/")).status_code == 403
        revoked = await olga.post("/manage/project/Thing/invitations/sam/revoke/")
        assert (revoked.status_code, revoked.headers["location"]) == (303, COLLABORATION)
        assert (await sam.post(MINE + "Thing/accept/")).status_code == 404
        gone = await olga.post("/manage/project/Thing/invitations/sam/revoke/")
        assert gone.status_code == 404

        mia = await site.signed_in("mia")
        declined = await mia.post(MINE + "Thing/decline/")
        assert (declined.status_code, declined.headers["location"]) == (303, MINE)

        # An invitation past its time is shown as expired and cannot be accepted.
        assert (
            await olga.post(COLLABORATION, {"username": "sam", "role": "owner"})
        ).status_code == 303
        with site.ctx.db.write() as session:
            session.execute(text("UPDATE role_invitations SET expires = '2000-01-01 00:00:00'"))
        row = _row((await sam.get(MINE)).text, "invitations", 'data-project="Thing"')
        assert '<td class="status">expired</td>' in row
        assert "/accept/" not in row
        late = await sam.post(MINE + "Thing/accept/")
        assert late.status_code == 410
        assert "ask an owner of Thing to invite you again" in late.text
        assert (await sam.post(MINE + "Thing/decline/")).status_code == 303

    roles, actions = _run(tmp_path, scenario)
    assert roles == {"olga": "owner"}
    assert actions == [
        "invite owner sam",
        "invite owner mia",
        "revoke_invite owner sam",
        "decline_invite owner mia",
        "invite owner sam",
        "decline_invite owner sam (expired)",
    ]
