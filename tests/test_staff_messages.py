"""Staff reach the applicant on their own channel: a message about a case, and a live
takeover during which the bot stays quiet, until a hand-back or the timeout."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.engine import Engine, Outbound
from bot.messaging import ApplicantMessenger, Delivery

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock


class Pushes:
    """A channel that can push, recording what it was asked to send."""

    def __init__(self, name: str = "test", works: bool = True) -> None:
        self.name = name
        self.works = works
        self.sent: list[tuple[str, list[str]]] = []

    async def push(self, sender_id: str, replies: Sequence[Outbound]) -> bool:
        self.sent.append((sender_id, [r.text for r in replies]))
        return self.works


async def submitted(engine: Engine, lang: str = "en") -> tuple[Chat, int, str]:
    chat = Chat(engine, lang=lang)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.transcript is not None
    return chat, int(case.transcript.split(":")[1]), case.reference


async def test_a_staff_message_is_pushed_in_the_applicants_language_and_kept_in_the_transcript(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    await chat.say("/language fr")
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    assert await messenger.message(conversation, reference, "Please bring your passport.") == Delivery.PUSHED
    [(sender, [text])] = channel.sent
    assert sender == chat.sender
    assert text.startswith(f"Message de l") and reference in text and text.endswith("Please bring your passport.")
    lines = await engine.store.transcript(conversation)
    assert ("staff", "Please bring your passport.") in [(who, said) for _, who, said in lines]


async def test_a_channel_that_cannot_push_keeps_the_message_for_the_next_visit_once(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    messenger = ApplicantMessenger(engine.store, engine, [])
    assert await messenger.message(conversation, reference, "We booked your ticket.") == Delivery.KEPT
    [kept] = await engine.kept_messages(chat.channel, chat.sender)
    assert "We booked your ticket." in kept.text and kept.language == "en"
    assert await engine.kept_messages(chat.channel, chat.sender) == []  # handed over once
    assert await engine.kept_messages(chat.channel, "someone-who-never-wrote") == []
    assert not await engine.store.has_conversation(chat.channel, "someone-who-never-wrote")


async def test_a_failed_push_is_kept_rather_than_lost(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    messenger = ApplicantMessenger(engine.store, engine, [Pushes(works=False)])
    assert await messenger.message(conversation, reference, "Call us back.") == Delivery.KEPT
    await chat.say("hello")
    assert "Call us back." in chat.replies[0].text


async def test_during_a_takeover_the_bot_is_quiet_until_handed_back(engine: Engine, clock: Clock) -> None:
    chat, conversation, reference = await submitted(engine)
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    assert await messenger.take_over(conversation, reference, clock())
    await chat.say("I have a question about my ticket")
    [told] = chat.replies
    assert "A person is reading your messages" in told.text
    await chat.say("hello?")
    assert chat.replies == []  # told once; the staff member answers
    lines = [said for _, who, said in await engine.store.transcript(conversation) if who == "in"]
    assert lines[-2:] == ["I have a question about my ticket", "hello?"]
    assert await messenger.hand_back(conversation) == Delivery.PUSHED
    assert channel.sent[-1][1] == ["You are talking to the automated assistant again."]
    await chat.say("/start")
    assert "/voluntary_return" in chat.payloads


async def test_an_emergency_is_answered_at_once_even_during_a_takeover(engine: Engine, clock: Clock) -> None:
    chat, conversation, reference = await submitted(engine)
    await ApplicantMessenger(engine.store, engine, []).take_over(conversation, reference, clock())
    await chat.say("emergency")
    assert "112" in chat.text


async def test_a_forgotten_takeover_ends_by_itself(engine: Engine, clock: Clock) -> None:
    chat, conversation, reference = await submitted(engine, lang="nl")
    await ApplicantMessenger(engine.store, engine, []).take_over(conversation, reference, clock(), timedelta(minutes=30))
    clock.advance(minutes=31)
    await chat.say("/start")
    assert chat.replies[0].language == "nl"
    assert "/voluntary_return" in chat.payloads
    assert len(chat.replies) >= 2  # "the assistant again", then the menu


async def test_an_erased_conversation_cannot_be_written_to(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    await chat.say("/forget")
    await chat.say("yes")
    assert await ApplicantMessenger(engine.store, engine, [Pushes()]).message(conversation, reference, "x") == Delivery.ERASED
