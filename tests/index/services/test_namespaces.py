"""Reserved namespaces (PEP 752) on a real catalogue: which names a namespace covers, who may
create projects there by each path (upload, ``admin project create``, pending publisher), the
admin CLI, the journal, and export/import."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.index.conftest import LocalIndex
from tests.trustyard_cli import run_trustyard
from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import backup, namespaces, projects, publishers
from trustyard.index.services.namespaces import InNamespace, namespace_for


def cli(index: LocalIndex, *args: str) -> tuple[int, str, str]:
    """The real ``trustyard`` command on the in-process index's data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    result = run_trustyard([*args, "--data", str(index.data)], env)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def index(local_index: LocalIndex) -> LocalIndex:
    for user in ("acme-admin", "acme-dev", "mallory"):
        local_index.create_user(user)
    return local_index


def test_a_namespace_covers_itself_and_hyphenated_names_after_pep_503_normalization(
    index: LocalIndex,
) -> None:
    with index.db.write() as session:
        namespaces.add_namespace(session, "Acme", ["acme-admin"], actor=None)
        namespaces.add_namespace(session, "acme.cloud", ["acme-dev"], actor=None)
    with index.db.read() as session:

        def covering(name: str) -> str | None:
            found = namespace_for(session, name)
            return found.prefix if found is not None else None

        assert covering("acme") == "Acme"
        assert covering("acme-tools") == "Acme"
        assert covering("acmecorp") is None
        assert covering("acm") is None
        assert covering("not-acme") is None
        # the most specific namespace decides (PEP 752's child grants)
        assert covering("acme-cloud") == "acme.cloud"
        assert covering("acme-cloud-storage") == "acme.cloud"
        assert covering("acme-cloudy") == "Acme"
        # '.', '_' and '-' are one separator: names are compared in their PEP 503 form
        with pytest.raises(InNamespace, match="reserved namespace 'Acme'"):
            namespaces.check_may_create(session, "ACME_Tools", None)
        with pytest.raises(InNamespace, match=r"reserved namespace 'acme\.cloud'"):
            namespaces.check_may_create(session, "acme.cloud.x", None)


