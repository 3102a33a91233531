"""Two small services that are not journeys: "my appointment" and "where is my case?".

``/appointment_manage`` lists the applicant's upcoming appointments with buttons to cancel
one (the seat is freed at once) or move it (the old seat is freed and the new one taken in
the same transaction). ``/case_status`` lists the cases sent from this conversation with
their status; ``/case_status VR-7K3M9Q`` looks one up from anywhere, which also asks for
the date of birth given in it, and is rate-limited so references cannot be guessed.

The list offers, as buttons, what the applicant may do about their own requests:
``/case_status withdraw VR-7K3M9Q`` (asks to confirm; ``… confirm`` withdraws it: the case
becomes ``withdrawn``, its data kept until its retention ends) and ``/case_status updates
off`` / ``on`` (whether staff's status changes are announced to them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date

from .. import answers
from ..cases import kinds, references
from ..i18n import N_, current_locale, format_moment, gettext, joined
from ..limits import Limits, MemoryLimits
from . import booking
from .context import TurnContext
from .state import Mode, State
from .turn import Button, Expects, Outbound

STATUS_TITLES = {
    "submitted": N_("received"),
    "in_review": N_("being handled by a person"),
    "waiting_for_applicant": N_("waiting for an answer from you"),
    "closed": N_("closed"),
    "withdrawn": N_("withdrawn"),
}
OPEN = ("submitted", "in_review", "waiting_for_applicant")
"""Statuses of a case staff still work on (the applicant may withdraw it)."""
MAX_WITHDRAW_BUTTONS = 3
LOOKUPS_PER_CONVERSATION = 5
"""Reference lookups a conversation may try per hour."""
WRONG_GUESSES_PER_REFERENCE = 5
"""Wrong dates of birth one reference takes per hour, from anyone: a new sender does not
buy new guesses. Reaching it only blocks lookups of that reference (its applicant still
sees it from the chat that sent it, or asks /human), never everyone's."""
LOOKUPS_PER_ADDRESS = 20
"""Lookups per hour from one address group (the web chat's; generous: a shelter's Wi-Fi)."""
HOUR = 3600


class AppointmentDesk:
    def __init__(self, content: Any) -> None:
        self.content = content

    async def handle(self, ctx: TurnContext, state: State, argument: str | None) -> list[Outbound]:
        action, *ids = (argument or "").split() or [""]
        mine = {b.id: b for b in await ctx.records.bookings(ctx.now)}
        if action == "cancel" and ids and _int(ids[0]) in mine:
            seat = mine[_int(ids[0])]
            await ctx.records.cancel_booking(seat.id, ctx.now)
            return [Outbound(gettext(
                "Your appointment of {moment} is cancelled, and the place is free for someone else.",
                moment=self._moment(ctx, seat),
            ))]
        if action == "move" and ids and _int(ids[0]) in mine:
            return await self._offer_move(ctx, mine[_int(ids[0])])
        if action == "to" and len(ids) == 2 and _int(ids[0]) in mine:
            return await self._move(ctx, mine[_int(ids[0])], _int(ids[1]))
        if not mine:
            return [Outbound(gettext("You have no upcoming appointment."))]
        out = []
        for seat in mine.values():
            out.append(Outbound(
                gettext(
                    "Your appointment: {moment}, at {place}. Reference: {reference}.",
                    moment=self._moment(ctx, seat),
                    place=self._place(seat),
                    reference=seat.case_reference or "—",
                ),
                (
                    Button(gettext("Move it"), f"/appointment_manage move {seat.id}"),
                    Button(gettext("Cancel it"), f"/appointment_manage cancel {seat.id}"),
                    Button(gettext("Keep it"), "/stay"),
                ),
            ))
        return out

    async def _offer_move(self, ctx: TurnContext, seat: Any) -> list[Outbound]:
        free = [s for s in await booking.free_slots(ctx) if s.id != seat.slot_id][:6]
        if not free:
            return [Outbound(gettext("There is no other free time right now. Your appointment stays as it is."))]
        buttons = tuple(
            Button(format_moment(s.starts_at, ctx.timezone), f"/appointment_manage to {seat.id} {s.id}") for s in free
        )
        return [Outbound(gettext("Choose a new time:"), buttons + (Button(gettext("Keep it"), "/stay"),))]

    async def _move(self, ctx: TurnContext, seat: Any, slot_id: int) -> list[Outbound]:
        """The new seat is taken and the old one freed in one step of this turn's
        transaction, so the applicant never ends up with none (or two)."""
        free = {s.id: s for s in await booking.free_slots(ctx)}
        new_slot = free.get(slot_id)
        moved = None
        if new_slot is not None:
            reminders = booking.reminders(new_slot.starts_at, ctx.language, ctx.now, new_slot.place)
            moved = await ctx.records.move_booking(seat.id, slot_id, ctx.now, reminders)
        if moved is None:
            return [Outbound(gettext("Sorry, someone else just took that time. Please choose another one."))] + await self._offer_move(ctx, seat)
        return [Outbound(gettext(
            "Your appointment is moved to {moment}, at {place}. The old time is free for someone else.",
            moment=self._moment(ctx, moved),
            place=self._place(moved),
        ))]

    def _moment(self, ctx: TurnContext, seat: Any) -> str:
        return format_moment(seat.starts_at, ctx.timezone)

    def _place(self, seat: Any) -> str:
        return self.content.place(seat.place)


