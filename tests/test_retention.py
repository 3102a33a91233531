"""Retention: when each kind of record goes, and a purge that several workers can run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.cases.draft import CaseDraft
from bot.store.crypto import Cipher
from bot.store.retention import RetentionPolicy
from bot.store.store import Store

from .conftest import START, Clock
from .test_appointments import one_slot

IDLE = timedelta(hours=24)


def draft(kind: str = "voluntary_return") -> CaseDraft:
    return CaseDraft(
        kind=kind, flow_id=kind, language="en", channel="test",
        applicant={"name": "Nino Beridze"}, household={}, answers={}, flags=["safety"], priority="normal",
        consent=None, content_version="test", submitted_by=None,
    )


async def sent(store: Store, sender: str, kind: str = "voluntary_return") -> str:
    async with store.turn("test", sender, START) as turn:
        turn.log("hello", ["Hello"], START)
        return (await turn.create_case(draft(kind), START)).reference


def test_rules_parse_over_the_defaults() -> None:
    policy = RetentionPolicy.parse(10, "closed=100, visa_question:closed=7")
    assert policy.transcript == timedelta(days=10)
    assert policy.for_case("voluntary_return", "closed") == timedelta(days=100)
    assert policy.for_case("visa_question", "closed") == timedelta(days=7)
    assert policy.for_case("visa_question", "withdrawn") == timedelta(days=30)
    assert policy.for_case("visa_question", "in_review") is None
    with pytest.raises(ValueError, match="retention rule"):
        RetentionPolicy.parse(10, "closed=soon")


async def test_a_closed_case_goes_twelve_months_after_closing(store: Store, clock: Clock) -> None:
    reference = await sent(store, "a")
    clock.advance(days=3)
    case = await store.change_status(reference, "closed", clock.now, actor="staff:ana", note="returned home")
    assert case is not None and case.retention_until == clock.now + timedelta(days=365)
    assert (await store.purge(clock.now + timedelta(days=364), IDLE))["cases_erased"] == 0
    counts = await store.purge(clock.now + timedelta(days=366), IDLE)
    assert counts["cases_erased"] == 1 and counts["conversations_erased"] == 1  # and its transcript
    assert await store.case(reference) is None
    [trace] = await store.erasures()
    assert (trace.kind, trace.created_month, trace.outcome, trace.actor) == ("voluntary_return", "2026-11", "closed", "retention")


async def test_withdrawn_goes_after_thirty_days_reopened_is_kept(store: Store, clock: Clock) -> None:
    withdrawn, reopened = await sent(store, "a"), await sent(store, "b")
    await store.change_status(withdrawn, "withdrawn", clock.now, actor="applicant")
    await store.change_status(reopened, "closed", clock.now, actor="staff:ana")
    case = await store.change_status(reopened, "in_review", clock.now, actor="staff:ana")
    assert case is not None and case.retention_until is None
    counts = await store.purge(clock.now + timedelta(days=31), IDLE)
    assert counts["cases_erased"] == 1
    assert await store.case(withdrawn) is None and await store.case(reopened) is not None


async def test_rules_per_kind_and_statuses_set_elsewhere(db_url: str, cipher: Cipher, clock: Clock) -> None:
    store = Store.connect(db_url, cipher, retention=RetentionPolicy.parse(30, "visa_question:closed=7"))
    try:
        visa, back = await sent(store, "a", "visa_question"), await sent(store, "b")
        for reference in (visa, back):
            await store.change_status(reference, "closed", clock.now, actor="staff:ana")
        counts = await store.purge(clock.now + timedelta(days=8), IDLE)
        assert counts["cases_erased"] == 1 and await store.case(back) is not None
    finally:
        await store.close()


async def test_a_final_status_set_without_a_date_gets_one_from_the_purge(store: Store, clock: Clock) -> None:
    """The back office may close cases by its own SQL: the purge dates them from their last change."""
    from sqlalchemy import update

    from bot.store.models import CaseRow

    reference = await sent(store, "a")
    async with store._sessions() as session, session.begin():
        await session.execute(update(CaseRow).values(status="withdrawn", updated_at=START + timedelta(days=1)))
    counts = await store.purge(START + timedelta(days=2), IDLE)
    assert counts["cases_dated"] == 1 and counts["cases_erased"] == 0
    assert (await store.case(reference)).retention_until == START + timedelta(days=31)  # type: ignore[union-attr]
    assert (await store.purge(START + timedelta(days=32), IDLE))["cases_erased"] == 1


async def test_conversations_without_a_case_go_thirty_days_after_the_last_message(store: Store, clock: Clock) -> None:
    async with store.turn("test", "chatty", START) as turn:
        turn.log("hello", ["Hello"], START)
    slot = await one_slot(store, capacity=1, at=START + timedelta(days=60))
    async with store.turn("test", "booked", START) as turn:
        await turn.book(slot.id, START, [])
    await sent(store, "with-case")
    assert (await store.purge(START + timedelta(days=29), IDLE))["conversations_erased"] == 0
    assert (await store.purge(START + timedelta(days=31), IDLE))["conversations_erased"] == 1
    assert not await store.has_conversation("test", "chatty")
    assert await store.has_conversation("test", "booked")  # an appointment still to come
    assert await store.has_conversation("test", "with-case")  # the case's own rule decides


async def test_a_held_case_is_never_purged(store: Store, clock: Clock) -> None:
    reference = await sent(store, "a")
    await store.change_status(reference, "withdrawn", clock.now, actor="applicant")
    await store.set_legal_hold(reference, "police complaint 12/2026", clock.now, actor="staff:ana")
    assert (await store.purge(clock.now + timedelta(days=400), IDLE))["cases_erased"] == 0
    assert (await store.case(reference)).legal_hold == "police complaint 12/2026"  # type: ignore[union-attr]


async def test_workers_purging_at_once_erase_each_case_once(db_url: str, cipher: Cipher, clock: Clock) -> None:
    stores = [Store.connect(db_url, cipher) for _ in range(3)]
    try:
        references = [await sent(stores[0], f"s{i}") for i in range(12)]
        for reference in references:
            await stores[0].change_status(reference, "withdrawn", clock.now, actor="applicant")
        later = clock.now + timedelta(days=31)
        results = await asyncio.gather(*(store.purge(later, IDLE) for store in stores))
        assert sum(r.get("cases_erased", 0) for r in results) == 12
        assert len(await stores[0].erasures()) == 12
        assert await stores[0].cases() == []
    finally:
        for store in stores:
            await store.close()
