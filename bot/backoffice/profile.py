"""The staff member's own page: on duty or not, the back office's language, their
password, and (admins) the second factor, whose steps are in second_factor.py.

A password change needs the current password, counts wrong ones in the sign-in throttle
(a borrowed session must not become a way to guess it), and ends every other session of
the account: a password someone else knew, an initial one from the admin say, opens
nothing any more. ``intake users set-password EMAIL`` resets a forgotten one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..i18n import S_
from ..store.staff import MIN_PASSWORD, Staff, StaffError
from .framework import BACKOFFICE, FORM, PREFIX, STAFF, Route, guarded, render, too_many_attempts
from .i18n import STAFF_LOCALES
from .second_factor import totp_view
from .security import SESSION_COOKIE

NOTICES = {
    ("totp", "on"): S_("Two-step sign-in is on."),
    ("totp", "off"): S_("Two-step sign-in is off."),
    ("password", "changed"): S_("Your password was changed. Your other sessions were signed out."),
}
"""What the page says after a change, by the query the change sent the browser back with."""
ERRORS = {
    "wrong": S_("Wrong code, or a code already used. Wait for the next one."),
}
PASSWORD_ERRORS = {
    "wrong_password": S_("Your current password is not right."),
    "short_password": S_("The password needs at least {minimum} characters."),
    "mismatch": S_("The two new passwords are not the same."),
}


@guarded("profile")
async def profile_page(request: web.Request) -> web.StreamResponse:
    notice = next((text for (key, value), text in NOTICES.items() if request.query.get(key) == value), None)
    return await _page(request, notice=notice, message=ERRORS.get(request.query.get("error", "")))


async def _page(request: web.Request, *, notice: str | None = None, message: str | None = None,
                params: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    return render(
        request,
        "profile.html",
        {
            "notice": notice,
            "message": message,
            "message_params": params or {},
            "min_password": MIN_PASSWORD,
            **await totp_view(request),
        },
        status=status,
    )


@guarded("profile")
async def save(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    language = str(form.get("language", ""))
    await bo.staff.set_profile(
        user.id,
        on_duty=form.get("on_duty") == "on",
        language=language if language in STAFF_LOCALES else None,
    )
    await bo.staff.audit(user, "profile", bo.clock(), detail=f"on_duty={form.get('on_duty') == 'on'}")
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(back if back.startswith(PREFIX + "/") else f"{PREFIX}/")


@guarded("profile")
async def change_password(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    current, new = str(form.get("current", ""))[:1024], str(form.get("new", ""))[:1024]
    address = request.remote or "?"
    wait = await bo.throttle.retry_after(user.email, address)
    if wait:
        response = await _page(request, message=too_many_attempts(request, wait), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    if new != str(form.get("repeat", ""))[:1024]:
        return await _page(request, message=PASSWORD_ERRORS["mismatch"], status=400)
    try:
        await bo.staff.change_password(user, current, new, bo.clock(), keep_session=request.cookies[SESSION_COOKIE])
    except StaffError as error:
        if error.code == "wrong_password":
            await bo.throttle.failed(user.email, address)
            await bo.staff.audit(user, "password_change_failed", bo.clock())
        return await _page(request, message=PASSWORD_ERRORS.get(error.code, PASSWORD_ERRORS["short_password"]),
                           params={"minimum": MIN_PASSWORD}, status=400)
    await bo.throttle.succeeded(user.email)
    await bo.staff.audit(user, "password_changed", bo.clock())
    raise web.HTTPSeeOther(f"{PREFIX}/profile?password=changed")


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/profile", profile_page),
    ("POST", f"{PREFIX}/profile", save),
    ("POST", f"{PREFIX}/profile/password", change_password),
)