class CaseDesk:
    def __init__(self, find_case: Any, limits: Limits | None = None) -> None:
        self.find_case = find_case
        self.limits = limits or MemoryLimits()

    async def handle(self, ctx: TurnContext, state: State, argument: str | None, own_cases: list[Any]) -> list[Outbound]:
        typed = (argument or "").strip()
        action, _, rest = typed.partition(" ")
        if action.lower() == "updates":
            return await self._updates(ctx, rest.strip().lower())
        if action.lower() == "withdraw":
            return await self._withdraw(ctx, rest, own_cases)
        if typed:
            reference = references.normalise(typed)
            if reference is None:
                return [Outbound(gettext("A reference looks like VR-7K3M9Q. Please check it."))]
            own = next((c for c in own_cases if c.reference == reference), None)
            if own is not None:
                return [Outbound(self._line(own))]
            state.mode = Mode.CASE_LOOKUP
            state.held_text = reference
            return [Outbound(
                gettext("To protect your data, what is the date of birth given in this request?"),
                expects=Expects(field="case_lookup.date_of_birth", type="date"),
            )]
        if not own_cases:
            return [Outbound(gettext(
                "No request was sent from this chat. If you sent one elsewhere, type /case_status and its reference."
            ))]
        buttons = [
            Button(gettext("Withdraw {reference}", reference=c.reference), f"/case_status withdraw {c.reference}")
            for c in own_cases
            if c.status in OPEN
        ][:MAX_WITHDRAW_BUTTONS]
        if await ctx.records.status_notices():
            buttons.append(Button(gettext("Stop status updates"), "/case_status updates off"))
        else:
            buttons.append(Button(gettext("Send me status updates"), "/case_status updates on"))
        return [Outbound(joined("\n", [self._line(c) for c in own_cases]), tuple(buttons))]

    async def _updates(self, ctx: TurnContext, choice: str) -> list[Outbound]:
        if choice not in ("on", "off"):
            return [Outbound(gettext("Type /case_status updates off to stop status updates, or /case_status updates on."))]
        await ctx.records.set_status_notices(choice == "on")
        if choice == "off":
            return [Outbound(gettext(
                "You will no longer be told here when the status of your requests changes. "
                "Staff can still write to you. Type /case_status to see your requests."
            ))]
        return [Outbound(gettext("You will be told here when the status of your requests changes."))]

    async def _withdraw(self, ctx: TurnContext, rest: str, own_cases: list[Any]) -> list[Outbound]:
        typed, _, confirm = rest.strip().partition(" ")
        reference = references.normalise(typed) if typed else None
        case = next((c for c in own_cases if c.reference == reference), None)
        if case is None:
            return [Outbound(gettext(
                "You can only withdraw a request sent from this chat. Type /case_status to see them."
            ))]
        if case.status not in OPEN:
            return [Outbound(gettext(
                "Request {reference} can no longer be withdrawn. Its status: {status}.",
                reference=case.reference,
                status=gettext(STATUS_TITLES.get(case.status, case.status)),
            ))]
        if confirm.strip().lower() != "confirm":
            return [Outbound(
                gettext(
                    "Do you really want to withdraw your request {reference}? Staff will stop working on it. "
                    "This cannot be undone, but you can send a new request later.",
                    reference=case.reference,
                ),
                (
                    Button(gettext("Yes, withdraw it"), f"/case_status withdraw {case.reference} confirm"),
                    Button(gettext("No, keep my request"), "/stay"),
                ),
            )]
        had_appointment = bool(case.appointment) and (case.appointment or {}).get("status") != "cancelled"
        withdrawn = await ctx.records.withdraw_case(case.reference, ctx.now)
        if withdrawn is None:
            return [Outbound(gettext("Request {reference} could not be withdrawn. Please try again.", reference=case.reference))]
        said = [Outbound(gettext(
            "Your request {reference} is withdrawn. Your data is kept for the legal period; "
            "type /forget to erase it now.",
            reference=case.reference,
        ))]
        appointment = withdrawn.appointment or {}
        if had_appointment and appointment.get("status") == "cancelled" and appointment.get("starts_at"):
            said.append(Outbound(gettext(
                "Your appointment of {moment} is cancelled, and the place is free for someone else.",
                moment=format_moment(datetime.fromisoformat(appointment["starts_at"]), ctx.timezone),
            )))
        return said

    async def check_birth(self, ctx: TurnContext, state: State, text: str) -> list[Outbound]:
        reference, state.held_text, state.mode = state.held_text or "", None, None
        now = ctx.now.timestamp()
        state.lookups = [t for t in state.lookups if now - t < HOUR]
        guesses = f"lookup:reference:{reference}"
        too_many = (
            len(state.lookups) >= LOOKUPS_PER_CONVERSATION
            or await self.limits.used(guesses, HOUR) >= WRONG_GUESSES_PER_REFERENCE
            or (ctx.origin is not None and await self.limits.hit(f"lookup:address:{ctx.origin}", LOOKUPS_PER_ADDRESS, HOUR))
        )
        if too_many:
            return [Outbound(gettext("Too many attempts. Please try again later, or type /human."))]
        state.lookups.append(now)
        result = answers.validate(answers.Rules(type="date"), text, today=ctx.today)
        case = await self.find_case(reference) if isinstance(result, answers.Valid) else None
        born = case.applicant.date_of_birth if case is not None else None
        if case is None or born is None or not isinstance(result, answers.Valid) or _as_date(result.value) != born:
            await self.limits.hit(guesses, WRONG_GUESSES_PER_REFERENCE, HOUR)
            # One answer for a wrong date and an unknown reference: nothing to learn from it.
            return [Outbound(gettext("I could not find a request with this reference and date of birth."))]
        return [Outbound(self._line(case))]

    @staticmethod
    def _line(case: Any) -> str:
        return gettext(
            "{kind} {reference}: {status} (since {since}).",
            kind=gettext(kinds.get(case.kind).title),
            reference=case.reference,
            status=gettext(STATUS_TITLES.get(case.status, case.status)),
            since=_since(case),
        )


def _since(case: Any) -> str:
    changed = case.status_history[-1].at if case.status_history else case.created_at
    return format_date(changed.date(), format="long", locale=current_locale())


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


