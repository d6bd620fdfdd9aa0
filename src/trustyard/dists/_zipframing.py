"""ZIP record framing: local headers, central directory and end records must agree (APPNOTE.TXT).
Copies the intent of warehouse ``utils/zipfiles.py``: no parser differentials between readers.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

LOCAL_SIGNATURE = b"PK\x03\x04"
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD64_SIGNATURE = b"PK\x06\x06"
_EOCD64_LOCATOR_SIGNATURE = b"PK\x06\x07"
LOCAL_HEADER = struct.Struct("<4s2xHH8xLLHH")  # APPNOTE 4.3.7, 30 bytes
_CENTRAL_HEADER_SIZE = 46  # APPNOTE 4.3.12, before name, extra and comment
_EOCD_SIZE = 22  # APPNOTE 4.3.16, before the comment
_EOCD64_SIZE = 56  # APPNOTE 4.3.14, without extensible data
_EOCD64_LOCATOR_SIZE = 20  # APPNOTE 4.3.15
ZIP64_SENTINEL = 0xFFFFFFFF
_ZIP64_EXTRA_ID = 0x0001
FLAG_DATA_DESCRIPTOR = 0x08
_FLAG_UTF8 = 0x800


def zip_framing_problem(path: Path, infos: Sequence[zipfile.ZipInfo], start_dir: int) -> str | None:
    """Describe the first framing fault of the zip file at ``path``, or return None.

    A reader that walks the local headers from the start must see exactly what the central
    directory lists: records that start at offset 0, follow each other with no gap or overlap,
    carry the same names, methods and sizes, use no data descriptors, and are followed by the
    central directory and the end records, with nothing after them.
    """
    with path.open("rb") as stream:
        expected_offset = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != expected_offset:
                return "Gap or overlap between file records"
            stream.seek(info.header_offset)
            problem, record_size = _local_record_problem(stream.read, info)
            if problem:
                return problem
            expected_offset += record_size
        if expected_offset != start_dir:
            return "Data between the last file record and the central directory"
        if any(info.comment for info in infos):
            return "Comment in central directory"
        directory_size = sum(
            _CENTRAL_HEADER_SIZE + len(_raw_name(info)) + len(info.extra) for info in infos
        )
        stream.seek(start_dir + directory_size)
        # The largest legal tail: ZIP64 end record and locator, end record, 64 KiB comment.
        tail = stream.read(_EOCD64_SIZE + _EOCD64_LOCATOR_SIZE + _EOCD_SIZE + 0xFFFF + 1)
    return _tail_problem(tail)


def _local_record_problem(
    read: Callable[[int], bytes], info: zipfile.ZipInfo
) -> tuple[str | None, int]:
    """Check one local file header against its central-directory entry.

    Returns a problem (or None) and the size of the whole record (header, name, extra, data).
    """
    header = read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size:
        return "Malformed zip file", 0
    signature, flags, method, compressed, uncompressed, name_size, extra_size = LOCAL_HEADER.unpack(
        header
    )
    if signature != LOCAL_SIGNATURE:
        return "Malformed local file header", 0
    if flags & FLAG_DATA_DESCRIPTOR:
        return "ZIP contains a data descriptor", 0
    raw_name, extra = read(name_size), read(extra_size)
    if len(raw_name) != name_size or len(extra) != extra_size:
        return "Malformed zip file", 0
    try:
        name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437")
    except UnicodeDecodeError:
        return "Filename not valid UTF-8", 0
    if name != info.orig_filename:
        return "Local file name differs from the central directory", 0
    if method != info.compress_type:
        return "Local compression method differs from the central directory", 0
    if ZIP64_SENTINEL in (compressed, uncompressed):
        sizes = zip64_sizes(extra, uncompressed=uncompressed, compressed=compressed)
        if sizes is None:
            return "Malformed zip file", 0
        uncompressed, compressed = sizes
    if (compressed, uncompressed) != (info.compress_size, info.file_size):
        return "Mis-matched data size", 0
    return None, LOCAL_HEADER.size + name_size + extra_size + compressed


def zip64_sizes(extra: bytes, *, uncompressed: int, compressed: int) -> tuple[int, int] | None:
    """Replace sentinel sizes by the ZIP64 extra field's values (APPNOTE 4.5.3)."""
    while len(extra) >= 4:
        field_id, size = struct.unpack("<HH", extra[:4])
        data, extra = extra[4 : 4 + size], extra[4 + size :]
        if field_id != _ZIP64_EXTRA_ID:
            continue
        values = list(struct.unpack(f"<{len(data) // 8}Q", data[: len(data) // 8 * 8]))
        if uncompressed == ZIP64_SENTINEL:
            if not values:
                return None
            uncompressed = values.pop(0)
        if compressed == ZIP64_SENTINEL:
            if not values:
                return None
            compressed = values.pop(0)
        return uncompressed, compressed
    return None


def _tail_problem(tail: bytes) -> str | None:
    """The bytes after the central directory: [ZIP64 end + locator] end record, then EOF."""
    if tail.startswith(_EOCD64_SIGNATURE):
        (record_size,) = struct.unpack("<Q", tail[4:12])
        if record_size != _EOCD64_SIZE - 12:
            return "ZIP64 extensible data not allowed"
        tail = tail[_EOCD64_SIZE:]
        if not tail.startswith(_EOCD64_LOCATOR_SIGNATURE):
            return "Malformed zip file"
        tail = tail[_EOCD64_LOCATOR_SIZE:]
    if not tail.startswith(_EOCD_SIGNATURE) or len(tail) < _EOCD_SIZE:
        return "Malformed end of central directory record"
    (comment_size,) = struct.unpack("<H", tail[20:22])
    if len(tail) != _EOCD_SIZE + comment_size:
        return "Trailing data"
    return None


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name bytes as stored (zipfile decodes UTF-8 when flagged, CP437 otherwise)."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437")
