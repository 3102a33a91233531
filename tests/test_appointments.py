"""Registration appointments: slots, bookings, reminders as jobs, the scheduler, the
calendar file and the ``intake slots`` commands. Store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import text

from bot.appointments_ics import appointment_ics
from bot.scheduler import Scheduler
from bot.store.appointments import ConversationAddress, JobView, SlotView
from bot.store.crypto import Cipher, generate_key
from bot.cases.draft import CaseDraft
from bot.store.store import Store
from bot.store.retention import RetentionPolicy

from .conftest import START, Clock

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = START + timedelta(days=7)
"""The appointments' morning, a week after the tests' "now"."""


def reminders_for(starts_at: datetime, **extra: Any) -> list[tuple[datetime, dict[str, Any]]]:
    payload = {"starts_at": starts_at.isoformat(), "language": "fr", **extra}
    return [(starts_at - timedelta(days=1), dict(payload)), (starts_at - timedelta(hours=2), dict(payload))]


async def one_slot(store: Store, capacity: int, at: datetime = DAY, place: str = "registration_centre") -> SlotView:
    assert await store.add_slots(at, at + timedelta(minutes=1), timedelta(minutes=30), capacity, place=place) == 1
    (slot,) = [s for s in await store.slots(START, place=place) if s.starts_at == at]
    return slot


async def slot_by_id(store: Store, slot_id: int) -> SlotView:
    return next(s for s in await store.slots(START) if s.id == slot_id)


def draft() -> CaseDraft:
    return CaseDraft(
        kind="protection_appointment", flow_id="protection_appointment", language="fr", channel="test",
        applicant={"name": "Amina Haddad"}, household={}, answers={}, flags=[], priority="normal",
        consent=None, content_version=None,
    )


# --- slots -------------------------------------------------------------------------


async def test_slots_are_added_once_and_listed_in_the_future(store: Store) -> None:
    morning = DAY.astimezone(BRUSSELS).replace(hour=9, minute=0)
    assert await store.add_slots(morning, morning.replace(hour=12), timedelta(minutes=30), 2) == 6
    # Overlapping range: only the two new times are created, nothing is duplicated.
    assert await store.add_slots(morning.replace(hour=11), morning.replace(hour=13), timedelta(minutes=30), 5) == 2
    assert await store.add_slots(morning, morning.replace(hour=9, minute=30), timedelta(minutes=30), 2, place="annex") == 1
    slots = await store.slots(START)
    assert len(slots) == 9
    assert [s.starts_at for s in slots] == sorted(s.starts_at for s in slots)
    main = [s for s in slots if s.place == "registration_centre"]
    assert [s.starts_at.astimezone(BRUSSELS).strftime("%H:%M") for s in main] == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"
    ]
    assert [s.capacity for s in main] == [2] * 6 + [5] * 2  # the existing 11:00 and 11:30 kept 2
    assert all(s.booked == 0 and s.free == s.capacity for s in slots)
    assert [s.place for s in await store.slots(START, place="annex")] == ["annex"]
    assert len(await store.slots(START, limit=3)) == 3
    # Only slots that start after "now".
    later = await store.slots(morning.replace(hour=10))
    assert [s.starts_at.astimezone(BRUSSELS).strftime("%H:%M") for s in later if s.place != "annex"] == [
        "10:30", "11:00", "11:30", "12:00", "12:30"
    ]
    with pytest.raises(ValueError):
        await store.add_slots(morning, morning.replace(hour=12), timedelta(0), 2)
    with pytest.raises(ValueError):
        await store.add_slots(morning, morning.replace(hour=12), timedelta(minutes=30), 0)


async def test_a_hundred_applicants_for_ten_seats(store: Store) -> None:
    slot = await one_slot(store, capacity=10)

    async def applicant(i: int) -> bool:
        async with store.turn("test", f"applicant-{i}", START) as turn:
            seat = await turn.book(slot.id, START, reminders_for(slot.starts_at))
            if seat is not None:
                case = await turn.create_case(draft(), START)
                await turn.attach_reference(seat.id, case.reference)
            return seat is not None

    results = await asyncio.gather(*(applicant(i) for i in range(100)))
    assert sum(results) == 10
    after = await slot_by_id(store, slot.id)
    assert after.booked == after.capacity == 10 and after.free == 0
    assert await store.slots(START, free_only=True) == []
    async with store.engine.connect() as conn:
        bookings = (await conn.execute(text("SELECT status, case_reference FROM bookings"))).all()
        jobs = (await conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'pending'"))).scalar_one()
    assert len(bookings) == 10 and all(status == "active" and ref for status, ref in bookings)
    assert jobs == 20
    assert len(await store.cases(kind="protection_appointment")) == 10


async def test_a_booking_commits_with_its_turn_or_not_at_all(store: Store) -> None:
    slot = await one_slot(store, capacity=1)
    with pytest.raises(RuntimeError):
        async with store.turn("test", "a", START) as turn:
            assert await turn.book(slot.id, START, reminders_for(slot.starts_at)) is not None
            await turn.create_case(draft(), START)
            raise RuntimeError("the turn fails after the booking")
    assert (await slot_by_id(store, slot.id)).booked == 0
    assert await store.cases() == [] and await store.jobs() == []
    async with store.turn("test", "a", START) as turn:
        assert await turn.bookings(START) == []
        seat = await turn.book(slot.id, START, [])
        assert seat is not None and seat.status == "active" and seat.place == "registration_centre"
        assert seat.starts_at == slot.starts_at and seat.case_reference is None


async def test_full_past_and_unknown_slots_are_not_booked(store: Store) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        assert await turn.book(slot.id, slot.starts_at, []) is None  # it is starting now
        assert await turn.book(999_999, START, []) is None
        assert await turn.book(slot.id, START, []) is not None
        assert await turn.book(slot.id, START, []) is None  # full
        assert [s.id for s in await turn.slots(START)] == [slot.id]
        assert await turn.slots(START, free_only=True) == []  # sees its own booking


async def test_cancel_frees_the_seat_at_once(store: Store) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        seat = await turn.book(slot.id, START, reminders_for(slot.starts_at))
        assert seat is not None
    async with store.turn("test", "b", START) as turn:
        assert await turn.book(slot.id, START, []) is None
        assert await turn.cancel_booking(seat.id, START) is False  # not b's booking
    async with store.turn("test", "a", START) as turn:
        assert await turn.cancel_booking(seat.id, START) is True
        assert await turn.cancel_booking(seat.id, START) is False  # already cancelled
        assert await turn.bookings(START) == []
    assert (await slot_by_id(store, slot.id)).booked == 0
    assert [j.status for j in await store.jobs(booking_id=seat.id)] == ["cancelled", "cancelled"]
    async with store.turn("test", "b", START) as turn:
        assert await turn.book(slot.id, START, []) is not None


async def test_moving_is_cancel_and_book_in_one_turn(store: Store) -> None:
    first = await one_slot(store, capacity=1)
    second = await one_slot(store, capacity=1, at=DAY + timedelta(hours=1))
    async with store.turn("test", "a", START) as turn:
        old = await turn.book(first.id, START, reminders_for(first.starts_at))
        assert old is not None
        await turn.attach_reference(old.id, "PA-7K3M9Q")
    # A move that fails half-way leaves everything as it was.
    with pytest.raises(RuntimeError):
        async with store.turn("test", "a", START) as turn:
            assert await turn.book(second.id, START, reminders_for(second.starts_at)) is not None
            assert await turn.cancel_booking(old.id, START)
            raise RuntimeError("crash mid-move")
    assert [(await slot_by_id(store, s.id)).booked for s in (first, second)] == [1, 0]
    async with store.turn("test", "a", START) as turn:
        new = await turn.book(second.id, START, reminders_for(second.starts_at))
        assert new is not None
        assert await turn.cancel_booking(old.id, START)
        await turn.attach_reference(new.id, "PA-7K3M9Q")
        mine = await turn.bookings(START)
    assert [(b.slot_id, b.case_reference, b.status) for b in mine] == [(second.id, "PA-7K3M9Q", "active")]
    assert [(await slot_by_id(store, s.id)).booked for s in (first, second)] == [0, 1]
    assert {j.status for j in await store.jobs(booking_id=old.id)} == {"cancelled"}
    assert {j.status for j in await store.jobs(booking_id=new.id)} == {"pending"}
    async with store.turn("test", "b", START) as turn:  # the old seat is someone else's now
        assert await turn.book(first.id, START, []) is not None


async def test_move_booking_keeps_the_reference_and_refuses_what_it_cannot_do(store: Store) -> None:
    first = await one_slot(store, capacity=1)
    second = await one_slot(store, capacity=1, at=DAY + timedelta(hours=1))
    third = await one_slot(store, capacity=1, at=DAY + timedelta(hours=2))
    async with store.turn("test", "other", START) as turn:
        assert await turn.book(third.id, START, []) is not None
    async with store.turn("test", "a", START) as turn:
        old = await turn.book(first.id, START, reminders_for(first.starts_at))
        assert old is not None
        await turn.attach_reference(old.id, "PA-7K3M9Q")
    async with store.turn("test", "b", START) as turn:
        assert await turn.move_booking(old.id, second.id, START, []) is None  # not b's
    async with store.turn("test", "a", START) as turn:
        assert await turn.move_booking(old.id, third.id, START, []) is None  # full
        assert await turn.move_booking(old.id, first.id, START, []) is None  # the same
        new = await turn.move_booking(old.id, second.id, START, reminders_for(second.starts_at))
        assert new is not None and new.slot_id == second.id and new.case_reference == "PA-7K3M9Q"
        assert [b.id for b in await turn.bookings(START)] == [new.id]
    assert [(await slot_by_id(store, s.id)).booked for s in (first, second, third)] == [0, 1, 1]
    assert {j.status for j in await store.jobs(booking_id=old.id)} == {"cancelled"}
    assert len(await store.jobs(booking_id=new.id, status="pending")) == 2


async def test_applicants_swapping_times_at_once_do_not_deadlock(store: Store) -> None:
    early = await one_slot(store, capacity=10)
    late = await one_slot(store, capacity=10, at=DAY + timedelta(hours=1))
    seats: dict[int, int] = {}
    for i in range(10):
        async with store.turn("test", f"s{i}", START) as turn:
            seat = await turn.book((early if i % 2 else late).id, START, [])
            assert seat is not None
            seats[i] = seat.id

    async def swap(i: int) -> bool:
        async with store.turn("test", f"s{i}", START) as turn:
            return await turn.move_booking(seats[i], (late if i % 2 else early).id, START, []) is not None

    assert all(await asyncio.gather(*(swap(i) for i in range(10))))
    assert [(await slot_by_id(store, s.id)).booked for s in (early, late)] == [5, 5]


async def test_erase_frees_seats_and_cancels_reminders(store: Store) -> None:
    slot = await one_slot(store, capacity=2)
    async with store.turn("telegram", "4242", START) as turn:
        seat = await turn.book(slot.id, START, reminders_for(slot.starts_at, name="Amina"))
        assert seat is not None
        conversation_id = turn.conversation.id
    assert await store.conversation_address(conversation_id) == ConversationAddress("telegram", "4242", False)
    async with store.turn("telegram", "4242", START) as turn:
        await turn.erase(START)
        assert await turn.bookings(START) == []
    assert (await slot_by_id(store, slot.id)).booked == 0
    assert await store.jobs(conversation_id=conversation_id) == []  # the reminders are gone
    assert await store.conversation_address(conversation_id) is None
    assert await store.conversation_address(999_999) is None


async def test_reminders_already_due_are_not_scheduled(sqlite_store: Store) -> None:
    store = sqlite_store  # SQL that is the same on both backends
    slot = await one_slot(store, capacity=1, at=START + timedelta(hours=3))
    async with store.turn("test", "a", START) as turn:
        plan = [(START - timedelta(hours=1), {"n": 1}), (START, {"n": 2}), (START + timedelta(hours=1), {"n": 3})]
        assert await turn.book(slot.id, START, plan) is not None
    assert [j.payload for j in await store.jobs()] == [{"n": 3}]


async def test_reminder_payloads_are_encrypted_at_rest(store: Store) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("telegram", "123456789", START) as turn:
        await turn.book(slot.id, START, reminders_for(slot.starts_at, name="Amina Haddad"))
    async with store.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT * FROM jobs"))).all()
    dump = repr(raw)
    assert len(raw) == 2
    assert "Amina" not in dump and "Haddad" not in dump and "language" not in dump and "123456789" not in dump
    assert all(j.payload["name"] == "Amina Haddad" for j in await store.jobs())


async def test_reads_inside_a_turn_do_not_wait_for_its_write_lock(sqlite_store: Store) -> None:
    store = sqlite_store  # SQLite's write lock is what this is about
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [])
        # The flow lists free slots and looks cases up while its turn holds the write lock.
        assert [s.booked for s in await asyncio.wait_for(store.slots(START), 5)] == [0]  # committed view
        assert await asyncio.wait_for(store.case("PA-2222222"), 5) is None


async def test_purge_deletes_old_finished_jobs(sqlite_store: Store, clock: Clock) -> None:
    store = sqlite_store  # SQL that is the same on both backends
    slot = await one_slot(store, capacity=2)
    for sender in ("a", "b"):
        async with store.turn("test", sender, START) as turn:
            await turn.book(slot.id, START, reminders_for(slot.starts_at))
    clock.now = slot.starts_at - timedelta(days=1)
    sent: list[int] = []

    async def deliver(job: JobView) -> bool:
        sent.append(job.id)
        return True

    assert await Scheduler(store, deliver, clock=clock).run_due() == 2
    store.retention = RetentionPolicy(transcript=timedelta(days=3650))  # only the jobs' rule here
    counts = await store.purge(clock.now + timedelta(days=29), idle=timedelta(days=365))
    assert counts["jobs"] == 0
    counts = await store.purge(clock.now + timedelta(days=31), idle=timedelta(days=365))
    assert counts["jobs"] == 2
    assert [j.status for j in await store.jobs()] == ["pending", "pending"]


# --- the scheduler -------------------------------------------------------------------


class Recorder:
    """A ``deliver`` that records what it sent; ``fail`` is how many calls fail first."""

    def __init__(self, store: Store, fail: int = 0, error: bool = False) -> None:
        self.store = store
        self.fail = fail
        self.error = error
        self.sent: list[tuple[int, int]] = []
        self.calls = 0

    async def __call__(self, job: JobView) -> bool:
        self.calls += 1
        if self.calls <= self.fail:
            if self.error:
                raise ConnectionError("Telegram is away")
            return False
        assert await self.store.conversation_address(job.conversation_id) is not None
        self.sent.append((job.id, job.attempts))
        await asyncio.sleep(0)
        return True


async def test_reminders_are_delivered_once_across_a_restart(db_url: str, cipher: Cipher, clock: Clock) -> None:
    first = Store.connect(db_url, cipher)
    slot = await one_slot(first, capacity=1)
    async with first.turn("telegram", "555", START) as turn:
        await turn.book(slot.id, START, reminders_for(slot.starts_at))
    recorder = Recorder(first)
    scheduler = Scheduler(first, recorder, clock=clock)
    assert await scheduler.run_due() == 0  # nothing is due yet
    clock.now = slot.starts_at - timedelta(days=1)
    assert await scheduler.run_due() == 1
    assert await scheduler.run_due() == 0
    await first.close()
    second = Store.connect(db_url, cipher)  # a restart: new engine, new scheduler, same database
    recorder.store = second
    restarted = Scheduler(second, recorder, clock=clock)
    assert await restarted.run_due() == 0
    clock.now = slot.starts_at - timedelta(hours=1)
    assert await restarted.run_due() == 1
    assert await restarted.run_due() == 0
    jobs = await second.jobs()
    assert [j.status for j in jobs] == ["done", "done"]
    assert sorted(recorder.sent) == sorted((j.id, 1) for j in jobs)
    await second.close()


async def test_two_schedulers_deliver_each_job_once(db_url: str, cipher: Cipher, clock: Clock) -> None:
    stores = [Store.connect(db_url, cipher) for _ in range(2)]
    slot = await one_slot(stores[0], capacity=2)
    for sender in ("a", "b"):
        async with stores[0].turn("test", sender, START) as turn:
            plan = [(slot.starts_at - timedelta(minutes=m), {"m": m}) for m in range(1, 21)]
            await turn.book(slot.id, START, plan)
    clock.now = slot.starts_at  # all 40 reminders are due
    recorders = [Recorder(s) for s in stores]
    schedulers = [Scheduler(s, r, clock=clock, batch=5) for s, r in zip(stores, recorders)]
    stop = asyncio.Event()
    workers = [asyncio.create_task(s.run(stop, interval=0.01)) for s in schedulers]
    try:
        for _ in range(500):
            if sum(len(r.sent) for r in recorders) >= 40:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # time for a duplicate to show, if there were one
    finally:
        stop.set()
        await asyncio.gather(*workers)
    sent = [job_id for r in recorders for job_id, _ in r.sent]
    assert len(sent) == 40 and len(set(sent)) == 40
    assert {j.status for j in await stores[0].jobs()} == {"done"}
    for store in stores:
        await store.close()


async def test_a_failing_delivery_is_retried_with_backoff(store: Store, clock: Clock) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [(START + timedelta(hours=1), {"n": 1})])
    recorder = Recorder(store, fail=2, error=True)
    scheduler = Scheduler(store, recorder, clock=clock, backoff=timedelta(seconds=30))
    assert [scheduler.retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (30, 60, 120)]
    clock.now = START + timedelta(hours=1)
    assert await scheduler.run_due() == 0  # attempt 1 raises
    (job,) = await store.jobs()
    assert (job.status, job.attempts, job.due_at) == ("pending", 1, clock.now + timedelta(seconds=30))
    clock.advance(seconds=29)
    assert await scheduler.run_due() == 0 and recorder.calls == 1  # not yet
    clock.advance(seconds=1)
    assert await scheduler.run_due() == 0 and recorder.calls == 2  # attempt 2 raises
    (job,) = await store.jobs()
    assert (job.status, job.due_at) == ("pending", clock.now + timedelta(seconds=60))
    clock.advance(seconds=60)
    assert await scheduler.run_due() == 1
    assert recorder.sent == [(job.id, 3)]
    assert [j.status for j in await store.jobs()] == ["done"]


async def test_a_job_fails_after_max_attempts(sqlite_store: Store, clock: Clock) -> None:
    store = sqlite_store  # SQL that is the same on both backends
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [(START + timedelta(minutes=1), {})])
    recorder = Recorder(store, fail=99)
    scheduler = Scheduler(store, recorder, clock=clock, max_attempts=2, backoff=timedelta(seconds=1))
    clock.advance(minutes=1)
    await scheduler.run_due()
    clock.advance(seconds=1)
    await scheduler.run_due()
    clock.advance(hours=1)
    await scheduler.run_due()
    assert recorder.calls == 2
    assert [(j.status, j.attempts) for j in await store.jobs()] == [("failed", 2)]


async def test_an_expired_lease_is_delivered_again(store: Store, clock: Clock) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [(START + timedelta(minutes=1), {"n": 1})])
    clock.advance(minutes=1)
    lease = timedelta(seconds=60)
    # A worker claims the job, then dies before recording anything.
    (dead,) = await store.claim_jobs(clock.now, lease=lease, limit=10, max_attempts=5)
    assert dead.attempts == 1 and dead.payload == {"n": 1}
    recorder = Recorder(store)
    scheduler = Scheduler(store, recorder, clock=clock, lease=lease)
    clock.advance(seconds=59)
    assert await scheduler.run_due() == 0 and recorder.calls == 0  # the lease still holds
    clock.advance(seconds=1)
    assert await scheduler.run_due() == 1
    assert recorder.sent == [(dead.id, 2)]
    # Had the first worker only been slow, its late outcome is ignored (fenced by attempt).
    assert await store.finish_job(dead.id, dead.attempts, clock.now, "pending", retry_at=clock.now) is False
    assert [j.status for j in await store.jobs()] == ["done"]
    assert await scheduler.run_due() == 0


async def test_a_job_that_keeps_killing_workers_ends_failed(sqlite_store: Store, clock: Clock) -> None:
    store = sqlite_store  # SQL that is the same on both backends
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [(START + timedelta(minutes=1), {})])
    lease = timedelta(seconds=10)
    for _ in range(3):
        clock.advance(minutes=1)
        assert len(await store.claim_jobs(clock.now, lease=lease, limit=1, max_attempts=3)) == 1
    clock.advance(minutes=1)
    assert await store.claim_jobs(clock.now, lease=lease, limit=1, max_attempts=3) == []
    assert [(j.status, j.attempts) for j in await store.jobs()] == [("failed", 3)]


async def test_a_cancelled_reminder_is_not_delivered(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = await one_slot(store, capacity=2)
    seats = {}
    for sender in ("early", "late"):
        async with store.turn("test", sender, START) as turn:
            seat = await turn.book(slot.id, START, reminders_for(slot.starts_at))
            assert seat is not None
            seats[sender] = seat.id
    async with store.turn("test", "early", START) as turn:  # cancelled well before
        assert await turn.cancel_booking(seats["early"], START)
    claim = store.claim_jobs

    async def claim_then_cancel(*args: Any, **kwargs: Any) -> list[JobView]:
        claimed = await claim(*args, **kwargs)
        async with store.turn("test", "late", START) as turn:  # cancelled just after the claim
            assert await turn.cancel_booking(seats["late"], START)
        return claimed

    monkeypatch.setattr(store, "claim_jobs", claim_then_cancel)
    clock.now = slot.starts_at
    recorder = Recorder(store)
    assert await Scheduler(store, recorder, clock=clock).run_due() == 0 and recorder.calls == 0
    assert {j.status for j in await store.jobs()} == {"cancelled"}


# --- the calendar file ---------------------------------------------------------------


def test_the_calendar_file_parses_back_in_utc() -> None:
    starts = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)
    ics = appointment_ics(
        uid="PA-7K3M9Q@intake", starts_at=starts, duration=timedelta(hours=2),
        summary="Registration appointment (PA-7K3M9Q)", location="Rue Belliard 68, 1040 Brussels",
        description="Bring your documents; and this reference: PA-7K3M9Q. Apportez vos documents, s'il vous plaît. " * 2,
    )
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n") and all(len(line) <= 75 for line in ics.split(b"\r\n"))
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["uid"]) == "PA-7K3M9Q@intake"
    assert event.decoded("dtstart") == starts and event.decoded("dtend") == starts + timedelta(hours=2)
    assert event["dtstart"].to_ical() == b"20261201T083000Z"
    assert str(event["location"]) == "Rue Belliard 68, 1040 Brussels"
    assert str(event["description"]).startswith("Bring your documents; and this reference")
    assert "s'il vous plaît" in str(event["description"])


def test_the_calendar_file_in_brussels_time() -> None:
    starts = datetime(2027, 3, 27, 9, 0, tzinfo=BRUSSELS)  # the day before summer time
    ics = appointment_ics(
        uid="x@intake", starts_at=starts, duration=timedelta(hours=26), summary="s", location="l",
        description="d", tz="Europe/Brussels", sequence=2, alarm_before=timedelta(days=1),
    )
    assert b"DTSTART;TZID=Europe/Brussels:20270327T090000" in ics
    assert b"DTEND;TZID=Europe/Brussels:20270328T120000" in ics  # 26 hours later, in summer time
    calendar = Calendar.from_ical(ics)
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Brussels"]
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == starts and int(event["sequence"]) == 2
    elapsed = event.decoded("dtend").astimezone(timezone.utc) - event.decoded("dtstart").astimezone(timezone.utc)
    assert elapsed == timedelta(hours=26)
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1)


# --- intake slots ------------------------------------------------------------------


def test_slots_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    from bot.store.appointments import parse_duration as _duration

    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", generate_key())
    monkeypatch.setenv("INTAKE_TIMEZONE", "Europe/Brussels")
    day = (datetime.now(BRUSSELS) + timedelta(days=30)).date().isoformat()
    add = ["slots", "add", "--from", f"{day}T09:00", "--to", f"{day}T12:00", "--every", "30m", "--capacity", "2"]
    assert main(add) == 0
    assert capsys.readouterr().out.strip() == "6 slots created"
    assert main(add) == 0
    assert capsys.readouterr().out.strip() == "0 slots created"
    assert main(["slots", "add", "--from", f"{day}T09:00", "--to", "10:00", "--every", "1h",
                 "--capacity", "1", "--place", "annex"]) == 0
    assert capsys.readouterr().out.strip() == "1 slots created"
    assert main(["slots", "list", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"{day} 09:00  annex  0/1", f"{day} 09:00  registration_centre  0/2"]
    assert lines[-1] == f"{day} 11:30  registration_centre  0/2" and len(lines) == 7
    assert main(["slots", "list", "--place", "annex"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{day} 09:00  annex  0/1"]
    assert main(add[:6] + ["--every", "fortnightly"] + add[8:]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert [_duration(t) for t in ("15m", "1h", "90m", "1h30m", "45min")] == [
        timedelta(minutes=m) for m in (15, 60, 90, 90, 45)
    ]
