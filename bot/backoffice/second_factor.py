"""The optional second factor of admins (TOTP), on their profile page (profile.py).

Enrolment: the admin asks for a secret, the profile shows it as an ``otpauth://`` URI and
a QR code (SVG drawn here by segno, inline in the page, so nothing leaves the server and
the CSP holds), and the factor is on only once a code from the app is accepted. Signing
in: after the right password, web.login leaves a challenge bound to the browser's
pre-session cookie and sends it here; the code is checked against the secret, a code is
never accepted twice, and wrong codes count in the same throttle as wrong passwords.
``intake users reset-totp EMAIL`` takes the factor away when a phone is lost.
"""

from __future__ import annotations

from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup

from ..i18n import S_
from ..store.staff import Staff
from .framework import (
    BACKOFFICE,
    FORM,
    PREFIX,
    PUBLIC,
    STAFF,
    Route,
    guarded,
    render,
    signed_in,
    too_many_attempts,
)
from .security import PRE_SESSION_COOKIE

# --- the code step of signing in ----------------------------------------------------------


def _code_form(request: web.Request, message: str | None = None, status: int = 200) -> web.Response:
    return render(request, "login_code.html", {"message": message}, status=status)


def _restart() -> web.HTTPSeeOther:
    """The step expired or never began: back to the password."""
    return web.HTTPSeeOther(f"{PREFIX}/login")


@guarded(PUBLIC)
async def code_page(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    if not pre or await bo.staff.challenge_user(pre, bo.clock()) is None:
        raise _restart()
    return _code_form(request)


@guarded(PUBLIC)
async def code_check(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    pre = request.cookies.get(PRE_SESSION_COOKIE)  # guarded checked the CSRF token bound to it
    user = await bo.staff.challenge_user(pre, bo.clock()) if pre else None
    if user is None:
        raise _restart()
    address = request.remote or "?"
    wait = await bo.throttle.retry_after(user.email, address)
    if wait:
        response = _code_form(request, too_many_attempts(request, wait), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    code = str(request[FORM].get("code", ""))[:32]
    if not await bo.staff.check_totp(user.id, code, bo.clock()):
        await bo.throttle.failed(user.email, address)
        await bo.staff.audit(user, "login_code_failed", bo.clock())
        return _code_form(request, S_("Wrong code, or a code already used. Wait for the next one."), status=401)
    await bo.staff.close_challenge(pre)
    await bo.throttle.succeeded(user.email)
    raise await signed_in(request, user)


# --- on the profile page (profile.py) ------------------------------------------------------


async def totp_view(request: web.Request) -> dict[str, Any]:
    """What the profile shows of an enrolment under way: the URI, its key and a QR code."""
    user: Staff = request[STAFF]
    uri = await request.app[BACKOFFICE].staff.totp_uri(user) if user.totp == "pending" else None
    return {
        "totp_uri": uri,
        "totp_secret": uri.split("secret=")[1].split("&")[0] if uri else None,
        "qr": Markup(segno.make(uri, error="m").svg_inline(scale=4, border=4, light="#fff")) if uri else None,
    }


def _to_profile(**query: str) -> web.HTTPSeeOther:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return web.HTTPSeeOther(f"{PREFIX}/profile{suffix}")


@guarded("second_factor")
async def totp_start(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    if user.totp != "on":
        await bo.staff.start_totp(user.id)
        await bo.staff.audit(user, "totp_enrol", bo.clock())
    raise _to_profile()


@guarded("second_factor")
async def totp_confirm(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    if not await bo.staff.confirm_totp(user.id, str(request[FORM].get("code", ""))[:32], bo.clock()):
        raise _to_profile(error="wrong")
    await bo.staff.audit(user, "totp_on", bo.clock())
    raise _to_profile(totp="on")


@guarded("second_factor")
async def totp_off(request: web.Request) -> web.StreamResponse:
    """Turn the factor off (a code is needed when it is on) or drop a pending enrolment."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    if user.totp == "on" and not await bo.staff.check_totp(
        user.id, str(request[FORM].get("code", ""))[:32], bo.clock()
    ):
        raise _to_profile(error="wrong")
    await bo.staff.reset_totp(user.email)
    await bo.staff.audit(user, "totp_off", bo.clock())
    raise _to_profile(totp="off")


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/login/code", code_page),
    ("POST", f"{PREFIX}/login/code", code_check),
    ("POST", f"{PREFIX}/profile/totp/start", totp_start),
    ("POST", f"{PREFIX}/profile/totp/confirm", totp_confirm),
    ("POST", f"{PREFIX}/profile/totp/off", totp_off),
)
