"""The one error base of trustyard.

Every error the project raises on purpose derives from :class:`Error`, knows how to explain
itself to a person (:meth:`Error.diagnostics`), and carries what the index needs when it crosses
the HTTP boundary: its status, its machine-readable code and when to retry. The CLI catches
``Error`` in one place; the index maps it to a response once per surface (each mount of
``trustyard.index.app`` chooses its shape from ``trustyard.index.http`` or the web pages).
"""

from __future__ import annotations


class Error(Exception):
    """Base of every trustyard error.

    ``status`` is the HTTP status the index answers with when this error ends a request
    (400 unless a subclass says otherwise); ``code`` a machine-readable reason where the
    surface's shape has one (Trusted Publishing's ``errors[].code``); ``retry_after`` the whole
    seconds a client should wait, sent as ``Retry-After`` (rate limits). Subclasses set them as
    class attributes, or per instance when they vary.
    """

    status: int = 400
    code: str | None = None
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def diagnostics(self) -> str:
        """A human-readable explanation, for the CLI and for logs."""
        return self.message


class InvalidInput(Error):
    """Input from a person or a client that breaks a rule (a spec's or our own)."""


class NotFound(Error):
    """A thing that was asked for does not exist."""

    status = 404


class Forbidden(Error):
    """The caller is known but may not do this."""

    status = 403


class Unauthenticated(Error):
    """The caller could not be identified."""

    status = 403


class Conflict(Error):
    """The request conflicts with the current state."""

    status = 409


class TooLarge(Error):
    """A request or a file is larger than the configured limit."""

    status = 400


class ConfigurationError(Error):
    """The settings are contradictory or incomplete."""
