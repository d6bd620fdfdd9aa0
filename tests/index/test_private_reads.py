"""Private indexes and private projects (issue 20), through the real app in this process.

Two indexes per backend (SQLite here, PostgreSQL in the slow tier): a public one holding a
private project, and a ``--private`` one holding a public project. Every read route is asked
by every identity of :data:`IDENTITIES`; what each may read is one row of that table: people
by their roles (a team's Reader too), upload, read-only and scoped tokens, tokens minted by
Trusted Reading, bad credentials. The route walk proves that every route of the app either
stands behind the read gate or is listed here as reachable without read rights, with the
reason, so a route added later without a decision fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal
from sqlalchemy import select, update
from starlette.routing import BaseRoute, Mount, Route

from tests.index.conftest import PASSWORD, LocalBrowser, LocalIndex, LocalIssuer, basic
from trustyard.errors import ConfigurationError
from trustyard.index.db.models import Project, Token
from trustyard.index.read_gate import PRIVATE_CACHE, identify
from trustyard.index.services import (
    accounts,
    collaborators,
    organisations,
    read_access,
    reader_policies,
    teams,
)
from trustyard.index.services.roles import HOST, ProjectRole
from trustyard.index.surfaces import SurfaceMount
from trustyard.oidc.devclaims import GitHubRun
from trustyard.settings import load_settings

SECRET = "secret-proj"  # private, on the public index
OPEN = "open-proj"  # public, on both indexes
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"
UNLIMITED = {"search_rate_per_address": "100000/1s"}  # the matrix searches often


@dataclass
class World:
    """An index, its projects' files, and the credentials of its people."""

    index: LocalIndex
    project: str  # the project whose reads are checked
    version: str
    file_path: str  # /files/... of the project's wheel
    filename: str
    tokens: dict[str, str]
    cookies: dict[str, str]


