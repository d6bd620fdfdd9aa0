"""Streaming parser for the legacy upload API's ``multipart/form-data`` body.

The body is what twine and ``uv publish`` send to ``POST /legacy/`` (warehouse forklift). The
``content`` part is written straight to a spool file while it is hashed, so memory does not grow
with the file; every other part is a small text field, capped in size and number.

Parsing blocks, so it runs in a worker thread, fed the body in batches of about
:data:`SPOOL_BATCH` bytes: one thread hop per batch, not per chunk the server receives. The
file's bytes are handed on as views of the received chunks (never copied) to a
:class:`~trustyard.index.storage.spool.SpoolStream`, whose lanes write and hash them on threads
of their own; its bounded queues keep at most a few batches in memory. A zip (wheel, ``.zip``
sdist) is also followed member by member as it arrives (:mod:`trustyard.dists.zipstream`), so
that its check after the stream need not read it all again.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from trustyard.dists.digests import StreamingDigests
from trustyard.dists.zipstream import FollowedMember, ZipFollower
from trustyard.errors import Error, InvalidInput, TooLarge
from trustyard.index.storage.spool import SpoolStream

MAX_FIELD_BYTES = 8 * 1024 * 1024  # one text field (a long description fits)
MAX_FIELDS_BYTES = 16 * 1024 * 1024  # all text fields together
MAX_PARTS = 1000
SPOOL_BATCH = 1024 * 1024  # body bytes parsed and spooled per hop to a worker thread
_ZIP_SUFFIXES = (".whl", ".zip")  # files followed as zips while they arrive


class MalformedForm(InvalidInput):
    """The body is not a well-formed multipart/form-data upload."""


class SpoolUnwritable(Error):
    """The spool's disk refused the upload: full (507, RFC 4918 11.5), read-only or failing (503).

    Nothing was stored; the client may retry once the operator has fixed the disk.
    """

    def __init__(self, exc: OSError) -> None:
        full = exc.errno in {errno.ENOSPC, errno.EDQUOT}
        reason = (
            "no space left on the index's disk"
            if full
            else "the index's disk is read-only"
            if exc.errno == errno.EROFS
            else f"the index cannot write it ({exc.strerror})"
        )
        super().__init__(f"Upload failed: {reason}. Try again later.")
        self.status = 507 if full else 503


@dataclass
class SpooledFile:
    """The uploaded distribution, on disk in the spool, with its digests, and for a zip what
    the stream saw of its members (for :func:`~trustyard.dists.archives.inspect_archive`)."""

    filename: str
    content_type: str
    path: Path
    digests: StreamingDigests
    followed_zip: Mapping[int, FollowedMember] | None = None

    def discard(self) -> None:
        """Remove the spool file."""
        self.path.unlink(missing_ok=True)


@dataclass
class UploadForm:
    """The parsed form: text fields (repeatable) and at most one file."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    file: SpooledFile | None = None

    def first(self, name: str) -> str | None:
        """The first value of a field, or None."""
        values = self.fields.get(name)
        return values[0] if values else None

    def discard(self) -> None:
        """Release the spool file, if any."""
        if self.file is not None:
            self.file.discard()


def form_boundary(content_type: str | None) -> bytes:
    """The multipart boundary from the request's Content-Type, or a clear error."""
    media, params = parse_options_header(content_type or "")
    if media != b"multipart/form-data":
        raise MalformedForm(
            "Invalid request: uploads must be sent as multipart/form-data,"
            f" not {media.decode('latin-1') or 'no Content-Type'}."
        )
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise MalformedForm("Invalid request: the multipart/form-data boundary is missing.")
    return boundary


