"""What goes wrong when the upstream is asked: each an :class:`~trustyard.errors.Error` with
the status a client should see (never 404 for an outage: uv moves to the next index on one)."""

from __future__ import annotations

from trustyard.errors import Error


class UpstreamUnavailable(Error):
    """The upstream did not answer in time, or could not be reached, and nothing is cached."""

    status = 503
    retry_after = 30


class UpstreamBroken(Error):
    """The upstream answered with something unusable: an error status, a page that does not
    parse, bytes that do not match the sha256 it listed."""

    status = 502


class ShadowingRefused(Error):
    """A name that exists upstream and is not local may not be created here by an upload or a
    pending publisher; only an admin (``trustyard admin project create``) makes it local."""

    status = 403


class StreamCut(Exception):
    """A streamed first download failed after its answer began (its bytes did not match):
    raised into the server, which cuts the connection, so the client sees an incomplete body
    and never a complete one that failed the check."""


class HeldBack(Error):
    """The policy gate (issue 18: cooldown, cut-off) refuses an upstream file: its file,
    metadata and provenance URLs answer 403 with the reason, so a pinned URL cannot bypass
    what the listing hides."""

    status = 403
    code = "policy"
