"""Complete erasure: what /forget, staff and legal holds leave behind, and /my_data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sqlalchemy import func, select

from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.models import Booking, CaseEvent, CaseRow, Conversation, Job, TranscriptEntry
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock
from .test_protection import PROTECTION, add_slots


def on(store: Store, flows: FlowSet, clock: Clock) -> Engine:
    return Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())


async def booked(engine: Engine, sender: str = "applicant-p", lang: str | None = None) -> tuple[Chat, str]:
    """A protection case with an appointment (a `minor`-free case with flags and a booking)."""
    await add_slots(engine)
    chat = Chat(engine, sender=sender, lang=lang)
    await chat.say("/protection_registration")
    await chat.answer_until(PROTECTION, stop_at="slot")
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    [case] = [c for c in await engine.store.cases() if c.status == "submitted"]
    return chat, case.reference


async def count(store: Store, model: type, *where: object) -> int:
    async with store._reads() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_forget_leaves_no_row_of_the_applicant(store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = on(store, flows, clock)
    chat, reference = await booked(engine)
    await chat.say("/voluntary_return")
    await chat.answer_until({**VOLUNTARY_RETURN, "unaccompanied_minor": "yes", "guardian_contact": "Mr Guardian"})
    await chat.say("/confirm")
    assert any("unaccompanied_minor" in c.flags for c in await store.cases())
    await chat.say("/forget")
    await chat.say("yes")
    assert "erased" in chat.text
    assert await store.cases() == []
    for model in (CaseRow, CaseEvent, Booking, Job, TranscriptEntry):
        assert await count(store, model) == 0, model.__tablename__
    assert await count(store, Conversation) == 1  # the new, empty conversation of the menu shown
    assert [s.booked for s in await store.slots(clock.now)] == [0, 0, 0]
    trace = await store.erasures()
    assert sorted((e.kind, e.created_month, e.outcome, e.actor) for e in trace) == [
        ("protection_appointment", "2026-11", "submitted", "applicant"),
        ("voluntary_return", "2026-11", "submitted", "applicant"),
    ]
    assert reference in {e.reference for e in trace}


async def test_a_booking_made_after_forget_is_reminded(store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = on(store, flows, clock)
    chat, _ = await booked(engine)
    await chat.say("/forget")
    await chat.say("yes")
    await chat.say("/protection_registration")
    await chat.answer_until(PROTECTION, stop_at="slot")
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    [case] = await store.cases()
    jobs = await store.jobs(status="pending")
    assert jobs, "the new booking has reminders"
    address = await store.conversation_address(jobs[0].conversation_id)
    assert address is not None and address.sender_id == chat.sender  # not silently dropped


async def test_a_case_under_legal_hold_survives_forget_and_goes_when_released(
    store: Store, flows: FlowSet, clock: Clock
) -> None:
    engine = on(store, flows, clock)
    chat, reference = await booked(engine)
    held = await store.set_legal_hold(reference, "court order 2026/123", clock.now, actor="staff:ana")
    assert held is not None and held.legal_hold == "court order 2026/123"
    await chat.say("/forget")
    await chat.say("yes")
    assert "legal reason" in chat.text
    case = await store.case(reference)
    assert case is not None and case.applicant.name == "Amanuel Tesfaye"  # kept whole
    assert case.status_history[-1].note == "erasure requested; kept under legal hold"
    await chat.say("/my_data")
    assert reference in chat.text and "Amanuel Tesfaye" in chat.text  # still theirs to see
    clock.advance(days=1)
    await store.purge(clock.now, idle=timedelta(hours=24))
    assert await store.case(reference) is not None  # the hold wins over retention
    await store.set_legal_hold(reference, None, clock.now, actor="staff:ana")
    await store.purge(clock.now, idle=timedelta(hours=24))
    assert await store.case(reference) is None
    assert [e.actor for e in await store.erasures()] == ["retention"]


async def test_staff_erase_a_case_by_reference_with_a_reason(store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = on(store, flows, clock)
    chat, reference = await booked(engine)
    await store.set_legal_hold(reference, "appeal pending", clock.now, actor="cli")
    assert await store.erase_case(reference, clock.now, actor="cli", reason="asked by phone") == "held"
    await store.set_legal_hold(reference, None, clock.now, actor="cli")
    assert await store.erase_case(reference, clock.now, actor="cli", reason="asked by phone") == "erased"
    assert await store.erase_case(reference, clock.now, actor="cli", reason="again") == "missing"
    assert await store.case(reference) is None
    assert await count(store, Booking) == 0 and await count(store, TranscriptEntry) == 0
    assert [s.booked for s in await store.slots(clock.now)] == [0, 0, 0]
    [trace] = await store.erasures()
    assert (trace.reference, trace.actor, trace.reason) == (reference, "cli", "asked by phone")
    await chat.say("/my_data")  # the applicant goes on in an empty conversation
    assert "We hold no answers" in chat.text


async def test_staff_erase_a_held_case_once_released_after_forget(store: Store, flows: FlowSet, clock: Clock) -> None:
    """Its conversation went with /forget: the case alone is erased."""
    engine = on(store, flows, clock)
    chat, reference = await booked(engine)
    await store.set_legal_hold(reference, "appeal pending", clock.now, actor="cli")
    await chat.say("/forget")
    await chat.say("yes")
    await store.set_legal_hold(reference, None, clock.now, actor="cli")
    assert await store.erase_case(reference, clock.now, actor="cli", reason="appeal decided") == "erased"
    assert await store.cases() == []


async def test_my_data_shows_answers_cases_and_appointments_in_the_applicant_s_language(engine: Engine) -> None:
    chat, reference = await booked(engine, lang="fr")
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
    await chat.say("/my_data")
    text = chat.text
    assert "Voici tout ce que nous conservons à votre sujet" in text
    assert reference in text and "Amanuel Tesfaye" in text and "1999" in text
    assert "Georgia" in text or "Géorgie" in text  # the unfinished journey's answers
    assert "Vos rendez-vous" in text and "2026" in text
    assert chat.field == "household.adults"  # and the journey goes on


async def test_help_lists_my_data_in_every_catalog() -> None:
    from bot.engine import commands
    from bot.i18n import gettext, supported_locales, use_locale

    for code in supported_locales():
        with use_locale(code):
            assert "/my_data" in gettext(commands.HELP), code


def test_hold_and_erase_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.cli import main
    from bot.store.crypto import Cipher, generate_key
    from bot.store.migrate import upgrade

    from .test_retention import START, draft

    key, url = generate_key(), f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", key)
    upgrade(url)

    async def one_case() -> str:
        store = Store.connect(url, Cipher([key]))
        try:
            async with store.turn("test", "cli", START) as turn:
                return (await turn.create_case(draft(), START)).reference
        finally:
            await store.close()

    reference = asyncio.run(one_case())
    assert main(["cases", "hold", reference, "--reason", " "]) == 2
    assert main(["cases", "hold", reference, "--reason", "appeal pending"]) == 0
    assert main(["cases", "erase", reference, "--reason", "asked by letter"]) == 1
    assert "legal hold" in capsys.readouterr().err
    assert main(["cases", "hold", reference, "--release"]) == 0
    assert main(["cases", "erase", reference, "--reason", "asked by letter"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{reference}: erased"
    assert main(["cases", "erase", "VR-XXXXXX", "--reason", "x"]) == 1
