"""The media types of the package-index protocols, shared by the index and the release client.

- PEP 691 (the simple repository API, JSON and HTML serialisations, version 1) with PEP 503's
  ``text/html`` as the legacy name of the HTML form.
- PEP 740's Integrity API (warehouse ``api/integrity.py``): a file's provenance object.
- PEP 807 (draft): the Trusted Publishing discovery document, ``/.well-known/pytp/<key>``.
- The types a distribution file is sent as: the upload form's file part (warehouse forklift
  expects ``application/octet-stream``) and a stored file by its suffix (PEP 427 wheels and
  ``.zip`` sdists are zip archives, PEP 625 sdists gzipped tar archives).
"""

from __future__ import annotations

SIMPLE_V1_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_V1_HTML = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
INTEGRITY_V1_JSON = "application/vnd.pypi.integrity.v1+json"
APPLICATION_JSON = "application/json"
PYTP_V1_JSON = "application/vnd.pypi.pytp.v1+json"
OCTET_STREAM = "application/octet-stream"
ZIP = "application/zip"
TAR = "application/x-tar"

__all__ = [
    "APPLICATION_JSON",
    "INTEGRITY_V1_JSON",
    "OCTET_STREAM",
    "PYTP_V1_JSON",
    "SIMPLE_V1_HTML",
    "SIMPLE_V1_JSON",
    "TAR",
    "TEXT_HTML",
    "ZIP",
]


def __dir__() -> list[str]:
    return __all__
