"""The back office's core pages: signing in and out, the profile, the case list, the
case detail and its forms (status, assignment, notes, steps), and the audit log.
``mount`` serves them with every other page module's ``ROUTES``; the shared machinery
(``guarded``, ``render``, ``case_or_404``) is in framework.py.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..cases.kinds import KINDS, PRIORITIES
from ..i18n import S_, retranslate
from ..messaging import TEMPLATES as APPLICANT_TEMPLATES
from ..messaging import ApplicantMessenger, Delivery
from ..store.alerts import Alerts
from ..store.casework import SORTS, TRANSITIONS, CaseFilter, Casework, WorkflowError, count_stopped
from ..store.staff import Staff, StaffDirectory
from . import (
    admin, assisted, conversation, dashboard, policy, profile, search, second_factor, slots, tokens, webhooks,
)
from .framework import (
    BACKOFFICE,
    FORM,
    HERE,
    LANGUAGE,
    PER_PAGE,
    PRE_SESSION,
    PREFIX,
    PUBLIC,
    PUBLIC_ROUTES,
    STAFF,
    STATUSES,
    TEMPLATES,
    BackOffice,
    Route,
    back_to_case,
    case_or_404,
    guarded,
    render,
    signed_in,
    too_many_attempts,
)
from .export import FORMATS, stream_cases
from .security import PRE_SESSION_COOKIE, SESSION_COOKIE, new_pre_session, set_cookie
from .targets import first_answer_due, overdue

__all__ = ["PREFIX", "PUBLIC", "PUBLIC_ROUTES", "ROUTES", "mount"]

log = logging.getLogger(__name__)


# --- signing in and out ----------------------------------------------------------------


@guarded(PUBLIC)
async def login_page(request: web.Request) -> web.StreamResponse:
    if request[STAFF] is not None:
        raise web.HTTPSeeOther(f"{PREFIX}/")
    return _login_form(request)


def _login_form(
    request: web.Request, message: str | None = None, status: int = 200
) -> web.Response:
    bo = request.app[BACKOFFICE]
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    if not pre:
        pre = new_pre_session()
        request[PRE_SESSION] = pre
    response = render(request, "login.html", {"message": message}, status=status)
    set_cookie(response, PRE_SESSION_COOKIE, pre, secure=bo.secure_cookies)
    return response


@guarded(PUBLIC)
async def login(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    form = request[FORM]
    email = str(form.get("email", "")).strip().lower()[:254]
    password = str(form.get("password", ""))[:1024]
    address = request.remote or "?"
    wait = await bo.throttle.retry_after(email, address)
    if wait:
        response = _login_form(request, too_many_attempts(request, wait), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = await bo.staff.authenticate(email, password) if email and password else None
    if user is None:
        await bo.throttle.failed(email, address)
        await bo.staff.audit(None, "login_failed", bo.clock())
        return _login_form(request, S_("Wrong e-mail address or password."), status=401)
    if user.totp == "on":
        # The password is right; the code is still owed, by this browser only.
        pre = request.cookies.get(PRE_SESSION_COOKIE)
        if not pre:  # a signed-in browser posting the form again: start afresh
            raise web.HTTPSeeOther(f"{PREFIX}/login")
        await bo.staff.open_challenge(user, pre, bo.clock())
        await bo.staff.audit(user, "login_password", bo.clock())
        raise web.HTTPSeeOther(f"{PREFIX}/login/code")
    await bo.throttle.succeeded(email)
    raise await signed_in(request, user)


@guarded("profile")
async def logout(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    await bo.staff.close_session(request.cookies[SESSION_COOKIE], bo.clock())
    await bo.staff.audit(request[STAFF], "logout", bo.clock())
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path="/backoffice")
    raise response


@guarded("profile")
async def home(request: web.Request) -> web.StreamResponse:
    user: Staff = request[STAFF]
    raise web.HTTPSeeOther(
        f"{PREFIX}/cases" if policy.can(user, "list_cases") else f"{PREFIX}/audit"
    )


# --- the case list -----------------------------------------------------------------------


def _filter(query: Any, user: Staff, zone: str) -> tuple[CaseFilter, dict[str, str]]:
    """The list's filter from the query string (unknown values are ignored)."""
    given = {k: v.strip() for k, v in query.items() if isinstance(v, str) and v.strip()}
    f = CaseFilter(per_page=PER_PAGE)
    f.kind = given.get("kind") if given.get("kind") in KINDS else None
    f.status = (
        given.get("status", "open")
        if given.get("status", "open") in (*STATUSES, "open", "all")
        else "open"
    )
    if f.status == "all":
        f.status = None
    f.priority = given.get("priority") if given.get("priority") in PRIORITIES else None
    f.language = given.get("language", "")[:16] or None
    f.flag = given.get("flag", "")[:64] or None
    f.reference = given.get("reference", "")[:16] or None
    local = ZoneInfo(zone)
    for name, attribute, shift in (
        ("from", "created_from", 0),
        ("to", "created_to", 1),
    ):
        try:
            day = date.fromisoformat(given.get(name, ""))
        except ValueError:
            continue
        setattr(
            f, attribute, datetime.combine(day + timedelta(days=shift), time(), local)
        )
    organisation = given.get("organisation", "")
    f.organisation = organisation if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", organisation) else None
    assignee = given.get("assignee", "")
    if assignee == "me":
        f.assignee_id = user.id
    elif assignee == "none":
        f.unassigned = True
    f.sort = given.get("sort") if given.get("sort") in SORTS else "priority"
    try:
        f.page = max(1, min(int(given.get("page", "1")), 100_000))
    except ValueError:
        f.page = 1
    if f.status is None:
        given["status"] = "all"
    return f, given


