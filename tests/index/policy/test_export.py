"""The gate's state travels with ``admin export``/``import`` (format 5: policy_exceptions; the
cooldown and the cut-off are index settings), and a format 4 export still imports."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex
from trustyard.index.policy.rules import parse_timestamp
from trustyard.index.services import backup, policy


def test_policy_state_survives_export_and_import_and_format_4_still_imports(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    source = LocalIndex(tmp_path / "source", portal)
    targets = [LocalIndex(tmp_path / name, portal) for name in ("five", "four")]
    try:
        with source.db.write() as session:
            policy.set_min_age(session, timedelta(days=3), "ada")
            policy.set_cutoff(session, parse_timestamp("2026-03-24T10:00:00Z"), "ada")
            policy.allow(session, "pkg==1.0", reason="fix", actor="ada", expires_in=None)
            revoked = policy.allow(session, "pkg", reason="all", actor="ada", expires_in=None)
            policy.revoke(session, revoked.id, "bob")
        export = tmp_path / "export"
        summary = backup.export_index(source.db, source.ctx.storage, export)
        assert summary.rows["policy_exceptions"] == 2
        manifest = json.loads((export / "manifest.json").read_text())
        assert manifest["version"] == backup.FORMAT_VERSION
        backup.import_index(targets[0].db, targets[0].ctx.storage, export)
        with source.db.read() as before, targets[0].db.read() as after:
            assert policy.load_state(after) == policy.load_state(before)
            rows = policy.exceptions(after, everything=True)
            assert [(r.id, r.version, r.revoked_by) for r in rows] == [
                (1, "1.0", None),
                (2, None, "bob"),
            ]

        # The same export as format 4 would have written it: none of the later formats' tables.
        for table in set(backup.TABLES) - set(backup.TABLES_V4):
            del manifest["tables"][table]
            (export / "catalogue" / f"{table}.jsonl").unlink()
        manifest["version"] = 4
        (export / "manifest.json").write_text(json.dumps(manifest))
        backup.import_index(targets[1].db, targets[1].ctx.storage, export)
        with targets[1].db.read() as session:
            state = policy.load_state(session)
        assert (state.min_age, state.allowances) == (timedelta(days=3), ())
    finally:
        source.close()
        for target in targets:
            target.close()
