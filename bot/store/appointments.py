"""Registration appointments and the jobs that remind people of them.

Mixed into :class:`~bot.store.store.Turn` (what one conversation does, in its turn's
transaction, so a booking commits with its case or not at all) and
:class:`~bot.store.store.Store` (slots for staff, and the job queue of bot/scheduler.py).

Seats are counted in ``slots.booked`` and changed only by conditional updates
(``booked = booked + 1 WHERE booked < capacity``): the database decides who gets the last
seat, under SQLite's single writer and under PostgreSQL's row lock alike, and a check
constraint refuses anything beyond capacity. Job payloads are encrypted like every other
personal field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import ERASED, Booking, CaseEvent, CaseRow, Conversation, Job, Slot, StoredConversation

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from .crypto import Cipher
    from .database import ConversationLocks

REMINDER = "appointment_reminder"
DEFAULT_PLACE = "registration_centre"
ACTIVE, CANCELLED = "active", "cancelled"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
OPEN_JOB = (PENDING, RUNNING)
FINAL_JOB = (DONE, CANCELLED, FAILED)
MAX_SLOTS_PER_CALL = 10_000
"""``add_slots`` refuses more at once (a typo in ``--every`` or the dates, most likely)."""
WAITING_LIST = "waiting_list"
"""The flag of a registration request waiting for a slot (flows/protection_appointment.yml)."""
PLACE_LENGTH = 64
"""The longest place a slot may name (the column's width)."""


class SlotPlanError(ValueError):
    """Slots that cannot be created as asked. ``code`` names the rule (the back office
    translates it); the message says it in English (the CLI prints it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """Slots to create: the one set of rules of ``intake slots add`` and the back office."""

    start: datetime
    end: datetime
    every: timedelta
    capacity: int
    place: str

    def count(self) -> int:
        return len(_slot_times(self.start, self.end, self.every))


def parse_duration(text: str) -> timedelta:
    """``15m``, ``1h``, ``90m``, ``1h30m``, ``45min``."""
    match = re.fullmatch(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*", text.lower())
    value = timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0)) if match else timedelta(0)
    if not value:
        raise SlotPlanError("every", f"not a duration: {text!r} (try 15m, 1h, 90m)")
    return value


def parse_local(text: str, zone: tzinfo, day: date | None = None) -> datetime:
    """An ISO date-time in ``zone`` (unless it has an offset), or a bare time on ``day``."""
    code = "start" if day is None else "end"
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        if day is None:
            raise SlotPlanError(code, f"not a date and time: {text!r} (try 2026-12-01T09:00)") from None
        try:
            moment = datetime.combine(day, time.fromisoformat(text.strip()))
        except ValueError:
            raise SlotPlanError(code, f"not a time: {text!r} (try 12:00)") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def plan_slots(start: str, end: str, every: str, capacity: int | str, place: str, zone: tzinfo) -> SlotPlan:
    """Check what was asked for (local times in ``zone``; ``end`` may be a bare time on
    ``start``'s day) and say what would be created; ``SlotPlanError`` names the first
    rule broken."""
    first = parse_local(start, zone)
    last = parse_local(end, zone, day=first.date())
    step = parse_duration(every)
    try:
        seats = int(str(capacity).strip())
    except ValueError:
        raise SlotPlanError("capacity", f"not a number of seats: {capacity!r}") from None
    if seats < 1:
        raise SlotPlanError("capacity", "need --capacity of at least 1")
    if last <= first:
        raise SlotPlanError("order", "need --to after --from")
    where = place.strip()
    if not where or len(where) > PLACE_LENGTH:
        raise SlotPlanError("place", f"the place must have 1 to {PLACE_LENGTH} characters")
    plan = SlotPlan(first, last, step, seats, where)
    if plan.count() > MAX_SLOTS_PER_CALL:
        raise SlotPlanError("too_many", f"more than {MAX_SLOTS_PER_CALL} slots at once")
    return plan


def _slot_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """Steps are taken in ``start``'s zone, so local slots keep their wall-clock time
    across a DST change. Stops one past the limit (the caller refuses that many)."""
    times: list[datetime] = []
    moment = start
    while moment < end and len(times) <= MAX_SLOTS_PER_CALL:
        times.append(moment.astimezone(timezone.utc))
        moment = start + len(times) * every
    return times


@dataclass(frozen=True, slots=True)
class SlotView:
    id: int
    place: str
    starts_at: datetime
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)


@dataclass(frozen=True, slots=True)
class BookingView:
    id: int
    slot_id: int
    place: str
    starts_at: datetime
    status: str
    case_reference: str | None

    def for_case(self) -> dict[str, Any]:
        """The case record's ``appointment``."""
        return {
            "booking_id": self.id,
            "slot_id": self.slot_id,
            "place": self.place,
            "starts_at": self.starts_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ConversationAddress:
    channel: str
    sender_id: str
    unreachable: bool
    """The channel refused to deliver to them (see ``Store.mark_unreachable``)."""
    status_notices: bool = True
    """They want to hear when staff change the status of their cases (they can opt out)."""


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the scheduler hands it to ``deliver``.

    ``attempts`` is the number of this delivery attempt: 1 the first time, 2 after one
    failure or one lost lease, and so on. ``payload`` is decrypted.
    """

    id: int
    kind: str
    due_at: datetime
    conversation_id: int
    booking_id: int | None
    payload: dict[str, Any]
    attempts: int
    status: str = RUNNING


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give an aware one (UTC or a zone)")
    return value.astimezone(timezone.utc)


_SLOT_COLUMNS = (Slot.id, Slot.place, Slot.starts_at, Slot.capacity, Slot.booked)
_BOOKING_COLUMNS = (Booking.id, Booking.slot_id, Slot.place, Slot.starts_at, Booking.status, Booking.case_reference)


def _slots_query(now: datetime, free_only: bool, limit: int, place: str | None) -> Select[Any]:
    # Columns, not entities: a turn that books and then lists again must not be handed
    # a stale object from its session's identity map.
    query = select(*_SLOT_COLUMNS).where(Slot.starts_at > now).order_by(Slot.starts_at, Slot.place, Slot.id).limit(limit)
    if free_only:
        query = query.where(Slot.booked < Slot.capacity)
    if place is not None:
        query = query.where(Slot.place == place)
    return query


class TurnAppointments:
    """The calls of one conversation's turn (mixed into ``Turn``)."""

    _cipher: Cipher
    _session: AsyncSession
    _sender_key: str
    conversation: StoredConversation

    async def slots(
        self, now: datetime, *, free_only: bool = False, limit: int = 100, place: str | None = None
    ) -> list[SlotView]:
        """Like ``Store.slots``, read in this turn's transaction (sees its own bookings)."""
        rows = (await self._session.execute(_slots_query(now, free_only, limit, place))).all()
        return [SlotView(*row) for row in rows]

    async def book(
        self, slot_id: int, now: datetime, reminders: list[tuple[datetime, dict[str, Any]]], *, kind: str = REMINDER
    ) -> BookingView | None:
        """Take a seat of ``slot_id`` for this conversation, or None if it is full or past.

        One conditional UPDATE decides, so concurrent turns never overbook. Each reminder
        ``(due_at, payload)`` becomes a pending job (payload encrypted); reminders already
        due at ``now`` are skipped. All of it commits with the turn, or not at all.
        """
        return await take_seat(self._session, self._cipher, slot_id, self.conversation.id, now, reminders, kind=kind)

    async def attach_reference(self, booking_id: int, reference: str) -> None:
        """Record the case reference on a booking of this conversation (same turn as the case)."""
        await self._session.execute(
            update(Booking)
            .where(Booking.id == booking_id, Booking.conversation_id == self.conversation.id)
            .values(case_reference=reference)
            .execution_options(synchronize_session=False)
        )

    async def bookings(self, now: datetime, *, upcoming_only: bool = True) -> list[BookingView]:
        """This conversation's active bookings, soonest first (only future ones by default)."""
        query = (
            select(*_BOOKING_COLUMNS)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.conversation_id == self.conversation.id, Booking.status == ACTIVE)
            .order_by(Slot.starts_at, Booking.id)
        )
        if upcoming_only:
            query = query.where(Slot.starts_at > now)
        return [BookingView(*row) for row in (await self._session.execute(query)).all()]

    async def cancel_booking(self, booking_id: int, now: datetime) -> bool:
        """Cancel an upcoming active booking of this conversation: the seat is free at once
        (for turns that commit after this one), its open jobs are cancelled, and its case
        (if any) records it. False if there is no such booking (another conversation's,
        already cancelled, or past)."""
        booking = await self._upcoming(booking_id, now)
        if booking is None or not await self._free_seat(booking_id, booking.slot_id, now):
            return False
        if booking.case_reference:
            await self._record_on_case(booking.case_reference, now, "appointment cancelled by the applicant", cancelled=True)
        return True

    async def _upcoming(self, booking_id: int, now: datetime) -> Any:
        """``(slot_id, case_reference)`` of an upcoming active booking of this conversation,
        or None."""
        return (
            await self._session.execute(
                select(Booking.slot_id, Booking.case_reference)
                .join(Slot, Slot.id == Booking.slot_id)
                .where(
                    Booking.id == booking_id, Booking.conversation_id == self.conversation.id,
                    Booking.status == ACTIVE, Slot.starts_at > now,
                )
            )
        ).one_or_none()

    async def _free_seat(self, booking_id: int, slot_id: int, now: datetime) -> bool:
        return await free_seat(self._session, booking_id, slot_id, now)

    async def move_booking(
        self,
        booking_id: int,
        slot_id: int,
        now: datetime,
        reminders: list[tuple[datetime, dict[str, Any]]],
        *,
        kind: str = REMINDER,
    ) -> BookingView | None:
        """Move an upcoming booking of this conversation to ``slot_id``: a new booking (with
        these reminders and the old case reference) and the old one cancelled, its seat
        freed. None, and nothing changed, if the booking is not this conversation's
        upcoming one, or the new slot is the same, full or past.

        The same as ``book`` then ``cancel_booking`` in one turn, except that both slots'
        rows are locked first, in id order: two applicants swapping times at the same
        moment then wait for each other instead of deadlocking on PostgreSQL.
        """
        current = await self._upcoming(booking_id, now)
        if current is None or current.slot_id == slot_id:
            return None
        await self._session.execute(
            select(Slot.id).where(Slot.id.in_((current.slot_id, slot_id))).order_by(Slot.id).with_for_update()
        )
        seat = await self.book(slot_id, now, reminders, kind=kind)
        if seat is None:
            return None
        await self._free_seat(booking_id, current.slot_id, now)
        if current.case_reference:
            await self.attach_reference(seat.id, current.case_reference)
            seat = replace(seat, case_reference=current.case_reference)
            await self._record_on_case(
                current.case_reference, now, f"appointment moved by the applicant to {seat.starts_at.isoformat()}",
                moved_to=seat,
            )
        return seat

    async def _record_on_case(
        self, reference: str, now: datetime, note: str, *, cancelled: bool = False, moved_to: BookingView | None = None
    ) -> None:
        await record_on_case(
            self._session, self._cipher, reference, now, note, "applicant",
            sender_key=self._sender_key, cancelled=cancelled, moved_to=moved_to,
        )


async def take_seat(
    session: AsyncSession,
    cipher: Cipher,
    slot_id: int,
    conversation_id: int,
    now: datetime,
    reminders: list[tuple[datetime, dict[str, Any]]],
    *,
    kind: str = REMINDER,
    case_reference: str | None = None,
) -> BookingView | None:
    """Take a seat of ``slot_id`` for a conversation (see ``TurnAppointments.book``): one
    conditional UPDATE decides, so concurrent bookings never overbook."""
    taken = await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked < Slot.capacity, Slot.starts_at > now)
        .values(booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    place, starts_at = (await session.execute(select(Slot.place, Slot.starts_at).where(Slot.id == slot_id))).one()
    row = Booking(
        slot_id=slot_id, conversation_id=conversation_id, case_reference=case_reference,
        status=ACTIVE, created_at=now, cancelled_at=None,
    )
    session.add(row)
    await session.flush()
    for due_at, payload in reminders:
        if _utc(due_at) <= now:
            continue
        session.add(Job(
            kind=kind, due_at=due_at, status=PENDING, attempts=0, locked_until=None, done_at=None,
            conversation_id=conversation_id, booking_id=row.id,
            payload_enc=cipher.encrypt_json(payload), created_at=now,
        ))
    await session.flush()
    return BookingView(row.id, slot_id, place, starts_at, ACTIVE, case_reference)


async def free_seat(session: AsyncSession, booking_id: int, slot_id: int, now: datetime) -> bool:
    """Cancel an active booking and its open jobs, and give its seat back."""
    cancelled = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == ACTIVE)
        .values(status=CANCELLED, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    await _cancel_jobs(session, now, Job.booking_id == booking_id)
    return True


async def record_on_case(
    session: AsyncSession,
    cipher: Cipher,
    reference: str,
    now: datetime,
    note: str,
    actor: str,
    *,
    sender_key: str | None = None,
    cancelled: bool = False,
    moved_to: BookingView | None = None,
    booked: BookingView | None = None,
    drop_flag: str | None = None,
    add_flag: str | None = None,
) -> bool:
    """Keep the case's ``appointment`` true and say in its history what changed (the
    status is unchanged: staff decide what a cancelled appointment means). With
    ``sender_key``, only that applicant's case. False if there is no such case (erased)."""
    query = select(CaseRow).where(CaseRow.reference == reference).options(selectinload(CaseRow.events))
    if sender_key is not None:
        query = query.where(CaseRow.sender_key == sender_key)
    row = await session.scalar(query)
    if row is None:
        return False
    data = cipher.decrypt_json(row.data_enc)
    appointment = dict(data.get("appointment") or {})
    if booked is not None:
        appointment = booked.for_case()
    if moved_to is not None:
        appointment = {**moved_to.for_case(), "moved_from": appointment.get("starts_at")}
    if cancelled:
        appointment.update(status=CANCELLED, cancelled_at=now.isoformat())
    row.data_enc = cipher.encrypt_json({**data, "appointment": appointment})
    if drop_flag is not None and drop_flag in (row.flags or []):
        row.flags = [f for f in row.flags if f != drop_flag]
    if add_flag is not None and add_flag not in (row.flags or []):
        row.flags = [*(row.flags or []), add_flag]
    row.events.append(CaseEvent(at=now, status=row.status, actor=actor, note=note))
    row.updated_at = now
    return True


async def _cancel_jobs(session: AsyncSession, now: datetime, which: Any) -> None:
    await session.execute(
        update(Job)
        .where(which, Job.status.in_(OPEN_JOB))
        .values(status=CANCELLED, done_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )


class StoreAppointments:
    """Slots for staff, addresses for reminders, and the job queue (mixed into ``Store``)."""

    engine: AsyncEngine
    cipher: Cipher
    locks: ConversationLocks
    _sessions: async_sessionmaker[AsyncSession]
    _reads: async_sessionmaker[AsyncSession]

    # --- slots ------------------------------------------------------------------

    async def add_slots(
        self, start: datetime, end: datetime, every: timedelta, capacity: int, place: str = DEFAULT_PLACE
    ) -> int:
        """Create slots at ``start``, ``start + every``, … before ``end`` (exclusive), with
        ``capacity`` seats each; returns how many were created. Times that already have a
        slot at ``place`` are skipped (their capacity is left as it was).

        ``start`` and ``end`` must be aware; steps are taken in ``start``'s zone, so slots
        given in Europe/Brussels keep their wall-clock time across a DST change.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes")
        if every <= timedelta(0):
            raise ValueError("every must be positive")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not place:
            raise ValueError("place must not be empty")
        if len(place) > PLACE_LENGTH:
            raise ValueError(f"place must have at most {PLACE_LENGTH} characters")
        times = _slot_times(start, end, every)
        if len(times) > MAX_SLOTS_PER_CALL:
            raise ValueError(f"more than {MAX_SLOTS_PER_CALL} slots at once")
        if not times:
            return 0
        created_at = datetime.now(timezone.utc)
        rows = [
            {"place": place, "starts_at": t, "capacity": capacity, "booked": 0, "created_at": created_at}
            for t in times
        ]
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        table = Slot.__table__
        created = 0
        async with self.locks.writer(), self._sessions() as session, session.begin():
            for i in range(0, len(rows), 500):
                statement = (
                    insert(table)
                    .values(rows[i:i + 500])
                    .on_conflict_do_nothing(index_elements=["place", "starts_at"])
                    .returning(table.c.id)
                )
                created += len((await session.execute(statement)).all())
        return created

    async def add_plan(self, plan: SlotPlan) -> int:
        """``add_slots`` for a checked :class:`SlotPlan` (``intake slots add``, the back office)."""
        return await self.add_slots(plan.start, plan.end, plan.every, plan.capacity, place=plan.place)

    async def slots(
        self, now: datetime, *, free_only: bool = False, limit: int = 100, place: str | None = None
    ) -> list[SlotView]:
        """Slots that start after ``now``, soonest first; with ``free_only``, those with a
        free seat. Safe to call inside a turn (it reads on its own connection, without
        waiting for the turn's write lock), but ``turn.slots`` also sees the turn's own
        uncommitted bookings."""
        async with self._reads() as session:
            rows = (await session.execute(_slots_query(now, free_only, limit, place))).all()
        return [SlotView(*row) for row in rows]

    # --- bookings by staff (the staff API) ---------------------------------------------

    async def case_bookings(
        self, visible: Any, now: datetime, *, upcoming_only: bool = True, slot_id: int | None = None,
        reference: str | None = None, limit: int = 500,
    ) -> list[BookingView]:
        """Active bookings of the cases ``visible`` (an access condition on ``cases``) lets
        through, soonest first; a booking of no case is never listed."""
        query = (
            select(*_BOOKING_COLUMNS)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(CaseRow, CaseRow.reference == Booking.case_reference)
            .where(Booking.status == ACTIVE, visible)
            .order_by(Slot.starts_at, Booking.id)
            .limit(limit)
        )
        if upcoming_only:
            query = query.where(Slot.starts_at > now)
        if slot_id is not None:
            query = query.where(Booking.slot_id == slot_id)
        if reference is not None:
            query = query.where(Booking.case_reference == reference)
        async with self._reads() as session:
            return [BookingView(*row) for row in (await session.execute(query)).all()]

    async def conversation_address(self, conversation_id: int) -> ConversationAddress | None:
        """Where a conversation's applicant is, decrypted, so a reminder can reach them;
        None if there is no such conversation or its data was erased."""

        async with self._reads() as session:
            row = (
                await session.execute(
                    select(
                        Conversation.channel, Conversation.sender_enc, Conversation.unreachable_since,
                        Conversation.status_notices_off,
                    )
                    .where(Conversation.id == conversation_id)
                )
            ).one_or_none()
        if row is None:
            return None
        sender = self.cipher.decrypt(row.sender_enc).decode()
        if sender == ERASED:
            return None
        return ConversationAddress(
            row.channel, sender, row.unreachable_since is not None, not row.status_notices_off
        )

    # --- jobs (see bot/scheduler.py) -------------------------------------------------

    async def add_job(
        self, kind: str, conversation_id: int, due_at: datetime, payload: dict[str, Any], now: datetime
    ) -> None:
        """Schedule one job of a conversation (the end of a staff takeover, …)."""
        async with self.locks.writer(), self._sessions() as session, session.begin():
            session.add(Job(
                kind=kind, due_at=due_at, status=PENDING, attempts=0, locked_until=None, done_at=None,
                conversation_id=conversation_id, booking_id=None,
                payload_enc=self.cipher.encrypt_json(payload), created_at=now,
            ))

    async def claim_jobs(
        self, now: datetime, *, lease: timedelta, limit: int, max_attempts: int, kinds: tuple[str, ...] | None = None
    ) -> list[JobView]:
        """Take up to ``limit`` jobs that are due (pending with ``due_at <= now``, or running
        with an expired lease), mark them running until ``now + lease`` and count the
        attempt, in one transaction. On PostgreSQL rows another worker is claiming are
        skipped (``FOR UPDATE SKIP LOCKED``); on SQLite claims are serialized by the single
        writer. A job whose lease expired after ``max_attempts`` claims is marked failed
        rather than tried again (it may be what brings workers down)."""
        due = ((Job.status == PENDING) & (Job.due_at <= now)) | (
            (Job.status == RUNNING) & (Job.locked_until <= now)
        )
        query = select(Job).where(due).order_by(Job.due_at, Job.id).limit(limit).with_for_update(skip_locked=True)
        if kinds is not None:
            query = query.where(Job.kind.in_(kinds))
        claimed: list[JobView] = []
        async with self.locks.writer(), self._sessions() as session, session.begin():
            for job in (await session.scalars(query)).all():
                if job.status == RUNNING and job.attempts >= max_attempts:
                    job.status, job.done_at, job.locked_until = FAILED, now, None
                    continue
                try:
                    payload = self.cipher.decrypt_json(job.payload_enc)
                except ValueError:
                    job.status, job.done_at, job.locked_until = FAILED, now, None
                    continue
                job.status, job.locked_until, job.attempts = RUNNING, now + lease, job.attempts + 1
                claimed.append(JobView(
                    job.id, job.kind, job.due_at, job.conversation_id, job.booking_id, payload, job.attempts, RUNNING
                ))
        return claimed

    async def finish_job(
        self, job_id: int, attempt: int, now: datetime, status: str, *, retry_at: datetime | None = None
    ) -> bool:
        """Record the outcome of claim number ``attempt``: ``done``, ``failed``, or
        ``pending`` again from ``retry_at``. False (and nothing changed) when that claim is
        no longer the job's: its lease expired and another worker took it, or it was
        cancelled meanwhile."""
        if status == PENDING:
            if retry_at is None:
                raise ValueError("retry_at is needed to put a job back")
            values: dict[str, Any] = {"status": PENDING, "due_at": retry_at, "locked_until": None}
        elif status in (DONE, FAILED):
            values = {"status": status, "done_at": now, "locked_until": None}
        else:
            raise ValueError(f"cannot finish a job as {status!r}")
        async with self.locks.writer(), self._sessions() as session, session.begin():
            result = await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == RUNNING, Job.attempts == attempt)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def job_claimed(self, job_id: int, attempt: int) -> bool:
        """Whether claim number ``attempt`` still holds the job (it was not cancelled, or
        taken by another worker after the lease expired)."""
        async with self._reads() as session:
            return bool(await session.scalar(
                select(Job.id).where(Job.id == job_id, Job.status == RUNNING, Job.attempts == attempt)
            ))

    async def jobs(
        self, *, conversation_id: int | None = None, booking_id: int | None = None, status: str | None = None
    ) -> list[JobView]:
        """Jobs, oldest due first, with their payloads decrypted (for staff and tests)."""
        query = select(Job).order_by(Job.due_at, Job.id)
        if conversation_id is not None:
            query = query.where(Job.conversation_id == conversation_id)
        if booking_id is not None:
            query = query.where(Job.booking_id == booking_id)
        if status is not None:
            query = query.where(Job.status == status)
        async with self._reads() as session:
            rows = (await session.scalars(query)).all()
            return [
                JobView(
                    r.id, r.kind, r.due_at, r.conversation_id, r.booking_id,
                    self.cipher.decrypt_json(r.payload_enc), r.attempts, r.status,
                )
                for r in rows
            ]
