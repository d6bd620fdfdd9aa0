"""Following a zip archive's local file headers while its bytes arrive (APPNOTE.TXT 4.3.7, 4.4.4,
4.5.3), so that every member's CRC-32 is known when the upload ends, not after a second read.

An upload's zip is checked in full once it is complete (:func:`trustyard.dists.archives.
inspect_archive`): the central directory, the framing, and every member decompressed and its
CRC-32 compared. Reading a 1 GiB wheel again for that last part costs ~0.6 s after the stream,
on one thread. :class:`ZipFollower` does the reading as the bytes stream in, as one more lane
beside the digests: it walks the local headers from offset 0, checksums each member's data
(inflating deflated members), and keeps what it saw of each member it could follow *cleanly*.

It proves nothing alone and refuses nothing: the complete archive's central directory still
decides. :func:`~trustyard.dists.archives.inspect_archive` skips the re-read of a member only
where a followed member at the same offset has the same method and sizes and a CRC-32 equal to
the central directory's, i.e. where the re-read is known to succeed; anything the stream could
not follow (data descriptors, unknown methods, a deflate stream that ends early or late, more
output than declared, a ZIP64 field missing) is read again the present way, with its errors.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from trustyard.dists._zipframing import (
    FLAG_DATA_DESCRIPTOR,
    LOCAL_HEADER,
    LOCAL_SIGNATURE,
    ZIP64_SENTINEL,
    zip64_sizes,
)

__all__ = ["FollowedMember", "ZipFollower"]

_STORED = 0  # APPNOTE 4.4.5
_DEFLATED = 8
# Encrypted (bit 0), compressed patched data (bit 5), strong encryption (bit 6): never followed;
# the full check refuses them with its own message.
_UNFOLLOWED_FLAGS = 0x01 | 0x20 | 0x40
# Compressed bytes per inflate call: bounds one call's output to ~1,032 x this (deflate's
# largest ratio), so memory stays flat whatever a member claims.
_INFLATE_STEP = 16 * 1024
_MAX_FOLLOWED = 250_000  # members remembered; archives.MAX_MEMBERS refuses more anyway


class FollowedMember(NamedTuple):
    """A member whose data the stream read to its clean end: method and sizes from its local
    header, ``crc`` the CRC-32 of its uncompressed bytes (exactly ``file_size`` of them)."""

    method: int
    compress_size: int
    file_size: int
    crc: int


class ZipFollower:
    """Walks a zip's local records as its bytes are fed, in order, from offset 0.

    :meth:`feed` takes any buffers (it only reads them); :attr:`members` maps each cleanly
    followed member's local header offset to what was seen. The work it does is bounded like
    the full check's: inflated output past ``max(ratio_threshold, max_ratio x bytes fed)``
    stops the walk (the full check then decides), and no member yields more than it declares.
    """

    def __init__(self, *, max_ratio: int = 50, ratio_threshold: int = 64 * 1024 * 1024) -> None:
        self._max_ratio = max_ratio
        self._ratio_threshold = ratio_threshold
        self._members: dict[int, FollowedMember] = {}
        self._fed = 0  # bytes of the file seen so far
        self._inflated = 0  # output of every inflated member so far
        self._done = False
        # The record being read: its header bytes, then its data.
        self._offset = 0
        self._header = bytearray()
        self._header_size = LOCAL_HEADER.size
        self._in_data = False
        self._method = 0
        self._compress_size = 0
        self._file_size = 0
        self._left = 0  # compressed bytes of the member still to come
        self._clean = False
        self._crc = 0
        self._produced = 0
        self._inflater: zlib._Decompress | None = None

    @property
    def members(self) -> Mapping[int, FollowedMember]:
        """The members followed to a clean end, by local header offset."""
        return self._members

    def feed(self, batch: Iterable[bytes | memoryview]) -> None:
        """Read the next buffers of the file."""
        for buffer in batch:
            view = memoryview(buffer)
            self._fed += view.nbytes
            while view.nbytes and not self._done:
                view = self._data(view) if self._in_data else self._header_bytes(view)

    def _header_bytes(self, view: memoryview) -> memoryview:
        """Collect the local header (30 bytes, then its name and extra field); start the
        member once it is whole."""
        take = min(self._header_size - len(self._header), view.nbytes)
        self._header += view[:take]
        if len(self._header) == LOCAL_HEADER.size == self._header_size:
            self._fixed_header()
        if not self._done and len(self._header) == self._header_size:
            self._start_member()
        return view[take:]

    def _fixed_header(self) -> None:
        signature, flags, method, compressed, uncompressed, name_size, extra_size = (
            LOCAL_HEADER.unpack(self._header)
        )
        # Anything but a local record (the central directory, or garbage) ends the walk; so
        # does a data descriptor: the sizes come after the data, unknown here.
        if signature != LOCAL_SIGNATURE or flags & FLAG_DATA_DESCRIPTOR:
            self._done = True
            return
        self._clean = method in (_STORED, _DEFLATED) and not flags & _UNFOLLOWED_FLAGS
        self._method, self._compress_size, self._file_size = method, compressed, uncompressed
        self._header_size += name_size + extra_size

    def _start_member(self) -> None:
        if ZIP64_SENTINEL in (self._compress_size, self._file_size):
            extra = bytes(self._header[self._header_size - self._extra_size() :])
            sizes = zip64_sizes(extra, uncompressed=self._file_size, compressed=self._compress_size)
            if sizes is None:  # the record's length is unknown: nothing after it can be found
                self._done = True
                return
            self._file_size, self._compress_size = sizes
        self._left = self._compress_size
        self._crc = self._produced = 0
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS) if self._method == _DEFLATED else None
        self._in_data = True
        if self._left == 0:
            self._end_member()

    def _extra_size(self) -> int:
        return int.from_bytes(self._header[28:30], "little")

    def _data(self, view: memoryview) -> memoryview:
        """Checksum (or inflate and checksum) the member's next compressed bytes."""
        take = min(self._left, view.nbytes)
        if self._clean:
            if self._inflater is None:
                self._crc = zlib.crc32(view[:take], self._crc)
                self._produced += take
            else:
                self._inflate(self._inflater, view[:take])
        self._left -= take
        if self._left == 0:
            self._end_member()
        return view[take:]

    def _inflate(self, inflater: zlib._Decompress, data: memoryview) -> None:
        for start in range(0, data.nbytes, _INFLATE_STEP):
            if inflater.eof:  # compressed bytes after the deflate stream's end
                self._clean = False
                return
            try:
                out = inflater.decompress(data[start : start + _INFLATE_STEP])
            except zlib.error:  # the full check reports it, with its own message
                self._clean = False
                return
            self._produced += len(out)
            self._inflated += len(out)
            if self._produced > self._file_size:  # more than the member declares
                self._clean = False
                return
            if self._inflated > max(self._ratio_threshold, self._max_ratio * self._fed):
                self._clean = False
                self._done = True  # the full check's budget decides such an archive
                return
            self._crc = zlib.crc32(out, self._crc)

    def _end_member(self) -> None:
        """Keep the member if it was read to a clean end; then expect the next header."""
        clean = self._clean and self._produced == self._file_size
        if self._inflater is not None:
            inflater = self._inflater
            clean = clean and inflater.eof and not inflater.unused_data
        elif self._compress_size != self._file_size:
            clean = False
        if clean and len(self._members) < _MAX_FOLLOWED:
            self._members[self._offset] = FollowedMember(
                self._method, self._compress_size, self._file_size, self._crc
            )
        self._offset += self._header_size + self._compress_size
        self._header = bytearray()
        self._header_size = LOCAL_HEADER.size
        self._in_data = False
        self._inflater = None
