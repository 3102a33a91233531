"""Cases over the staff API: the list (keyset pages), one case, its export, and the back
office's actions on it (status, steps, assignment, notes, messages to the applicant).

Every case is reached through the back office's ``case_or_404`` and every list through
``policy.visible_cases``: a token sees exactly what a staff member of its role and
organisation sees, and a case out of reach answers 404, as if it did not exist."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from ..backoffice import policy
from ..backoffice.export import EXPORT_CONTENT, stream_cases
from ..backoffice.framework import case_or_404
from ..i18n import S_
from ..store.casework import CaseFile, CaseFilter, CaseKey, WorkflowError
from ..messaging import TEMPLATES, Delivery
from ..store.models import CaseRow
from .framework import API, HEADERS, ApiProblem, Call, endpoint
from .models import (
    AssignIn,
    CaseDetail,
    CaseFilters,
    CaseItem,
    CaseListQuery,
    CasePage,
    ExportQuery,
    MessageIn,
    MessageOut,
    MessageText,
    NoteIn,
    NoteOut,
    StatusIn,
    StatusOut,
    StepIn,
    StepOut,
)

CASE_ERRORS = (401, 403, 404, 422)


# --- the list ---------------------------------------------------------------------------


def case_filter(given: CaseFilters, zone: str) -> CaseFilter:
    """The back office's filter from validated query parameters (days are local days)."""
    local = ZoneInfo(zone)
    f = CaseFilter(
        kind=given.kind, status=None if given.status == "all" else given.status, priority=given.priority,
        language=given.language or None, flag=given.flag or None, reference=given.reference or None,
        unassigned=bool(given.unassigned), organisation=given.organisation or None,
    )
    if given.created_from:
        f.created_from = datetime.combine(given.created_from, time(), local)
    if given.created_to:
        f.created_to = datetime.combine(given.created_to + timedelta(days=1), time(), local)
    return f


