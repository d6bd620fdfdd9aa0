"""The second factor's pages (issue 20): the sign-in's second step and the account's security
page (authenticator app, security keys, recovery codes), as PyPI has them.

Paths: ``/account/two-factor/`` (the second step, PyPI's ``/account/two-factor/``) and
``/manage/account/two-factor/`` with its forms. Security keys are asked for by
``static/webauthn.js``: the options are in the form's ``data-options``, the answer comes back in
the form's fields, so the strict Content-Security-Policy needs no exception. An authenticator
app being set up is shown a QR code of its ``otpauth://`` URI (inline SVG, :func:`qr_svg`),
with the key and the link as the fallback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import segno
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trustyard.errors import Conflict
from trustyard.index.context import context_of
from trustyard.index.origin import request_origin
from trustyard.index.read_gate import SESSION_COOKIE
from trustyard.index.services import second_factor, sessions
from trustyard.index.services.second_factor import RelyingParty
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.forms import PRE_SESSION_COOKIE
from trustyard.index.web.handling import (
    checked_form,
    current_user,
    is_secure,
    only_fields,
    see_other,
    show_errors_in,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.render import page

SECOND_STEP = "/account/two-factor/"
SECURITY = "/manage/account/two-factor/"
PENDING_COOKIE = "trustyard_pending"

_ASSERTION_FIELDS = {"credential_id", "client_data", "authenticator_data", "signature"}
_ATTESTATION_FIELDS = {"credential_id", "client_data", "attestation", "transports"}


def relying_party(request: Request) -> RelyingParty:
    """This index as a WebAuthn relying party: its public origin and that origin's host name
    as the RP ID (an IP address is no valid RP ID: browsers refuse it, so use a host name)."""
    origin = request_origin(request, context_of(request).settings.base_url)
    parts = urlsplit(origin)
    return RelyingParty(
        rp_id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}"
    )


def _assertion(fields: dict[str, str]) -> str:
    """The WebAuthn assertion (``PublicKeyCredential`` as JSON) from the second step's form."""
    missing = sorted(f for f in _ASSERTION_FIELDS if not fields.get(f))
    if missing:
        raise FormRefused(f"the security key's answer lacks {', '.join(missing)}")
    response = {
        "clientDataJSON": fields["client_data"],
        "authenticatorData": fields["authenticator_data"],
        "signature": fields["signature"],
    }
    if fields.get("user_handle"):
        response["userHandle"] = fields["user_handle"]
    cid = fields["credential_id"]
    return json.dumps({"id": cid, "rawId": cid, "type": "public-key", "response": response})


def _attestation(fields: dict[str, str]) -> str:
    """The WebAuthn registration answer as JSON from the security page's form."""
    missing = sorted(f for f in _ATTESTATION_FIELDS - {"transports"} if not fields.get(f))
    if missing:
        raise FormRefused(f"the security key's answer lacks {', '.join(missing)}")
    cid = fields["credential_id"]
    transports = [t for t in fields.get("transports", "").split(",") if t]
    return json.dumps(
        {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "response": {
                "clientDataJSON": fields["client_data"],
                "attestationObject": fields["attestation"],
                "transports": transports,
            },
        }
    )


# -- the sign-in's second step -----------------------------------------------------------------


def _second_step_page(request: Request, secret: str) -> Response:
    ctx = context_of(request)
    options = sessions.security_key_prompt(ctx.db, secret, relying_party(request))
    return page(request, "two_factor.html", {"key_options": options, "problem": ""})


