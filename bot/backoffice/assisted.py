"""Assisted intake: a staff member (an NGO's or IOM's outreach worker, a caseworker, an
admin) runs an applicant's journey for them from the back office. Same flows, same
engine, same validation: the page is one more channel, server-rendered and usable
without JavaScript (the bot's buttons are submit buttons carrying their payload; free
text goes in a text field).

Each intake is a conversation of its own on the ``assisted`` channel whose sender id is
the intake's random id (never the staff member's: two applicants are two conversations).
Before the journey the staff member records how the applicant gave consent; every turn
hands the engine an ``AssistedBy`` (who, which organisation, how consent was given), and
a case the journey creates records them (``submitted_by``, ``submitted_org``,
``consent_method``), so the partner's organisation sees it in its list.

Every answer carries a fresh message id: a double click is answered once, and the page
after the answer (``?turn=<message id>``) shows the bot's replies to it from what the
engine remembered, without a second turn. At the end the applicant leaves with a printed
summary in their language (the staff member's language below) and a one-time code to link
their own Telegram or web chat to the case (``/link CODE``, bot/engine/linking.py).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from ..cases.draft import CONSENT_METHODS
from ..cases.handout import handout
from ..engine.turn import Inbound, Outbound
from ..i18n import S_, gettext, is_rtl, native_name, supported_locales, use_locale
from ..store.assisted import CHANNEL, AssistedRecords, AssistedView
from ..store.staff import Staff
from .framework import (
    BACKOFFICE,
    FORM,
    LANGUAGE,
    PREFIX,
    STAFF,
    Route,
    case_or_404,
    guarded,
    render,
)

MAX_ANSWER_CHARS = 2000
"""Longer than any answer a journey asks for (the REST channel's own limit is larger)."""
CONSENT_TITLES = {
    "read_aloud": S_("Read aloud to the applicant in their language, and they agreed"),
    "signed_form": S_("The applicant signed the paper consent form"),
}
INPUT_MODES = {"number": "numeric", "phone": "tel", "email": "email", "date": "numeric"}


def _records(request: web.Request) -> AssistedRecords:
    return AssistedRecords(request.app[BACKOFFICE].store)


def _journeys(request: web.Request) -> list[tuple[str, str]]:
    """(flow id, title in the staff member's language) of every journey, menu order."""
    flows = request.app[BACKOFFICE].services.engine.flows
    with use_locale(request[LANGUAGE]):
        return [(f.id, gettext(f.title)) for f in sorted(flows.flows.values(), key=lambda f: f.menu_order)]


def _languages() -> list[tuple[str, str]]:
    return [(code, native_name(code)) for code in supported_locales()]


@guarded("assisted_intake")
async def start_page(request: web.Request) -> web.StreamResponse:
    return await _start_form(request)


async def _start_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    user: Staff = request[STAFF]
    form = request.get(FORM) or {}
    return render(
        request,
        "assisted_start.html",
        {
            "journeys": _journeys(request),
            "languages": _languages(),
            "consent_titles": CONSENT_TITLES,
            "chosen": {k: str(form.get(k, "")) for k in ("flow", "language", "consent_method")},
            "recent": await _records(request).recent(user.id),
            "error": error,
        },
        status=status,
    )


@guarded("assisted_intake")
async def start(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    flows = bo.services.engine.flows
    flow = flows.flows.get(str(form.get("flow", "")))
    language = str(form.get("language", ""))
    method = str(form.get("consent_method", ""))
    if flow is None or language not in supported_locales():
        return await _start_form(request, S_("Choose a journey and the applicant's language."), 400)
    if method not in CONSENT_METHODS:
        return await _start_form(
            request, S_("Record how the applicant gave consent before you start."), 400
        )
    now = bo.clock()
    intake = await _records(request).start(
        staff_id=user.id, submitted_by=user.email, organisation=user.organisation,
        consent_method=method, language=language, flow_id=flow.id, now=now,
    )
    await bo.staff.audit(user, "assisted_start", now, detail=f"{flow.id} {language} {method}")
    engine = bo.services.engine
    # The applicant's language, settled (no offer to switch if a staff member types a
    # sentence in another), then the journey: both as the applicant would type them.
    await engine.handle(
        Inbound(channel=CHANNEL, sender_id=intake.id, text=f"/language {language}", language_hint=language),
        assisted=intake.by(),
    )
    message_id = _new_message_id()
    await engine.handle(
        Inbound(channel=CHANNEL, sender_id=intake.id, message_id=message_id, text=f"/{flow.intent}",
                language_hint=language),
        assisted=intake.by(),
    )
    await _records(request).answered(intake.id, message_id)
    raise web.HTTPSeeOther(f"{PREFIX}/assisted/{intake.id}?turn={message_id}")


async def _intake_or_404(request: web.Request) -> AssistedView:
    """The intake of the URL, if this staff member started it (else 404, as for none)."""
    user: Staff = request[STAFF]
    intake = await _records(request).get(request.match_info["intake"])
    if intake is None or intake.staff_id != user.id:
        raise web.HTTPNotFound(text="no such intake")
    return intake


@guarded("assisted_intake")
async def intake_page(request: web.Request) -> web.StreamResponse:
    intake = await _intake_or_404(request)
    return await _show(request, intake, await _replies(request, intake, request.query.get("turn", "")[:64]))


async def _replies(request: web.Request, intake: AssistedView, turn: str = "") -> list[Outbound]:
    """What the bot said last. A known message id is a redelivery: the engine answers it
    from what it said, and nothing changes (without one in the address, the latest
    answer's). Without any, or once the engine forgot it (a day later), the question is
    asked again."""
    inbound = Inbound(
        channel=CHANNEL, sender_id=intake.id, message_id=turn or intake.last_message_id or None,
        language_hint=intake.language,
    )
    return await request.app[BACKOFFICE].services.engine.handle(inbound, assisted=intake.by())


async def _show(request: web.Request, intake: AssistedView, replies: list[Outbound],
                error: str | None = None, status: int = 200) -> web.Response:
    expects = next((r.expects for r in reversed(replies) if r.expects is not None), None)
    flow = request.app[BACKOFFICE].services.engine.flows.flows.get(intake.flow_id)
    with use_locale(request[LANGUAGE]):
        journey = gettext(flow.title) if flow is not None else intake.flow_id
    return render(
        request,
        "assisted.html",
        {
            "intake": intake,
            "journey": journey,
            "applicant_language": native_name(intake.language),
            "direction": "rtl" if is_rtl(intake.language) else "ltr",
            "replies": replies,
            "expects": expects,
            "input_mode": INPUT_MODES.get(expects.type, "text") if expects else "text",
            "message_id": _new_message_id(),
            "cases": await _records(request).cases(intake.id),
            "consent_title": CONSENT_TITLES.get(intake.consent_method, intake.consent_method),
            "error": error,
        },
        status=status,
    )


@guarded("assisted_intake")
async def answer(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    intake = await _intake_or_404(request)
    form = request[FORM]
    payload = str(form.get("payload", "")) or None
    text = str(form.get("text", "")).strip() or None
    message_id = str(form.get("message_id", ""))[:64] or _new_message_id()
    if payload is None and text is None:
        raise web.HTTPSeeOther(f"{PREFIX}/assisted/{intake.id}")
    if len(payload or text or "") > MAX_ANSWER_CHARS:
        return await _show(request, intake, await _replies(request, intake), S_("This answer is too long."), 400)
    await bo.services.engine.handle(
        Inbound(channel=CHANNEL, sender_id=intake.id, message_id=message_id, payload=payload,
                text=None if payload else text, language_hint=intake.language),
        assisted=intake.by(),
    )
    await _records(request).answered(intake.id, message_id)
    raise web.HTTPSeeOther(f"{PREFIX}/assisted/{intake.id}?turn={message_id}")


# --- the summary the applicant takes home -----------------------------------------------


async def _intake_case(request: web.Request, intake: AssistedView) -> Any:
    """The case of the URL if this intake created it and the staff member may see it."""
    reference = request.match_info["reference"].upper()[:16]
    if reference not in {c.reference for c in await _records(request).cases(intake.id)}:
        raise web.HTTPNotFound(text="no such case")
    return await case_or_404(request, "view")


@guarded("assisted_intake")
async def summary_page(request: web.Request) -> web.StreamResponse:
    """The printable summary without a code (printed again); a new code is a POST."""
    intake = await _intake_or_404(request)
    found = await _intake_case(request, intake)
    return await _summary(request, intake, found, None, None)


@guarded("assisted_intake")
async def issue_code(request: web.Request) -> web.StreamResponse:
    """A new one-time link code (earlier unused ones stop working), shown once, on the
    printable summary: only its hash is kept."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    intake = await _intake_or_404(request)
    found = await _intake_case(request, intake)
    now = bo.clock()
    code, expires = await _records(request).issue_link_code(
        found.case.id, intake_id=intake.id, staff=user.email, now=now
    )
    await bo.staff.audit(user, "link_code", now, case_reference=found.case.reference)
    response = await _summary(request, intake, found, code, expires)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _summary(request: web.Request, intake: AssistedView, found: Any, code: str | None,
                   expires: datetime | None) -> web.Response:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    case = found.case
    appointment = case.appointment or {}
    try:
        at = datetime.fromisoformat(appointment["starts_at"]) if appointment.get("starts_at") else None
    except (TypeError, ValueError):
        at = None
    content = bo.services.engine.content
    sheets = []
    for language in dict.fromkeys((case.language, request[LANGUAGE])):
        with use_locale(language):
            place = content.place(appointment["place"]) if at is not None and appointment.get("place") else None
        sheets.append(handout(
            language=language, kind=case.kind, reference=case.reference, created_at=case.created_at,
            timezone=bo.timezone, appointment_at=at, place=place, link_code=code, link_expires=expires,
        ))
    await bo.staff.audit(user, "summary", bo.clock(), case_reference=case.reference)
    return render(request, "handout.html", {"intake": intake, "case": case, "sheets": sheets, "code": code})


def _new_message_id() -> str:
    return "assisted-" + secrets.token_urlsafe(12)


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/assisted", start_page),
    ("POST", f"{PREFIX}/assisted", start),
    ("GET", f"{PREFIX}/assisted/{{intake}}", intake_page),
    ("POST", f"{PREFIX}/assisted/{{intake}}", answer),
    ("GET", f"{PREFIX}/assisted/{{intake}}/cases/{{reference}}", summary_page),
    ("POST", f"{PREFIX}/assisted/{{intake}}/cases/{{reference}}/code", issue_code),
)
