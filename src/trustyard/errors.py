"""The one error base of trustyard.

Every error the project raises on purpose derives from :class:`Error`, knows how to explain
itself to a person (:meth:`Error.diagnostics`), and carries the HTTP status it maps to when it
crosses the index's HTTP boundary. The CLI catches ``Error`` in one place; the index maps it to
PyPI's error shapes in one place (``trustyard.index.http``).
"""

from __future__ import annotations


class Error(Exception):
    """Base of every trustyard error.

    ``status`` is the HTTP status the index answers with when this error ends a request
    (400 unless a subclass says otherwise).
    """

    status: int = 400

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
