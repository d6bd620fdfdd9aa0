"""Property tests (hypothesis) for OIDC token verification, JWKS documents and publisher checks.
Spec: RFC 7515/7519 (JWS, JWT), RFC 7517 (JWK), OpenID Connect Discovery 1.0; warehouse's rules.

Invariants, not examples: any text or key refuses with :class:`TokenRejected` only; a token
whose signature verifies has exactly the claims that were signed; changing any part of a
signed token makes it refused; any discovery or JWKS document gives keys or a
:class:`KeyFetchError`; every publisher kind's checks accept the claims their CI really sends
and answer anything else with :class:`PublisherMismatch`, never with a crash.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trustyard.oidc.devclaims import GitHubRun, GitLabJob
from trustyard.oidc.devkeys import SigningKey, generate_key_file, sign
from trustyard.oidc.errors import PublisherMismatch, TokenRejected
from trustyard.oidc.jwks import KeyFetchError, fetch_jwks
from trustyard.oidc.publishers import KINDS
from trustyard.oidc.verify import unverified_issuer, verify_token

ISSUER = "https://issuer.example"
AUDIENCE = "trustyard"
REGISTERED = ("iss", "aud", "iat", "exp", "nbf", "sub", "jti")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Text as a JSON body can carry it: every code point, lone surrogates ("\ud800") included, and
# often the characters of a compact JWS, so that the parsers get past their first checks.
any_text = st.text(
    st.sampled_from(f"{B64URL}.=+/ \x00\xe9\u2603\ud800\udcff")
    | st.characters(codec=None, exclude_categories=()),
    max_size=300,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
extra_claims = st.dictionaries(
    st.text(max_size=12).filter(lambda name: name not in REGISTERED), json_values, max_size=6
)


@dataclass(frozen=True)
class Key:
    """A real signing key on disk and its public JWK."""

    path: Path
    signing: SigningKey

    def lookup(self, issuer: str, kid: str) -> dict[str, Any] | None:
        """The caller's JWKS view: this key, for its issuer and kid only."""
        if issuer == ISSUER and kid == self.signing.kid:
            return self.signing.public_jwk()
        return None


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def key(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Key:
    path = tmp_path_factory.mktemp("keys") / f"{request.param}.pem"
    return Key(path=path, signing=generate_key_file(path, request.param))


def registered_claims(now: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    return {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}


def signed_by(key: Key, claims: Mapping[str, Any]) -> str:
    """A token as an issuer makes it (PyJWT, the key already loaded: fast enough for hypothesis)."""
    return jwt.encode(
        dict(claims),
        key.signing.private,
        algorithm=key.signing.algorithm,
        headers={"kid": key.signing.kid},
    )


def forged_by(key: Key, claims: Any, headers: Mapping[str, Any] | None = None) -> str:
    """Like :func:`trustyard.oidc.devkeys.sign` (any header, any claims; ``None`` removes a
    header), with the key already loaded: loading an RSA key checks it, which takes long."""
    header: dict[str, Any] = {"alg": key.signing.algorithm, "typ": "JWT", "kid": key.signing.kid}
    for name, value in (headers or {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    signing_input = f"{b64_json(header)}.{b64_json(claims)}"
    algorithm = jwt.get_algorithm_by_name(key.signing.algorithm)
    signature = algorithm.sign(signing_input.encode(), key.signing.private)
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def verify(token: str, key: Key) -> dict[str, Any]:
    return dict(verify_token(token, issuer=ISSUER, audience=AUDIENCE, keys=key.lookup))


def b64_json(value: Any) -> str:
    compact = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(compact).rstrip(b"=").decode()


def segments(token: str) -> list[bytes]:
    """The decoded bytes of a compact JWS's segments (b64url without padding, leniently)."""
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


def test_forged_by_forges_as_the_dev_issuer_signs(key: Key) -> None:
    claims, headers = registered_claims(), {"typ": None, "jku": "https://elsewhere.example"}
    ours, theirs = forged_by(key, claims, headers), sign(claims, key.path, headers=headers)
    assert ours.rpartition(".")[0] == theirs.rpartition(".")[0]
    assert key.signing.algorithm != "RS256" or ours == theirs  # PKCS#1 v1.5 is deterministic


# -- any input: only our error ----------------------------------------------------------------


@given(token=any_text)
def test_unverified_issuer_of_any_text(token: str) -> None:
    try:
        issuer: str | None = unverified_issuer(token)
    except TokenRejected as exc:
        issuer, code = None, exc.code
    if issuer is None:
        assert code == "invalid-payload"
    else:
        assert isinstance(issuer, str)
        assert issuer


@given(token=any_text)
def test_verify_any_text_is_refused(token: str, key: Key) -> None:
    with pytest.raises(TokenRejected):
        verify(token, key)


@given(
    header=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    payload=st.one_of(json_values, extra_claims),
)
def test_any_header_and_payload_without_a_valid_signature(
    header: dict[str, Any], payload: Any, key: Key
) -> None:
    """Well-formed JSON segments, any content, a signature from nobody."""
    token = ".".join(b64_json(part) for part in (header, payload, "signature"))
    with pytest.raises(TokenRejected):
        verify(token, key)


@given(
    jwk=st.dictionaries(
        st.sampled_from(["kty", "crv", "n", "e", "x", "y", "alg", "k"]), json_values
    )
)
def test_any_jwk_from_the_key_set_is_refused_cleanly(jwk: dict[str, Any], key: Key) -> None:
    """Whatever an issuer's JWKS holds under the token's kid, the answer is a refusal."""
    token = signed_by(key, registered_claims())
    with pytest.raises(TokenRejected):
        verify_token(token, issuer=ISSUER, audience=AUDIENCE, keys=lambda _iss, _kid: jwk)


# -- a real key: exactly the signed claims, and nothing tampered -----------------------------


@given(claims=extra_claims)
def test_verified_token_has_exactly_the_signed_claims(claims: dict[str, Any], key: Key) -> None:
    signed = {**claims, **registered_claims()}
    assert verify(signed_by(key, signed), key) == signed


@given(claims=extra_claims, data=st.data())
def test_any_changed_character_is_refused(
    claims: dict[str, Any], data: st.DataObject, key: Key
) -> None:
    token = signed_by(key, {**claims, **registered_claims()})
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(st.sampled_from(B64URL + ".").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    try:
        same = segments(tampered) == segments(token)
    except ValueError:
        same = False
    # A last base64url character carries spare bits: another spelling of the same bytes.
    assume(not same)
    with pytest.raises(TokenRejected):
        verify(tampered, key)


@given(claims=extra_claims, data=st.data())
def test_any_flipped_bit_is_refused(claims: dict[str, Any], data: st.DataObject, key: Key) -> None:
    token = signed_by(key, {**claims, **registered_claims()})
    parts = segments(token)
    which = data.draw(st.integers(0, 2), label="segment")
    index = data.draw(st.integers(0, len(parts[which]) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    flipped = bytearray(parts[which])
    flipped[index] ^= 1 << bit
    parts[which] = bytes(flipped)
    tampered = ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)
    with pytest.raises(TokenRejected):
        verify(tampered, key)


@given(
    claims=extra_claims,
    missing=st.sampled_from(["iss", "aud", "iat", "exp"]),
)
def test_required_claims(claims: dict[str, Any], missing: str, key: Key) -> None:
    signed = {**claims, **registered_claims()}
    del signed[missing]
    with pytest.raises(TokenRejected) as caught:
        verify(signed_by(key, signed), key)
    assert caught.value.code == "invalid-token"


@given(
    claims=extra_claims,
    name=st.sampled_from(["iss", "aud"]),
    value=json_values,
)
def test_other_issuer_or_audience_refused(
    claims: dict[str, Any], name: str, value: Any, key: Key
) -> None:
    signed = {**claims, **registered_claims()}
    assume(value != signed[name])
    signed[name] = value
    with pytest.raises(TokenRejected):
        verify(forged_by(key, signed), key)  # PyJWT would not sign it


@given(offset=st.integers(min_value=31, max_value=10**9))
def test_expired_or_not_yet_valid(offset: int, key: Key) -> None:
    now = int(time.time())
    for claims in (registered_claims(now - 300 - offset), registered_claims(now + offset)):
        with pytest.raises(TokenRejected):
            verify(signed_by(key, claims), key)


@given(
    headers=st.dictionaries(
        st.sampled_from(["jku", "x5u", "jwk", "x5c", "alg", "kid", "crit", "typ"]), json_values
    )
)
def test_header_changes_are_refused_or_harmless(headers: dict[str, Any], key: Key) -> None:
    """A signed token whose header points elsewhere is refused; its claims never change."""
    signed = registered_claims()
    token = forged_by(key, signed, headers)
    try:
        claims = verify(token, key)
    except TokenRejected:
        return
    assert claims == signed
    header = jwt.get_unverified_header(token)
    assert not {"jku", "x5u", "jwk", "x5c"} & set(header)
    assert (header["alg"], header["kid"]) == (key.signing.algorithm, key.signing.kid)


# -- found by the properties above ------------------------------------------------------------


@pytest.mark.parametrize("token", ["\ud800", "e30.\udcff.e30", "\xe9.e30.e30"])
def test_non_ascii_token_is_malformed(token: str, key: Key) -> None:
    """Found by test_unverified_issuer_of_any_text: PyJWT raised UnicodeEncodeError."""
    for read in (unverified_issuer, lambda t: verify(t, key)):
        with pytest.raises(TokenRejected) as caught:
            read(token)
        assert (caught.value.code, caught.value.message) == ("invalid-payload", "malformed JWT")


@pytest.mark.parametrize(
    "jwk",
    [{}, {"kty": "RSA"}, {"kty": "EC", "crv": "P-256"}, {"kty": "oct", "k": "AA"}, {"kty": 5}],
)
def test_jwk_of_another_kind_is_an_invalid_token(jwk: dict[str, Any], key: Key) -> None:
    """Found by test_any_jwk_from_the_key_set_is_refused_cleanly: PyJWT's InvalidKeyError."""
    token = signed_by(key, registered_claims())
    with pytest.raises(TokenRejected) as caught:
        verify_token(token, issuer=ISSUER, audience=AUDIENCE, keys=lambda _iss, _kid: jwk)
    assert caught.value.code == "invalid-token"


# -- JWKS documents from a real HTTP server ---------------------------------------------------


class _Documents(BaseHTTPRequestHandler):
    """Serves whatever bytes the test put at a path (loopback only)."""

    documents: dict[str, bytes] = {}  # noqa: RUF012 - one server per test module

    def do_GET(self) -> None:
        body = self.documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def issuer_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Documents)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Every fetch makes two HTTP requests and two TLS contexts (jwks.py makes one per request, even
# for loopback HTTP): a fifth of the profile's examples keeps the module fast.
_profile = settings.default
fewer = settings(max_examples=max(10, (_profile.max_examples if _profile else 100) // 5))


def serve(issuer: str, discovery: Any, jwks: bytes) -> None:
    _Documents.documents = {
        "/.well-known/openid-configuration": json.dumps(discovery).encode(),
        "/jwks": jwks,
    }


def fetch(issuer: str) -> dict[str, dict[str, Any]] | None:
    try:
        keys = fetch_jwks(issuer, allow_private_address=True)  # a loopback server
    except KeyFetchError:
        return None
    assert all(k["kid"] == kid for kid, k in keys.items())
    return keys


@fewer
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_jwks_document(body: bytes, issuer_server: str) -> None:
    serve(issuer_server, {"issuer": issuer_server, "jwks_uri": f"{issuer_server}/jwks"}, body)
    fetch(issuer_server)


@fewer
@given(
    keys=st.lists(
        st.dictionaries(st.sampled_from(["kid", "kty", "n", "e", "use"]), json_values), max_size=4
    )
)
def test_any_key_list(keys: list[Any], issuer_server: str) -> None:
    serve(
        issuer_server,
        {"issuer": issuer_server, "jwks_uri": f"{issuer_server}/jwks"},
        json.dumps({"keys": keys}).encode(),
    )
    fetched = fetch(issuer_server)
    usable = {k["kid"] for k in keys if isinstance(k.get("kid"), str)}
    assert (fetched is None) == (not keys)
    assert set(fetched or {}) == usable


@fewer
@given(discovery=json_values)
def test_any_discovery_document(discovery: Any, issuer_server: str) -> None:
    serve(issuer_server, discovery, b'{"keys": [{"kid": "k"}]}')
    fetched = fetch(issuer_server)
    assert fetched is None or (isinstance(discovery, dict) and discovery["issuer"] == issuer_server)


@fewer
@given(
    junk=st.lists(st.dictionaries(st.sampled_from(["kid", "kty", "n"]), json_values), max_size=3)
)
def test_real_key_found_among_junk_verifies(junk: list[Any], key: Key, issuer_server: str) -> None:
    jwk = key.signing.public_jwk()
    assume(all(k.get("kid") != jwk["kid"] for k in junk))
    serve(
        issuer_server,
        {"issuer": issuer_server, "jwks_uri": f"{issuer_server}/jwks"},
        json.dumps({"keys": [*junk, jwk]}).encode(),
    )
    fetched = fetch(issuer_server)
    assert fetched is not None
    signed = {**registered_claims(), "iss": issuer_server}
    claims = verify_token(
        signed_by(key, signed),
        issuer=issuer_server,
        audience=AUDIENCE,
        keys=lambda _iss, kid: fetched.get(kid),
    )
    assert dict(claims) == signed


# -- publisher kinds: their CI's claims pass, anything else is a mismatch ----------------------

names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True).filter(
    lambda s: s not in {".", ".."}
)
refs = st.from_regex(r"refs/(heads|tags)/[A-Za-z0-9_./-]{1,16}", fullmatch=True)
shas = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
workflows = st.from_regex(r"[A-Za-z0-9_.-]{1,12}\.ya?ml", fullmatch=True)
environments = st.none() | st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True)


def swapcase_some(text: str, data: st.DataObject) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


def check(kind: str, config: Mapping[str, str], claims: Mapping[str, Any]) -> str | None:
    """The first reason the claims do not fit, or None; any other exception is a failure."""
    try:
        KINDS[kind].check(KINDS[kind].validate_config(config), claims)
    except PublisherMismatch as exc:
        return exc.message
    return None


@given(
    owner=names,
    repo=names,
    workflow=workflows,
    ref=refs,
    sha=shas,
    environment=environments,
    data=st.data(),
)
def test_github_accepts_its_runs(
    owner: str,
    repo: str,
    workflow: str,
    ref: str,
    sha: str,
    environment: str | None,
    data: st.DataObject,
) -> None:
    run = GitHubRun(
        repository=f"{owner}/{repo}", workflow=workflow, ref=ref, sha=sha, environment=environment
    )
    claims = {**run.claims(), "jti": "j", **registered_claims()}
    config = {
        "repository": swapcase_some(run.repository, data),  # GitHub names: any case
        "workflow": workflow,
        "environment": environment or "",
    }
    assert check("github", config, claims) is None
    other = data.draw(workflows.filter(lambda w: w != workflow), label="other workflow")
    assert check("github", {**config, "workflow": other}, claims) is not None
    if environment:
        assert check("github", config, {**claims, "environment": environment + "x"}) is not None


@given(
    namespace=names,
    project=names,
    workflow=workflows,
    ref=refs,
    sha=shas,
    environment=environments,
    data=st.data(),
)
def test_gitlab_accepts_its_jobs(
    namespace: str,
    project: str,
    workflow: str,
    ref: str,
    sha: str,
    environment: str | None,
    data: st.DataObject,
) -> None:
    job = GitLabJob(
        project=f"{namespace}/{project}",
        workflow_path=workflow,
        ref=ref,
        sha=sha,
        environment=environment,
    )
    issuer = "https://gitlab.com"
    claims = {**job.claims(issuer), "jti": "j", **registered_claims()}
    config = {
        "project": swapcase_some(job.project, data),
        "workflow_path": workflow,
        "environment": environment or "",
        "issuer": issuer,
    }
    assert check("gitlab", config, claims) is None
    other = data.draw(workflows.filter(lambda w: w != workflow), label="other workflow")
    assert check("gitlab", {**config, "workflow_path": other}, claims) is not None
    if environment:
        changed = {**claims, "environment": swapcase_some(environment, data) + "x"}
        assert check("gitlab", config, changed) is not None


@given(email=st.emails(), sub=st.none() | st.text(min_size=1, max_size=10), verified=json_values)
def test_google_needs_a_verified_email(email: str, sub: str | None, verified: Any) -> None:
    claims = {"email": email, "email_verified": verified, "sub": sub or "s", **registered_claims()}
    config = {"email": email, "sub": sub or ""}
    assert (check("google", config, claims) is None) == (verified is True)


@given(
    expected=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), min_size=1),
    data=st.data(),
)
def test_generic_needs_every_listed_claim(expected: dict[str, str], data: st.DataObject) -> None:
    config = {"issuer": ISSUER, "claims": json.dumps(expected)}
    claims = {**registered_claims(), **expected}
    assert check("oidc", config, claims) is None
    name = data.draw(st.sampled_from(sorted(expected)))
    value = data.draw(json_values.filter(lambda v: str(v) != expected[name] and v is not None))
    assume(name not in registered_claims() and not isinstance(value, bool))
    assert check("oidc", config, {**claims, name: value}) is not None


claim_names = st.sampled_from(
    [
        "repository",
        "repository_owner",
        "repository_owner_id",
        "job_workflow_ref",
        "ref",
        "sha",
        "jti",
        "event_name",
        "environment",
        "sub",
        "project_path",
        "ci_config_ref_uri",
        "ref_path",
        "email",
        "email_verified",
        "iss",
    ]
)
CONFIGS: dict[str, dict[str, str]] = {
    "github": {"repository": "o/r", "workflow": "release.yml", "environment": "pypi"},
    "gitlab": {
        "project": "g/p",
        "workflow_path": ".gitlab-ci.yml",
        "environment": "pypi",
        "issuer": "https://gitlab.com",
    },
    "google": {"email": "a@example.org", "sub": "1"},
    "oidc": {"issuer": ISSUER, "claims": '{"sub": "x"}'},
}
MATCHING: dict[str, dict[str, Any]] = {
    "github": {**GitHubRun(repository="o/r", environment="pypi").claims(), "jti": "j"},
    "gitlab": {
        **GitLabJob(project="g/p", environment="pypi").claims("https://gitlab.com"),
        "jti": "j",
    },
    "google": {"email": "a@example.org", "email_verified": True, "sub": "1"},
    "oidc": {"sub": "x"},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_matching_claims_match(kind: str) -> None:
    assert check(kind, CONFIGS[kind], {**registered_claims(), **MATCHING[kind]}) is None


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(changes=st.dictionaries(claim_names, json_values | st.text(max_size=40), min_size=1))
def test_any_changed_claims_give_a_mismatch_or_a_match(kind: str, changes: dict[str, Any]) -> None:
    """Matching claims with some changed to any JSON value (an issuer may send lists or
    objects): a mismatch or a match, never a crash; a lookup value is text or None."""
    claims = {**registered_claims(), **MATCHING[kind], **changes}
    check(kind, CONFIGS[kind], claims)
    lookup = KINDS[kind].lookup_of_claims(claims)
    assert lookup is None or isinstance(lookup, str)


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("github", {"ref": ["refs/heads/main"]}),
        ("github", {"sha": {"a": 1}, "ref": ""}),
        ("gitlab", {"ref_path": ["refs/heads/main"]}),
        ("gitlab", {"sha": [1]}),
    ],
)
def test_ref_claims_that_are_not_text_are_refused(kind: str, changes: dict[str, Any]) -> None:
    """Found by test_any_changed_claims_give_a_mismatch_or_a_match: TypeError (unhashable)."""
    reason = check(kind, CONFIGS[kind], {**registered_claims(), **MATCHING[kind], **changes})
    assert reason is not None
    assert "claim" in reason
