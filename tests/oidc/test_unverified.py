"""The one-pass reader of a CI token (``verify.parse_unverified``, issue 19) against PyJWT's
own unverified reading, which it replaced: the same tokens are malformed, the same header and
claims come out of the others (so the refusal codes of the exchange did not move)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.verify import parse_unverified

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
headers = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "crit", "b64", "x"]), json_values, max_size=4
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def by_pyjwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims as PyJWT reads them unverified (None: it refuses the token)."""
    try:
        token.encode()
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.InvalidTokenError, UnicodeEncodeError):
        return None
    return header, claims


def by_us(token: str) -> tuple[Any, Any] | None:
    """Ours; a refusal with another code than PyJWT's malformed one would not compare equal."""
    try:
        parsed = parse_unverified(token)
    except TokenRejected as exc:
        return None if exc.code == "invalid-payload" else ("refused as", exc.code)
    return parsed.header, parsed.claims


@given(
    header=st.one_of(headers, json_values),
    payload=st.one_of(st.dictionaries(st.text(max_size=6), json_values), json_values),
    signature=st.binary(max_size=8),
)
def test_same_reading_of_any_json_segments(header: Any, payload: Any, signature: bytes) -> None:
    token = ".".join(
        (b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature))
    )
    assert by_us(token) == by_pyjwt(token)


@given(
    parts=st.lists(st.text(st.sampled_from(f"{B64URL}=+/!"), max_size=12), min_size=1, max_size=4)
)
def test_same_reading_of_any_segments(parts: list[str]) -> None:
    """Padding, foreign characters, non-canonical encodings, wrong segment counts."""
    assert by_us(".".join(parts)) == by_pyjwt(".".join(parts))


@given(data=st.data())
def test_same_reading_of_a_real_token_with_any_segment_mangled(data: st.DataObject) -> None:
    header = {"alg": "RS256", "kid": "k", "typ": "JWT"}
    claims = {"iss": "https://issuer.example", "sub": "repo:a/b", "aud": "x", "exp": 1}
    good = [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(b"sig")]
    index = data.draw(st.integers(0, 2))
    mangled = data.draw(st.text(st.sampled_from(f"{B64URL}="), max_size=20))
    token = ".".join(mangled if i == index else part for i, part in enumerate(good))
    assert by_us(token) == by_pyjwt(token)


def test_issuer_must_be_a_non_empty_string() -> None:
    for iss in ("", 5, None):
        token = f"{b64(b'{}')}.{b64(json.dumps({'iss': iss}).encode())}.{b64(b's')}"
        with pytest.raises(TokenRejected) as refused:
            _ = parse_unverified(token).issuer
        assert refused.value.code == "invalid-payload"
