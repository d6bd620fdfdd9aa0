"""Following a zip's members as its bytes arrive (dists/zipstream.py), on real archives written
by :mod:`zipfile` and then damaged byte by byte; what it sees is compared with what zipfile reads
from the central directory. Spec: APPNOTE.TXT 4.3.7 (local header), 4.5.3 (ZIP64 extra).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator

import pytest

from trustyard.dists.zipstream import FollowedMember, ZipFollower

MiB = 1024 * 1024


def zip_bytes(members: dict[str, tuple[bytes, int]]) -> bytes:
    """A zip with each member (data, compression) in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (data, compression) in members.items():
            archive.writestr(name, data, compress_type=compression)
    return buffer.getvalue()


def central(data: bytes) -> dict[int, FollowedMember]:
    """What the central directory says of every member, keyed as the follower keys them."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            info.header_offset: FollowedMember(
                info.compress_type, info.compress_size, info.file_size, info.CRC
            )
            for info in archive.infolist()
        }


def pieces(data: bytes, size: int) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size]


def follow(data: bytes, piece: int = 64 * 1024, **limits: int) -> dict[int, FollowedMember]:
    follower = ZipFollower(**limits)
    chunks = list(pieces(data, piece))
    for start in range(0, len(chunks), 3):  # batches of three buffers, as the spool hands on
        follower.feed(chunks[start : start + 3])
    return dict(follower.members)


MIXED = {
    "pkg/__init__.py": (b"", zipfile.ZIP_DEFLATED),
    "pkg/text.py": (b"print('hello')\n" * 5000, zipfile.ZIP_DEFLATED),
    "pkg/blob.bin": (os.urandom(300_000), zipfile.ZIP_STORED),
    "pkg/empty.bin": (b"", zipfile.ZIP_STORED),
    "pkg/random-deflated.bin": (os.urandom(70_000), zipfile.ZIP_DEFLATED),
    "pkg-1.0.dist-info/METADATA": (b"Metadata-Version: 2.1\nName: pkg\n", zipfile.ZIP_DEFLATED),
}


@pytest.mark.parametrize("piece", [1, 7, 29, 30, 31, 4096, 65536, 10 * MiB])
def test_every_member_is_seen_as_the_central_directory_lists_it(piece: int) -> None:
    """However the bytes are cut (a header split anywhere, one byte at a time), every member,
    stored, deflated or empty, is followed with the central directory's method, sizes, CRC."""
    data = zip_bytes(MIXED)
    assert follow(data, piece) == central(data)


def test_zip64_local_sizes_are_read_from_the_extra_field() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("pkg/big.bin", "w", force_zip64=True) as member:
            member.write(os.urandom(100_000))
        archive.writestr("pkg/after.py", b"x = 1\n", compress_type=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    assert struct.unpack("<L", data[18:22]) == (0xFFFFFFFF,)  # sentinel in the local header
    assert follow(data) == central(data)


def test_a_damaged_member_is_seen_with_the_crc_of_what_arrived() -> None:
    """The follower judges nothing: it reports the CRC of the bytes it saw, which then differs
    from the central directory's, so the full check reads that member again."""
    data = bytearray(zip_bytes(MIXED))
    listed = central(bytes(data))
    blob_offset = next(o for o, m in listed.items() if m.file_size == 300_000)
    data[blob_offset + 30 + len("pkg/blob.bin") + 1000] ^= 0xFF
    seen = follow(bytes(data))
    assert seen.keys() == listed.keys()
    assert seen[blob_offset].crc != listed[blob_offset].crc
    assert {o: m for o, m in seen.items() if o != blob_offset} == {
        o: m for o, m in listed.items() if o != blob_offset
    }


def test_a_damaged_deflate_stream_is_not_followed() -> None:
    data = bytearray(zip_bytes(MIXED))
    listed = central(bytes(data))
    text_offset = next(o for o, m in listed.items() if m.file_size == 15 * 5000)
    data[text_offset + 30 + len("pkg/text.py") + 10] ^= 0x55
    seen = follow(bytes(data))
    assert text_offset not in seen or seen[text_offset] != listed[text_offset]
    assert len(seen) >= len(listed) - 1  # the others still are


def test_more_output_than_declared_is_not_followed() -> None:
    """A deflated member whose headers declare fewer bytes than it inflates to."""
    data = bytearray(zip_bytes({"pkg/zeros.bin": (bytes(MiB), zipfile.ZIP_DEFLATED)}))
    struct.pack_into("<L", data, 22, 1000)  # local uncompressed size
    assert follow(bytes(data)) == {}


def test_bytes_after_the_deflate_stream_end_are_not_followed() -> None:
    """The compressed size covers more than the deflate stream: its tail is unused data."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = raw.compress(b"abc" * 1000) + raw.flush() + b"garbage!"
    name = b"pkg/a.bin"
    header = struct.pack(
        "<4sHHHHHLLLHH",
        b"PK\x03\x04",
        20,
        0,
        zipfile.ZIP_DEFLATED,
        0,
        0x21,
        zlib.crc32(b"abc" * 1000),
        len(stream),
        3000,
        len(name),
        0,
    )
    assert follow(header + name + stream) == {}


def test_a_data_descriptor_ends_the_walk() -> None:
    """Written to a stream that cannot seek, zipfile puts the sizes after the data (flag 3):
    the follower cannot know where such a member ends and stops there."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    out = Unseekable()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("pkg/a.py", b"a = 1\n" * 100, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("pkg/b.py", b"b = 2\n" * 100, compress_type=zipfile.ZIP_DEFLATED)
    data = bytes(out.data)
    assert struct.unpack("<H", data[6:8])[0] & 0x08
    assert follow(data) == {}


def test_a_bomb_stops_the_walk_within_its_budget() -> None:
    """Inflated output past max(threshold, ratio x bytes fed) ends the walk: the follower does
    no more work than the full check would allow, which then decides."""
    data = zip_bytes(
        {
            "pkg/zeros.bin": (bytes(16 * MiB), zipfile.ZIP_DEFLATED),
            "pkg/after.py": (b"x = 1\n", zipfile.ZIP_DEFLATED),
        }
    )
    assert len(data) < 100_000
    assert follow(data, ratio_threshold=MiB) == {}
    assert len(follow(data, ratio_threshold=32 * MiB)) == 2


def test_not_a_zip_is_ignored() -> None:
    assert follow(b"\x1f\x8b" + os.urandom(10_000)) == {}
    assert follow(b"PK\x03\x04") == {}  # a header that never completes
