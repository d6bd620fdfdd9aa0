"""Errors of the web interface; each carries the status the page is answered with."""

from __future__ import annotations

from trustyard.errors import Error, Forbidden, InvalidInput


class FormRefused(InvalidInput):
    """A form whose encoding or fields break the rules (400)."""


class CsrfRefused(Forbidden):
    """A state-changing request without this browser's CSRF token (403)."""


class SignInRequired(Error):
    """A page that needs a signed-in user was asked for without a session (answered by a
    redirect to the sign-in page; 401 only when the caller cannot be redirected)."""

    status = 401


class BodyTooLarge(Error):
    """A form body over the web interface's limit (413)."""

    status = 413


class UnsupportedForm(Error):
    """A POST body that is not ``application/x-www-form-urlencoded`` (415)."""

    status = 415
