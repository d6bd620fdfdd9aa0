"""What a page tells a reader about installing from this index (issue 20): its URLs, as the
request names the index, and whether a project needs credentials.

The URLs come from ``index/origin.request_origin``, the same origin the simple pages and the
JSON API put in their absolute URLs: ``--base-url`` when configured, else the request's scheme
and a ``Host`` that is a host name and port (anything else is never echoed). So a page served
through a proxy shows the address its reader used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from starlette.requests import Request

from trustyard.index.context import context_of
from trustyard.index.origin import request_origin
from trustyard.index.services.catalogue import ProjectView

# The name the snippets give this index in uv's and poetry's configuration (any name will do;
# uv's credential variables are named after it: UV_INDEX_TRUSTYARD_USERNAME).
INDEX_NAME = "trustyard"
USING_PATH = "/help/using/"


@dataclass(frozen=True)
class IndexUrls:
    """This index's addresses for clients, as the request names the index."""

    origin: str
    upstream: str | None

    @property
    def simple(self) -> str:
        """The index URL installers take (PEP 503): pip's ``--index-url``, uv's and poetry's."""
        return f"{self.origin}/simple/"

    @property
    def upload(self) -> str:
        """The upload URL twine and uv publish take (PyPI's legacy API)."""
        return f"{self.origin}/legacy/"

    @property
    def host(self) -> str:
        """The host name a ``.netrc`` ``machine`` line names (no port: netrc matches host)."""
        return urlsplit(self.origin).hostname or ""

    @property
    def secure(self) -> bool:
        """Whether clients reach the index over TLS (credentials over plain HTTP are readable
        by anyone on the path: the page says so)."""
        return self.origin.startswith("https://")


def index_urls(request: Request) -> IndexUrls:
    """The index's URLs for this request (``--base-url`` first, as every absolute URL)."""
    settings = context_of(request).settings
    return IndexUrls(request_origin(request, settings.base_url), settings.upstream)


def credentials_needed(request: Request, project: ProjectView | None) -> bool:
    """Whether installing ``project`` (None: the index as a whole) needs credentials: on a
    private index, or for a private project (the read rule, ``services/read_access.py``)."""
    if context_of(request).settings.private:
        return True
    return project is not None and project.private


@dataclass(frozen=True)
class InstallHelp:
    """Everything the install box of a project or release page shows."""

    name: str
    version: str | None
    urls: IndexUrls
    needs_credentials: bool
    index_name: ClassVar[str] = INDEX_NAME
    using_path: ClassVar[str] = USING_PATH

    @property
    def requirement(self) -> str:
        """``name==version`` for a release's page, the bare name for an upstream project's."""
        return f"{self.name}=={self.version}" if self.version else self.name


def install_help(
    request: Request, name: str, version: str | None, project: ProjectView | None
) -> InstallHelp:
    """The install box for ``name`` (``project``: the local project, None for an upstream one)."""
    return InstallHelp(
        name=name,
        version=version,
        urls=index_urls(request),
        needs_credentials=credentials_needed(request, project),
    )
