"""The registration-appointment journey end to end through the engine: routing, booking
with the seat taken in the same transaction as the case, .ics, managing the appointment
and the reminder. Today is 23 November 2026, 11:00 in Brussels (tests/conftest.py)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from icalendar import Calendar

from bot.engine import Engine
from bot.reminders import deliverer
from bot.scheduler import Scheduler

from .chat import Chat
from .conftest import Clock

FIRST_SLOT = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)  # 09:00 in Brussels

PROTECTION: dict[str, Any] = {
    "location_now": "in_belgium",
    "stage": "not_yet",
    "consent.data_processing": "yes",
    "arrival_date": "20/11/2026",
    "applicant.date_of_birth": "12/04/1999",
    "household.adults": "1",
    "household.children": "0",
    "id_documents": ["passport"],
    "prior_eu": "none",
    "shelter_tonight": "yes",
    "urgent_health": "no",
    "applicant.name": "Amanuel Tesfaye",
    "applicant.preferred_contact": "this_chat",
}


async def add_slots(engine: Engine, count: int = 3, capacity: int = 2) -> None:
    await engine.store.add_slots(FIRST_SLOT, FIRST_SLOT + timedelta(minutes=30 * count), timedelta(minutes=30), capacity)


async def until_slot(engine: Engine, sender: str = "applicant-p", **changes: Any) -> Chat:
    chat = Chat(engine, sender=sender)
    await chat.say("/protection_registration")
    await chat.answer_until({**PROTECTION, **changes}, stop_at="slot")
    return chat


async def test_booking_an_appointment_makes_a_case_with_the_appointment_and_a_calendar_file(engine: Engine) -> None:
    await add_slots(engine)
    chat = await until_slot(engine)
    assert chat.field == "slot"
    assert "Tuesday, December 1, 2026, 9:00\u202fAM" in chat.button_titles
    assert "before December 2, 2026" in chat.transcript[-4][1] or any(
        "before December 2, 2026" in text for _, text in chat.transcript
    )  # 20 Nov + 8 working days
    await chat.say(chat.payloads[0])
    assert "Appointment: Tuesday, December 1, 2026, 9:00\u202fAM" in chat.text  # the summary
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.kind == "protection_appointment" and case.priority == "normal"
    assert case.appointment is not None and case.appointment["starts_at"] == FIRST_SLOT.isoformat()
    assert case.applicant.date_of_birth.isoformat() == "1999-04-12"
    confirmation = next(r for r in chat.replies if case.reference in r.text)
    assert "Rue Belliard 68" in confirmation.text and "07:00–09:00" in confirmation.text
    ics = Calendar.from_ical(base64.b64decode(confirmation.custom["attachment"]["data"]))
    [event] = [c for c in ics.walk() if c.name == "VEVENT"]
    assert event.decoded("dtstart").astimezone(timezone.utc) == FIRST_SLOT
    assert case.reference in str(event.get("summary"))
    slots = await engine.store.slots(engine.clock())
    assert [s.booked for s in slots] == [1, 0, 0]


async def test_no_free_slot_puts_the_request_on_the_waiting_list(engine: Engine) -> None:
    chat = await until_slot(engine)
    assert "no free appointment at the moment" in chat.text and "waiting list" in chat.text
    assert "Please check your answers" in chat.text and "Appointment" not in chat.text
    assert await engine.store.cases() == []  # nothing sent before the applicant confirms
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.kind == "protection_appointment" and case.flags == ["waiting_list"]
    assert case.appointment is None
    assert case.reference in chat.text and "waiting list" in chat.text and "Rue Belliard 68" in chat.text


@pytest.mark.parametrize(
    ("where", "said"),
    [("abroad", "only be made in Belgium"), ("border", "border police"), ("detention", "closed centre")],
)
async def test_who_cannot_book_here_is_told_what_to_do_instead(engine: Engine, where: str, said: str) -> None:
    chat = Chat(engine)
    await chat.say("/protection_registration")
    await chat.say(where)
    assert said in chat.text and chat.field is None


async def test_a_decision_received_goes_to_a_person_not_a_registration(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/protection_registration")
    await chat.say("in_belgium")
    await chat.say("decision")
    assert "do not need a registration appointment" in chat.text and "/human" in chat.text


async def test_an_unaccompanied_minor_and_a_family_without_shelter_are_urgent(engine: Engine) -> None:
    await add_slots(engine)
    chat = await until_slot(
        engine,
        **{"applicant.date_of_birth": "01/01/2010", "unaccompanied_minor": "yes", "household.children": "0",
           "shelter_tonight": "no"},
    )
    assert "Guardianship Service" in " ".join(t for _, t in chat.transcript)
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.priority == "urgent"
    assert {"unaccompanied_minor", "no_shelter"} <= set(case.flags)


async def test_a_seat_taken_meanwhile_is_chosen_again_then_back_to_the_summary(engine: Engine) -> None:
    await add_slots(engine, count=2, capacity=1)
    first = await until_slot(engine, sender="first")
    second = await until_slot(engine, sender="second")
    await first.say(first.payloads[0])
    await second.say(second.payloads[0])  # the same 09:00 seat, still shown as free
    await first.say("/confirm")
    await second.say("/confirm")
    assert "someone else just took that time" in second.text
    assert second.field == "slot" and len(second.payloads) == 1  # only 09:30 is left
    await second.say(second.payloads[0])
    assert "Please check your answers" in second.text
    await second.say("/confirm")
    cases = await engine.store.cases()
    assert sorted(c.appointment["starts_at"] for c in cases) == [
        FIRST_SLOT.isoformat(), (FIRST_SLOT + timedelta(minutes=30)).isoformat()
    ]


async def booked(engine: Engine) -> Chat:
    await add_slots(engine, count=3, capacity=1)
    chat = await until_slot(engine)
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    return chat


async def test_appointment_can_be_seen_and_cancelled_and_the_seat_is_free_at_once(engine: Engine) -> None:
    chat = await booked(engine)
    await chat.say("/appointment_manage")
    assert "Your appointment: Tuesday, December 1, 2026, 9:00\u202fAM, at Rue Belliard 68" in chat.text
    cancel = next(p for p in chat.payloads if p.startswith("/appointment_manage cancel"))
    await chat.say(cancel)
    assert "is cancelled" in chat.text
    assert [s.booked for s in await engine.store.slots(engine.clock())] == [0, 0, 0]
    await chat.say("/appointment_manage")
    assert "You have no upcoming appointment." in chat.text
    (case,) = await engine.store.cases()
    assert case.status == "submitted"  # staff decide what a cancelled appointment means
    assert case.appointment is not None and case.appointment["status"] == "cancelled"
    assert case.status_history[-1].note == "appointment cancelled by the applicant"
    assert case.status_history[-1].actor == "applicant"


async def test_appointment_can_be_moved(engine: Engine) -> None:
    chat = await booked(engine)
    await chat.say("/appointment_manage")
    await chat.say(next(p for p in chat.payloads if p.startswith("/appointment_manage move")))
    assert chat.button_titles[0] == "Tuesday, December 1, 2026, 9:30\u202fAM"
    await chat.say(chat.payloads[0])
    assert "moved to Tuesday, December 1, 2026, 9:30\u202fAM" in chat.text
    assert [s.booked for s in await engine.store.slots(engine.clock())] == [0, 1, 0]
    (case,) = await engine.store.cases()
    assert case.appointment is not None
    assert case.appointment["starts_at"] == (FIRST_SLOT + timedelta(minutes=30)).isoformat()
    assert case.appointment["moved_from"] == FIRST_SLOT.isoformat()
    assert "status" not in case.appointment
    assert [e.note for e in case.status_history] == [None, "appointment moved by the applicant to 2026-12-01T08:30:00+00:00"]


async def test_the_reminder_reaches_a_web_chat_at_its_next_message_once(engine: Engine, clock: Clock) -> None:
    chat = await booked(engine)
    clock.now = FIRST_SLOT - timedelta(hours=20)  # the day-before reminder is due
    scheduler = Scheduler(engine.store, deliverer(engine.store, engine, [], "Europe/Brussels"), clock=clock)
    assert await scheduler.run_due() == 1
    assert await scheduler.run_due() == 0
    await chat.say("/start")
    assert chat.replies[0].text.startswith("Reminder: your registration appointment is on Tuesday, December 1")
    await chat.say("/start")
    assert not chat.replies[0].text.startswith("Reminder")


async def test_cancel_drops_the_reminders(engine: Engine, clock: Clock) -> None:
    chat = await booked(engine)
    await chat.say("/appointment_manage")
    await chat.say(next(p for p in chat.payloads if p.startswith("/appointment_manage cancel")))
    clock.now = FIRST_SLOT - timedelta(hours=1)
    scheduler = Scheduler(engine.store, deliverer(engine.store, engine, [], "Europe/Brussels"), clock=clock)
    assert await scheduler.run_due() == 0
