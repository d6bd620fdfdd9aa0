"""A client of PyPI's legacy upload API (``POST /legacy/``, multipart/form-data), as uv sends it.
Field order and names from uv's ``FormMetadata``/``build_upload_request``; retries as twine/uv do.

The body is streamed from the file in chunks (a progress callback sees every chunk) with a
``Content-Length``, so even a large wheel is never held in memory. Transient failures
(connection errors, 5xx, 429) are retried with exponential back-off, a bounded number of
times; every other answer is final and is returned as it came, status line included.
"""

from __future__ import annotations

import base64
import http
import http.client
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from trustyard.dists.mediatypes import OCTET_STREAM
from trustyard.errors import Error, InvalidInput
from trustyard.release.publish_inputs import Distribution

__all__ = [
    "MAX_ANSWER_BODY",
    "Answer",
    "ConnectionFailed",
    "HttpClient",
    "RetryPolicy",
    "UploadForm",
    "basic_token_auth",
    "upload_with_retries",
]

MAX_ANSWER_BODY = 64 * 1024
"""The most of an answer's body that is read (error pages are short; JSON replies too)."""
_CHUNK_SIZE = 256 * 1024
_USER_AGENT = "trustyard-publish"


class ConnectionFailed(Error):
    """The index could not be reached, or the connection broke before a whole answer came."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status line, headers (lower-case names) and at most 64 KiB of body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def transient(self) -> bool:
        """5xx and 429 may succeed later (uv, twine retry 5xx; 429 is a rate limit)."""
        return self.status >= 500 or self.status == 429

    def explanation(self) -> str:
        """One line: the status line, then the body's message when it adds something."""
        line = f"{self.status} {self.reason}".strip()
        detail = _body_message(self.body)
        if not detail or detail in line:
            return line
        if self.reason and self.reason != _standard_phrase(self.status) and self.reason in detail:
            return line  # PyPI's way: the message is the reason; the body only repeats it
        return f"{line}: {detail}"


def _standard_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _body_message(body: bytes) -> str:
    """The readable part of an error body: a JSON ``message``/``errors``, or its text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        errors = document.get("errors")
        if isinstance(errors, list) and errors:
            text = "; ".join(
                f"{e.get('code')}: {e.get('description')}" for e in errors if isinstance(e, dict)
            )
        elif isinstance(document.get("message"), str):
            text = document["message"]
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:497] + "..."


class HttpClient:
    """HTTP(S) requests with one TLS context and timeout; answers are never raised as errors."""

    def __init__(self, context: ssl.SSLContext, *, timeout: float = 60) -> None:
        self.context = context
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request (no redirects followed) and read its answer.

        Raises :class:`ConnectionFailed` when no complete answer arrives.
        """
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidInput(f"{url}: not an http(s) URL")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout, context=self.context
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=self.timeout
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {"User-Agent": _USER_AGENT, **(headers or {})}
        try:
            connection.request(method, target, body=body, headers=all_headers)
            response = connection.getresponse()
            content = response.read(MAX_ANSWER_BODY)
            return Answer(
                status=response.status,
                reason=response.reason,
                headers={k.lower(): v for k, v in response.getheaders()},
                body=content,
            )
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"{url}: TLS failed: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()

    def post_json(self, url: str, document: object) -> Answer:
        """POST a JSON document (the ``/_/oidc/*`` endpoints' shape)."""
        return self.request(
            "POST",
            url,
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )


def basic_token_auth(token: str) -> str:
    """``Authorization`` for an API token: Basic ``__token__:<token>``, as PyPI expects it."""
    return "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode("ascii")


class UploadForm:
    """The multipart/form-data body of one upload, in uv's field order.

    ``:action``, ``sha256_digest``, ``blake2_256_digest``, ``protocol_version``, then the
    metadata fields, then ``content`` (the file, under its own name), then ``attestations``
    (all of the file's attestations as one JSON array) when there are any.
    """

    def __init__(
        self, distribution: Distribution, *, with_attestations: bool, boundary: str | None = None
    ) -> None:
        self.boundary = boundary or uuid.uuid4().hex
        self.path: Path = distribution.path
        self.size = distribution.size
        fields = [
            (":action", "file_upload"),
            ("sha256_digest", distribution.sha256),
            ("blake2_256_digest", distribution.blake2_256),
            ("protocol_version", "1"),
            *distribution.metadata_fields,
        ]
        self._head = b"".join(self._field(name, value) for name, value in fields)
        self._head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="content"; '
            f'filename="{_quoted(distribution.filename)}"\r\n'
            f"Content-Type: {OCTET_STREAM}\r\n\r\n"
        ).encode()
        tail = b"\r\n"
        if with_attestations and distribution.attestations:
            tail += self._field("attestations", json.dumps(list(distribution.attestations)))
        self._tail = tail + f"--{self.boundary}--\r\n".encode()

    def _field(self, name: str, value: str) -> bytes:
        return (
            (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
            ).encode()
            + value.encode("utf-8")
            + b"\r\n"
        )

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header naming the boundary."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        """The body's length in bytes (sent as ``Content-Length``)."""
        return len(self._head) + self.size + len(self._tail)

    def chunks(self, sent: Callable[[int], None] = lambda _n: None) -> Iterator[bytes]:
        """The body, chunk by chunk; ``sent`` hears how many bytes of the file each carried."""
        yield self._head
        with self.path.open("rb") as stream:
            while chunk := stream.read(_CHUNK_SIZE):
                yield chunk
                sent(len(chunk))
        yield self._tail

    def encode(self) -> bytes:
        """The whole body at once (for tests and small files)."""
        return b"".join(self.chunks())


def _quoted(value: str) -> str:
    """A ``Content-Disposition`` parameter value: quotes and line breaks escaped (WHATWG)."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried.

    ``attempts`` counts every try (so 4 means 3 retries); the delay doubles from
    ``first_delay`` up to ``max_delay``, and a ``Retry-After`` of seconds is honoured up to
    ``max_delay`` too.
    """

    attempts: int = 4
    first_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, answer: Answer | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        wait: float = min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay)
        retry_after = str(answer.headers.get("retry-after", "")) if answer is not None else ""
        if retry_after.strip().isdigit():
            wait = max(wait, min(float(retry_after), self.max_delay))
        return wait


def upload_with_retries(
    client: HttpClient,
    url: str,
    form: UploadForm,
    *,
    authorization: str,
    policy: RetryPolicy,
    on_attempt: Callable[[int], None] = lambda _n: None,
    on_sent: Callable[[int], None] = lambda _n: None,
    on_retry: Callable[[str, float], None] = lambda _why, _delay: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """POST ``form`` to ``url`` until a non-transient answer or ``policy.attempts`` tries.

    Returns the last answer (which may still be a 5xx/429 when every try failed); raises
    :class:`ConnectionFailed` when the last try got no answer at all.
    """
    headers = {
        "Authorization": authorization,
        "Content-Type": form.content_type,
        "Content-Length": str(form.length),
        "Accept": "application/json, text/plain;q=0.9, */*;q=0.1",
    }
    attempt = 0
    while True:
        attempt += 1
        on_attempt(attempt)
        answer: Answer | None = None
        try:
            answer = client.request("POST", url, body=form.chunks(on_sent), headers=headers)
        except ConnectionFailed as exc:
            if attempt >= policy.attempts:
                raise
            why = exc.message
        else:
            if not answer.transient or attempt >= policy.attempts:
                return answer
            why = answer.explanation()
        wait = policy.delay(attempt, answer)
        on_retry(why, wait)
        sleep(wait)


def __dir__() -> list[str]:
    return __all__
