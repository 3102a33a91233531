"""The case's conversation with its applicant: messaging them (free text, or a template
written in their language), a live takeover with hand-back, and the conversation panel
(the transcript as the applicant saw it, with the bot's messages and the answers' labels
in the staff member's language next to the applicant's).

The panel is server-rendered; while a conversation is taken over, static/conversation.js
asks ``…/conversation`` for it again every few seconds (without JavaScript, reloading the
page does the same). Sending goes through ``BackOffice.messenger`` (bot/messaging.py), the
same as the staff API; the audit log records who did what, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..i18n import S_, retranslate
from ..messaging import TEMPLATES, Delivery
from ..store.staff import Staff
from .framework import (
    BACKOFFICE,
    FORM,
    LANGUAGE,
    PREFIX,
    STAFF,
    BackOffice,
    Route,
    back_to_case,
    case_or_404,
    guarded,
    render,
)

MAX_MESSAGE = 2000
"""Characters of a free-text message (Telegram's own limit is 4096)."""
POLL_SECONDS = 4
"""How often the open case page asks for the panel while the conversation is taken over."""

TEMPLATE_TITLES = {
    "documents": S_("We need more documents"),
    "appointment": S_("Please check your appointment"),
    "reviewed": S_("Your case is being reviewed"),
    "contact": S_("Please contact us"),
}
"""The staff's short name of each applicant template (bot/messaging.py TEMPLATES)."""
assert set(TEMPLATE_TITLES) == set(TEMPLATES)

DELIVERY_TITLES = {
    Delivery.PUSHED: S_("Delivered: the message was sent to the applicant's chat."),
    Delivery.KEPT: S_("Kept: the applicant will see it at their next visit."),
    Delivery.ERASED: S_("Not deliverable: the applicant erased their conversation."),
    Delivery.OPTED_OUT: S_("Not sent: the applicant asked not to be told of status changes."),
    Delivery.NO_CHAT: S_("Not sent: this case has no chat with the applicant."),
}


@dataclass
class Line:
    """One message of the panel."""

    at: datetime
    direction: str
    text: str
    translated: str | None = None
    """The bot's message (or a template) in the staff member's language, when it differs."""
    buttons: list[tuple[str, str | None]] = field(default_factory=list)
    """Each button's title as shown, and in the staff member's language."""
    case: str | None = None


def _in(source: dict[str, Any] | None, language: str, shown: str) -> str | None:
    if not source:
        return None
    translated = retranslate(source, language)
    return translated if translated.strip() != shown.strip() else None


async def panel_context(bo: BackOffice, row: Any, case_language: str, staff_language: str) -> dict[str, Any]:
    """What the conversation panel shows: its lines, and who has taken it over until when."""
    lines: list[Line] = []
    taken: dict[str, Any] | None = None
    if row.conversation_id:
        for line in await bo.store.transcript_lines(row.conversation_id):
            other = staff_language != case_language
            lines.append(Line(
                at=line.at,
                direction=line.direction,
                text=line.text,
                translated=_in(line.source, staff_language, line.text) if other else None,
                buttons=[
                    (b.get("title", ""), _in(b.get("source"), staff_language, b.get("title", "")) if other else None)
                    for b in line.buttons
                ],
                case=line.case,
            ))
        taken = await bo.store.takeover(row.conversation_id)
    until = _moment(taken.get("until")) if taken else None
    live = taken is not None and until is not None and until > bo.clock()
    return {
        "lines": lines,
        "takeover": {"by": taken.get("by") or "–", "until": until, "case": taken.get("case")} if live and taken else None,
        "poll_seconds": POLL_SECONDS,
    }


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def answer_labels(bo: BackOffice, flow_id: str, case_language: str, staff_language: str) -> dict[str, tuple[str, str | None]]:
    """Each answer's label (the flows' ``label:``) in the staff member's language, and in
    the applicant's when it differs, by the case field it fills (``applicant.name``, …)."""
    flows = getattr(getattr(getattr(bo.services, "engine", None), "flows", None), "flows", None) or {}
    ordered = sorted(flows.values(), key=lambda f: f.id != flow_id)  # the case's own flow first
    labels: dict[str, tuple[str, str | None]] = {}
    for flow in ordered:
        for ask in flow.asks():
            if ask.field in labels:
                continue
            source = {"msgid": ask.label, "params": {}}
            staff = retranslate(source, staff_language)
            applicant = retranslate(source, case_language) if case_language != staff_language else None
            labels[ask.field] = (staff, applicant if applicant != staff else None)
    return labels


def _back(reference: str, **query: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/cases/{reference}?{urlencode(query)}#conversation")


@guarded("message")
async def send_message(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "message")
    reference, row = found.case.reference, found.row
    form = request[FORM]
    template = str(form.get("template", "")).strip() or None
    text = str(form.get("text", "")).strip()
    if template is not None and template not in TEMPLATES:
        raise back_to_case(reference, S_("Choose one of the templates."))
    if template is not None and text:
        raise back_to_case(reference, S_("Choose a template or write a message, not both."))
    if template is None and not text:
        raise back_to_case(reference, S_("Write a message or choose a template."))
    if len(text) > MAX_MESSAGE:
        raise back_to_case(reference, S_("The message is too long."))
    if bo.messenger is None or not row.conversation_id:
        delivery = Delivery.NO_CHAT
    else:
        delivery = await bo.messenger.message(row.conversation_id, reference, text, template=template)
    now = bo.clock()
    if delivery in (Delivery.PUSHED, Delivery.KEPT):
        await bo.work.first_answer(reference, now)
    await bo.staff.audit(
        user, "message", now, case_reference=reference,
        detail=f"template={template or 'none'};delivery={delivery.value}",
    )
    raise _back(reference, delivery=delivery.value)


@guarded("take_over")
async def take_over(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "take_over")
    reference, row = found.case.reference, found.row
    taken = (
        bo.messenger is not None
        and bool(row.conversation_id)
        and await bo.messenger.take_over(row.conversation_id, reference, bo.clock(), by=user.email)
    )
    await bo.staff.audit(user, "take_over", bo.clock(), case_reference=reference, detail=f"taken={taken}")
    if not taken:
        raise back_to_case(reference, S_("Not deliverable: the applicant erased their conversation."))
    raise _back(reference)


@guarded("take_over")
async def hand_back(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "take_over")
    reference, row = found.case.reference, found.row
    delivery = (
        await bo.messenger.hand_back(row.conversation_id)
        if bo.messenger is not None and row.conversation_id
        else Delivery.NO_CHAT
    )
    await bo.staff.audit(
        user, "hand_back", bo.clock(), case_reference=reference,
        detail=f"delivery={delivery.value if delivery else 'none'}",
    )
    raise _back(reference, **({"delivery": delivery.value} if delivery else {}))


@guarded("view")
async def conversation_panel(request: web.Request) -> web.StreamResponse:
    """The panel alone, for the page's script while the conversation is taken over (the
    page view that started it is in the audit log; its refreshes are not, one per poll)."""
    bo = request.app[BACKOFFICE]
    found = await case_or_404(request, "view")
    context = await panel_context(bo, found.row, found.case.language, request[LANGUAGE])
    return render(request, "conversation.html", {"case": found.case, "row": found.row, **context})


ROUTES: tuple[Route, ...] = (
    ("POST", f"{PREFIX}/cases/{{reference}}/message", send_message),
    ("POST", f"{PREFIX}/cases/{{reference}}/takeover", take_over),
    ("POST", f"{PREFIX}/cases/{{reference}}/handback", hand_back),
    ("GET", f"{PREFIX}/cases/{{reference}}/conversation", conversation_panel),
)
