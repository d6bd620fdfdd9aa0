"""``build-env.json`` from wherever a verifier found it: the file itself, or the SLSA provenance
that carries it (``multiple.intoto.jsonl``, signed or not: a Sigstore bundle line or a bare
in-toto statement line), where ``trustyard attest`` puts its bytes in the ``build-env.json``
byproduct (see :mod:`trustyard.attestations.statements`).

Reading the record out of a provenance does not check the provenance's signature: the record
only says how to rebuild, and the verdict still comes from comparing hashes with the index.
Whoever needs to know *who* recorded it checks the provenance's Sigstore signature first (for
a GitHub artifact attestation, ``gh attestation verify``).
"""

from __future__ import annotations

import json

from trustyard.attestations.statements import (
    InvalidStatement,
    parse_provenance,
    provenance_line,
)
from trustyard.errors import InvalidInput
from trustyard.release.buildenv.pins import BuildEnvRecord

__all__ = ["RECORD_BYPRODUCT", "load_record"]

RECORD_BYPRODUCT = "build-env.json"


def load_record(text: str, *, origin: str) -> BuildEnvRecord:
    """The record in ``text``: a ``build-env.json``, or a provenance file carrying one."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not _is_provenance(lines[0]):
        return BuildEnvRecord.from_json(text, origin=origin)
    for number, line in enumerate(lines, 1):
        try:
            statement, _bundle = provenance_line(line)
            carried = parse_provenance(statement).byproduct(RECORD_BYPRODUCT)
        except InvalidStatement as exc:
            raise InvalidInput(f"{origin} line {number}: {exc.message}") from exc
        if carried is not None:
            try:
                record_text = carried.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = f"{origin}: the carried {RECORD_BYPRODUCT} is not UTF-8"
                raise InvalidInput(message) from exc
            return BuildEnvRecord.from_json(record_text, origin=f"{origin} ({RECORD_BYPRODUCT})")
    raise InvalidInput(
        f"{origin} is a provenance, but none of its statements carries {RECORD_BYPRODUCT} "
        "(provenance from `trustyard attest` does; GitHub's attest-build-provenance names it "
        "as a subject only: pass the release's build-env.json asset instead)"
    )


def _is_provenance(line: str) -> bool:
    """An in-toto statement (``_type``) or a Sigstore bundle (``mediaType``), not a record."""
    try:
        doc = json.loads(line)
    except ValueError:
        return False
    return isinstance(doc, dict) and ("_type" in doc or "dsseEnvelope" in doc)


def __dir__() -> list[str]:
    return __all__