@guarded("list_cases")
async def case_list(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    f, given = _filter(request.query, user, bo.timezone)
    visible = policy.visible_cases(user)
    lines, total = await bo.work.cases(visible, f)
    urgent, urgent_total = await bo.work.cases(
        visible, CaseFilter(status="open", priority="urgent", per_page=5)
    )
    now = bo.clock()
    late = {
        line.reference
        for line in lines
        if overdue(
            line.kind,
            line.status,
            line.created_at,
            line.first_answer_at,
            now,
            bo.timezone,
        )
    }
    pages = max(1, math.ceil(total / f.per_page))
    keep = {k: v for k, v in given.items() if k != "page"}
    await bo.staff.audit(user, "list", now, detail=f"page={f.page}")
    return render(
        request,
        "cases.html",
        {
            "lines": lines,
            "total": total,
            "more": count_stopped(f, total),
            "late": late,
            "given": given,
            "page": f.page,
            "pages": pages,
            "urgent": urgent,
            "urgent_total": urgent_total,
            "statuses": STATUSES,
            "priorities": PRIORITIES,
            "sorts": tuple(SORTS),
            "organisations": [(slug, name) for slug, name, _ in await bo.staff.organisations()],
            "page_url": lambda n: f"{PREFIX}/cases?" + urlencode({**keep, "page": n}),
            "export_url": lambda fmt: f"{PREFIX}/cases/export?" + urlencode({**keep, "format": fmt}),
        },
    )


@guarded("list_cases")
async def export_cases(request: web.Request) -> web.StreamResponse:
    """The list's cases (its filters, every page) as a CSV or NDJSON download."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    f, given = _filter(request.query, user, bo.timezone)
    fmt = request.query.get("format", "csv")
    if fmt not in FORMATS:
        fmt = "csv"
    response, count = await stream_cases(
        request, bo, policy.visible_cases(user), f, fmt, newest_first=given.get("sort") != "oldest"
    )
    await bo.staff.audit(user, "export", bo.clock(), detail=f"format={fmt} n={count}")
    return response


# --- one case ---------------------------------------------------------------------------


@guarded("view")
async def case_detail(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "view")
    case, row = found.case, found.row
    language = request[LANGUAGE]
    panel = await conversation.panel_context(bo, row, case.language, language)
    delivery = request.query.get("delivery", "")
    kind = KINDS.get(case.kind)
    appointment_at = _appointment_start(case.appointment)
    due = first_answer_due(case.kind, case.created_at, bo.timezone, appointment_at)
    now = bo.clock()
    await bo.staff.audit(user, "view", now, case_reference=case.reference)
    return render(
        request,
        "case.html",
        {
            "found": found,
            "case": case,
            "row": row,
            "kind": kind,
            **panel,
            "labels": conversation.answer_labels(bo, case.flow_id, case.language, language),
            "templates": conversation.TEMPLATE_TITLES,
            "template_texts": {
                key: retranslate({"msgid": msgid, "params": {"reference": case.reference}}, language)
                for key, msgid in APPLICANT_TEMPLATES.items()
            },
            "delivery": conversation.DELIVERY_TITLES.get(delivery) if delivery in set(Delivery) else None,
            "next_statuses": sorted(TRANSITIONS.get(case.status, ())),
            "due": due,
            "late": overdue(
                case.kind,
                case.status,
                case.created_at,
                row.first_answer_at,
                now,
                bo.timezone,
                appointment_at,
            ),
            "colleagues": await bo.work.colleagues(user.organisation_id)
            if policy.can(user, "assign", row)
            else [],
            "message": request.query.get("error"),
            "consent_titles": assisted.CONSENT_TITLES,
            "duplicates": await search.duplicates(request, row.id),
            "duplicate_reasons": search.DUPLICATE_REASONS,
        },
    )


def _appointment_start(appointment: dict[str, Any] | None) -> datetime | None:
    value = (appointment or {}).get("starts_at")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@guarded("change_status")
async def change_status(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "change_status")
    form = request[FORM]
    status = str(form.get("status", ""))
    outcome = str(form.get("outcome", "")) or None
    try:
        await bo.work.change_status(
            found.case.reference,
            status,
            str(form.get("reason", "")),
            outcome,
            user.email,
            bo.clock(),
        )
    except WorkflowError as error:
        raise back_to_case(found.case.reference, str(error))
    told = (
        await bo.messenger.status_changed(found.row.conversation_id, found.case.reference, status)
        if bo.messenger is not None
        else Delivery.NO_CHAT
    )
    detail = f"{found.case.status}->{status}" + (
        f":{outcome}" if status == "closed" else ""
    )
    await bo.staff.audit(
        user,
        "change_status",
        bo.clock(),
        case_reference=found.case.reference,
        detail=detail,
    )
    await bo.staff.audit(
        user,
        "status_notice",
        bo.clock(),
        case_reference=found.case.reference,
        detail=f"delivery={told.value}",
    )
    raise back_to_case(found.case.reference, delivery=told.value)


@guarded("assign")
async def assign(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "assign")
    choice = str(request[FORM].get("assignee", ""))
    allowed = {str(i): i for i, _ in await bo.work.colleagues(user.organisation_id)}
    if choice == "me":
        assignee: int | None = user.id
    elif choice == "none":
        assignee = None
    elif choice in allowed:
        assignee = allowed[choice]
    else:
        raise back_to_case(found.case.reference, "not a colleague")
    await bo.work.assign(found.case.reference, assignee, bo.clock())
    await bo.staff.audit(
        user,
        "assign",
        bo.clock(),
        case_reference=found.case.reference,
        detail=f"assignee={assignee}",
    )
    raise back_to_case(found.case.reference)


@guarded("note")
async def add_note(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "note")
    try:
        await bo.work.add_note(
            found.case.reference,
            user.id,
            user.organisation_id,
            str(request[FORM].get("note", "")),
            bo.clock(),
        )
    except WorkflowError as error:
        raise back_to_case(found.case.reference, str(error))
    await bo.staff.audit(user, "note", bo.clock(), case_reference=found.case.reference)
    raise back_to_case(found.case.reference)


@guarded("record_step")
async def record_step(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "record_step")
    step = str(request[FORM].get("step", ""))
    try:
        await bo.work.record_step(found.case.reference, step, user.email, bo.clock())
    except WorkflowError as error:
        raise back_to_case(found.case.reference, str(error))
    await bo.staff.audit(
        user,
        "record_step",
        bo.clock(),
        case_reference=found.case.reference,
        detail=step[:64],
    )
    raise back_to_case(found.case.reference)


# --- the audit log ----------------------------------------------------------------------


@guarded("read_audit")
async def audit_log(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    reference = request.query.get("reference", "").strip().upper()[:16] or None
    lines, total = await bo.staff.audit_log(
        limit=PER_PAGE, offset=(page - 1) * PER_PAGE, case_reference=reference
    )
    await bo.staff.audit(user, "read_audit", bo.clock(), case_reference=reference)
    return render(
        request,
        "audit.html",
        {
            "lines": lines,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PER_PAGE)),
            "reference": reference or "",
        },
    )


CORE_ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/login", login_page),
    ("POST", f"{PREFIX}/login", login),
    ("POST", f"{PREFIX}/logout", logout),
    ("GET", f"{PREFIX}/", home),
    ("GET", f"{PREFIX}/cases", case_list),
    ("GET", f"{PREFIX}/cases/export", export_cases),
    ("GET", f"{PREFIX}/cases/{{reference}}", case_detail),
    ("POST", f"{PREFIX}/cases/{{reference}}/status", change_status),
    ("POST", f"{PREFIX}/cases/{{reference}}/assign", assign),
    ("POST", f"{PREFIX}/cases/{{reference}}/notes", add_note),
    ("POST", f"{PREFIX}/cases/{{reference}}/steps", record_step),
    ("GET", f"{PREFIX}/audit", audit_log),
)

ROUTES: tuple[Route, ...] = (
    *CORE_ROUTES, *profile.ROUTES, *second_factor.ROUTES, *admin.ROUTES, *tokens.ROUTES, *webhooks.ROUTES,
    *assisted.ROUTES, *slots.ROUTES, *conversation.ROUTES, *dashboard.ROUTES, *search.ROUTES,
)
"""Every back-office route: each page module's ``ROUTES``, added here in one place."""


def mount(app: web.Application, services: Any, channels: Sequence[Any] = ()) -> None:
    """Serve the back office from ``app`` (called by bot.app.create_app with the channels
    that can reach applicants)."""
    settings = services.settings
    secure = settings.backoffice_secure_cookies
    if secure is None:
        secure = settings.public_url.strip().lower().startswith("https://")
    app[BACKOFFICE] = BackOffice(
        staff=StaffDirectory(services.store),
        work=Casework(services.store),
        store=services.store,
        clock=services.engine.clock,
        timezone=settings.timezone,
        secure_cookies=secure,
        services=services,
        messenger=ApplicantMessenger(services.store, services.engine, channels),
        alerts=Alerts(services.store),
    )
    aiohttp_jinja2.setup(
        app,
        app_key=TEMPLATES,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_get(PREFIX, root)
    app.router.add_static(f"{PREFIX}/static", HERE / "static", append_version=True)

    async def first_admin_hint(app: web.Application) -> None:
        if not await app[BACKOFFICE].staff.has_users():
            log.warning(FIRST_ADMIN_HINT)

    app.on_startup.append(first_admin_hint)
    app.on_startup.append(slots.no_slots_hint)


FIRST_ADMIN_HINT = (
    "the back office has no staff account yet: create the first admin with\n"
    "    intake users add YOUR_EMAIL --role admin --org immigration-office\n"
    "(YOUR_EMAIL: your e-mail address; the password is asked), then sign in at /backoffice/login"
)
"""No example address in it: the log redaction (bot/logs.py) would print it as [email]."""


@guarded(PUBLIC)
async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{PREFIX}/")