@web_page
async def second_step(request: Request) -> Response:
    """After the right password: a TOTP code, a security key or a recovery code (GET shows the
    forms, POST checks one). Without a live pending sign-in the browser starts again."""
    if request.state.user is not None:
        return see_other("/manage/account/")
    secret = request.cookies.get(PENDING_COOKIE, "")
    ctx = context_of(request)
    if request.method != "POST":

        def show() -> Response | None:
            with ctx.db.read() as session:
                if sessions.pending_sign_in(session, secret) is None:
                    return None
            return _second_step_page(request, secret)

        shown = await run_in_threadpool(show)
        return shown if shown is not None else see_other("/account/login/")
    fields = await checked_form(request)
    method = fields.get("method", "")
    if method == "webauthn":
        only_fields(fields, {"method", "user_handle"} | _ASSERTION_FIELDS)
        value = _assertion(fields)
    elif method in ("totp", "recovery"):
        only_fields(fields, {"method", "code"})
        value = fields.get("code", "").strip()
        if not value:
            raise FormRefused("give the code")
    else:
        raise FormRefused("choose an authenticator app code, a security key or a recovery code")
    # A refusal (wrong code, 429) is explained on the step's page; its key prompt is not
    # renewed there (the refused answer used it up): reloading the page offers a new one.
    show_errors_in(request, "two_factor.html", {"key_options": "", "retry_key": True})
    address = request.client.host if request.client else "unknown"
    with_path = await run_in_threadpool(_next_path, request, secret)
    secret_and_who = await run_in_threadpool(
        lambda: sessions.finish_sign_in(
            ctx.db,
            ctx.settings,
            secret,
            method,
            value,
            rp=relying_party(request),
            keys=ctx.secret_keys,
            address=address,
        )
    )
    cookie, _who = secret_and_who
    response = see_other(with_path)
    give_session_cookie(request, response, cookie)
    response.delete_cookie(PENDING_COOKIE, path=SECOND_STEP)
    return response


def _next_path(request: Request, secret: str) -> str:
    with context_of(request).db.read() as session:
        pending = sessions.pending_sign_in(session, secret)
        return pending.next_path if pending is not None else "/manage/account/"