def test_only_owners_create_projects_by_upload(
    index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    mallory = index.create_token("mallory")
    owner = index.create_token("acme-admin")
    # created before the reservation: it keeps its owner and its uploads (PEP 752)
    assert index.upload(mallory, wheels("acme-old", "1.0")).status_code == 200
    with index.db.write() as session:
        namespaces.add_namespace(session, "acme", ["acme-admin"], actor=None)

    refused = index.upload(mallory, wheels("acme-new", "1.0"))
    assert refused.status_code == 403
    assert "reserved namespace 'acme'" in refused.text
    assert index.get("/simple/acme-new/").status_code == 404
    assert index.upload(owner, wheels("acme-new", "1.0")).status_code == 200
    assert index.upload(mallory, wheels("acme-old", "2.0")).status_code == 200
    # outside the namespace nothing changes
    assert index.upload(mallory, wheels("acmecorp", "1.0")).status_code == 200


def test_only_owners_get_projects_from_admin_create_and_pending_publishers(
    index: LocalIndex,
) -> None:
    with index.db.write() as session:
        namespaces.add_namespace(session, "acme", ["acme-admin"], actor=None)
    code, _, err = cli(index, "admin", "project", "create", "acme-x", "--owner", "mallory")
    assert code != 0
    assert "reserved namespace 'acme'" in err
    code, _, _ = cli(index, "admin", "project", "create", "acme-x", "--owner", "acme-admin")
    assert code == 0
    with index.db.write() as session:
        with pytest.raises(InNamespace, match="reserved namespace 'acme'"):
            publishers.add_pending_publisher(
                index.db,
                session,
                "acme-y",
                "github",
                {"repository": "m/acme-y", "workflow": "release.yml"},
                owner="mallory",
                limit=3,
            )
        assert projects.find_project(session, "acme-y") is None


def test_the_admin_cli_adds_lists_and_removes_namespaces_and_owners(index: LocalIndex) -> None:
    code, _, err = cli(
        index, "admin", "namespace", "add", "acme", "--owner", "acme-admin", "--owner", "acme-dev"
    )
    assert code == 0, err
    code, _, err = cli(index, "admin", "namespace", "add", "ACME", "--owner", "mallory")
    assert code != 0
    assert "already reserved" in err
    code, _, err = cli(index, "admin", "namespace", "add", "bad.", "--owner", "mallory")
    assert code != 0
    assert "not a valid namespace" in err
    code, _, err = cli(index, "admin", "namespace", "add", "zeta", "--owner", "nobody")
    assert code != 0
    assert "no user named 'nobody'" in err
    code, out, _ = cli(index, "admin", "namespace", "list", "--json")
    (listed,) = json.loads(out)
    assert (listed["prefix"], listed["owners"]) == ("acme", ["acme-admin", "acme-dev"])

    assert cli(index, "admin", "namespace", "owner", "remove", "acme", "acme-dev")[0] == 0
    code, _, err = cli(index, "admin", "namespace", "owner", "remove", "acme", "acme-admin")
    assert code != 0
    assert "last owner" in err
    assert cli(index, "admin", "namespace", "owner", "add", "acme", "mallory")[0] == 0
    code, out, _ = cli(index, "admin", "namespace", "list")
    assert out.split("\t")[:2] == ["acme", "owners: acme-admin, mallory"]
    assert cli(index, "admin", "namespace", "remove", "acme")[0] == 0
    code, _, err = cli(index, "admin", "namespace", "remove", "acme")
    assert code != 0
    assert "no reserved namespace 'acme'" in err

    with index.db.read() as session:
        actions = session.scalars(
            select(JournalEntry.action).where(JournalEntry.action.like("%namespace%"))
        ).all()
    assert actions == [
        "reserve namespace acme (owners: acme-admin, acme-dev)",
        "remove owner acme-dev from namespace acme",
        "add owner mallory to namespace acme",
        "release namespace acme",
    ]


def test_service_refusals(index: LocalIndex) -> None:
    with index.db.write() as session:
        with pytest.raises(InvalidInput, match="at least one owner"):
            namespaces.add_namespace(session, "acme", [], actor=None)
        namespaces.add_namespace(session, "acme", ["acme-admin"], actor=None)
        with pytest.raises(Conflict):
            namespaces.add_namespace(session, "a.c.m.e".replace(".", ""), ["mallory"], actor=None)
        assert namespaces.add_owner(session, "acme", "acme-admin", actor=None) is False
        with pytest.raises(NotFound):
            namespaces.remove_owner(session, "acme", "mallory", actor=None)


def test_namespaces_survive_export_and_import(
    index: LocalIndex, tmp_path: Path, portal: object
) -> None:
    with index.db.write() as session:
        namespaces.add_namespace(session, "acme.tools", ["acme-admin", "acme-dev"], actor=None)
    backup.export_index(index.db, index.ctx.storage, tmp_path / "export")
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["version"] == backup.FORMAT_VERSION
    assert {"namespaces", "namespace_owners"} <= set(manifest["tables"])
    target = LocalIndex(tmp_path / "target", portal)  # type: ignore[arg-type]
    try:
        backup.import_index(target.db, target.ctx.storage, tmp_path / "export")
        with target.db.read() as session:
            (view,) = namespaces.list_namespaces(session)
            assert (view.prefix, view.owners) == ("acme.tools", ("acme-admin", "acme-dev"))
            with pytest.raises(InNamespace):
                namespaces.check_may_create(session, "acme-tools-x", None)
    finally:
        target.close()


FORMAT_3_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format3-schema0016"


# An import at an older schema reflects its tables; SQLAlchemy says it skips the expression
# index on users (lower(username)), which the migrations then recreate.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
def test_a_format_3_export_still_imports(local_index: LocalIndex, tmp_path: Path) -> None:
    """Written before namespaces existed (format 3, schema 0016): imported and upgraded, with
    no namespace; a namespace reserved afterwards names the pending publisher it now stops."""
    manifest = json.loads((FORMAT_3_EXPORT / "manifest.json").read_text())
    assert (manifest["version"], manifest["schema"]) == (3, "0016")
    backup.import_index(local_index.db, local_index.ctx.storage, FORMAT_3_EXPORT)
    with local_index.db.write() as session:
        assert namespaces.list_namespaces(session) == []
        assert projects.find_project(session, "format3-demo") is not None
        namespaces.add_namespace(session, "acme", ["mia"], actor=None)
        assert namespaces.pending_outside_owners(session, "acme") == [
            "pending publisher 1 for acme-future (added by olga)"
        ]
    assert local_index.get("/simple/format3-demo/").status_code == 200
    backup.export_index(local_index.db, local_index.ctx.storage, tmp_path / "again")
    again = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert again["version"] == backup.FORMAT_VERSION
    assert again["tables"]["role_invitations"]["rows"] == 1
    assert again["tables"]["namespaces"]["rows"] == 1