def encode_cursor(key: CaseKey, order: str) -> str:
    raw = json.dumps([key.created_at.isoformat(), key.id, order], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> CaseKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, case_id, given_order = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if given_order != order or not isinstance(case_id, str) or moment.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(400, "bad-cursor", S_("This cursor is not one this list gave.")) from None
    return CaseKey(moment, case_id)


def _item(row: CaseRow, assignee: str | None) -> CaseItem:
    return CaseItem(
        reference=row.reference, kind=row.kind, status=row.status, priority=row.priority,  # type: ignore[arg-type]
        language=row.language, created_at=row.created_at, updated_at=row.updated_at,
        flags=list(row.flags or []), outcome=row.outcome, assignee=assignee,
    )


@endpoint("GET", f"{API}/cases", "list_cases", "Cases the token may see, filtered, newest first, a page at a time",
          query=CaseListQuery, response=CasePage, errors=(400, 401, 403, 422))
async def list_cases(call: Call) -> CasePage:
    q: CaseListQuery = call.query
    key = decode_cursor(q.cursor, q.order) if q.cursor else None
    f = case_filter(q, call.bo.timezone)
    rows = await call.bo.work.after(
        policy.visible_cases(call.user), f, key, q.limit + 1, newest_first=q.order == "newest", with_events=False
    )
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    following = (
        encode_cursor(CaseKey(rows[-1][0].created_at, rows[-1][0].id), q.order) if more and rows else None
    )
    call.audit_detail = f"n={len(rows)}"
    return CasePage(items=[_item(row, email) for row, email in rows], next=following)


# --- one case ---------------------------------------------------------------------------


def detail(found: CaseFile) -> CaseDetail:
    return CaseDetail(
        **found.case.model_dump(),
        outcome=found.row.outcome,
        assignee=found.assignee,
        steps=[StepOut(step=step, at=at, actor=actor) for step, (at, actor) in sorted(found.steps.items())],
        notes=[NoteOut(at=n.at, author=n.author, organisation=n.organisation, text=n.text) for n in found.notes],
    )


async def _reload(call: Call, action: str) -> CaseDetail:
    return detail(await case_or_404(call.request, action))


@endpoint("GET", f"{API}/cases/{{reference}}", "view", "One case: its typed record, history, steps and notes",
          response=CaseDetail, errors=CASE_ERRORS)
async def get_case(call: Call) -> CaseDetail:
    return await _reload(call, "view")


@endpoint("POST", f"{API}/cases/{{reference}}/status", "change_status",
          "Move the case along the workflow (closing needs one of its kind's outcomes)",
          body=StatusIn, response=StatusOut, errors=(400, 401, 403, 404, 409, 415, 422))
async def change_status(call: Call) -> StatusOut:
    found = await case_or_404(call.request, "change_status")
    given: StatusIn = call.body
    try:
        await call.bo.work.change_status(
            found.case.reference, given.status, given.reason, given.outcome, call.user.email, call.bo.clock()
        )
    except WorkflowError as error:
        raise _workflow(error) from None
    notice = (
        await call.bo.messenger.status_changed(found.row.conversation_id, found.case.reference, given.status)
        if call.bo.messenger is not None else Delivery.NO_CHAT
    )
    call.audit_detail = (f"{found.case.status}->{given.status}" + (f":{given.outcome}" if given.status == "closed" else "")
                         + f";notice={notice.value}")
    return StatusOut(**(await _reload(call, "view")).model_dump(), notice=notice.value)


def _workflow(error: WorkflowError) -> ApiProblem:
    """The workflow's refusal: 409 when the case's state is the reason, else 422."""
    text = str(error)
    conflict = " cannot become " in text
    if conflict:  # "a submitted case cannot become …": translated whole, with its values
        return ApiProblem(409, "workflow", S_("The case cannot move to this status from where it is now."))
    return ApiProblem(422, "workflow", text)


@endpoint("POST", f"{API}/cases/{{reference}}/steps", "record_step", "Record a step of the case kind",
          body=StepIn, response=CaseDetail, errors=(400, 401, 403, 404, 415, 422))
async def record_step(call: Call) -> CaseDetail:
    found = await case_or_404(call.request, "record_step")
    step = call.body.step
    try:
        await call.bo.work.record_step(found.case.reference, step, call.user.email, call.bo.clock())
    except WorkflowError as error:
        raise _workflow(error) from None
    call.audit_detail = step[:64]
    return await _reload(call, "view")


@endpoint("POST", f"{API}/cases/{{reference}}/assign", "assign",
          "Assign the case to a caseworker or admin of the token's organisation (null: no one)",
          body=AssignIn, response=CaseDetail, errors=(400, 401, 403, 404, 415, 422))
async def assign(call: Call) -> CaseDetail:
    found = await case_or_404(call.request, "assign")
    wanted = call.body.assignee
    assignee: int | None = None
    if wanted is not None:
        colleagues = {email: i for i, email in await call.bo.work.colleagues(call.user.organisation_id)}
        assignee = colleagues.get(wanted.strip().lower())
        if assignee is None:
            raise ApiProblem(422, "not-a-colleague", S_("Not a caseworker or admin of your organisation."))
    await call.bo.work.assign(found.case.reference, assignee, call.bo.clock())
    call.audit_detail = f"assignee={assignee}"
    return await _reload(call, "view")


@endpoint("POST", f"{API}/cases/{{reference}}/notes", "note", "Add an internal note (never shown to the applicant)",
          body=NoteIn, response=CaseDetail, status=201, errors=(400, 401, 403, 404, 415, 422))
async def add_note(call: Call) -> CaseDetail:
    found = await case_or_404(call.request, "note")
    try:
        await call.bo.work.add_note(
            found.case.reference, None, call.user.organisation_id, call.body.text, call.bo.clock()
        )
    except WorkflowError as error:
        raise _workflow(error) from None
    return await _reload(call, "view")


@endpoint("POST", f"{API}/cases/{{reference}}/messages", "message",
          "Write to the applicant on their own channel, as from the back office",
          body=MessageIn, response=MessageOut, status=201, errors=(400, 401, 403, 404, 415, 422, 503))
async def send_message(call: Call) -> MessageOut:
    found = await case_or_404(call.request, "message")
    given = call.body.root
    template = None
    if not isinstance(given, MessageText):
        if given.template not in TEMPLATES or given.params:
            raise ApiProblem(422, "unknown-template", S_("There is no message template {name}."), name=given.template)
        template = given.template
    messenger = call.bo.messenger
    if messenger is None:
        raise ApiProblem(503, "no-channels", S_("Applicants cannot be reached from this server."))
    if found.row.conversation_id is None:
        return MessageOut(delivery="no_chat")
    text = given.text.strip() if isinstance(given, MessageText) else ""
    delivery = await messenger.message(found.row.conversation_id, found.case.reference, text, template=template)
    if delivery in (Delivery.PUSHED, Delivery.KEPT):
        await call.bo.work.first_answer(found.case.reference, call.bo.clock())
    call.audit_detail = f"template={template or '-'};delivery={delivery.value}"
    return MessageOut(delivery=delivery.value)


# --- export -----------------------------------------------------------------------------


@endpoint("GET", f"{API}/cases/export", "list_cases",
          "Every case the list's filters select within the token's reach, streamed as CSV or NDJSON",
          query=ExportQuery, content=EXPORT_CONTENT, errors=(401, 403, 422))
async def export_cases(call: Call) -> web.StreamResponse:
    q: ExportQuery = call.query
    response, count = await stream_cases(
        call.request, call.bo, policy.visible_cases(call.user), case_filter(q, call.bo.timezone), q.format,
        newest_first=q.order == "newest", headers=HEADERS,
    )
    call.audit_detail = f"format={q.format} n={count}"
    return response


ROUTES = (export_cases, list_cases, get_case, change_status, record_step, assign, add_note, send_message)
"""In the order served: the export before ``/cases/{reference}``, which would take it."""
