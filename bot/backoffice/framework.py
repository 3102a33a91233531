"""What every back-office page shares: the route permission check (``guarded``), page
rendering, the per-application state (``BackOffice``) and the one way to reach a case
(``case_or_404``).

Pages live in their own modules (``web.py`` for sign-in, the case list and the case
detail; others by concept), each with a ``ROUTES`` table that ``web.mount`` serves.
Every route is declared with the permission it needs (policy.py's actions, or
``PUBLIC``); ``guarded`` enforces it, checks the CSRF token of every POST and sets the
staff member's language. Actions on one case go through ``case_or_404``, which applies
the same access condition as the lists: a case out of reach answers 404, as if it did
not exist. Every view and change of a case is written to the audit log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..cases.kinds import KINDS
from ..i18n import S_
from ..messaging import ApplicantMessenger
from ..store.casework import Casework
from ..store.staff import Staff, StaffDirectory
from . import policy
from .i18n import STAFF_LANGUAGES, staff_language, staff_translations
from .security import (
    COOKIE_PATH,
    PRE_SESSION_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    LoginThrottle,
    csrf_ok,
    csrf_token,
    set_cookie,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PREFIX = "/backoffice"
PUBLIC = "public"
"""The permission of pages anyone may open (the sign-in page)."""
PUBLIC_ROUTES = frozenset({f"{PREFIX}/login", f"{PREFIX}/login/code", f"{PREFIX}/static", PREFIX})
"""The only routes under /backoffice that need no signed-in user (tests check the list)."""
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey(
    "backoffice_templates", jinja2.Environment
)
STATUSES = ("submitted", "in_review", "waiting_for_applicant", "closed", "withdrawn")
STATUS_TITLES = {
    "submitted": S_("Submitted"),
    "in_review": S_("In review"),
    "waiting_for_applicant": S_("Waiting for the applicant"),
    "closed": S_("Closed"),
    "withdrawn": S_("Withdrawn"),
}
PRIORITY_TITLES = {"normal": S_("Normal"), "high": S_("High"), "urgent": S_("Urgent")}
ROLE_TITLES = {
    "admin": S_("Administrator"),
    "caseworker": S_("Caseworker"),
    "partner": S_("Partner"),
    "auditor": S_("Auditor"),
}
PER_PAGE = 50


@dataclass
class BackOffice:
    staff: StaffDirectory
    work: Casework
    store: Any
    clock: Callable[[], datetime]
    timezone: str
    secure_cookies: bool
    services: Any = None
    """The application's ``Services`` (settings, engine, …) for pages that need more."""
    messenger: ApplicantMessenger | None = None
    """Reaches applicants on their own channel (set once the channels are known)."""
    alerts: Any = None
    """``store.alerts.Alerts``: urgent-case alerts (the banner of on-duty staff, the dashboard)."""
    throttle: LoginThrottle = field(init=False)
    """Failed sign-ins, counted in the database so that every worker throttles alike."""

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(self.staff, self.hasher, self.clock)

    def hasher(self, *parts: str) -> str:
        return str(self.store.cipher.lookup_hash(*parts))


