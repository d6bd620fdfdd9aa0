"""The organisation pages (issue 20): ``/org/<name>/`` (anyone: the organisation and the
projects the viewer can see; a former name redirects) and ``/manage/organisation/<name>/``
(its members: members, invitations, teams and their roles, projects, renaming and deleting
it; the forms each role may use), with one POST path per action under it; a team's page
``.../teams/<team>/`` with its reader policies (Trusted Reading); and accepting or declining
an organisation's invitation on the account's invitations page.

PyPI's paths (warehouse ``routes.py``): ``/org/{organization_name}/`` and
``/manage/organization/{organization_name}/`` with ``people/``, ``teams/`` and ``projects/``
beneath; its invitations are answered from ``/account/verify-organization-role/`` with a
mailed token, ours from the account's invitations page (the invitee is the signed-in user).
Every rule is the services' (:mod:`~trustyard.index.services.organisations`,
:mod:`~trustyard.index.services.teams`); these handlers parse, call one of them, redirect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.read_gate import reader_of
from trustyard.index.services import organisations, read_access, reader_policies, teams
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import (
    checked_form,
    current_user,
    only_fields,
    see_other,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.pages.publishers import kind_and_config
from trustyard.index.web.render import page

MANAGE = "/manage/organisation/{org}/"
INVITATIONS = "/manage/account/invitations/"  # the invitee's list (web/pages/invitations.py)
MINE = "/manage/organisations/"  # the user's organisations (web/pages/organisation_requests.py)
_MAX = 100  # usernames, team and project names in a form


def _org_param(request: Request) -> str:
    """The ``{org}`` of the path: 404 unless it could name an organisation."""
    name: str = request.path_params["org"]
    if not organisations.NAME_RE.fullmatch(name):
        raise NotFound(f"no organisation named {name[:60]!r}")
    return name


def _manage_url(org: str) -> str:
    return MANAGE.format(org=quote(org))


def _field(fields: dict[str, str], name: str, what: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise FormRefused(f"give the {what}")
    if len(value) > _MAX:
        raise FormRefused(f"the {what} is longer than {_MAX} characters")
    return value


def _path_value(request: Request, key: str) -> str:
    value: str = request.path_params[key]
    return value[:200]


@web_page
async def organisation_page(request: Request) -> Response:
    """The organisation's public page: its name and the projects the viewer can see; another
    spelling of its name redirects to its own (as a project page does)."""
    name = _org_param(request)
    who = request.state.user

    def load() -> Response:
        with context_of(request).db.read() as session:
            view = organisations.organisation(session, name)
            if view.name != name:
                return RedirectResponse(f"/org/{quote(view.name)}/", status_code=301)
            # Only the projects the viewer may read (private ones are not listed to others).
            names = organisations.projects(
                session, name, read_access.hidden_from(session, reader_of(request))
            )
            org = organisations.get_organisation(session, name)
            may = (
                organisations.may_manage(session, org, who.user_id)
                if who is not None
                else frozenset()
            )
        return page(request, "organisation.html", {"org": view, "projects": names, "may": may})

    return await run_in_threadpool(load)


@web_page
async def manage_organisation(request: Request) -> Response:
    """The organisation's settings, for its members (a member sees them; owners and managers
    get the forms their role allows)."""
    who = current_user(request)
    name = _org_param(request)

    def load() -> Response:
        with context_of(request).db.read() as session:
            org = organisations.get_organisation(session, name)
            may = organisations.may_manage(session, org, who.user_id)
            if "view" not in may:
                organisations.require_org(
                    session, org, who.username, organisations.MANAGERS, "see its settings"
                )
            context = {
                "org": organisations.organisation(session, name),
                "members": organisations.members(session, name),
                "invitations": organisations.organisation_invitations(session, name),
                "teams": teams.list_teams(session, name),
                "projects": organisations.projects(session, name),
                "roles": [r.value for r in organisations.OrgRole],
                "may": may,
                "me": who.username,
            }
        return page(request, "manage_organisation.html", context)

    return await run_in_threadpool(load)


def _action(
    fields_allowed: set[str],
    act: Callable[[Session, str, str, dict[str, str], Request], object],
) -> Callable[[Request], Awaitable[Response]]:
    """A POST handler: check the form (CSRF, only the offered fields), run ``act(session,
    org, actor, fields, request)`` in one transaction, go back to the settings page."""

    @web_page
    async def handler(request: Request) -> Response:
        who = current_user(request)
        name = _org_param(request)
        fields = await checked_form(request)
        only_fields(fields, fields_allowed)

        def change(session: Session) -> None:
            act(session, name, who.username, fields, request)

        return await write_then_redirect(request, change, _manage_url(name))

    return handler


invite = _action(
    {"username", "role"},
    lambda s, org, actor, f, _r: organisations.invite(
        s, org, _field(f, "username", "username"), f.get("role", ""), actor=actor
    ),
)
revoke = _action(
    set(),
    lambda s, org, actor, _f, r: organisations.revoke(
        s, org, _path_value(r, "username"), actor=actor
    ),
)
change_role = _action(
    {"role"},
    lambda s, org, actor, f, r: organisations.change_member_role(
        s, org, _path_value(r, "username"), f.get("role", ""), actor=actor
    ),
)
remove_member = _action(
    set(),
    lambda s, org, actor, _f, r: organisations.remove_member(
        s, org, _path_value(r, "username"), actor=actor
    ),
)
add_project = _action(
    {"project"},
    lambda s, org, actor, f, _r: organisations.add_project(
        s, org, _field(f, "project", "project's name"), actor=actor
    ),
)
remove_project = _action(
    set(),
    lambda s, org, actor, _f, r: organisations.remove_project(
        s, org, _path_value(r, "project"), actor=actor
    ),
)
create_team = _action(
    {"team"},
    lambda s, org, actor, f, _r: teams.create_team(
        s, org, _field(f, "team", "team's name"), actor=actor
    ),
)
delete_team = _action(
    set(),
    lambda s, org, actor, _f, r: teams.delete_team(s, org, _path_value(r, "team"), actor=actor),
)
add_team_member = _action(
    {"username"},
    lambda s, org, actor, f, r: teams.add_member(
        s, org, _path_value(r, "team"), _field(f, "username", "username"), actor=actor
    ),
)
remove_team_member = _action(
    set(),
    lambda s, org, actor, _f, r: teams.remove_member(
        s, org, _path_value(r, "team"), _path_value(r, "username"), actor=actor
    ),
)


def _team_role(session: Session, org: str, actor: str, f: dict[str, str], r: Request) -> str:
    role = f.get("role", "")
    return teams.set_team_role(
        session,
        org,
        _path_value(r, "team"),
        _field(f, "project", "project's name"),
        None if role == "none" else role,
        actor=actor,
    )


set_team_role = _action({"project", "role"}, _team_role)


async def _answer(request: Request, *, accepted: bool) -> Response:
    who = current_user(request)
    name = _org_param(request)
    only_fields(await checked_form(request), set())

    def answer(session: Session) -> None:
        if accepted:
            organisations.accept(session, name, invitee=who.username)
        else:
            organisations.decline(session, name, invitee=who.username)

    return await write_then_redirect(
        request, answer, _manage_url(name) if accepted else INVITATIONS
    )


@web_page
async def accept_invitation(request: Request) -> Response:
    """Join the organisation with the role offered (then its settings page)."""
    return await _answer(request, accepted=True)


@web_page
async def decline_invitation(request: Request) -> Response:
    """Refuse the membership offered."""
    return await _answer(request, accepted=False)


@web_page
async def rename(request: Request) -> Response:
    """Rename the organisation (owners); its settings page under the new name follows."""
    who = current_user(request)
    name = _org_param(request)
    fields = await checked_form(request)
    only_fields(fields, {"name"})
    new_name = _field(fields, "name", "new name")

    def change() -> str:
        with context_of(request).db.write() as session:
            return organisations.rename_organisation(
                session, name, new_name, actor=who.username
            ).name

    return see_other(_manage_url(await run_in_threadpool(change)))


@web_page
async def delete(request: Request) -> Response:
    """Delete the organisation (owners; none of its projects left), confirmed by typing its
    name, as PyPI asks: a slip of the mouse must not delete a group of people."""
    who = current_user(request)
    name = _org_param(request)
    fields = await checked_form(request)
    only_fields(fields, {"confirm"})
    typed = fields.get("confirm", "").strip()

    def change(session: Session) -> None:
        org = organisations.get_organisation(session, name)
        if typed.lower() != org.name.lower():
            raise FormRefused(f"type the organisation's name, {org.name}, to delete it")
        organisations.delete_organisation(session, name, actor=who.username)

    return await write_then_redirect(request, change, MINE)


@web_page
async def team_page(request: Request) -> Response:
    """A team's members, roles and reader policies (the organisation's owners and managers;
    owners get the forms to change the policies)."""
    who = current_user(request)
    name = _org_param(request)
    team_name = _path_value(request, "team")

    def load() -> Response:
        with context_of(request).db.read() as session:
            # First: the policies' own check (owners and managers see a team's page).
            readers = reader_policies.list_team_reader_policies(
                session, name, team_name, actor=who.username
            )
            org = organisations.get_organisation(session, name)
            spelled = teams.get_team(session, org, team_name).name
            context = {
                "org": organisations.organisation(session, name),
                "team": next(t for t in teams.list_teams(session, name) if t.name == spelled),
                "readers": readers,
                "may": organisations.may_manage(session, org, who.user_id),
            }
        return page(request, "manage_team.html", context)

    return await run_in_threadpool(load)


def _team_url(org: str, team: str) -> str:
    return f"{_manage_url(org)}teams/{quote(team)}/"


@web_page
async def add_team_reader(request: Request) -> Response:
    """Add a reader policy to the team (the organisation's owners)."""
    who = current_user(request)
    name = _org_param(request)
    team_name = _path_value(request, "team")
    kind, config = kind_and_config(await checked_form(request))

    def change(session: Session) -> None:
        reader_policies.add_team_reader_policy(
            session, name, team_name, kind, config, actor=who.username
        )

    return await write_then_redirect(request, change, _team_url(name, team_name))


@web_page
async def remove_team_reader(request: Request) -> Response:
    """Remove one of the team's reader policies (the organisation's owners)."""
    who = current_user(request)
    name = _org_param(request)
    team_name = _path_value(request, "team")
    policy_id: int = request.path_params["policy_id"]
    only_fields(await checked_form(request), set())

    def change(session: Session) -> None:
        reader_policies.remove_team_reader_policy(
            session, name, team_name, policy_id, actor=who.username
        )

    return await write_then_redirect(request, change, _team_url(name, team_name))


def _post(path: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
    return Route(MANAGE + path, handler, methods=["POST"])


routes: list[BaseRoute] = [
    Route("/org/{org}/", organisation_page, methods=["GET", "HEAD"]),
    Route(MANAGE, manage_organisation, methods=["GET", "HEAD"]),
    _post("invitations/", invite),
    _post("invitations/{username}/revoke/", revoke),
    _post("members/{username}/role/", change_role),
    _post("members/{username}/remove/", remove_member),
    _post("projects/", add_project),
    _post("projects/{project}/remove/", remove_project),
    _post("teams/", create_team),
    _post("teams/{team}/delete/", delete_team),
    _post("teams/{team}/members/", add_team_member),
    _post("teams/{team}/members/{username}/remove/", remove_team_member),
    _post("teams/{team}/roles/", set_team_role),
    _post("rename/", rename),
    _post("delete/", delete),
    Route(MANAGE + "teams/{team}/", team_page, methods=["GET", "HEAD"]),
    _post("teams/{team}/readers/", add_team_reader),
    _post("teams/{team}/readers/{policy_id:int}/remove/", remove_team_reader),
    Route(INVITATIONS + "org/{org}/accept/", accept_invitation, methods=["POST"]),
    Route(INVITATIONS + "org/{org}/decline/", decline_invitation, methods=["POST"]),
]
