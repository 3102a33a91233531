"""Where is my case? From the chat that sent it, or by reference with a date of birth."""

from __future__ import annotations

from bot.engine import Engine
from bot.i18n import gettext, use_locale
from bot.cases.draft import CaseDraft

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import START


async def sent_voluntary_return(engine: Engine, sender: str = "applicant-1", lang: str | None = None) -> Chat:
    chat = Chat(engine, sender=sender, lang=lang)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    return chat


async def case_with_birth_date(engine: Engine) -> str:
    async with engine.store.turn("telegram", "someone-else", START) as turn:
        case = await turn.create_case(
            CaseDraft(
                kind="protection_appointment", flow_id="protection_appointment", language="en", channel="telegram",
                applicant={"name": "Amanuel", "date_of_birth": "1999-04-12"}, household={}, answers={},
                flags=[], priority="normal", consent=None, content_version=None,
            ),
            START,
        )
    return case.reference


async def test_the_chat_that_sent_a_request_sees_it_with_its_status(engine: Engine) -> None:
    chat = await sent_voluntary_return(engine)
    [case] = await engine.store.cases()
    await chat.say("/case_status")
    assert f"Return to my country {case.reference}: received (since November 23, 2026)." in chat.text
    other = Chat(engine, sender="applicant-2")
    await other.say("/case_status")
    assert case.reference not in other.text
    assert "No request was sent from this chat" in other.text


async def test_status_is_said_in_the_applicant_s_language(engine: Engine) -> None:
    chat = await sent_voluntary_return(engine, lang="nl")
    await chat.say("/case_status")
    with use_locale("nl"):
        assert gettext("received") in chat.text and gettext("Return to my country") in chat.text


async def test_lookup_by_reference_needs_the_date_of_birth(engine: Engine) -> None:
    reference = await case_with_birth_date(engine)
    chat = Chat(engine, sender="web-visitor")
    await chat.say(f"/case_status {reference}")
    assert chat.field == "case_lookup.date_of_birth"
    assert reference not in chat.text or "date of birth" in chat.text
    await chat.say("12/04/1999")
    assert "Registration appointment" in chat.text and "received" in chat.text


async def test_a_wrong_date_and_an_unknown_reference_get_the_same_answer(engine: Engine) -> None:
    reference = await case_with_birth_date(engine)
    chat = Chat(engine, sender="guesser")
    await chat.say(f"/case_status {reference}")
    await chat.say("13/04/1999")
    wrong_date = chat.replies[0].text
    await chat.say("/case_status VR-2345AB")
    await chat.say("12/04/1999")
    assert chat.replies[0].text == wrong_date
    assert "received" not in wrong_date


async def test_lookups_are_rate_limited(engine: Engine) -> None:
    reference = await case_with_birth_date(engine)
    chat = Chat(engine, sender="guesser")
    for _ in range(5):
        await chat.say(f"/case_status {reference}")
        await chat.say("01/01/2000")
    await chat.say(f"/case_status {reference}")
    await chat.say("12/04/1999")  # right, but too late
    assert "Too many attempts" in chat.text


async def test_a_malformed_reference_is_explained(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/case_status 12345")
    assert "VR-7K3M9Q" in chat.text
