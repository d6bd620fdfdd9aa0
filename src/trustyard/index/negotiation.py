"""Content negotiation as PyPI does it: the simple API (PEP 691; warehouse api/simple.py) and
the Integrity API (PEP 740; warehouse api/integrity.py).

PyPI asks WebOb for ``acceptable_offers`` in a fixed order and takes the first. For the simple
API, with no Accept header or when nothing matches, the answer is ``text/html`` (never 406); the
Integrity API answers 406 when nothing matches.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from trustyard.dists.mediatypes import SIMPLE_V1_HTML, SIMPLE_V1_JSON, TEXT_HTML

OFFERS = (TEXT_HTML, SIMPLE_V1_HTML, SIMPLE_V1_JSON)


def _parse_accept(header: str) -> list[tuple[str, str, float]]:
    """Media ranges of an Accept header as (type, subtype, q); malformed ranges are skipped."""
    ranges: list[tuple[str, str, float]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if "/" not in media:
            continue
        main, _, sub = media.partition("/")
        if not main or not sub:
            continue
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:
                    q = -1.0
        if q >= 0.0:
            ranges.append((main, sub, q))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, str, float]]) -> float:
    """The q of the most specific range matching ``offer`` (RFC 9110 section 12.5.1)."""
    main, _, sub = offer.partition("/")
    best: tuple[int, float] | None = None
    for r_main, r_sub, q in ranges:
        if r_main == main and r_sub == sub:
            specificity = 2
        elif r_main == main and r_sub == "*":
            specificity = 1
        elif r_main == "*" and r_sub == "*":
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, q)
    return best[1] if best else 0.0


@functools.lru_cache(maxsize=256)  # clients send a handful of distinct headers
def choose_simple_format(accept: str | None) -> str:
    """The media type to answer a simple-API request with."""
    if not accept:
        return TEXT_HTML
    ranges = _parse_accept(accept)
    scored = [(_quality(offer, ranges), -i, offer) for i, offer in enumerate(OFFERS)]
    acceptable = [item for item in scored if item[0] > 0.0]
    if not acceptable:
        return TEXT_HTML
    return max(acceptable)[2]


def acceptable_offers(accept: str | None, offers: Sequence[str]) -> list[str]:
    """The ``offers`` an Accept header allows, best first, ties in the server's order.

    WebOb's ``acceptable_offers``, as PyPI's Integrity API uses it: no Accept header, or one
    with no well-formed media range, allows every offer; ``q=0`` excludes one.
    """
    ranges = _parse_accept(accept or "")
    if not ranges:
        return list(offers)
    scored = [(_quality(offer, ranges), -i, offer) for i, offer in enumerate(offers)]
    return [offer for q, _, offer in sorted(scored, reverse=True) if q > 0.0]
