"""Token dates a verifier must survive (issue 14, finding 9): ``exp = 1e20`` gave a 500 from the
index; now every date must be a NumericDate (RFC 7519 section 2) and ``exp - iat`` at most
:data:`MAX_LIFETIME`, which the lifetimes of real CI tokens pass."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trustyard.oidc.devkeys import SigningKey, generate_key_file, sign
from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.verify import MAX_LIFETIME, verify_token

ISSUER = "https://issuer.example"
AUDIENCE = "trustyard-lifetime"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SigningKey]:
    path = tmp_path_factory.mktemp("key") / "rsa.pem"
    return path, generate_key_file(path, "RS256")


@dataclass(frozen=True)
class Later:
    """A date ``seconds`` after the test's now (parameters must not depend on the clock)."""

    seconds: int
    text: bool = False

    def at(self, now: int) -> int | str:
        return str(now + self.seconds) if self.text else now + self.seconds


def _verify(key: tuple[Path, SigningKey], **dates: Any) -> dict[str, Any]:
    path, signing = key
    now = int(time.time())
    dates = {k: v.at(now) if isinstance(v, Later) else v for k, v in dates.items()}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300, **dates}
    token = sign({k: v for k, v in claims.items() if v is not None}, path)
    return verify_token(
        token, issuer=ISSUER, audience=AUDIENCE, keys=lambda _i, _k: signing.public_jwk()
    )


@pytest.mark.parametrize(
    ("lifetime", "who"),
    [
        (300, "GitHub Actions (minutes)"),
        (3600, "Google (one hour)"),
        (3600 + 300, "GitLab, default 1 h job timeout + 5 min"),
        (3 * 3600 + 300, "GitLab.com's longest shared-runner job"),
        (MAX_LIFETIME, "the cap itself"),
    ],
)
def test_real_ci_lifetimes_pass(key: tuple[Path, SigningKey], lifetime: int, who: str) -> None:
    now = int(time.time())
    assert _verify(key, iat=now, nbf=now, exp=now + lifetime)["exp"] == now + lifetime, who


@pytest.mark.parametrize(
    "dates",
    [
        {"exp": 1e20},  # the reported 500 (OverflowError when the jti's expiry was stored)
        {"exp": 10**30},
        {"exp": 2**63},
        {"exp": float("inf")},  # serialised as Infinity, which PyJWT's json.loads accepts
        {"exp": Later(MAX_LIFETIME + 1)},
        {"iat": 0},  # exp - iat: 56 years
        {"iat": -(10**20)},
        {"iat": float("-inf")},
        {"iat": "1700000000"},  # PyJWT converts strings with int()
        {"iat": True},
        {"exp": Later(60, text=True)},
        {"nbf": float("-inf")},
        {"nbf": "0"},
        {"nbf": [0]},
        {"nbf": 10**400},
    ],
    ids=repr,
)
def test_absurd_dates_are_refused_as_invalid_tokens(
    key: tuple[Path, SigningKey], dates: dict[str, Any]
) -> None:
    with pytest.raises(TokenRejected) as refused:
        _verify(key, **dates)
    assert refused.value.code == "invalid-token"
    assert refused.value.status == 422
