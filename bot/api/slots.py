"""Registration slots and bookings over the staff API, with the store's seat counting
(bot/store/appointments.py) and the same slot rules as ``intake slots add``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..backoffice import policy
from ..backoffice import slots as desk
from ..backoffice.framework import case_or_404
from ..i18n import S_
from ..store.appointments import CANCELLED, BookingView, plan_slots
from ..store.slot_desk import DeskError
from .framework import API, ApiProblem, Call, endpoint
from .models import (
    BookingIn,
    BookingList,
    BookingOut,
    BookingQuery,
    SlotList,
    SlotOut,
    SlotQuery,
    SlotsCreated,
    SlotsIn,
)


def _booking(view: BookingView) -> BookingOut:
    return BookingOut(
        id=view.id, slot_id=view.slot_id, place=view.place, starts_at=view.starts_at, status=view.status,
        case_reference=view.case_reference,
    )


@endpoint("GET", f"{API}/slots", "see_bookings", "Future registration slots, soonest first (with a free seat unless all)",
          query=SlotQuery, response=SlotList, errors=(401, 403, 422))
async def list_slots(call: Call) -> SlotList:
    q: SlotQuery = call.query
    slots = await call.bo.store.slots(call.bo.clock(), free_only=not q.all, limit=q.limit, place=q.place)
    return SlotList(items=[
        SlotOut(id=s.id, place=s.place, starts_at=s.starts_at, capacity=s.capacity, booked=s.booked, free=s.free)
        for s in slots
    ])


@endpoint("POST", f"{API}/slots", "manage_slots",
          "Create slots every so often between two local times (times that have one already are skipped)",
          body=SlotsIn, response=SlotsCreated, status=201, errors=(400, 401, 403, 415, 422))
async def create_slots(call: Call) -> SlotsCreated:
    given: SlotsIn = call.body
    try:
        plan = plan_slots(given.start, given.end, given.every, given.capacity, given.place, ZoneInfo(call.bo.timezone))
        created = await call.bo.store.add_plan(plan)
    except (ValueError, OverflowError) as error:
        raise ApiProblem(422, "bad-slots", str(error)) from None
    call.audit_detail = f"created={created}"
    return SlotsCreated(created=created)


@endpoint("GET", f"{API}/bookings", "see_bookings", "Active bookings of the cases the token may see, soonest first",
          query=BookingQuery, response=BookingList, errors=(401, 403, 422))
async def list_bookings(call: Call) -> BookingList:
    q: BookingQuery = call.query
    views = await call.bo.store.case_bookings(
        policy.visible_cases(call.user), call.bo.clock(), upcoming_only=not q.past, slot_id=q.slot_id,
        reference=q.reference.upper() if q.reference else None, limit=q.limit,
    )
    return BookingList(items=[_booking(v) for v in views])


@endpoint("POST", f"{API}/cases/{{reference}}/bookings", "offer_slot",
          "Book a seat of a slot for a registration request (reminders included, and the applicant told, "
          "as at the registration desk)",
          body=BookingIn, response=BookingOut, status=201, errors=(400, 401, 403, 404, 409, 415, 422))
async def book(call: Call) -> BookingOut:
    found = await case_or_404(call.request, "offer_slot")
    try:
        seat, delivery = await desk.book_and_tell(call.bo, found.row, call.body.slot_id, call.user.email)
    except DeskError as error:
        raise ApiProblem(409, *BOOKING_REFUSALS.get(error.code, BOOKING_REFUSALS["slot_full"])) from None
    call.audit_detail = f"booking={seat.id} slot={seat.slot_id} message={delivery}"
    return _booking(seat)


BOOKING_REFUSALS = {
    "no_conversation": ("erased", S_("The applicant's conversation was erased: there is no one to book for.")),
    "has_booking": ("booked", S_("The case has an upcoming appointment already: cancel it first.")),
    "closed_case": ("closed", S_("The case is closed or withdrawn: it gets no appointment.")),
    "slot_full": ("full", S_("This slot is full, past or unknown.")),
}
"""The desk's refusals (``DeskError`` codes) as problem types and details."""


@endpoint("POST", f"{API}/bookings/{{booking_id:[0-9]+}}/cancel", "cancel_booking",
          "Cancel an upcoming booking of a case the token may see: the seat is freed, the reminders cancelled, "
          "the applicant told, and the request goes back on the waiting list",
          response=BookingOut, errors=(401, 403, 404))
async def cancel_booking(call: Call) -> BookingOut:
    if int(call.request.match_info["booking_id"][:12]) >= 2**31:
        raise ApiProblem(404, "not-found", S_("There is no such upcoming booking within your reach."))
    facts, language = await desk.booking_in_reach(call.request, "cancel_booking")
    try:
        delivery = await desk.cancel_and_tell(call.bo, facts, language, call.user.email)
    except DeskError:
        raise ApiProblem(404, "not-found", S_("There is no such upcoming booking within your reach.")) from None
    call.audit_detail = f"booking={facts.id} message={delivery}"
    return _booking(BookingView(facts.id, facts.slot_id, facts.place, facts.starts_at, CANCELLED, facts.case_reference))


ROUTES = (list_slots, create_slots, list_bookings, book, cancel_booking)
