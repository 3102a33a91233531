"""The clock jumping (NTP corrections, a VM resumed, a wrong clock on one worker): nothing is
lost and nothing is done twice that cannot be told apart.

Reminders are claimed with a lease that is a wall-clock time in the database, so a worker
whose clock jumps back sees a claimed job as still leased (later, never lost), and a worker
whose clock jumps forward may take a job over while its first worker still delivers it:
then the job is delivered twice with the same job id (the key a receiver de-duplicates
by), and only one outcome is recorded (the late one is fenced by the attempt number).
A conversation whose clock jumps back keeps its answers, and a message retried with the
same id is answered from what was saved, not a second time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.store.appointments import JobView
from bot.store.store import Store

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import START, Clock
from .test_appointments import one_slot
from .test_voluntary_return import start_journey

LEASE = timedelta(seconds=60)


async def one_reminder(store: Store, clock: Clock) -> None:
    slot = await one_slot(store, capacity=1)
    async with store.turn("test", "a", START) as turn:
        await turn.book(slot.id, START, [(START + timedelta(minutes=1), {"n": 1})])
    clock.now = START + timedelta(minutes=1)


async def test_a_clock_jumping_back_delays_a_held_reminder_but_never_loses_it(store: Store, clock: Clock) -> None:
    await one_reminder(store, clock)
    (held,) = await store.claim_jobs(clock.now, lease=LEASE, limit=10, max_attempts=5)  # a worker then dies
    sent: list[int] = []

    async def deliver(job: JobView) -> bool:
        sent.append(job.id)
        return True

    late = Clock(clock.now - timedelta(hours=2))  # another worker, whose clock jumped back
    scheduler = Scheduler(store, deliver, clock=late, lease=LEASE)
    assert await scheduler.run_due() == 0  # not due yet, to this clock
    late.now = clock.now + LEASE / 2
    assert await scheduler.run_due() == 0  # still leased by the dead worker
    late.now = clock.now + LEASE + timedelta(seconds=1)
    assert await scheduler.run_due() == 1
    assert sent == [held.id]
    assert [(j.status, j.attempts) for j in await store.jobs()] == [("done", 2)]


async def test_a_clock_jumping_forward_mid_delivery_delivers_twice_with_one_key_and_records_once(
    store: Store, clock: Clock
) -> None:
    await one_reminder(store, clock)
    started, release = asyncio.Event(), asyncio.Event()
    sent: list[tuple[int, int]] = []

    async def slow(job: JobView) -> bool:
        started.set()
        await release.wait()
        sent.append((job.id, job.attempts))
        return True

    async def quick(job: JobView) -> bool:
        sent.append((job.id, job.attempts))
        return True

    first = Scheduler(store, slow, clock=clock, lease=LEASE)
    running = asyncio.create_task(first.run_due())
    await started.wait()
    ahead = Clock(clock.now + timedelta(hours=2))  # a worker whose clock jumped forward
    assert await Scheduler(store, quick, clock=ahead, lease=LEASE).run_due() == 1
    release.set()
    await running  # its outcome comes too late: fenced, not recorded over the other one
    (job,) = await store.jobs()
    assert [job_id for job_id, _ in sent] == [job.id, job.id]  # the same key both times
    assert (job.status, job.attempts) == ("done", 2)


async def test_a_conversation_whose_clock_jumps_back_keeps_its_answers_and_sends_one_request(
    engine: Engine, clock: Clock
) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN)
    clock.now -= timedelta(hours=3)  # before the answers were given
    await chat.say("/confirm", message_id="confirm-1")
    reference = chat.text.split("Your reference is ")[1][:9]
    clock.now += timedelta(hours=6)
    again = await chat.say("/confirm", message_id="confirm-1")  # the client's retry
    assert reference in " ".join(r.text for r in again)
    cases = await engine.store.cases()
    assert [c.reference for c in cases] == [reference]
    assert cases[0].applicant.name == "Nino Beridze"
