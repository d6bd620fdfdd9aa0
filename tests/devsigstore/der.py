"""The few DER encodings the development Fulcio needs (ITU-T X.690 section 10, definite lengths).
Fulcio writes its claim extensions 1.3.6.1.4.1.57264.1.8 and later as DER UTF8String.
"""

from __future__ import annotations


def _length(size: int) -> bytes:
    """X.690 8.1.3: short form below 128, else long form with the fewest length octets."""
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def utf8_string(text: str) -> bytes:
    """A DER UTF8String (universal tag 12)."""
    data = text.encode("utf-8")
    return b"\x0c" + _length(len(data)) + data


def octet_string(data: bytes) -> bytes:
    """A DER OCTET STRING (universal tag 4)."""
    return b"\x04" + _length(len(data)) + data
