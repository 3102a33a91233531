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
    assert text.startswith("Message de l") and reference in text and text.endswith("Please bring your passport.")
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


# --- templates, status notices and their opt-out, replies, withdrawal, the transcript ---

from bot.i18n import gettext, retranslate, use_locale
from bot.messaging import TEMPLATES


async def test_a_template_is_written_in_the_applicants_language(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    await chat.say("/language nl")
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    assert await messenger.message(conversation, reference, template="documents") == Delivery.PUSHED
    [(_, [text])] = channel.sent
    with use_locale("nl"):
        wanted = gettext(TEMPLATES["documents"], reference=reference)
    assert wanted in text and "documenten" in text  # the Dutch catalog's, not the English source
    [line] = [line for line in await engine.store.transcript_lines(conversation) if line.direction == "staff"]
    assert line.source is not None and retranslate(line.source, "en").startswith("We need more documents")


async def test_every_template_exists_in_every_language(engine: Engine) -> None:
    from bot.i18n import supported_locales
    for code in supported_locales():
        if code == "en":
            continue
        with use_locale(code):
            for key, msgid in TEMPLATES.items():
                assert gettext(msgid, reference="VR-1") != msgid.format(reference="VR-1"), (code, key)


async def test_a_status_change_is_told_in_the_applicants_language_unless_they_opted_out(engine: Engine) -> None:
    chat, conversation, reference = await submitted(engine)
    await chat.say("/language fr")
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    assert await messenger.status_changed(conversation, reference, "in_review") == Delivery.PUSHED
    [(_, [text])] = channel.sent
    with use_locale("fr"):
        in_review = gettext("being handled by a person")
    assert reference in text and "Nouveau statut" in text and in_review in text and in_review != "being handled by a person"

    await chat.say("/case_status")
    assert "/case_status updates off" in chat.payloads
    await chat.say("/case_status updates off")
    assert "ne serez plus prévenu" in chat.text
    assert await messenger.status_changed(conversation, reference, "waiting_for_applicant") == Delivery.OPTED_OUT
    assert len(channel.sent) == 1  # nothing more was sent

    await chat.say("/case_status")
    assert "/case_status updates on" in chat.payloads
    await chat.say("/case_status updates on")
    assert await messenger.status_changed(conversation, reference, "closed") == Delivery.PUSHED


async def test_the_answer_to_a_staff_message_goes_to_that_case(engine: Engine) -> None:
    chat, conversation, first = await submitted(engine)
    await chat.say("/voluntary_return")  # a second request from the same chat
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    second = next(c.reference for c in await engine.store.cases() if c.reference != first)
    messenger = ApplicantMessenger(engine.store, engine, [Pushes()])
    await messenger.message(conversation, first, "Is your passport still valid?")
    await chat.say("Yes, until 2030")
    assert first in chat.text and "/start" in chat.text  # told where it went, not the menu
    await chat.say("And my wife's too")
    replies = [line for line in await engine.store.transcript_lines(conversation) if line.direction == "in"]
    assert [(r.text, r.case) for r in replies[-2:]] == [("Yes, until 2030", first), ("And my wife's too", first)]

    await chat.say("/start")  # back to the assistant: no longer a reply
    await chat.say("hello")
    assert (await engine.store.transcript_lines(conversation))[-2].case is None

    # Once the first case is closed, an answer to its message goes to the latest open case.
    await engine.store.change_status(first, "closed", engine.clock(), actor="staff")
    await messenger.message(conversation, first, "Anything else?")
    await chat.say("No, thank you")
    [last] = [line for line in await engine.store.transcript_lines(conversation) if line.direction == "in"][-1:]
    assert last.case == second and second in chat.text


async def test_during_a_takeover_the_applicants_messages_go_to_the_case(engine: Engine, clock: Clock) -> None:
    chat, conversation, reference = await submitted(engine)
    messenger = ApplicantMessenger(engine.store, engine, [])
    await messenger.take_over(conversation, reference, clock(), by="caseworker@example.org")
    taken = await engine.store.takeover(conversation)
    assert taken is not None and taken["by"] == "caseworker@example.org" and taken["case"] == reference
    await chat.say("Are you there?")
    [line] = [line for line in await engine.store.transcript_lines(conversation) if line.direction == "in"][-1:]
    assert line.case == reference and line.text == "Are you there?"
    assert await messenger.hand_back(conversation) == Delivery.KEPT
    assert await engine.store.takeover(conversation) is None


async def test_the_applicant_withdraws_a_request_after_confirming(engine: Engine) -> None:
    chat, _, reference = await submitted(engine, lang="de")
    await chat.say("/case_status")
    assert f"/case_status withdraw {reference}" in chat.payloads
    await chat.say(f"/case_status withdraw {reference}")
    assert "wirklich zurückziehen" in chat.text
    assert f"/case_status withdraw {reference} confirm" in chat.payloads and "/stay" in chat.payloads
    [case] = await engine.store.cases()
    assert case.status == "submitted"  # not before the confirmation
    await chat.say(f"/case_status withdraw {reference} confirm")
    assert "ist zurückgezogen" in chat.text
    [case] = await engine.store.cases()
    assert case.status == "withdrawn"
    assert case.status_history[-1].status == "withdrawn" and case.status_history[-1].actor == "applicant"
    await chat.say(f"/case_status withdraw {reference} confirm")
    assert "nicht mehr zurückgezogen" in chat.text  # final
    await chat.say("/case_status")
    assert not any(p.startswith("/case_status withdraw") for p in chat.payloads)


async def test_nobody_withdraws_a_request_of_another_chat(engine: Engine) -> None:
    _, _, reference = await submitted(engine)
    other = Chat(engine, sender="someone-else")
    await other.say(f"/case_status withdraw {reference} confirm")
    assert "only withdraw a request sent from this chat" in other.text
    [case] = await engine.store.cases()
    assert case.status == "submitted"


async def test_the_transcript_keeps_each_bot_message_for_staff_in_their_language(engine: Engine) -> None:
    chat, conversation, _ = await submitted(engine, lang="ru")
    await chat.say("/case_status")
    lines = [line for line in await engine.store.transcript_lines(conversation) if line.direction == "out"]
    status = lines[-1]
    assert status.source is not None and status.source["parts"][0]["msgid"] == "{kind} {reference}: {status} (since {since})."
    english = retranslate(status.source, "en")
    assert "received" in english and english != status.text  # the Russian text, and the English one
    assert status.buttons and status.buttons[0]["title"].startswith("Отозвать")
    assert retranslate(status.buttons[0]["source"], "fr").startswith("Retirer")


async def test_the_takeover_timeout_tells_the_applicant_even_if_they_stay_silent(engine: Engine, clock: Clock) -> None:
    from bot.reminders import deliverer

    chat, conversation, reference = await submitted(engine, lang="fr")
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    await messenger.take_over(conversation, reference, clock())
    deliver = deliverer(engine.store, engine, [channel], "Europe/Brussels")
    assert await engine.store.claim_jobs(clock(), lease=timedelta(minutes=1), limit=10, max_attempts=3) == []
    # A scheduler whose clock runs ahead does not end it early: it tries again later.
    [early] = await engine.store.claim_jobs(
        clock() + timedelta(minutes=31), lease=timedelta(minutes=1), limit=10, max_attempts=3
    )
    assert not await deliver(early) and await engine.store.takeover(conversation) is not None
    clock.advance(minutes=30)
    assert await deliver(early)
    with use_locale("fr"):
        assert channel.sent[-1] == (chat.sender, [gettext("You are talking to the automated assistant again.")])
    assert await engine.store.takeover(conversation) is None


async def test_a_takeover_taken_again_is_not_ended_by_the_first_ones_timeout(engine: Engine, clock: Clock) -> None:
    from bot.reminders import deliverer

    _, conversation, reference = await submitted(engine)
    channel = Pushes()
    messenger = ApplicantMessenger(engine.store, engine, [channel])
    await messenger.take_over(conversation, reference, clock())
    await messenger.hand_back(conversation)
    clock.advance(minutes=10)
    await messenger.take_over(conversation, reference, clock())  # until 40 minutes after the first
    sent = len(channel.sent)
    clock.advance(minutes=20)
    [job] = await engine.store.claim_jobs(clock(), lease=timedelta(minutes=1), limit=10, max_attempts=3)
    assert await deliverer(engine.store, engine, [channel], "Europe/Brussels")(job)
    assert len(channel.sent) == sent and await engine.store.takeover(conversation) is not None


async def test_withdrawing_a_registration_frees_its_appointment(engine: Engine) -> None:
    from .test_protection import FIRST_SLOT, add_slots, until_slot

    await add_slots(engine)
    chat = await until_slot(engine)
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert next(s.booked for s in await engine.store.slots(engine.clock())) == 1
    await chat.say(f"/case_status withdraw {case.reference} confirm")
    assert "is withdrawn" in chat.replies[0].text and "appointment of" in chat.replies[1].text
    assert next(s.booked for s in await engine.store.slots(engine.clock())) == 0  # free for someone else
    [case] = await engine.store.cases()
    assert case.status == "withdrawn" and case.appointment is not None
    assert case.appointment["status"] == "cancelled" and case.appointment["starts_at"] == FIRST_SLOT.isoformat()
    assert [e.status for e in case.status_history][-1] == "withdrawn"


async def test_a_case_without_a_chat_is_not_told(engine: Engine) -> None:
    messenger = ApplicantMessenger(engine.store, engine, [Pushes()])
    assert await messenger.status_changed(None, "VR-7K3M9Q", "in_review") == Delivery.NO_CHAT
