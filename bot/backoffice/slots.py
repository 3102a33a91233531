"""Registration appointments in the back office: a day's slots and bookings (with date
navigation), creating slots (the rules of ``intake slots add``: ``plan_slots``),
removing free ones, marking attended / no-show, cancelling a booking (the applicant is
told in their language), the waiting list, and offering a free slot to a waiting case.

Who may do what is policy.py's (``manage_slots``, ``see_bookings``, ``mark_attendance``,
``cancel_booking``, ``offer_slot``). Every change is in the audit log, with ids, times
and counts only: never a personal value.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date

from ..appointment_notices import booking_cancelled, slot_offered
from ..engine import booking as engine_booking
from ..i18n import S_
from ..store.appointments import DEFAULT_PLACE, SlotPlanError, plan_slots
from ..store.casework import CaseFilter
from ..store.slot_desk import WAITING_LIST, DeskError, SlotDesk
from ..store.staff import Staff
from . import policy
from .framework import BACKOFFICE, FORM, LANGUAGE, PREFIX, STAFF, BackOffice, Route, case_or_404, guarded, render

log = logging.getLogger(__name__)

DAY_VIEW = f"{PREFIX}/appointments"
NO_SLOTS_HINT = (
    "there is no future appointment slot: the protection journey can only put requests on the "
    "waiting list. Create slots with\n"
    "    intake slots add --from {day}T09:00 --to 12:00 --every 30m --capacity 2\n"
    "or as an admin in the back office at /backoffice/appointments"
)
PROBLEMS = {
    # plan_slots (the same rules as `intake slots add`)
    "start": S_("Give the first start as a date and time, e.g. 2026-12-01T09:00."),
    "end": S_("Give the end as a time (12:00) or a date and time."),
    "every": S_("Give the interval as 15m, 1h, 90m or 1h30m."),
    "capacity": S_("Give at least 1 seat per slot."),
    "order": S_("The end must be after the first start."),
    "place": S_("Give a place of 1 to 64 characters."),
    "too_many": S_("That is more than 10,000 slots at once: check the dates and the interval."),
    # the desk (store/slot_desk.py)
    "booked": S_("This slot has bookings: cancel them first."),
    "no_slot": S_("There is no such slot."),
    "not_cancellable": S_("Only an upcoming, active booking can be cancelled."),
    "no_booking": S_("There is no such active booking."),
    "too_early": S_("Attendance can be marked from the day of the appointment."),
    "bad_attendance": S_("Choose attended or did not come."),
    "no_case": S_("Only a protection registration case can get an appointment."),
    "closed_case": S_("This case is closed or withdrawn: reopen it before booking an appointment."),
    "no_conversation": S_("This case has no conversation any more (the applicant erased it): nobody to tell."),
    "has_booking": S_("This case already has an upcoming appointment."),
    "slot_full": S_("That time is no longer free: choose another one."),
}
DONE = {
    "created": S_("Slots created: {n}."),
    "removed": S_("The slot was removed."),
    "attendance": S_("Attendance recorded."),
    "cancelled": S_("The booking was cancelled and the applicant told."),
}
ATTENDANCE_TITLES = {"attended": S_("Attended"), "no_show": S_("Did not come")}


def _desk(bo: BackOffice) -> SlotDesk:
    return SlotDesk(bo.store)


def _zone(bo: BackOffice) -> ZoneInfo:
    return ZoneInfo(bo.timezone)


def _day_of(text: str | None, bo: BackOffice) -> date:
    """The day asked for, or today (also for a day too far off to step from)."""
    try:
        day = date.fromisoformat(text or "")
        if 2000 <= day.year <= 2200:
            return day
    except ValueError:
        pass
    return bo.clock().astimezone(_zone(bo)).date()


def _bounds(day: date, bo: BackOffice) -> tuple[datetime, datetime]:
    zone = _zone(bo)
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def _back(day: date | str, **query: Any) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{DAY_VIEW}?" + urlencode({"day": str(day), **query}))


def _int(value: Any) -> int | None:
    """A row id or a count from a form or a URL (None if it cannot be one)."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 <= number < 2**31 else None


def _place_name(bo: BackOffice) -> Any:
    engine = bo.messenger.engine if bo.messenger is not None else None
    return engine.content.place if engine is not None else str


# --- the day view -----------------------------------------------------------------------