BACKOFFICE: web.AppKey[BackOffice] = web.AppKey("backoffice", BackOffice)
STAFF: web.RequestKey[Staff | None] = web.RequestKey("staff", Staff)  # type: ignore[arg-type]
LANGUAGE: web.RequestKey[str] = web.RequestKey("language", str)
FORM: web.RequestKey[Any] = web.RequestKey("form", object)
PRE_SESSION: web.RequestKey[str] = web.RequestKey("pre_session", str)
ALERTS: web.RequestKey[Any] = web.RequestKey("alerts", object)
"""(unacknowledged alerts, how many) for the banner of an on-duty user's pages."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_allowed(user: Staff, permission: str) -> bool:
    """Whether ``user`` may use a route that needs ``permission``. A case action is
    checked here by role only, and against the case itself in ``case_or_404``."""
    if user.disabled:
        return False
    if permission in policy.CASE_ACTIONS:
        return permission in policy.ROLE_ACTIONS.get(user.role, ())
    return policy.can(user, permission)


def guarded(permission: str) -> Callable[[Handler], Handler]:
    """Declare and enforce a route's permission (``PUBLIC`` or a policy action)."""
    if permission != PUBLIC and permission not in policy.ACTIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def wrap(handler: Handler) -> Handler:
        async def guarded_handler(request: web.Request) -> web.StreamResponse:
            bo = request.app[BACKOFFICE]
            token = request.cookies.get(SESSION_COOKIE)
            user = await bo.staff.session_user(token, bo.clock()) if token else None
            request[STAFF] = user
            request[LANGUAGE] = staff_language(
                user.language if user else None, request.headers.get("Accept-Language")
            )
            if request.method == "POST":
                form = await request.post()
                request[FORM] = form
                bound = (
                    token
                    if user is not None
                    else request.cookies.get(PRE_SESSION_COOKIE)
                )
                if not csrf_ok(bo.hasher, bound, form.get("csrf_token")):
                    return render(
                        request,
                        "error.html",
                        {
                            "message": S_(
                                "This form has expired. Go back, reload the page and try again."
                            )
                        },
                        status=403,
                    )
            if permission != PUBLIC:
                if user is None:
                    raise web.HTTPSeeOther(f"{PREFIX}/login")
                if not route_allowed(user, permission):
                    return render(
                        request,
                        "error.html",
                        {"message": S_("You do not have access to this page.")},
                        status=403,
                    )
            if user is not None and user.on_duty and bo.alerts is not None and policy.can(user, "dashboard"):
                request[ALERTS] = await bo.alerts.unacknowledged(policy.visible_cases(user), limit=5)
            response = await handler(request)
            response.headers.update(SECURITY_HEADERS)
            return response

        guarded_handler.permission = permission  # type: ignore[attr-defined]
        guarded_handler.__name__ = handler.__name__
        guarded_handler.__doc__ = handler.__doc__
        return guarded_handler

    return wrap


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    bo = request.app[BACKOFFICE]
    language = request.get(LANGUAGE, "en")
    translations = staff_translations(language)
    user: Staff | None = request.get(STAFF)
    if user is not None:
        bound = request.cookies.get(SESSION_COOKIE, "")
    else:
        bound = request.get(PRE_SESSION) or request.cookies.get(PRE_SESSION_COOKIE, "")
    zone = ZoneInfo(bo.timezone)
    context = {
        "_": translations.gettext,
        "user": user,
        "language": language,
        "csrf_token": csrf_token(bo.hasher, bound) if bound else "",
        "kinds": KINDS,
        "status_titles": STATUS_TITLES,
        "priority_titles": PRIORITY_TITLES,
        "role_titles": ROLE_TITLES,
        "staff_languages": STAFF_LANGUAGES,
        "local": lambda moment: (
            moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""
        ),
        "can": lambda action, case=None: (
            user is not None and policy.can(user, action, case)
        ),
        "alerts": request.get(ALERTS),
        **context,
    }
    response = aiohttp_jinja2.render_template(
        template, request, context, status=status, app_key=TEMPLATES
    )
    response.headers.update(SECURITY_HEADERS)
    return response


async def case_or_404(request: web.Request, action: str) -> Any:
    """The case of the URL if the user may do ``action`` to it; else 404 (or 403 when
    they may see it but not do this)."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    reference = request.match_info["reference"].upper()[:16]
    found = await bo.work.case_file(
        policy.visible_cases(user), reference, notes_of=policy.notes_visible_to(user)
    )
    if found is None or not policy.can(user, "view", found.row):
        await bo.staff.audit(
            user, "not_found", bo.clock(), case_reference=reference, detail=action
        )
        raise web.HTTPNotFound(text="no such case", headers=SECURITY_HEADERS)
    if not policy.can(user, action, found.row):
        raise web.HTTPForbidden(text="not allowed", headers=SECURITY_HEADERS)
    return found


async def signed_in(request: web.Request, user: Staff) -> web.HTTPSeeOther:
    """Open a session for ``user`` (every factor checked) and send them to the start page."""
    bo = request.app[BACKOFFICE]
    token = await bo.staff.open_session(user, bo.clock())
    await bo.staff.audit(user, "login", bo.clock())
    response = web.HTTPSeeOther(f"{PREFIX}/")
    set_cookie(response, SESSION_COOKIE, token, secure=bo.secure_cookies)
    response.del_cookie(PRE_SESSION_COOKIE, path=COOKIE_PATH)
    return response


def too_many_attempts(request: web.Request, wait: int) -> str:
    """The throttle's answer, in the staff member's language."""
    _ = staff_translations(request[LANGUAGE]).gettext
    minutes = max(1, math.ceil(wait / 60))
    return _("Too many failed attempts. Wait {minutes} minute(s) before trying again.").format(minutes=minutes)


def back_to_case(reference: str, error: str | None = None, delivery: str | None = None) -> web.HTTPSeeOther:
    """Back to the case page, with a message (a ``S_`` text, translated there) or what
    became of a message to the applicant (``messaging.Delivery``)."""
    query = {k: v for k, v in (("error", error), ("delivery", delivery)) if v}
    suffix = "?" + urlencode(query) if query else ""
    return web.HTTPSeeOther(f"{PREFIX}/cases/{reference}{suffix}")


Route = tuple[str, str, Handler]
"""(method, path, guarded handler): the shape of every page module's ``ROUTES``."""
