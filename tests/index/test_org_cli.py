"""``trustyard admin org`` and ``admin team`` (issue 20): the real command on an in-process
index's data directory, and what the catalogue then holds."""

from __future__ import annotations

import json
import os

from tests.index.conftest import LocalIndex
from tests.trustyard_cli import run_trustyard
from trustyard.index.services import organisations, projects, roles, teams
from trustyard.index.services.roles import Permission


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
