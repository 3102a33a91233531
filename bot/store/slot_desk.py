"""The registration desk's side of appointments (the back office's slot pages): a day's
slots with their bookings, removing a free slot, cancelling a booking, marking who came,
and booking a free slot for a case (a waiting-list request).

Seats change only through the conditional updates of appointments.py (``take_seat``,
``free_seat``), so staff and applicants booking at the same moment never overbook. Every
change to a booking with a case is written into the case's history in the same
transaction. Nothing here decides who may do it: that is the back office's policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..cases.kinds import KINDS
from .appointments import (
    ACTIVE,
    REMINDER,
    WAITING_LIST,
    BookingView,
    SlotView,
    free_seat,
    record_on_case,
    take_seat,
)
from .casework import OPEN
from .database import READ_ONLY
from .models import Booking, CaseRow, CaseStep, Job, Slot

ATTENDANCE = ("attended", "no_show")
"""What staff mark on the day; each is also a step of the protection_appointment kind."""


class DeskError(ValueError):
    """A desk action that cannot be done; ``code`` names why (the pages translate it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class DayBooking:
    id: int
    status: str
    attendance: str | None
    case_reference: str | None
    priority: str | None
    flags: list[str]
    """The case's plain columns (nothing decrypted); None / [] when there is no case."""


@dataclass(frozen=True, slots=True)
class DaySlot:
    slot: SlotView
    bookings: list[DayBooking]


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """A booking as the desk acts on it (who to tell, about what)."""

    id: int
    slot_id: int
    place: str
    starts_at: datetime
    status: str
    conversation_id: int
    case_reference: str | None
    attendance: str | None


Reminders = Callable[[datetime, str], list[tuple[datetime, dict[str, Any]]]]
"""``(starts_at, place) -> [(due_at, payload)]``: the reminder jobs of a new booking."""


class SlotDesk:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    async def day(self, start: datetime, end: datetime) -> list[DaySlot]:
        """Slots starting in ``[start, end)`` with their bookings (active first), in time order."""
        async with self._reads() as session:
            slots = [
                SlotView(*row)
                for row in (
                    await session.execute(
                        select(Slot.id, Slot.place, Slot.starts_at, Slot.capacity, Slot.booked)
                        .where(Slot.starts_at >= start, Slot.starts_at < end)
                        .order_by(Slot.starts_at, Slot.place, Slot.id)
                    )
                ).all()
            ]
            ids = [s.id for s in slots]
            rows = (
                await session.execute(
                    select(
                        Booking.slot_id, Booking.id, Booking.status, Booking.attendance, Booking.case_reference,
                        CaseRow.priority, CaseRow.flags,
                    )
                    .outerjoin(CaseRow, CaseRow.reference == Booking.case_reference)
                    .where(Booking.slot_id.in_(ids))
                    .order_by(Booking.slot_id, Booking.status, Booking.id)
                )
            ).all() if ids else []
        by_slot: dict[int, list[DayBooking]] = {i: [] for i in ids}
        for r in rows:
            by_slot[r.slot_id].append(
                DayBooking(r.id, r.status, r.attendance, r.case_reference, r.priority, list(r.flags or []))
            )
        return [DaySlot(s, by_slot[s.id]) for s in slots]

    async def slot(self, slot_id: int) -> SlotView | None:
        async with self._reads() as session:
            row = (
                await session.execute(
                    select(Slot.id, Slot.place, Slot.starts_at, Slot.capacity, Slot.booked).where(Slot.id == slot_id)
                )
            ).one_or_none()
        return SlotView(*row) if row is not None else None

    async def booking(self, booking_id: int) -> BookingFacts | None:
        async with self._reads() as session:
            return await self._facts(session, booking_id, lock=False)

    async def active_booking_of(self, reference: str, now: datetime) -> BookingFacts | None:
        """The case's upcoming active booking, if it has one."""
        async with self._reads() as session:
            booking_id = await session.scalar(
                select(Booking.id)
                .join(Slot, Slot.id == Booking.slot_id)
                .where(Booking.case_reference == reference, Booking.status == ACTIVE, Slot.starts_at > now)
                .order_by(Slot.starts_at)
                .limit(1)
            )
        return await self.booking(booking_id) if booking_id is not None else None

    async def has_future_slots(self, now: datetime) -> bool:
        async with self._reads() as session:
            return bool(await session.scalar(select(func.count()).select_from(Slot).where(Slot.starts_at > now)))

    async def remove_slot(self, slot_id: int) -> None:
        """Delete a slot nobody holds a seat of (its cancelled bookings and their finished
        jobs go with it; the cases keep their history). ``DeskError("booked")`` if a seat
        is taken, ``DeskError("no_slot")`` if there is no such slot."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            slot = (
                await session.execute(select(Slot.id, Slot.booked).where(Slot.id == slot_id).with_for_update())
            ).one_or_none()
            if slot is None:
                raise DeskError("no_slot")
            active = await session.scalar(
                select(func.count()).select_from(Booking).where(Booking.slot_id == slot_id, Booking.status == ACTIVE)
            )
            if slot.booked or active:
                raise DeskError("booked")
            old = select(Booking.id).where(Booking.slot_id == slot_id).scalar_subquery()
            await session.execute(delete(Job).where(Job.booking_id.in_(old)).execution_options(synchronize_session=False))
            quiet = {"synchronize_session": False}
            await session.execute(delete(Booking).where(Booking.slot_id == slot_id).execution_options(**quiet))
            await session.execute(delete(Slot).where(Slot.id == slot_id, Slot.booked == 0).execution_options(**quiet))

    async def cancel(self, booking_id: int, now: datetime, actor: str) -> BookingFacts:
        """Cancel an upcoming active booking: the seat is free at once, its reminders are
        cancelled, and its case records it and goes (back) on the waiting list, since the
        applicant is promised a new time. ``DeskError("not_cancellable")`` otherwise."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            facts = await self._facts(session, booking_id)
            if facts is None or facts.status != ACTIVE or facts.starts_at <= now:
                raise DeskError("not_cancellable")
            if not await free_seat(session, booking_id, facts.slot_id, now):
                raise DeskError("not_cancellable")
            if facts.case_reference:
                await record_on_case(
                    session, self._store.cipher, facts.case_reference, now,
                    f"appointment of {facts.starts_at.isoformat()} cancelled by the registration desk",
                    actor, cancelled=True, add_flag=WAITING_LIST,  # the desk owes them a new time
                )
        return facts

    async def mark_attendance(
        self, booking_id: int, attendance: str, now: datetime, actor: str, *, started_before: datetime
    ) -> BookingFacts:
        """Record whether the applicant came: on the booking, and on its case as the kind's
        step and a history entry (the status is the caseworker's to change). Only for an
        active booking of a slot that starts before ``started_before`` (the end of today):
        nobody can have missed an appointment of next week."""
        if attendance not in ATTENDANCE:
            raise DeskError("bad_attendance")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            facts = await self._facts(session, booking_id)
            if facts is None or facts.status != ACTIVE:
                raise DeskError("no_booking")
            if facts.starts_at >= started_before:
                raise DeskError("too_early")
            await session.execute(
                update(Booking).where(Booking.id == booking_id).values(attendance=attendance)
                .execution_options(synchronize_session=False)
            )
            if facts.case_reference:
                label = "attended" if attendance == "attended" else "did not come to"
                found = await record_on_case(
                    session, self._store.cipher, facts.case_reference, now,
                    f"{label} the appointment of {facts.starts_at.isoformat()}", actor,
                )
                if found:
                    await self._step(session, facts.case_reference, attendance, actor, now)
        return facts

    async def book_for_case(
        self, reference: str, slot_id: int, now: datetime, actor: str, reminders: Reminders
    ) -> tuple[BookingView, int]:
        """Book a free seat of ``slot_id`` for a case (a waiting-list request, or a new time
        after a cancellation): the booking, its reminders, the case's ``appointment``, a
        history entry, and the ``waiting_list`` flag taken off, all in one transaction.
        Returns the booking and the case's conversation id (to tell the applicant).
        ``DeskError``: ``no_case``, ``closed_case`` (closed or withdrawn), ``no_conversation`` (erased: nobody to book for),
        ``has_booking`` (it already has an upcoming one), ``slot_full``."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            case = (
                await session.execute(
                    select(CaseRow.conversation_id, CaseRow.kind, CaseRow.status)
                    .where(CaseRow.reference == reference).with_for_update()
                )
            ).one_or_none()
            if case is None or case.kind != "protection_appointment":
                raise DeskError("no_case")
            if case.status not in OPEN:
                raise DeskError("closed_case")
            if case.conversation_id is None:
                raise DeskError("no_conversation")
            upcoming = await session.scalar(
                select(func.count()).select_from(Booking).join(Slot, Slot.id == Booking.slot_id)
                .where(Booking.case_reference == reference, Booking.status == ACTIVE, Slot.starts_at > now)
            )
            if upcoming:
                raise DeskError("has_booking")
            slot = (
                await session.execute(select(Slot.starts_at, Slot.place).where(Slot.id == slot_id))
            ).one_or_none()
            if slot is None:
                raise DeskError("slot_full")
            seat = await take_seat(
                session, self._store.cipher, slot_id, case.conversation_id, now,
                reminders(slot.starts_at, slot.place), kind=REMINDER, case_reference=reference,
            )
            if seat is None:
                raise DeskError("slot_full")
            await record_on_case(
                session, self._store.cipher, reference, now,
                f"appointment booked by the registration desk for {seat.starts_at.isoformat()}", actor,
                booked=seat, drop_flag=WAITING_LIST,
            )
        return seat, case.conversation_id

    @staticmethod
    async def _facts(session: Any, booking_id: int, *, lock: bool = True) -> BookingFacts | None:
        """The booking with its slot; ``lock``: the booking row is locked for the caller's
        change (PostgreSQL)."""
        query = (
            select(
                Booking.id, Booking.slot_id, Slot.place, Slot.starts_at, Booking.status,
                Booking.conversation_id, Booking.case_reference, Booking.attendance,
            )
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.id == booking_id)
        )
        row = (await session.execute(query.with_for_update(of=Booking) if lock else query)).one_or_none()
        return BookingFacts(*row) if row is not None else None

    @staticmethod
    async def _step(session: Any, reference: str, step: str, actor: str, now: datetime) -> None:
        """The kind's step, once (a second no-show stays in the history entries)."""
        row = (await session.execute(select(CaseRow.id, CaseRow.kind).where(CaseRow.reference == reference))).one()
        kind = KINDS.get(row.kind)
        if kind is None or kind.step(step) is None:
            return
        if await session.scalar(select(CaseStep.id).where(CaseStep.case_id == row.id, CaseStep.step == step)):
            return
        session.add(CaseStep(case_id=row.id, step=step, actor=actor, at=now))