@guarded("see_bookings")
async def day_view(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    day = _day_of(request.query.get("day"), bo)
    start, end = _bounds(day, bo)
    slots = await _desk(bo).day(start, end)
    _, waiting = await bo.work.cases(
        policy.visible_cases(user),
        CaseFilter(kind="protection_appointment", status="open", flag=WAITING_LIST, per_page=1),
    )
    await bo.staff.audit(user, "see_bookings", bo.clock(), detail=f"day={day.isoformat()}")
    problem = PROBLEMS.get(request.query.get("error", ""))
    done = DONE.get(request.query.get("done", ""))
    today = bo.clock().astimezone(_zone(bo)).date()
    return render(
        request,
        "appointments.html",
        {
            "day": day,
            "day_title": format_date(day, format="full", locale=request[LANGUAGE]),
            "today": today,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "slots": slots,
            "booked": sum(s.slot.booked for s in slots),
            "seats": sum(s.slot.capacity for s in slots),
            "waiting": waiting,
            "waiting_url": f"{PREFIX}/cases?" + urlencode(
                {"kind": "protection_appointment", "flag": WAITING_LIST, "sort": "oldest"}
            ),
            "problem": problem,
            "done": done,
            "done_n": _int(request.query.get("n", "")) or 0,
            "attendance_titles": ATTENDANCE_TITLES,
            "can_mark": day <= today,
            "now": bo.clock(),
            "default_place": DEFAULT_PLACE,
            "time": lambda moment: moment.astimezone(_zone(bo)).strftime("%H:%M"),
            "desk": policy.registration_desk(user),
            "request_value": lambda name, default: request.query.get(name, default)[:64],
        },
    )


# --- slots (admins) ----------------------------------------------------------------------


@guarded("manage_slots")
async def create_slots(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    given = {name: str(form.get(name, ""))[:200] for name in ("from", "to", "every", "capacity", "place")}
    try:
        plan = plan_slots(
            given["from"], given["to"], given["every"], given["capacity"], given["place"] or DEFAULT_PLACE, _zone(bo)
        )
    except SlotPlanError as error:
        raise _back(_day_of(given["from"][:10], bo), error=error.code, **{f"f_{k}": v for k, v in given.items()})
    created = await bo.store.add_plan(plan)
    await bo.staff.audit(
        user, "create_slots", bo.clock(),
        detail=(
            f"n={created} place={plan.place[:64]} from={plan.start.isoformat()} to={plan.end.isoformat()} "
            f"every={int(plan.every.total_seconds() // 60)}m capacity={plan.capacity}"
        ),
    )
    raise _back(plan.start.astimezone(_zone(bo)).date(), done="created", n=created)


@guarded("manage_slots")
async def remove_slot(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    slot_id = _int(request.match_info["slot_id"])
    desk = _desk(bo)
    slot = await desk.slot(slot_id) if slot_id is not None else None
    if slot is None:
        raise web.HTTPNotFound(text="no such slot")
    day = slot.starts_at.astimezone(_zone(bo)).date()
    try:
        await desk.remove_slot(slot.id)
    except DeskError as error:
        raise _back(day, error=error.code)
    await bo.staff.audit(
        user, "remove_slot", bo.clock(), detail=f"slot={slot.id} at={slot.starts_at.isoformat()} place={slot.place}"
    )
    raise _back(day, done="removed")


# --- bookings (the registration desk) ----------------------------------------------------


async def booking_in_reach(request: web.Request, action: str) -> tuple[Any, str]:
    """The booking of the URL and its case's language, if its case (when it has one) is
    one the user may act on; else 404, as for no booking at all."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    booking_id = _int(request.match_info["booking_id"])
    facts = await _desk(bo).booking(booking_id) if booking_id is not None else None
    if facts is None:
        raise web.HTTPNotFound(text="no such booking")
    language = "en"
    if facts.case_reference:
        found = await bo.work.case_file(policy.visible_cases(user), facts.case_reference)
        if found is None or not policy.can(user, action, found.row):
            await bo.staff.audit(user, "not_found", bo.clock(), case_reference=facts.case_reference, detail=action)
            raise web.HTTPNotFound(text="no such booking")
        language = found.row.language
    return facts, language


@guarded("mark_attendance")
async def mark_attendance(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    facts, _ = await booking_in_reach(request, "mark_attendance")
    day = facts.starts_at.astimezone(_zone(bo)).date()
    attendance = str(request[FORM].get("attendance", ""))
    _, end_of_today = _bounds(bo.clock().astimezone(_zone(bo)).date(), bo)
    try:
        await _desk(bo).mark_attendance(facts.id, attendance, bo.clock(), user.email, started_before=end_of_today)
    except DeskError as error:
        raise _back(day, error=error.code)
    await bo.staff.audit(
        user, "mark_attendance", bo.clock(), case_reference=facts.case_reference,
        detail=f"booking={facts.id} {attendance}",
    )
    raise _back(day, done="attendance")


@guarded("cancel_booking")
async def cancel_booking(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    facts, language = await booking_in_reach(request, "cancel_booking")
    day = facts.starts_at.astimezone(_zone(bo)).date()
    try:
        delivery = await cancel_and_tell(bo, facts, language, user.email)
    except DeskError as error:
        raise _back(day, error=error.code)
    await bo.staff.audit(
        user, "cancel_booking", bo.clock(), case_reference=facts.case_reference,
        detail=f"booking={facts.id} slot={facts.slot_id} message={delivery}",
    )
    raise _back(day, done="cancelled")


async def cancel_and_tell(bo: BackOffice, facts: Any, language: str, actor: str) -> str:
    """Cancel a booking at the desk (``SlotDesk.cancel``) and tell its applicant in their
    ``language``; how the message went (the back office and the staff API both call this)."""
    await _desk(bo).cancel(facts.id, bo.clock(), actor)
    return await _tell(
        bo, facts.conversation_id, facts.case_reference, language,
        booking_cancelled(language, facts.starts_at, bo.timezone, facts.place, _place_name(bo)),
    )


async def book_and_tell(bo: BackOffice, row: Any, slot_id: int, actor: str) -> tuple[Any, str]:
    """Book a free seat of ``slot_id`` for the case ``row`` (``SlotDesk.book_for_case``,
    with the usual reminders) and tell its applicant; the booking and how the message went
    (the back office and the staff API both call this). ``DeskError`` when it cannot."""
    language = row.language

    def reminders(starts_at: datetime, place: str) -> list[tuple[datetime, dict[str, Any]]]:
        return engine_booking.reminders(starts_at, language, bo.clock(), place)

    seat, conversation_id = await _desk(bo).book_for_case(row.reference, slot_id, bo.clock(), actor, reminders)
    delivery = await _tell(
        bo, conversation_id, row.reference, language,
        slot_offered(language, seat.starts_at, bo.timezone, seat.place, _place_name(bo)),
    )
    return seat, delivery


async def _tell(bo: BackOffice, conversation_id: int, reference: str | None, language: str, text: str) -> str:
    """Write ``text`` (already in the applicant's ``language``) through the messenger;
    returns how it went (pushed, kept, erased), for the audit log."""
    if bo.messenger is None:
        return "none"
    return str(await bo.messenger.message(conversation_id, reference or "", text))


# --- offering a slot to a case (the waiting list) ------------------------------------------


@guarded("offer_slot")
async def offer_page(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "offer_slot")
    now = bo.clock()
    current = await _desk(bo).active_booking_of(found.case.reference, now)
    free = await bo.store.slots(now, free_only=True, limit=60)
    await bo.staff.audit(user, "see_free_slots", now, case_reference=found.case.reference)
    return render(
        request,
        "offer_slot.html",
        {
            "case": found.case,
            "row": found.row,
            "current": current,
            "free": free,
            "waiting": WAITING_LIST in (found.row.flags or []),
            "problem": PROBLEMS.get(request.query.get("error", "")),
        },
    )


@guarded("offer_slot")
async def offer_slot(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "offer_slot")
    reference = found.case.reference
    slot_id = _int(request[FORM].get("slot_id", ""))
    try:
        if slot_id is None:
            raise DeskError("slot_full")
        seat, delivery = await book_and_tell(bo, found.row, slot_id, user.email)
    except DeskError as error:
        raise web.HTTPSeeOther(f"{PREFIX}/cases/{reference}/appointment?" + urlencode({"error": error.code}))
    await bo.staff.audit(
        user, "offer_slot", bo.clock(), case_reference=reference,
        detail=f"booking={seat.id} slot={seat.slot_id} message={delivery}",
    )
    raise web.HTTPSeeOther(f"{PREFIX}/cases/{reference}")


async def no_slots_hint(app: web.Application) -> None:
    """At start-up: without future slots every protection request goes to the waiting list."""
    bo = app[BACKOFFICE]
    now = bo.clock()
    if not await _desk(bo).has_future_slots(now):
        tomorrow = now.astimezone(_zone(bo)).date() + timedelta(days=1)
        log.warning(NO_SLOTS_HINT.format(day=tomorrow.isoformat()))


ROUTES: tuple[Route, ...] = (
    ("GET", DAY_VIEW, day_view),
    ("POST", f"{DAY_VIEW}/slots", create_slots),
    ("POST", f"{DAY_VIEW}/slots/{{slot_id}}/remove", remove_slot),
    ("POST", f"{DAY_VIEW}/bookings/{{booking_id}}/attendance", mark_attendance),
    ("POST", f"{DAY_VIEW}/bookings/{{booking_id}}/cancel", cancel_booking),
    ("GET", f"{PREFIX}/cases/{{reference}}/appointment", offer_page),
    ("POST", f"{PREFIX}/cases/{{reference}}/appointment", offer_slot),
)
