"""``build-env.json`` carried inside the SLSA provenance (a ``runDetails.byproducts`` entry with
its bytes as ``content``), and ``verify --build-env`` reading it from a provenance file."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.attestations.test_statements import ENVIRONMENT, SOURCE, SUBJECTS
from trustyard.attestations.statements import (
    InvalidStatement,
    build_provenance,
    detect_builder,
    parse_provenance,
    serialize_statement,
)
from trustyard.cli.main import main
from trustyard.errors import InvalidInput
from trustyard.release.buildenv.carried import load_record

RECORD = {
    "version": 1,
    "backend": {"name": "hatchling", "version": "1.27.0", "entry_point": "hatchling.build"},
    "build_requires": ["hatchling>=1.27"],
    "dependencies": [
        {"name": "hatchling", "version": "1.27.0", "hashes": ["sha256:" + "a" * 64]},
    ],
    "python": {"version": "3.12.3", "implementation": "CPython"},
    "platform": "linux-x86_64",
    "source": {"commit": "c" * 40, "ref": "v1.0.0", "source_date_epoch": 1709528767},
    "artifacts": [],
}


def record_bytes() -> bytes:
    return (json.dumps(RECORD, indent=2) + "\n").encode()


def statement(record: bytes | None) -> dict[str, object]:
    environment = ENVIRONMENT
    if record is not None:
        environment = type(ENVIRONMENT)(
            **{
                **ENVIRONMENT.__dict__,
                "record": record,
                "record_sha256": hashlib.sha256(record).hexdigest(),
            }
        )
    return build_provenance(SUBJECTS, SOURCE, environment, detect_builder({}))


def test_the_record_is_a_byproduct_with_its_bytes() -> None:
    data = record_bytes()
    built = statement(data)
    (byproduct,) = built["predicate"]["runDetails"]["byproducts"]  # type: ignore[index]
    assert byproduct == {
        "name": "build-env.json",
        "digest": {"sha256": hashlib.sha256(data).hexdigest()},
        "content": base64.b64encode(data).decode(),
        "mediaType": "application/json",
    }
    parsed = parse_provenance(serialize_statement(built))
    assert parsed.byproduct("build-env.json") == data
    assert parsed.byproduct("other.json") is None


def test_without_the_bytes_only_the_digest_is_recorded() -> None:
    parsed = parse_provenance(serialize_statement(statement(None)))
    assert parsed.byproduct("build-env.json") is None
    assert "content" not in parsed.raw["predicate"]["runDetails"]["byproducts"][0]


def test_record_bytes_must_match_the_recorded_digest() -> None:
    environment = type(ENVIRONMENT)(**{**ENVIRONMENT.__dict__, "record": b"{}"})
    with pytest.raises(InvalidStatement, match=r"build-env\.json hashes to"):
        build_provenance(SUBJECTS, SOURCE, environment, detect_builder({}))


def test_content_that_disagrees_with_its_digest_is_refused() -> None:
    built = statement(record_bytes())
    byproduct = built["predicate"]["runDetails"]["byproducts"][0]  # type: ignore[index]
    byproduct["content"] = base64.b64encode(b'{"version": 1}').decode()
    parsed = parse_provenance(serialize_statement(built))
    with pytest.raises(InvalidStatement, match="but its digest says"):
        parsed.byproduct("build-env.json")
    byproduct["content"] = "not base64!"
    with pytest.raises(InvalidStatement, match=r"byproducts\[0\]\.content is not base64"):
        parse_provenance(serialize_statement(built))


def test_load_record_from_a_record_or_a_provenance() -> None:
    data = record_bytes()
    plain = load_record(data.decode(), origin="build-env.json")
    line = serialize_statement(statement(data)).decode()
    carried = load_record(line + "\n", origin="multiple.intoto.jsonl")
    assert carried == plain
    assert carried.backend_version == "1.27.0"


def test_a_provenance_without_the_record_says_what_to_pass() -> None:
    line = serialize_statement(statement(None)).decode()
    with pytest.raises(InvalidInput, match=r"none of its statements carries build-env\.json"):
        load_record(line, origin="provenance.intoto.jsonl")
    with pytest.raises(InvalidInput, match=r"line 1: .*not a SLSA v1 provenance"):
        load_record('{"_type": "https://in-toto.io/Statement/v1"}', origin="x.jsonl")


def test_verify_cli_reads_a_broken_provenance_as_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provenance = tmp_path / "multiple.intoto.jsonl"
    provenance.write_text(serialize_statement(statement(None)).decode() + "\n")
    args = ["verify", "pkg==1.0", "--index", "http://127.0.0.1:9/simple/", "--source", "."]
    assert main([*args, "--build-env", str(provenance)]) == 1
    assert "none of its statements carries build-env.json" in capsys.readouterr().err
