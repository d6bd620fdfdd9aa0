"""Errors of the release pipeline; all derive from :class:`trustyard.errors.Error`."""

from __future__ import annotations

from trustyard.errors import Error, InvalidInput, NotFound

__all__ = [
    "BuildFailed",
    "DirtyTree",
    "NotReproducible",
    "ReleaseError",
    "ReleaseNotFound",
    "SourceError",
    "VerifyError",
]


class SourceError(InvalidInput):
    """The source to build cannot be read: not a git repository, unknown ref, bad URL."""


class DirtyTree(SourceError):
    """The working tree has changes that a build from ``REF`` would silently leave out."""

    def __init__(self, files: list[str]) -> None:
        shown = "\n  ".join(files[:20])
        more = f"\n  ... and {len(files) - 20} more" if len(files) > 20 else ""
        super().__init__(
            "the working tree is dirty; commit or stash these files, or pass --allow-dirty "
            f"to build the committed tree anyway:\n  {shown}{more}"
        )
        self.files = files


class BuildFailed(Error):
    """A backend, the environment resolver or an installer failed; the message has its output."""


class NotReproducible(Error):
    """Two builds of one commit gave different bytes."""


class VerifyError(Error):
    """The release cannot be verified (index unreachable, no files, hash of download wrong)."""


class ReleaseNotFound(NotFound):
    """The index has no such project or no files for that version."""


class ReleaseError(Error):
    """The release pipeline cannot go on: a stage failed, or the release directory disagrees."""
