"""Organisations and teams travel with ``admin export``/``import`` (format 6, schema 0025;
format 7, schema 0027: requests, the name catalogue, display names, team reader policies),
and a format 5 or 6 export, which has none of the newer tables, still imports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex
from trustyard.index.services import (
    accounts,
    backup,
    organisation_names,
    organisation_requests,
    organisations,
    projects,
    reader_policies,
    roles,
    teams,
)
from trustyard.index.services.roles import HOST, Permission

PEOPLE = (
    "organisations",
    "organisation_members",
    "organisation_invitations",
    "organisation_projects",
    "teams",
    "team_members",
    "team_project_roles",
)


def _people(index: LocalIndex) -> tuple[object, ...]:
    with index.db.read() as session:
        project = projects.get_project(session, "org-thing")
        return (
            organisations.list_organisations(session),
            organisations.members(session, "acme"),
            [(i.username, i.role) for i in organisations.organisation_invitations(session, "acme")],
            teams.list_teams(session, "acme"),
            roles.permissions_of(session, project, "rita"),
        )


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_organisations_survive_export_and_import_and_format_5_still_imports(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    source = LocalIndex(tmp_path / "source", portal)
    targets = [LocalIndex(tmp_path / name, portal) for name in ("six", "five")]
    try:
        with source.db.write() as session:
            for name in ("olga", "rita", "sam"):
                accounts.create_user(session, name, "long enough password")
            projects.create_project(session, "org-thing", owner="olga")
            organisations.create_organisation(session, "Acme", "olga", actor=HOST)
            organisations.invite(session, "acme", "rita", "member", actor="olga")
            organisations.accept(session, "acme", invitee="rita")
            organisations.invite(session, "acme", "sam", "manager", actor="olga")
            organisations.add_project(session, "acme", "org-thing", actor="olga")
            teams.create_team(session, "acme", "Readers", actor="olga")
            teams.add_member(session, "acme", "readers", "rita", actor="olga")
            teams.set_team_role(session, "acme", "readers", "org-thing", "reader", actor="olga")
        export = tmp_path / "export"
        summary = backup.export_index(source.db, source.ctx.storage, export)
        assert [summary.rows[t] for t in PEOPLE] == [1, 2, 1, 1, 1, 1, 1]
        manifest = json.loads((export / "manifest.json").read_text())
        assert manifest["version"] == backup.FORMAT_VERSION == 7
        backup.import_index(targets[0].db, targets[0].ctx.storage, export)
        assert _people(targets[0]) == _people(source)
        assert _people(source)[-1] == {Permission.READ}
        with targets[0].db.write() as session:  # the id sequences moved past the imported ids
            teams.create_team(session, "acme", "Devs", actor=HOST)

        # The same export as format 5 wrote it: none of format 6's (or 7's) tables.
        for table in set(backup.TABLES) - set(backup.TABLES_V5):
            del manifest["tables"][table]
            (export / "catalogue" / f"{table}.jsonl").unlink()
        manifest["version"] = 5
        (export / "manifest.json").write_text(json.dumps(manifest))
        backup.import_index(targets[1].db, targets[1].ctx.storage, export)
        with targets[1].db.read() as session:
            assert organisations.list_organisations(session) == []
            project = projects.get_project(session, "org-thing")
            assert roles.permissions_of(session, project, "olga") == frozenset(Permission)
            assert roles.permissions_of(session, project, "rita") == frozenset()
    finally:
        source.close()
        for target in targets:
            target.close()


def _as_format_6(export: Path) -> None:
    """Make ``export`` what format 6 wrote (schema 0026): none of format 7's tables, no
    display names; the import then migrates it as an upgrade in place would."""
    manifest = json.loads((export / "manifest.json").read_text())
    for table in set(backup.TABLES_V7) - set(backup.TABLES_V6):
        del manifest["tables"][table]
        (export / "catalogue" / f"{table}.jsonl").unlink()
    path = export / "catalogue" / "organisations.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        del row["display_name"]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest["tables"]["organisations"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["version"], manifest["schema"] = 6, "0026"
    (export / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_requests_names_and_team_readers_survive_and_format_6_still_imports(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    source = LocalIndex(tmp_path / "source", portal)
    targets = [LocalIndex(tmp_path / name, portal) for name in ("seven", "six")]
    try:
        source.trust_issuer("https://token.actions.githubusercontent.com")
        with source.db.write() as session:
            for name in ("olga", "mia"):
                accounts.create_user(session, name, "long enough password")
            organisations.create_organisation(
                session, "Acme", "olga", actor=HOST, display_name="Acme Corp"
            )
            organisations.rename_organisation(session, "acme", "Widgets", actor="olga")
            teams.create_team(session, "widgets", "CI", actor="olga")
            reader_policies.add_team_reader_policy(
                session,
                "widgets",
                "ci",
                "github",
                {"repository": "o/r", "workflow": "c.yml"},
                actor="olga",
            )
            organisation_requests.file_request(session, "mia", "Gadgets", "", "tools")
        export = tmp_path / "export"
        summary = backup.export_index(source.db, source.ctx.storage, export)
        assert [summary.rows[t] for t in backup.TABLES_V7[-4:]] == [1, 2, 1, 0]
        backup.import_index(targets[0].db, targets[0].ctx.storage, export)
        with targets[0].db.read() as session:
            org = organisations.get_organisation(session, "acme")  # the old name still leads
            assert (org.name, org.display_name) == ("Widgets", "Acme Corp")
            assert organisation_names.old_names(session, org) == ["acme"]
            assert [r.name for r in organisation_requests.pending_requests(session)] == ["Gadgets"]
            [policy] = reader_policies.list_team_reader_policies(
                session, "widgets", "ci", actor=HOST
            )
            assert policy.project == "Widgets/CI"
        with targets[0].db.write() as session:  # the sequences moved past the imported ids
            organisation_requests.file_request(session, "mia", "Other")

        _as_format_6(export)
        backup.import_index(targets[1].db, targets[1].ctx.storage, export)
        with targets[1].db.read() as session:
            [view] = organisations.list_organisations(session)
            assert (view.name, view.display_name) == ("Widgets", "Widgets")  # the default: ""
            assert organisations.get_organisation(session, "widgets").display_name == ""
        with targets[1].db.write() as session:  # its name is taken without a catalogue row
            organisations.rename_organisation(session, "widgets", "Gizmos", actor="olga")
        with targets[1].db.read() as session:
            assert organisations.get_organisation(session, "widgets").name == "Gizmos"
    finally:
        source.close()
        for target in targets:
            target.close()