def _mint_read_token(index: LocalIndex, issuer: LocalIssuer, repository: str) -> str:
    """A token minted by Trusted Reading for the CI job of ``repository``."""
    audience = index.get("/_/oidc/read-audience").json()["audience"]
    claims = GitHubRun(repository=repository, workflow="test.yml", ref="refs/heads/main").claims()
    answer = index.post(
        "/_/oidc/mint-read-token", content=json.dumps({"token": issuer.mint(audience, claims)})
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def _setup(
    index: LocalIndex,
    wheels: Callable[[str, str], Path],
    issuer: LocalIssuer,
    *,
    private_project: bool,
) -> World:
    index.create_user("alice")  # owner of both projects
    index.create_user("bob")  # maintainer of the secret one
    index.create_user("carol")  # no role
    index.create_user("dave")  # a Reader of the secret one, through a team of its organisation
    index.create_user("root", admin=True)
    index.trust_issuer(issuer.url)
    alice = index.create_token("alice")
    for name in (SECRET, OPEN):
        answer = index.upload(alice, wheels(name, "1.0"))
        assert answer.status_code == 200, answer.text
    with index.db.write() as session:
        collaborators.add_collaborator(session, SECRET, "bob", ProjectRole.MAINTAINER, actor=HOST)
        organisations.create_organisation(session, "acme", "alice", actor=HOST)
        organisations.add_project(session, "acme", SECRET, actor=HOST)
        organisations.invite(session, "acme", "dave", "member", actor=HOST)
        organisations.accept(session, "acme", invitee="dave")
        teams.create_team(session, "acme", "auditors", actor=HOST)
        teams.add_member(session, "acme", "auditors", "dave", actor=HOST)
        teams.set_team_role(session, "acme", "auditors", SECRET, "reader", actor=HOST)
        for name, repository in ((SECRET, "octo/secret-ci"), (OPEN, "octo/open-ci")):
            reader_policies.add_reader_policy(
                session,
                name,
                "github",
                {"repository": repository, "workflow": "test.yml", "issuer": issuer.url},
                actor=HOST,
            )
        if private_project:
            read_access.set_visibility(session, SECRET, "private", actor=HOST)
        expired = accounts.create_token(session, "alice", expires_in=timedelta(hours=1))
        revoked = accounts.create_token(session, "alice")
        accounts.revoke_token(session, "alice", revoked.split(".")[0].removeprefix("trustyard-"))
        session.execute(
            update(Token)
            .where(Token.id == expired.split(".")[0].removeprefix("trustyard-"))
            .values(expires=accounts.utcnow() - timedelta(seconds=1))
        )
    project = SECRET if private_project else OPEN
    tokens = {
        "write": alice,
        "read": index.create_token("alice", project=project),
        "collaborator": index.create_token("bob"),
        "other-user": index.create_token("carol"),
        "team-reader": index.create_token("dave"),
        "read-only": index.create_token("alice", project=project, read_only=True),
        "minted": _mint_read_token(index, issuer, f"octo/{project.split('-')[0]}-ci"),
        "minted-other": _mint_read_token(
            index, issuer, "octo/open-ci" if private_project else "octo/secret-ci"
        ),
        "other-project": index.create_token("alice", project=OPEN if private_project else SECRET),
        "admin": index.create_token("root"),
        "expired": expired,
        "revoked": revoked,
    }
    cookies = {}
    for user in ("bob", "carol"):
        browser = LocalBrowser(index)
        try:
            signed = browser.sign_in(user, PASSWORD)
            assert signed.status_code == 200, signed.text
            cookies[user] = browser.client.cookies["trustyard_session"]
        finally:
            browser.close()
    page = index.get(f"/simple/{project}/", headers=_auth(alice, JSON_SIMPLE))
    assert page.status_code == 200, page.text
    (file,) = page.json()["files"]
    return World(
        index=index,
        project=project,
        version="1.0",
        file_path="/files/" + file["url"].split("/files/", 1)[1],
        filename=file["filename"],
        tokens=tokens,
        cookies=cookies,
    )


def _auth(token: str, accept: str | None = None) -> dict[str, str]:
    headers = {"Authorization": basic(token)}
    if accept:
        headers["Accept"] = accept
    return headers


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalogue(request: pytest.FixtureRequest) -> Callable[[], dict[str, str]]:
    """Each backend's catalogue for the indexes of this module: SQLite in the fast tier, a new
    PostgreSQL database each (in the slow tier: the parameter marks it)."""
    if request.param == "sqlite":
        return dict
    server = request.getfixturevalue("postgres_server")
    return lambda: {"database": server.new_database()}


@pytest.fixture(scope="module")
def public_index(
    tmp_path_factory: pytest.TempPathFactory,
    portal: BlockingPortal,
    wheels: Callable[[str, str], Path],
    local_issuer: LocalIssuer,
    catalogue: Callable[[], dict[str, str]],
) -> Iterator[World]:
    """A public index whose project ``secret-proj`` is private."""
    data = tmp_path_factory.mktemp("public") / "data"
    index = LocalIndex(data, portal, **catalogue(), **UNLIMITED)
    yield _setup(index, wheels, local_issuer, private_project=True)
    index.close()


@pytest.fixture(scope="module")
def private_index(
    tmp_path_factory: pytest.TempPathFactory,
    portal: BlockingPortal,
    wheels: Callable[[str, str], Path],
    local_issuer: LocalIssuer,
    catalogue: Callable[[], dict[str, str]],
) -> Iterator[World]:
    """A ``--private`` index whose project ``open-proj`` is public."""
    data = tmp_path_factory.mktemp("private") / "data"
    index = LocalIndex(data, portal, private=True, **catalogue(), **UNLIMITED)
    yield _setup(index, wheels, local_issuer, private_project=False)
    index.close()


# -- who asks, and what each may read ----------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """One way of asking, and the answers it gets: ``private_project`` on the public index,
    ``private_index`` for a public project on a private index; True reads, else the status."""

    name: str
    present: Callable[[World], dict[str, str]]
    private_project: bool | int
    private_index: bool | int
    cookie: str | None = None  # a signed-in browser rather than a token


def _token(name: str) -> Callable[[World], dict[str, str]]:
    return lambda world: {"Authorization": basic(world.tokens[name], "anyone")}


def _nothing(_world: World) -> dict[str, str]:
    return {}


IDENTITIES = [
    Identity("anonymous", _nothing, 401, 401),
    Identity("collaborator token", _token("collaborator"), True, True),
    Identity("collaborator signed in", _nothing, True, True, cookie="bob"),
    Identity("other user token", _token("other-user"), 403, True),
    Identity("other user signed in", _nothing, 403, True, cookie="carol"),
    Identity("team reader token", _token("team-reader"), True, True),
    Identity("scoped upload token", _token("read"), True, True),
    Identity("read-only token", _token("read-only"), True, True),
    Identity("minted read token", _token("minted"), True, True),
    # On a private index any valid token reads a public project; a private one is not its.
    Identity("minted read token of another project", _token("minted-other"), 403, True),
    Identity("write token", _token("write"), True, True),
    Identity("token for another project", _token("other-project"), 403, True),
    Identity("index admin token", _token("admin"), True, True),
    Identity("expired token", _token("expired"), 401, 401),
    Identity("revoked token", _token("revoked"), 401, 401),
    Identity(
        "account password",
        lambda _w: {"Authorization": basic(PASSWORD, "alice")},
        401,
        401,
    ),
]


@dataclass(frozen=True)
class Read:
    """A read route of the project: its path, headers, and whether it is a web page."""

    name: str
    path: Callable[[World], str]
    accept: str | None = None
    page: bool = False
    ok: int = 200


READS = [
    Read("simple html", lambda w: f"/simple/{w.project}/"),
    Read("simple json", lambda w: f"/simple/{w.project}/", accept=JSON_SIMPLE),
    Read("json api", lambda w: f"/pypi/{w.project}/json"),
    Read("json api version", lambda w: f"/pypi/{w.project}/{w.version}/json"),
    Read("file", lambda w: w.file_path),
    Read("metadata", lambda w: w.file_path + ".metadata"),
    # No provenance was uploaded: a reader is told so (404 with the file's name).
    Read(
        "integrity",
        lambda w: f"/integrity/{w.project}/{w.version}/{w.filename}/provenance",
        ok=404,
    ),
    Read("project page", lambda w: f"/project/{w.project}/", page=True),
    Read("release page", lambda w: f"/project/{w.project}/{w.version}/", page=True),
]


def _ask(world: World, who: Identity, path: str, accept: str | None = None) -> httpx.Response:
    headers = who.present(world)
    if accept:
        headers["Accept"] = accept
    client = world.index.new_client()
    try:
        if who.cookie is not None:
            client.cookies.set("trustyard_session", world.cookies[who.cookie])
        return world.index.request("GET", path, client=client, headers=headers)
    finally:
        world.index.portal.call(client.aclose)


def _check(world: World, who: Identity, read: Read, expected: bool | int) -> None:
    answer = _ask(world, who, read.path(world), read.accept)
    where = f"{read.name} as {who.name}"
    if expected is True:
        assert answer.status_code == read.ok, (where, answer.status_code, answer.text[:300])
        if read.ok == 200 and not read.page:
            assert answer.headers["cache-control"] == PRIVATE_CACHE, where
        assert "authorization" in answer.headers.get("vary", "").lower(), where
        return
    # The name may be said (it is reserved, not secret); the contents are not shown.
    if read.page and expected == 401:
        assert answer.status_code == 303, (where, answer.status_code)
        assert answer.headers["location"].startswith("/account/login/?next="), where
        return
    assert answer.status_code == expected, (where, answer.status_code, answer.text[:300])
    if expected == 401:
        assert answer.headers["www-authenticate"] == 'Basic realm="trustyard"', where
    for secret in ("1.0", world.filename):
        assert secret not in answer.text, where


@pytest.mark.parametrize("read", READS, ids=lambda r: r.name)
@pytest.mark.parametrize("who", IDENTITIES, ids=lambda i: i.name)
def test_a_private_project_on_a_public_index(
    public_index: World, who: Identity, read: Read
) -> None:
    _check(public_index, who, read, who.private_project)


@pytest.mark.parametrize("read", READS, ids=lambda r: r.name)
@pytest.mark.parametrize("who", IDENTITIES, ids=lambda i: i.name)
def test_a_public_project_on_a_private_index(
    private_index: World, who: Identity, read: Read
) -> None:
    _check(private_index, who, read, who.private_index)


# -- listings: the simple index, search, the home page -----------------------------------------

LISTINGS = [
    ("simple index", "/simple/", None),
    ("simple index json", "/simple/", JSON_SIMPLE),
    ("search", "/search/?q=proj", None),
    ("home", "/", None),
]


@pytest.mark.parametrize(("listing", "path", "accept"), LISTINGS, ids=[x[0] for x in LISTINGS])
@pytest.mark.parametrize("who", IDENTITIES, ids=lambda i: i.name)
def test_listings_show_a_private_project_only_to_its_readers(
    public_index: World, who: Identity, listing: str, path: str, accept: str | None
) -> None:
    # Bad credentials on a public index count as none: they see what anonymous readers see.
    answer = _ask(public_index, who, path, accept)
    assert answer.status_code == 200, (listing, answer.status_code, answer.text[:300])
    assert OPEN in answer.text, listing
    assert (SECRET in answer.text) is (who.private_project is True), (listing, who.name)


@pytest.mark.parametrize(("listing", "path", "accept"), LISTINGS, ids=[x[0] for x in LISTINGS])
def test_a_private_index_lists_nothing_to_anonymous_requests(
    private_index: World, listing: str, path: str, accept: str | None
) -> None:
    answer = private_index.index.get(path, headers={"Accept": accept} if accept else {})
    assert answer.status_code in (401, 303), listing
    assert OPEN not in answer.text
    token = private_index.tokens["other-user"]
    shown = private_index.index.get(path, headers=_auth(token, accept))
    assert shown.status_code == 200
    assert OPEN in shown.text
    assert shown.headers["cache-control"] in (PRIVATE_CACHE, "no-store")


def test_an_unknown_name_on_a_private_index_is_401_not_404(private_index: World) -> None:
    """uv moves on to its next index after a 404: an anonymous request learns nothing."""
    for path in ("/simple/no-such-thing/", "/pypi/no-such-thing/json"):
        answer = private_index.index.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == 'Basic realm="trustyard"'


def test_a_private_index_still_lets_people_sign_in(private_index: World) -> None:
    assert private_index.index.get("/account/login/").status_code == 200
    assert private_index.index.get("/static/site.css").status_code == 200
    assert private_index.index.get("/_/oidc/audience").status_code == 200
    # Uploads authenticate themselves: a token uploads, nothing else is asked.
    assert private_index.index.get("/legacy/").status_code != 401


def test_a_private_name_on_a_public_index_is_reserved_not_hidden(public_index: World) -> None:
    """Its name answers 401 (never 404), so no installer looks for it elsewhere."""
    assert public_index.index.get("/simple/no-such-thing/").status_code == 404
    assert public_index.index.get(f"/simple/{SECRET}/").status_code == 401


def test_basic_with_any_username_and_the_token_schemes(public_index: World) -> None:
    token = public_index.tokens["collaborator"]
    path = f"/simple/{SECRET}/"
    for headers in (
        {"Authorization": basic(token, "__token__")},
        {"Authorization": basic(token, "bob")},
        {"Authorization": f"token {token}"},
        {"Authorization": f"Bearer {token}"},
    ):
        assert public_index.index.get(path, headers=headers).status_code == 200, headers
    for bad in ("Basic !!!", "Basic " + "Ym9i", "Digest x", "Basic"):
        answer = public_index.index.get(path, headers={"Authorization": bad})
        assert answer.status_code == 401, bad


def test_bad_credentials_read_public_projects_of_a_public_index_as_anonymous(
    public_index: World, private_index: World
) -> None:
    # pip sends a .netrc entry unasked: a stale token or an account password there must not
    # stop installs of public projects (PyPI ignores them); a private project stays 401.
    for bad in (
        basic(PASSWORD, "alice"),
        basic(public_index.tokens["revoked"]),
        basic(public_index.tokens["expired"]),
        "Basic !!!",
    ):
        headers = {"Authorization": bad}
        assert public_index.index.get(f"/simple/{OPEN}/", headers=headers).status_code == 200
        assert public_index.index.get(f"/simple/{SECRET}/", headers=headers).status_code == 401
        # On a private index the same credentials are refused outright.
        refused = private_index.index.get(f"/simple/{OPEN}/", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")


# -- the listings' one statement and the pages' one rule -------------------------------------


def _reader(world: World, who: Identity) -> read_access.Reader | None:
    """The reader the read gate finds for ``who``; None when it refuses them outright."""
    cookie = world.cookies[who.cookie] if who.cookie is not None else None
    try:
        return identify(world.index.ctx, who.present(world).get("Authorization"), cookie)
    except read_access.CredentialsRequired:
        return None


def _hidden_by_the_rule(world: World, reader: read_access.Reader) -> set[str]:
    """The projects ``can_read`` refuses ``reader``, one by one; ``hidden_from`` must say the
    same in one statement."""
    with world.index.db.read() as session:
        everything = session.scalars(select(Project)).all()
        refused = {p.id for p in everything if not read_access.can_read(session, p, reader)}
        assert read_access.hidden_from(session, reader) == refused
        return {p.name for p in everything if p.id in refused}


@pytest.mark.parametrize("who", IDENTITIES, ids=lambda i: i.name)
def test_hidden_from_and_can_read_agree_for_every_identity(
    public_index: World, private_index: World, who: Identity
) -> None:
    reader = _reader(public_index, who)
    assert reader is not None  # a public index reads bad credentials as none
    hidden = _hidden_by_the_rule(public_index, reader)
    assert hidden == (set() if who.private_project is True else {SECRET}), who.name
    # A private index lets no anonymous reader list anything (the read gate answers 401).
    reader = _reader(private_index, who)
    refused = reader is None or reader.anonymous
    assert refused is (who.private_index == 401), who.name
    if reader is not None:
        assert _hidden_by_the_rule(private_index, reader) == set(), who.name


# -- the route walk ----------------------------------------------------------------------------

# Routes anyone may reach on a private index, and why. A route is listed by its mount's path
# and its own; the test fails for a route in no guarded surface that is not listed here.
REACHABLE_WITHOUT_READ_RIGHTS = {
    "/legacy/": "uploads authenticate every request with their token",
    "/legacy": "PyPI's 308 to /legacy/",
    "/_/oidc/audience": "Trusted Publishing: the audience a CI job asks its OIDC token for",
    "/_/oidc/mint-token": "Trusted Publishing: the exchange, authenticated by the OIDC token",
    "/_/oidc/github/mint-token": "Trusted Publishing: PyPI's older path of the exchange",
    "/_/oidc/burn-token": "Trusted Publishing: revoking a minted token, which it authenticates",
    "/_/oidc/read-audience": "Trusted Reading: the audience a CI job asks its OIDC token for",
    "/_/oidc/mint-read-token": "Trusted Reading: the exchange, authenticated by the OIDC token",
    "/_/oidc/burn-read-token": "Trusted Reading: revoking a read token, which it authenticates",
    "/.well-known/pytp/{key}": "PEP 807 discovery: where a CI job finds the audiences and mints",
    "/account/login/": "the sign-in page",
    "/account/two-factor/": "the sign-in's second step (a pending sign-in, no session yet)",
    "/account/logout/": "signing out",
    "/static": "the stylesheet and scripts of the sign-in page",
}

# What a route's path parameters are replaced with to ask for the private project.
_PARAMS = {
    "name": SECRET,
    "project": SECRET,
    "version": "1.0",
    "username": "bob",
    "token_id": "x",
    "publisher_id": "1",
    "exception_id": "1",
    "org": "acme",  # the organisation that owns the private project
}


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute, Any]]:
    for route in routes:
        if isinstance(route, SurfaceMount):
            for inner in route.routes:
                yield route.path + str(getattr(inner, "path", "")), inner, route.surface
        else:
            yield prefix + str(getattr(route, "path", "")), route, None


def test_every_route_is_behind_the_read_gate_or_listed(public_index: World) -> None:
    app = public_index.index.app
    listed: set[str] = set()
    guarded = 0
    for path, _route, surface in _walk(list(app.routes)):
        if surface is not None and surface.reads.guarded:
            inner = path.removeprefix(surface_prefix(app, surface))
            if inner in surface.reads.opened:
                assert path in REACHABLE_WITHOUT_READ_RIGHTS, f"{path} is opened but not listed"
                listed.add(path)
            else:
                guarded += 1
            continue
        assert path in REACHABLE_WITHOUT_READ_RIGHTS, (
            f"{path} is in no guarded surface: put it behind the read gate (a surface whose"
            " ReadPolicy guards it) or list it in REACHABLE_WITHOUT_READ_RIGHTS with the reason"
        )
        listed.add(path)
    assert listed == set(REACHABLE_WITHOUT_READ_RIGHTS), "a listed route no longer exists"
    assert guarded > 40


def surface_prefix(app: Any, surface: Any) -> str:
    for route in app.routes:
        if isinstance(route, SurfaceMount) and route.surface is surface:
            return str(route.path)
    raise AssertionError(surface)  # pragma: no cover


def _concrete(path: str, world: World) -> str | None:
    """The route's path asking for the world's private project, or None when a parameter has
    no stand-in (the matrix covers the file routes)."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name == "file":
            return world.filename
        if name in _PARAMS:
            return _PARAMS[name].replace(SECRET, world.project)
        missing = True
        return ""

    concrete = re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", value, path)
    return None if missing else concrete


# Pages about something other than a project that list projects: they answer, but never name
# a private project to someone who may not read it.
LISTINGS_OF_OTHER_THINGS = {"/org/{org}/"}


def _gets(app: Any) -> Iterator[str]:
    for path, route, surface in _walk(list(app.routes)):
        if surface is None or not surface.reads.guarded:
            continue
        if isinstance(route, Mount) or path.removeprefix(surface_prefix(app, surface)) in (
            surface.reads.opened
        ):
            continue
        assert isinstance(route, Route)
        if route.methods and "GET" in route.methods:
            yield path


def test_no_read_route_shows_a_private_project_to_anonymous_requests(
    public_index: World,
) -> None:
    """Every GET route of a guarded surface, asked for the private project anonymously, is
    refused (401, or the sign-in page) or finds nothing; never a page about it."""
    asked = 0
    for template in _gets(public_index.index.app):
        path = _concrete(template, public_index)
        if path is None:
            continue
        answer = public_index.index.get(path)
        asked += 1
        if "{" in template and template not in LISTINGS_OF_OTHER_THINGS:
            assert answer.status_code in (301, 401, 303, 404, 405), (template, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/account/login/"), template
            if answer.status_code == 301:  # to the name's normal form, on this same surface
                assert answer.headers["location"].endswith(f"/{SECRET}/"), template
        assert SECRET not in answer.text or answer.status_code == 401, template
    assert asked > 25


def test_every_read_route_of_a_private_index_refuses_anonymous_requests(
    private_index: World,
) -> None:
    asked = 0
    for template in _gets(private_index.index.app):
        path = _concrete(template, private_index)
        if path is None:
            continue
        answer = private_index.index.get(path)
        asked += 1
        assert answer.status_code in (401, 303), (template, answer.status_code)
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/account/login/"), template
        else:
            assert answer.headers["www-authenticate"] == 'Basic realm="trustyard"', template
    assert asked > 25


# -- visibility: the owner's control, the journal ----------------------------------------------


def test_only_an_owner_changes_the_visibility_on_the_web(
    local_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    local_index.create_user("olga")
    local_index.create_user("mia")
    token = local_index.create_token("olga")
    assert local_index.upload(token, wheels("vis-demo", "1.0")).status_code == 200
    with local_index.db.write() as session:
        collaborators.add_collaborator(
            session, "vis-demo", "mia", ProjectRole.MAINTAINER, actor=HOST
        )
    mia = LocalBrowser(local_index)
    olga = LocalBrowser(local_index)
    try:
        mia.sign_in("mia")
        page = mia.get("/manage/project/vis-demo/status/")
        assert "Only an owner can change the visibility." in page.text
        refused = mia.post("/manage/project/vis-demo/visibility/", {"visibility": "private"})
        assert refused.status_code == 403
        olga.sign_in("olga")
        page = olga.get("/manage/project/vis-demo/status/")
        assert 'id="current-visibility">public<' in page.text
        done = olga.post("/manage/project/vis-demo/visibility/", {"visibility": "private"})
        assert done.status_code == 200
        assert 'id="current-visibility">private<' in done.text
        again = olga.post("/manage/project/vis-demo/visibility/", {"visibility": "private"})
        assert again.status_code == 409
        bad = olga.post("/manage/project/vis-demo/visibility/", {"visibility": "secret"})
        assert bad.status_code == 400
        assert local_index.get("/simple/vis-demo/").status_code == 401
        history = olga.get("/manage/project/vis-demo/history/")
        assert "set visibility private" in history.text
    finally:
        mia.close()
        olga.close()


def test_a_cached_page_is_checked_again_once_the_project_turns_private(
    local_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    local_index.create_user("olga")
    token = local_index.create_token("olga")
    assert local_index.upload(token, wheels("turns-private", "1.0")).status_code == 200
    for _ in range(2):  # the second answer comes from the page cache
        assert local_index.get("/simple/turns-private/").status_code == 200
        assert "turns-private" in local_index.get("/simple/").text
    with local_index.db.write() as session:
        read_access.set_visibility(session, "turns-private", "private", actor="olga")
    assert local_index.get("/simple/turns-private/").status_code == 401
    assert "turns-private" not in local_index.get("/simple/").text
    assert local_index.get("/simple/turns-private/", headers=_auth(token)).status_code == 200
    with local_index.db.write() as session:
        read_access.set_visibility(session, "turns-private", "public", actor="olga")
    assert local_index.get("/simple/turns-private/").status_code == 200
    body = json.loads(local_index.get("/simple/", headers={"Accept": JSON_SIMPLE}).text)
    assert "turns-private" in {p["name"] for p in body["projects"]}


def test_the_private_setting_comes_from_the_environment_the_file_and_the_flag(
    tmp_path: Path,
) -> None:
    assert load_settings({"data_dir": tmp_path}, environ={}).private is False
    assert load_settings({"data_dir": tmp_path}, environ={"TRUSTYARD_PRIVATE": "true"}).private
    (tmp_path / "trustyard.toml").write_text("private = true\n")
    from_file = load_settings(
        {"data_dir": tmp_path}, environ={}, config_file=tmp_path / "trustyard.toml"
    )
    assert from_file.private is True
    assert load_settings({"data_dir": tmp_path, "private": True}, environ={}).private is True
    with pytest.raises(ConfigurationError):
        load_settings({"data_dir": tmp_path}, environ={"TRUSTYARD_PRIVATE": "maybe"})