def give_session_cookie(request: Request, response: Response, secret: str) -> None:
    """The session cookie of a sign-in that is complete (password, and factor if any)."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def give_pending_cookie(request: Request, response: Response, secret: str) -> None:
    """The cookie of a sign-in waiting for its second factor: it opens the step's page only."""
    response.set_cookie(
        PENDING_COOKIE,
        secret,
        max_age=int(sessions.PENDING_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
        path=SECOND_STEP,
    )


# -- the account's security page ---------------------------------------------------------------


def qr_svg(uri: str) -> Markup:
    """The ``otpauth://`` URI as a QR code that authenticator apps scan (ISO/IEC 18004, drawn
    by segno), as inline SVG: paths with presentation attributes only, no ``style`` and no
    script, so the page's Content-Security-Policy needs no exception; error correction M (what
    a screen shown to a phone camera needs). The key and the link stay beside it for those who
    cannot scan."""
    code = segno.make(uri, error="m", micro=False)
    return Markup(  # noqa: S704 - segno's own SVG: geometry and our title, no input markup
        code.svg_inline(
            scale=4,
            border=4,
            dark="#000",
            light="#fff",
            title="QR code of the authenticator app's key",
            svgclass="totp-qr",
            lineclass=None,
        )
    )


def _security_context(request: Request, who: SignedIn) -> dict[str, Any]:
    """What the security page shows; a new security-key prompt (its challenge) each time."""
    ctx = context_of(request)
    with ctx.db.write() as session:
        factors = second_factor.factors_of(session, who.user_id)
        pending = second_factor.pending_totp_secret(session, who.user_id, ctx.secret_keys)
        try:
            key_options = second_factor.registration_options(
                session, who.user_id, who.session_id, relying_party(request)
            )
        except Conflict:
            key_options = ""  # at the limit of keys
    issuer = urlsplit(relying_party(request).origin).netloc
    uri = second_factor.totp_uri(pending, who.username, issuer) if pending else ""
    return {
        "factors": factors,
        "totp_secret": pending or "",
        "totp_uri": uri,
        "totp_qr": qr_svg(uri) if uri else "",
        "key_options": key_options,
        "recovery_codes": [],
        "required": who.must_enrol,
        "problem": "",
    }


def _security_page(request: Request, who: SignedIn, status: int = 200, **extra: Any) -> Response:
    return page(
        request, "two_factor_settings.html", {**_security_context(request, who), **extra}, status
    )


@web_page
async def security(request: Request) -> Response:
    """The signed-in user's second factors."""
    who = current_user(request)
    return await run_in_threadpool(_security_page, request, who)


@web_page
async def begin_totp(request: Request) -> Response:
    """Start setting up an authenticator app: a new key, shown until a code confirms it."""
    who = current_user(request)
    only_fields(await checked_form(request), set())
    keys = context_of(request).secret_keys

    def begin(session: Session) -> None:
        second_factor.begin_totp(session, who.user_id, keys)

    return await write_then_redirect(request, begin, SECURITY + "#totp")


@web_page
async def confirm_totp(request: Request) -> Response:
    """Finish setting up the app with one of its codes; the first factor brings recovery
    codes, shown on this one response."""
    who = current_user(request)
    fields = await checked_form(request)
    only_fields(fields, {"code"})
    context = await run_in_threadpool(_security_context, request, who)
    show_errors_in(request, "two_factor_settings.html", context)
    ctx = context_of(request)

    def confirm() -> list[str]:
        with ctx.db.write() as session:
            first = not second_factor.has_second_factor(session, who.user_id)
            second_factor.confirm_totp(
                session, who.user_id, fields.get("code", ""), ctx.secret_keys
            )
            if first:
                return second_factor.generate_recovery_codes(session, who.user_id)
            return []

    codes = await run_in_threadpool(confirm)
    if not codes:
        return see_other(SECURITY)
    return await run_in_threadpool(lambda: _security_page(request, who, 201, recovery_codes=codes))


@web_page
async def remove_totp(request: Request) -> Response:
    """Remove the authenticator app."""
    who = current_user(request)
    only_fields(await checked_form(request), set())

    def remove(session: Session) -> None:
        second_factor.remove_totp(session, who.user_id)

    return await write_then_redirect(request, remove, SECURITY)


@web_page
async def add_key(request: Request) -> Response:
    """Keep a security key whose registration answer ``webauthn.js`` put in the form."""
    who = current_user(request)
    fields = await checked_form(request)
    only_fields(fields, {"name"} | _ATTESTATION_FIELDS)
    credential = _attestation(fields)
    ctx = context_of(request)
    rp = relying_party(request)

    def add() -> list[str]:
        with ctx.db.write() as session:
            first = not second_factor.has_second_factor(session, who.user_id)
            second_factor.register_key(
                session,
                who.user_id,
                who.session_id,
                rp,
                name=fields.get("name", ""),
                credential=credential,
            )
            if first:
                session.flush()
                return second_factor.generate_recovery_codes(session, who.user_id)
            return []

    codes = await run_in_threadpool(add)
    if not codes:
        return see_other(SECURITY)
    return await run_in_threadpool(lambda: _security_page(request, who, 201, recovery_codes=codes))


@web_page
async def remove_key(request: Request) -> Response:
    """Remove one of the user's security keys."""
    who = current_user(request)
    key_id: int = request.path_params["key_id"]
    only_fields(await checked_form(request), set())

    def remove(session: Session) -> None:
        second_factor.remove_key(session, who.user_id, key_id)

    return await write_then_redirect(request, remove, SECURITY)


@web_page
async def recovery_codes(request: Request) -> Response:
    """New recovery codes, replacing the old ones, shown on this one response."""
    who = current_user(request)
    only_fields(await checked_form(request), set())
    ctx = context_of(request)

    def generate() -> list[str]:
        with ctx.db.write() as session:
            return second_factor.generate_recovery_codes(session, who.user_id)

    codes = await run_in_threadpool(generate)
    return await run_in_threadpool(lambda: _security_page(request, who, 201, recovery_codes=codes))
