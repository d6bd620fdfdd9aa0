"""``trustyard admin org`` and ``admin team`` (issue 20): the real command on an in-process
index's data directory, and what the catalogue then holds."""

from __future__ import annotations

import json
import os

from tests.index.conftest import LocalIndex
from tests.trustyard_cli import run_trustyard
from trustyard.index.services import organisation_requests, organisations, projects, roles, teams
from trustyard.index.services.roles import HOST, Permission


def cli(index: LocalIndex, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    result = run_trustyard([*args, "--data", str(index.data)], env)
    return result.returncode, result.stdout, result.stderr


def test_the_host_sets_up_an_organisation_and_its_teams(local_index: LocalIndex) -> None:
    index = local_index
    for user in ("olga", "rita", "sam"):
        index.create_user(user)
    with index.db.write() as session:
        projects.create_project(session, "cli-thing", owner="sam")

    def ok(*args: str) -> str:
        code, out, err = cli(index, "admin", *args)
        assert code == 0, err
        return out + err

    assert "created organisation Acme (owner: olga)" in ok(
        "org", "create", "Acme", "--owner", "olga"
    )
    assert "invited rita into Acme as member" in ok("org", "invite", "acme", "rita")
    with index.db.write() as session:  # rita accepts on her account page
        organisations.accept(session, "acme", invitee="rita")
    ok("org", "project", "add", "acme", "cli-thing")
    ok("team", "create", "acme", "Readers")
    ok("team", "member", "add", "acme", "readers", "rita")
    said = ok("team", "role", "acme", "readers", "cli-thing", "reader")
    assert "add team Acme/Readers as reader" in said
    [listed] = json.loads(ok("org", "list", "--json"))
    assert (listed["name"], listed["owners"], listed["members"], listed["teams"]) == (
        "Acme",
        ["olga"],
        2,
        1,
    )
    assert "Readers\tmembers: rita\troles: cli-thing (reader)" in ok("team", "list", "acme")
    assert ok("org", "members", "acme").splitlines() == ["olga\towner", "rita\tmember"]
    with index.db.read() as session:
        project = projects.get_project(session, "cli-thing")
        assert roles.permissions_of(session, project, "rita") == {Permission.READ}
        assert roles.permissions_of(session, project, "olga") == frozenset(Permission)

    # Refusals: one line naming the problem, exit 1, nothing changed.
    with index.db.read() as session:
        before = (organisations.list_organisations(session), teams.list_teams(session, "acme"))
    for args, words in [
        (("org", "create", "acme", "--owner", "sam"), "is taken"),
        (("org", "remove", "acme", "olga"), "last owner"),
        (("team", "member", "add", "acme", "readers", "sam"), "not a member of Acme"),
        (("team", "role", "acme", "readers", "nope", "owner"), "no project named"),
        (("org", "invite", "nope", "sam"), "no organisation named"),
    ]:
        code, _out, err = cli(index, "admin", *args)
        assert code == 1, (args, err)
        assert words in err, (args, err)
        assert "Traceback" not in err
    with index.db.read() as session:
        after = (organisations.list_organisations(session), teams.list_teams(session, "acme"))
    assert after == before

    ok("team", "member", "remove", "acme", "readers", "rita")
    with index.db.read() as session:
        project = projects.get_project(session, "cli-thing")
        assert roles.permissions_of(session, project, "rita") == frozenset()


def test_the_host_decides_requests_renames_and_deletes(local_index: LocalIndex) -> None:
    index = local_index
    for user in ("olga", "mia"):
        index.create_user(user)
    with index.db.write() as session:
        organisation_requests.file_request(session, "mia", "Widgets", "Widgets Ltd", "our tools")
        organisation_requests.file_request(session, "mia", "Spam")

    def run(*args: str) -> tuple[int, str]:
        code, out, err = cli(index, "admin", "org", *args)
        return code, out + err

    code, said = run("requests")
    assert code == 0
    assert said.splitlines()[0].split("\t")[:3] == ["1", "Widgets", "mia"]
    assert [r["name"] for r in json.loads(run("requests", "--json")[1])] == ["Widgets", "Spam"]
    assert run("approve", "1") == (0, "created organisation Widgets (owner: mia)\n")
    assert run("decline", "2", "--reason", "not a real group")[0] == 0
    code, said = run("approve", "2")
    assert code == 1
    assert "request 2 was declined already" in said
    assert run("requests") == (0, "")
    assert "renamed widgets to Gadgets" in run("rename", "widgets", "Gadgets")[1]
    code, said = run("create", "widgets", "--owner", "olga")
    assert code == 1
    assert "is taken (by Gadgets" in said
    assert "deleted organisation Gadgets" in run("delete", "GADGETS")[1]
    with index.db.read() as session:
        assert organisations.list_organisations(session) == []
        [_, declined] = organisation_requests.requests_of(session, "mia")
        assert declined.reason == "not a real group"


def test_reader_policies_of_a_team_from_the_cli(local_index: LocalIndex) -> None:
    index = local_index
    index.create_user("olga")
    index.trust_issuer("https://token.actions.githubusercontent.com")
    with index.db.write() as session:
        organisations.create_organisation(session, "Acme", "olga", actor=HOST)
        teams.create_team(session, "acme", "CI", actor="olga")

    def reader(*args: str) -> tuple[int, str, str]:
        return cli(index, "reader", *args)

    code, out, err = reader(
        "add", "acme/ci", "github", "--repository", "octo/app", "--workflow", "ci.yml"
    )
    assert code == 0, err
    policy = out.strip()
    code, out, _ = reader("list", "Acme/CI", "--json")
    [listed] = json.loads(out)
    assert (str(listed["id"]), listed["project"], listed["kind"]) == (policy, "Acme/CI", "github")
    code, _, err = reader("list", "acme/ci/x")
    assert code == 1
    assert "name a project, or a team as ORG/TEAM" in err
    assert reader("remove", "acme/ci", policy)[0] == 0
    assert reader("list", "acme/ci")[1] == ""
