"""Why a Trusted Publishing exchange was refused, with PyPI's machine-readable codes.

Codes and texts are warehouse's (``oidc/views.py``): ``invalid-payload``, ``invalid-token``,
``invalid-publisher``, ``invalid-pending-publisher``, ``invalid-reuse-token``, ``not-enabled``.
"""

from __future__ import annotations

from trustyard.errors import Error


class TokenRejected(Error):
    """A refused OIDC token; rendered as 422 ``{"message", "errors": [{code, description}]}``."""

    status = 422

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code


class PublisherMismatch(Error):
    """The token is valid but does not satisfy a publisher's claim checks (the reason why)."""