class _FormBuilder:
    """Callbacks for python-multipart that assemble an :class:`UploadForm`."""

    def __init__(
        self,
        boundary: bytes,
        open_spool: Callable[[], tuple[int, Path]],
        max_file_size: int,
        limit_message: Callable[[str], str],
        durable_spool: bool,
        *,
        follow_zip: Callable[[], ZipFollower] | None,
    ) -> None:
        self._durable_spool = durable_spool
        self._follow_zip = follow_zip
        self._follower: ZipFollower | None = None
        self.form = UploadForm()
        self._open_spool = open_spool
        self._max_file_size = max_file_size
        self._limit_message = limit_message
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._buffer = bytearray()
        self._stream: SpoolStream | None = None
        self._pending: list[bytes | memoryview] = []  # the file's bytes since the last hand-on
        self._pending_bytes = 0
        self._file_name = ""
        self._file_type = ""
        self._file_seen = False
        self._field_bytes = 0
        self._parts = 0
        self.ended = False
        self.in_part = False
        callbacks = {
            name: getattr(self, name)
            for name in (
                "on_part_begin",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
                "on_part_data",
                "on_part_end",
                "on_end",
            )
        }
        self.parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    # python-multipart callback protocol ------------------------------------------------------
    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedForm(f"Invalid request: more than {MAX_PARTS} form fields.")
        self._headers = {}
        self._name = None
        self._buffer = bytearray()
        self.in_part = True

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise MalformedForm("Invalid request: a form part has no Content-Disposition name.")
        self._name = params[b"name"].decode("utf-8", "replace")
        if b"filename" in params:
            if self._name != "content":
                raise MalformedForm(f"Invalid request: unexpected file in field {self._name!r}.")
            if self._file_seen:
                raise MalformedForm("Invalid request: more than one file was uploaded.")
            self._file_seen = True
            self._file_name = params[b"filename"].decode("utf-8", "replace")
            # A part without Content-Type is text/plain (RFC 7578 4.4; cgi.FieldStorage,
            # behind PyPI, says the same), and that is what uv sends.
            self._file_type = self._headers.get(b"content-type", b"text/plain").decode("latin-1")
            followers = []
            if self._follow_zip is not None and self._file_name.lower().endswith(_ZIP_SUFFIXES):
                self._follower = self._follow_zip()
                followers.append(("zip", self._follower.feed))
            self._stream = SpoolStream(
                *self._open_spool(), durable=self._durable_spool, followers=followers
            )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._stream is not None:
            self._pending_bytes += end - start
            if self._stream.size + self._pending_bytes > self._max_file_size:
                raise TooLarge(self._limit_message(self.form.first("name") or ""))
            # The parser hands out slices of what it was fed (bytes from the server, immutable)
            # or of its own boundary bytes: a lane may read them later, uncopied.
            self._pending.append(memoryview(data)[start:end])
            return
        chunk = data[start:end]
        self._field_bytes += len(chunk)
        if len(self._buffer) + len(chunk) > MAX_FIELD_BYTES or self._field_bytes > MAX_FIELDS_BYTES:
            raise MalformedForm(f"Invalid request: form field {self._name!r} is too large.")
        self._buffer += chunk

    def on_part_end(self) -> None:
        self.in_part = False
        if self._stream is not None:
            self.hand_on()
            stream, self._stream = self._stream, None
            digests = stream.finish()
            self.form.file = SpooledFile(
                filename=self._file_name,
                content_type=self._file_type,
                path=stream.path,
                digests=digests,
                followed_zip=self._follower.members if self._follower is not None else None,
            )
            return
        if self._name is None:
            return
        try:
            value = self._buffer.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedForm(
                f"Invalid request: form field {self._name!r} is not UTF-8."
            ) from exc
        self.form.fields.setdefault(self._name, []).append(value)

    def on_end(self) -> None:
        self.ended = True

    def hand_on(self) -> None:
        """Pass the file's bytes parsed since the last call to the spool's lanes."""
        if self._stream is not None and self._pending:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
            self._stream.write(pending)

    def write(self, chunks: list[bytes]) -> None:
        """Parse ``chunks`` (a worker thread's job), then hand on the file's bytes in them."""
        for chunk in chunks:
            self.parser.write(chunk)
        self.hand_on()

    def close(self) -> None:
        """Stop and remove the spool file if parsing stopped in the middle of it."""
        self._pending, self._pending_bytes = [], 0
        if self._stream is not None:
            self._stream.abort()
            self._stream = None


async def read_upload_form(
    body: AsyncIterator[bytes],
    content_type: str | None,
    *,
    open_spool: Callable[[], tuple[int, Path]],
    max_file_size: int,
    limit_message: Callable[[str], str],
    durable_spool: bool = True,
    follow_zip: Callable[[], ZipFollower] | None = None,
) -> UploadForm:
    """Parse an upload body chunk by chunk; on any error, nothing is left in the spool.

    ``limit_message`` gives the refusal of a file over ``max_file_size`` from the form's
    project name (empty if not seen yet), whose own limit the message states.
    ``durable_spool``: the spool file must be on disk when the form is read (it is renamed
    into the store), not merely copied from (S3). ``follow_zip`` makes the follower of a zip
    file's members (its inflation budget the archive check's); None reads none as it arrives.
    """
    boundary = form_boundary(content_type)
    builder = _FormBuilder(
        boundary, open_spool, max_file_size, limit_message, durable_spool, follow_zip=follow_zip
    )
    batch: list[bytes] = []
    batched = 0
    try:
        async for chunk in body:
            batch.append(chunk)
            batched += len(chunk)
            if batched >= SPOOL_BATCH:
                await run_in_threadpool(builder.write, batch)
                batch, batched = [], 0
        if batched:
            await run_in_threadpool(builder.write, batch)
        await run_in_threadpool(builder.parser.finalize)
        if not builder.ended or builder.in_part:
            raise MalformedForm("Invalid request: the multipart body is truncated.")
    except FormParserError as exc:
        builder.close()
        builder.form.discard()
        raise MalformedForm(f"Invalid request: malformed multipart body ({exc}).") from exc
    except OSError as exc:
        builder.close()
        builder.form.discard()
        raise SpoolUnwritable(exc) from exc
    except BaseException:
        builder.close()
        builder.form.discard()
        raise
    return builder.form
