"""Global commands, re-asking, back and correction: nothing the applicant said is lost."""

from __future__ import annotations

import asyncio

from bot.engine import Engine, Inbound
from bot.i18n import gettext, use_locale

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock


async def at_question(engine: Engine, field: str, sender: str = "applicant-1") -> Chat:
    chat = Chat(engine, sender=sender)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at=field)
    assert chat.field == field
    return chat


async def answers_of(engine: Engine, chat: Chat) -> dict:
    async with engine.store.turn(chat.channel, chat.sender, engine.clock()) as turn:
        return dict((turn.conversation.state or {}).get("answers", {}))


async def test_invalid_answer_is_explained_and_the_question_asked_again(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults")
    before = await answers_of(engine, chat)
    await chat.say("lots")
    assert "number" in chat.replies[0].text
    assert chat.field == "household.adults"
    await chat.say("25")
    assert "20" in chat.replies[0].text
    assert await answers_of(engine, chat) == before
    await chat.say("2")
    assert chat.field == "household.children"


async def test_after_three_failed_tries_help_and_a_person_are_offered(engine: Engine) -> None:
    chat = await at_question(engine, "applicant.phone")
    for attempt in range(3):
        await chat.say("not a number")
        assert chat.field == "applicant.phone"
        offered = "/human" in chat.payloads
        assert offered == (attempt == 2)
    assert "/help" in chat.payloads
    await chat.say("/help")
    assert chat.field == "applicant.phone"


async def test_optional_question_can_be_skipped(engine: Engine) -> None:
    chat = await at_question(engine, "reception_centre")
    assert "/skip" in chat.payloads
    await chat.say("/skip")
    assert chat.field == "unaccompanied_minor"


async def test_a_required_question_cannot_be_skipped(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults")
    await chat.say("/skip")
    assert "cannot be skipped" in chat.text
    assert chat.field == "household.adults"


async def test_back_goes_to_the_previous_question_and_offers_to_keep_the_answer(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/back")
    assert chat.field == "household.children"
    assert "/keep" in chat.payloads
    await chat.say("back")  # the plain word works too
    assert chat.field == "household.adults"
    await chat.say("/keep")
    assert chat.field == "household.children"
    await chat.say("3")
    assert chat.field == "travel_document"
    answers = await answers_of(engine, chat)
    assert answers["household.adults"] == 2 and answers["household.children"] == 3


async def test_back_at_the_first_question_stays_there(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/voluntary_return")
    await chat.say("/back")
    assert "first question" in chat.text
    assert chat.field == "consent.data_processing"


async def test_summary_correction_changes_one_answer_and_returns(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/edit")
    assert "/edit name" in chat.payloads
    await chat.say("Name")  # typing the label picks it too
    assert chat.field == "applicant.name"
    await chat.say("Nino B. Beridze")
    assert chat.payloads == ["/confirm", "/edit"]
    assert "Nino B. Beridze" in chat.text
    await chat.say("/confirm")
    case = (await engine.store.cases())[0]
    assert case.applicant.name == "Nino B. Beridze"
    assert case.household.adults == 2


async def test_help_mid_flow_explains_and_asks_again(engine: Engine) -> None:
    chat = await at_question(engine, "destination_country")
    await chat.say("help")
    assert "Georgia or Moldova" in chat.text  # the question's own help
    assert "/back" in chat.text and "/forget" in chat.text
    assert chat.field == "destination_country"


async def test_human_mid_flow_gives_contacts_and_keeps_the_place(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/human")
    assert "0800 32 745" in chat.text
    assert chat.field == "topic"  # a person can be asked to call back; see test_interrupts.py
    await chat.say("/cancel")
    assert chat.field == "travel_document"


async def test_language_mid_flow_switches_and_keeps_every_answer(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    before = await answers_of(engine, chat)
    await chat.say("/language")
    assert "/language fr" in chat.payloads and "/language nl" in chat.payloads
    assert "Français" in chat.button_titles
    await chat.say("/language fr")
    assert chat.field == "travel_document"
    assert chat.replies[-1].language == "fr"
    with use_locale("fr"):
        assert gettext("Do you have a passport or travel document?") in chat.text
    assert await answers_of(engine, chat) == before


async def test_cancel_deletes_unfinished_answers(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/cancel")
    assert "Nothing was sent" in chat.text
    assert chat.field is None
    assert await answers_of(engine, chat) == {}
    await chat.say("/cancel")
    assert "nothing to cancel" in chat.text


async def test_start_mid_flow_asks_before_throwing_anything_away(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/start")
    assert chat.payloads == ["/continue", "/restart"]
    await chat.say("/continue")
    assert chat.field == "travel_document"
    await chat.say("/start")
    await chat.say("/restart")
    assert "/voluntary_return" in chat.payloads
    assert await answers_of(engine, chat) == {}


async def test_forget_erases_answers_transcript_and_sent_requests(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    reference = chat.text.split("Your reference is ")[1][:9]
    await chat.say("/voluntary_return")
    await chat.say("yes")
    await chat.say("forget my data")
    assert chat.payloads == ["yes", "no"]
    await chat.say("yes")
    assert "erased" in chat.text and "withdrawn" in chat.text
    assert await engine.store.case(reference) is None
    (trace,) = await engine.store.erasures()  # what is left: no personal value
    assert (trace.reference, trace.kind, trace.outcome, trace.actor) == (reference, "voluntary_return", "submitted", "applicant")
    assert await answers_of(engine, chat) == {}
    async with engine.store.turn(chat.channel, chat.sender, engine.clock()) as turn:
        conversation_id = turn.conversation.id
    assert await engine.store.transcript(conversation_id) == []


async def test_forget_can_be_called_off(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    await chat.say("/forget")
    await chat.say("no")
    assert "Nothing was erased" in chat.text
    assert chat.field == "travel_document"


async def test_an_attachment_gets_a_helpful_answer_and_the_question_again(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    chat.replies = await engine.handle(Inbound(channel="test", sender_id=chat.sender, attachment_kind="voice"))
    assert "text" in chat.text and "/human" in chat.text
    assert chat.field == "travel_document"


async def test_idle_conversation_starts_afresh_and_forgets_unfinished_answers(engine: Engine, clock: Clock) -> None:
    chat = await at_question(engine, "travel_document")
    clock.advance(hours=25)
    await chat.say("valid")
    assert "privacy" in chat.text
    assert chat.field is None
    assert await answers_of(engine, chat) == {}


async def test_purge_removes_idle_answers_without_a_new_message(engine: Engine, clock: Clock) -> None:
    chat = await at_question(engine, "travel_document")
    clock.advance(hours=25)
    counts = await engine.purge()
    assert counts["conversations"] == 1 and counts["transcript_entries"] > 0
    assert await answers_of(engine, chat) == {}


async def test_a_redelivered_message_is_answered_once(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults")
    first = await chat.say("2", message_id="m-41")
    again = await chat.say("2", message_id="m-41")
    assert [r.to_rest("x") for r in again] == [r.to_rest("x") for r in first]
    assert chat.field == "household.children"  # not "travel_document": processed once
    await chat.say("1", message_id="m-42")
    assert chat.field == "travel_document"


async def test_two_concurrent_turns_of_one_conversation_run_one_after_the_other(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults")
    first, second = await asyncio.gather(
        engine.handle(Inbound(channel="test", sender_id=chat.sender, text="2", message_id="a")),
        engine.handle(Inbound(channel="test", sender_id=chat.sender, text="1", message_id="b")),
    )
    assert first[-1].expects is not None and first[-1].expects.field == "household.children"
    assert second[-1].expects is not None and second[-1].expects.field == "travel_document"
    answers = await answers_of(engine, chat)
    assert answers["household.adults"] == 2 and answers["household.children"] == 1


async def test_conversations_are_independent(engine: Engine) -> None:
    one = await at_question(engine, "travel_document", sender="one")
    two = Chat(engine, sender="two")
    await two.say("/voluntary_return")
    assert two.field == "consent.data_processing"
    await one.say("valid")
    assert one.field == "assisted_return_last_5y"


async def test_free_text_outside_a_journey_finds_it_or_shows_the_menu(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("hello there")
    assert "automated assistant" in chat.text
    await chat.say("I want to go home")
    assert chat.field == "consent.data_processing"
    other = Chat(engine, sender="other")
    await other.say("/start")
    await other.say("blue sky")
    assert "did not understand" in other.text and "/voluntary_return" in other.payloads


async def test_language_hint_is_used_from_the_first_message(engine: Engine) -> None:
    chat = Chat(engine, lang="nl-BE")
    await chat.say("/start")
    assert chat.replies[0].language == "nl"
    with use_locale("nl"):
        assert gettext("What can I help you with?") in chat.text


async def test_a_state_left_by_an_older_flow_version_starts_afresh(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    async with engine.store.turn(chat.channel, chat.sender, engine.clock()) as turn:
        state = dict(turn.conversation.state or {})
        state["pending"] = "a_step_that_was_removed"
        turn.save_state(state, "en", engine.clock())
    await chat.say("valid")
    assert "updated" in chat.text and "/voluntary_return" in chat.payloads
    assert await answers_of(engine, chat) == {}
