"""Free text in the engine, with the real trained model: outside a journey the intent picks
one; inside, urgent help, a person, a language, privacy and help interrupt; otherwise the
text is the answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.store import Store

from .chat import Chat
from .conftest import Clock
from .test_dialogue import at_question


@pytest.fixture(scope="session")
def nlu() -> Iterator[object]:
    from nlu.service import load_nlu

    yield load_nlu()


@pytest.fixture
def engine_nlu(sqlite_store: Store, flows: FlowSet, clock: Clock, nlu: object) -> Engine:
    return Engine(sqlite_store, flows, clock=clock, nlu=nlu, language_id=nlu.language_identifier())


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("I want to go back to my country", "consent.data_processing"),
        ("أريد العودة إلى بلدي", "consent.data_processing"),
        ("do I need a visa to visit my sister in Belgium", "nationality"),
        ("je veux demander l'asile", "location_now"),
    ],
)
async def test_outside_a_journey_the_intent_starts_it(engine_nlu: Engine, text: str, field: str) -> None:
    chat = Chat(engine_nlu)
    await chat.say("/start")
    await chat.say(text)
    if "/stay" in chat.payloads:  # another language was offered: keep it simple, say yes
        await chat.say(next(p for p in chat.payloads if p.startswith("/language")))
    assert chat.field == field


async def test_danger_typed_as_the_answer_to_a_text_question_gets_asked_and_helped(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "reception_centre")
    await chat.say("my boss took my passport and he beats me")
    assert chat.payloads == ["/urgent_help", "/answer"]
    await chat.say("/urgent_help")
    assert "112" in chat.text and chat.field == "wants_contact"
    await chat.say("no")
    assert chat.field == "reception_centre"


async def test_a_text_that_only_sounds_urgent_can_be_kept_as_the_answer(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "reception_centre")
    await chat.say("the centre where people were beaten last year")
    if chat.payloads == ["/urgent_help", "/answer"]:
        await chat.say("/answer")
    assert chat.field == "unaccompanied_minor"


async def test_danger_instead_of_a_choice_interrupts_at_once(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "travel_document")
    await chat.say("please help they are hitting me")
    assert "112" in chat.text and chat.field == "wants_contact"


async def test_health_details_are_the_answer_not_a_call_for_help(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "health_details")
    await chat.say("I am pregnant and need insulin")
    assert chat.field == "reintegration_interest"


async def test_an_ordinary_answer_is_just_the_answer(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "reception_centre")
    await chat.say("Petit-Château")
    assert chat.field == "unaccompanied_minor"


async def test_asking_for_a_person_mid_journey(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "household.adults")
    await chat.say("I want to talk to a real person please")
    assert chat.field == "topic"


async def test_gibberish_gets_the_menu_not_a_guess(engine_nlu: Engine) -> None:
    chat = Chat(engine_nlu)
    await chat.say("/start")
    await chat.say("asdf qwer zxcv")
    assert chat.field is None and "/visa_info" in chat.payloads


async def test_a_name_is_never_read_as_a_wish(engine_nlu: Engine) -> None:
    chat = await at_question(engine_nlu, "applicant.name")
    await chat.say("Nino Beridze")
    assert chat.field == "applicant.preferred_contact"


@pytest.mark.parametrize(("text", "lang"), [("هل احتاج مظلة يوم الاربعاء", "ar"), ("do I need an umbrella on Wednesday?", None),
                                           ("recommend me a good film for tonight", None)])
async def test_everyday_requests_get_the_menu_not_a_journey(engine_nlu: Engine, text: str, lang: str | None) -> None:
    chat = Chat(engine_nlu, lang=lang)
    await chat.say("/start")
    await chat.say(text)
    # the menu again: no journey's first question, no emergency numbers
    assert chat.field is None and "/visa_info" in chat.payloads and "112" not in chat.text
