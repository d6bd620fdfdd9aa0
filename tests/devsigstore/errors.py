"""Errors of the development Sigstore, each with the HTTP status its endpoint answers with.

Fulcio (grpc-gateway) and Rekor v1 both answer errors as ``{"code": N, "message": "..."}``.
"""

from __future__ import annotations

from trustyard.errors import Error


class DevSigstoreError(Error):
    """A request the development Fulcio or Rekor refuses (400 unless a subclass says otherwise)."""


class Unauthenticated(DevSigstoreError):
    """The OIDC identity token is missing, invalid, or from an issuer this instance does not know."""

    status = 401


class NotFound(DevSigstoreError):
    """No such endpoint or log entry."""

    status = 404


class MethodNotAllowed(DevSigstoreError):
    """The endpoint exists but not for this HTTP method."""

    status = 405


class EntryExists(DevSigstoreError):
    """Rekor v1 refuses an entry whose canonical body is already in the log (409)."""

    status = 409

    def __init__(self, message: str, uuid: str) -> None:
        super().__init__(message)
        self.uuid = uuid


class BodyTooLarge(DevSigstoreError):
    """A request body over the endpoint's limit."""

    status = 413
