"""Safety first and a person when needed: journeys that interrupt another, which resumes
afterwards with every answer kept."""

from __future__ import annotations

import pytest

from bot.engine import Engine

from .chat import VOLUNTARY_RETURN, Chat
from .test_dialogue import answers_of, at_question


async def finish_voluntary_return(chat: Chat) -> None:
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")


@pytest.mark.parametrize("how", ["/urgent_help", "emergency", "I AM IN DANGER"])
async def test_urgent_help_interrupts_and_the_journey_resumes_intact(engine: Engine, how: str) -> None:
    chat = await at_question(engine, "travel_document")
    before = await answers_of(engine, chat)
    await chat.say(how)
    assert "112" in chat.text and "101" in chat.text and "PAG-ASA" in chat.text
    assert chat.field == "wants_contact"
    await chat.say("no")
    assert "Let us continue where you were: Return to my country." in chat.text
    assert chat.field == "travel_document"
    assert await answers_of(engine, chat) == before
    await finish_voluntary_return(chat)
    [case] = await engine.store.cases()
    assert case.kind == "voluntary_return" and case.answers["destination_country"] == "GE"


async def test_urgent_help_with_a_call_back_makes_an_urgent_case_with_the_minimum(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults")
    await chat.say("/urgent_help")
    await chat.say("yes")
    assert chat.field == "consent.urgent_contact"
    await chat.say("yes")
    await chat.say("phone")
    await chat.say("0470 12 34 56")
    [case] = await engine.store.cases()
    assert case.kind == "urgent_safety" and case.priority == "urgent" and case.flags == ["safety"]
    assert case.applicant.phone == "+32470123456"
    assert case.applicant.name is None and case.applicant.nationality is None  # only the minimum
    assert case.answers["from_flow"] == "voluntary_return"
    assert case.answers["from_step"] == "adults"
    assert case.reference in chat.text
    assert chat.field == "household.adults"  # and back to where the applicant was
    await finish_voluntary_return(chat)
    kinds = sorted(c.kind for c in await engine.store.cases())
    assert kinds == ["urgent_safety", "voluntary_return"]


async def test_declining_to_be_contacted_records_nothing(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/urgent_help")
    await chat.say("yes")
    await chat.say("no")  # no consent
    assert "Nothing was recorded" in chat.text
    assert await engine.store.cases() == []


async def test_a_person_when_needed_makes_a_callback_case_that_says_where_it_came_from(engine: Engine) -> None:
    chat = await at_question(engine, "departure_from", sender="applicant-h")
    await chat.say("/human")
    assert "working days" in chat.text
    await chat.say("voluntary_return")
    await chat.say("yes")
    await chat.say("email")
    await chat.say("nino@example.org")
    [case] = await engine.store.cases()
    assert case.kind == "human_callback" and case.language == "en"
    assert case.answers == {"topic": "voluntary_return", "from_flow": "voluntary_return", "from_step": "departure_from"}
    assert case.applicant.email == "nino@example.org"
    assert chat.field == "departure_from"


async def test_cancel_inside_an_interruption_only_cancels_the_interruption(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    before = await answers_of(engine, chat)
    await chat.say("/human")
    await chat.say("/cancel")
    assert chat.field == "travel_document"
    assert await answers_of(engine, chat) == before


async def test_forget_inside_an_interruption_erases_everything(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/urgent_help")
    await chat.say("/forget")
    await chat.say("yes")
    assert await answers_of(engine, chat) == {}
    assert chat.field is None


async def test_urgent_help_outside_a_journey_ends_with_the_menu(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/start")
    await chat.say("/urgent_help")
    await chat.say("no")
    assert "/voluntary_return" in chat.payloads


JOURNEYS = {
    "/voluntary_return": (VOLUNTARY_RETURN, "household.adults"),
    "/visa_info": ({"nationality": "Morocco", "currently_in_belgium": "no", "refusal_received": "no",
                    "residence_country": "Morocco", "legal_residence": "yes"}, "purpose"),
    "/protection_registration": ({"location_now": "in_belgium", "stage": "not_yet", "consent.data_processing": "yes",
                                  "arrival_date": "20/11/2026", "applicant.date_of_birth": "12/04/1999"},
                                 "household.adults"),
}


@pytest.mark.parametrize("journey", sorted(JOURNEYS))
async def test_urgent_help_interrupts_every_journey_and_returns_to_it(engine: Engine, journey: str) -> None:
    answers, at = JOURNEYS[journey]
    chat = Chat(engine)
    await chat.say(journey)
    await chat.answer_until(answers, stop_at=at)
    before = await answers_of(engine, chat)
    await chat.say("emergency")
    assert "112" in chat.text
    await chat.say("no")
    assert chat.field == at and "Let us continue where you were" in chat.text
    assert await answers_of(engine, chat) == before
