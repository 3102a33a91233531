"""The WhatsApp channel, behind our own aiohttp app, against a local fake Graph API."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import create_app, default_channels
from bot.channels.base import NotDeliverable
from bot.channels.text import shorten, split_text
from bot.channels.whatsapp import WhatsAppChannel, create_channel
from bot.config import Settings
from bot.engine import Engine
from bot.engine.booking import ics_attachment
from bot.engine.loader import FlowSet
from bot.engine.turn import Button, Outbound
from bot.reminders import deliverer
from bot.store.appointments import JobView

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock
from .fake_whatsapp import (
    PHONE_NUMBER_ID,
    TOKEN,
    FakeGraphAPI,
    button_reply,
    document_message,
    image_message,
    list_reply,
    location_message,
    signed,
    status_update,
    sticker_message,
    text_message,
    voice_message,
)
from .serving import serving, services_for
from .test_languages import VISA
from .test_protection import FIRST_SLOT, PROTECTION

APP_SECRET = "app-secret-123"
VERIFY_TOKEN = "verify-me"
PHONE = "32470123456"
TEMPLATES = {"en": {"name": "intake_update", "language": "en"}, "ar": {"name": "intake_update", "language": "ar"}}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    server = FakeGraphAPI()
    await server.start()
    yield server
    await server.stop()


def make_channel(engine: Engine, graph: FakeGraphAPI, **kwargs: Any) -> WhatsAppChannel:
    return WhatsAppChannel(
        engine, engine.store.whatsapp, token=TOKEN, phone_number_id=PHONE_NUMBER_ID, app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN, api_url=graph.base_url, templates=TEMPLATES, retry_base_delay=0.01, **kwargs,
    )


@dataclasses.dataclass
class Served:
    channel: WhatsAppChannel
    url: str
    http: aiohttp.ClientSession
    offered: set[str] = dataclasses.field(default_factory=set)
    """Button payloads the journey's script saw offered (tapped rather than typed)."""

    async def post(self, delivery: dict[str, Any], secret: str | None = APP_SECRET) -> int:
        raw, headers = signed(delivery, secret or "")
        if secret is None:
            headers.pop("X-Hub-Signature-256")
        async with self.http.post(f"{self.url}/webhooks/whatsapp", data=raw, headers=headers) as response:
            return response.status


@pytest.fixture
async def served(engine: Engine, flows: FlowSet, graph: FakeGraphAPI) -> AsyncIterator[Served]:
    channel = make_channel(engine, graph)
    async with serving(create_app(services_for(engine, flows), [channel]), shutdown_timeout=1.0) as url:
        async with aiohttp.ClientSession() as http:
            yield Served(channel, url, http)


class WhatsAppUser:
    """An applicant in the WhatsApp app: sends messages, reads and taps what the bot sent."""

    def __init__(self, served: Served, graph: FakeGraphAPI, phone: str = PHONE) -> None:
        self.served, self.graph, self.phone = served, graph, phone
        self.replies: list[dict[str, Any]] = []

    async def send(self, delivery: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.graph.messages(self.phone))
        assert await self.served.post(delivery) == 200  # answered only once the turn is done
        self.replies = self.graph.messages(self.phone)[before:]
        return self.replies

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.send(text_message(self.phone, text))

    @property
    def text(self) -> str:
        parts = []
        for reply in self.replies:
            if reply["type"] == "text":
                parts.append(reply["text"]["body"])
            elif reply["type"] == "interactive":
                parts.append(reply["interactive"]["body"]["text"])
        return "\n".join(parts)

    def options(self) -> tuple[str, list[dict[str, str]]]:
        """The last interactive message's kind and its buttons or rows."""
        for reply in reversed(self.graph.messages(self.phone)):
            if reply["type"] == "interactive":
                interactive = reply["interactive"]
                if interactive["type"] == "button":
                    return "button", [b["reply"] for b in interactive["action"]["buttons"]]
                return "list", [r for s in interactive["action"]["sections"] for r in s["rows"]]
        return "none", []

    async def tap(self, payload: str) -> None:
        """Tap the button or row whose id carries ``payload``, paging with "More…" to it."""
        for _ in range(20):
            kind, options = self.options()
            for option in options:
                if option["id"] == f"p:{payload}":
                    make = button_reply if kind == "button" else list_reply
                    await self.send(make(self.phone, option["id"], option["title"]))
                    return
            more = [o for o in options if o["id"].startswith("m:")]
            assert more, f"no button for {payload!r}"
            await self.send(list_reply(self.phone, more[0]["id"], more[0]["title"]))
        raise AssertionError("too many pages")

    def can_tap(self, payload: str) -> bool:
        _, options = self.options()
        return any(o["id"] == f"p:{payload}" for o in options) or any(o["id"].startswith("m:") for o in options)

    async def answer(self, value: str) -> None:
        if not value.startswith("/") and self.can_tap(value) and self._offered(value):
            await self.tap(value)
        else:
            await self.say(value)

    def _offered(self, value: str) -> bool:
        return value in self.served.offered


async def script(engine: Engine, language: str, commands: list[str], answers: dict[str, Any],
                 end: list[str], slot: bool = False) -> tuple[list[str], set[str]]:
    """What an applicant sends, in order, for a whole journey (found with another sender),
    and every button payload the bot offered on the way."""
    chat = Chat(engine, sender=f"script-{language}", channel="script")
    sent: list[str] = []
    offered: set[str] = set()

    async def say(text: str) -> None:
        sent.append(text)
        await chat.say(text)
        offered.update(chat.payloads)

    for command in [f"/language {language}", *commands]:
        await say(command)
    for _ in range(60):
        field = chat.field
        if field is None:
            break
        if field == "slot" and slot:
            await say(chat.payloads[0])
            continue
        value = answers[field]
        for item in [*value, "/done"] if isinstance(value, list) else [value]:
            await say(item)
    for command in end:
        await say(command)
    return sent, offered


JOURNEYS: dict[str, tuple[list[str], dict[str, Any], list[str]]] = {
    "voluntary_return": (["/voluntary_return"], VOLUNTARY_RETURN, ["/confirm"]),
    "visa_info": (["/visa_info"], VISA, ["/confirm"]),
    "protection": (["/protection_registration"], PROTECTION, ["/confirm"]),
    "urgent_help": (["/urgent_help"], {"wants_contact": "yes", "consent.urgent_contact": "yes",
                                       "applicant.preferred_contact": "this_chat"}, ["/confirm"]),
}


# --- 1. webhook verification and signatures ----------------------------------------------------


async def test_meta_verifies_the_webhook_with_the_verify_token(served: Served) -> None:
    url = f"{served.url}/webhooks/whatsapp"
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with served.http.get(url, params=query) as response:
        assert response.status == 200 and await response.text() == "1158201444"
    for wrong in ({**query, "hub.verify_token": "nope"}, {**query, "hub.mode": "unsubscribe"}, {}):
        async with served.http.get(url, params=wrong) as response:
            assert response.status == 403


async def test_a_delivery_with_a_wrong_or_missing_signature_is_refused_and_logged_without_the_body(
    served: Served, graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    delivery = text_message(PHONE, "my secret story")
    assert await served.post(delivery, secret="not-the-app-secret") == 401
    assert await served.post(delivery, secret=None) == 401
    assert served.channel.stats["turns"] == 0 and not graph.calls
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "my secret story" not in logged and PHONE not in logged


# --- 2. journeys, in en, ar and ti ------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ar", "ti"])
@pytest.mark.parametrize("journey", sorted(JOURNEYS))
async def test_every_journey_completes(
    engine: Engine, served: Served, graph: FakeGraphAPI, journey: str, language: str
) -> None:
    if journey == "protection":
        await engine.store.add_slots(FIRST_SLOT, FIRST_SLOT + timedelta(hours=1), timedelta(minutes=30), 2)
    commands, answers, end = JOURNEYS[journey]
    sent, offered = await script(engine, language, commands, answers, end, slot=journey == "protection")
    served.offered = offered
    user = WhatsAppUser(served, graph)
    for value in sent:
        await user.answer(value)
    cases = [c for c in await engine.store.cases() if c.channel == "whatsapp"]
    assert len(cases) == 1 and cases[0].language == language
    if journey == "protection":
        assert cases[0].appointment
        [document] = [m for m in graph.messages(PHONE) if m["type"] == "document"]
        assert document["document"]["filename"] == "appointment.ics"
        [(filename, media_type, data)] = graph.uploads.values()
        assert filename == "appointment.ics" and media_type == "text/calendar"
        assert data.startswith(b"BEGIN:VCALENDAR")
    # Every message read, every sent message recorded; nothing failed on the way.
    assert len(graph.read_receipts()) == len(sent)
    statuses = await engine.store.whatsapp.statuses()
    assert len(statuses) == len(graph.messages(PHONE))
    interactive = [m for m in graph.messages(PHONE) if m["type"] == "interactive"]
    assert interactive, "buttons were rendered"


# --- 3. buttons and lists ---------------------------------------------------------------------------


async def test_three_short_buttons_are_reply_buttons_and_more_become_a_list(served: Served, graph: FakeGraphAPI) -> None:
    channel = served.channel
    short = [Button("Yes", "yes"), Button("No", "no"), Button("Not sure", "unsure")]
    buttons = channel.interactive("Question?", short, "en")
    assert buttons["type"] == "button"
    assert [b["reply"] for b in buttons["action"]["buttons"]] == [
        {"id": "p:yes", "title": "Yes"}, {"id": "p:no", "title": "No"}, {"id": "p:unsure", "title": "Not sure"}]

    long_title = [Button("My asylum application is still open", "open"), Button("No", "no")]
    as_list = channel.interactive("Status?", long_title, "en")
    assert as_list["type"] == "list"
    [first, _] = as_list["action"]["sections"][0]["rows"]
    assert first == {"id": "p:open", "title": "My asylum application…",
                     "description": "My asylum application is still open"}


async def test_a_long_list_pages_with_a_more_row_and_every_row_fits(
    served: Served, graph: FakeGraphAPI
) -> None:
    countries = [Button(f"Country number {i} with a long name", f"/pick {i}") for i in range(23)]
    await served.channel.send_replies(PHONE, [Outbound("Which country?", buttons=tuple(countries), language="en")])
    user = WhatsAppUser(served, graph)
    kind, rows = user.options()
    assert kind == "list" and len(rows) == 10 and rows[-1]["title"] == "More…"
    seen = [r["id"] for r in rows[:-1]]
    while rows[-1]["id"].startswith("m:"):
        await user.send(list_reply(PHONE, rows[-1]["id"], rows[-1]["title"]))
        _, rows = user.options()
        seen += [r["id"] for r in rows if not r["id"].startswith("m:")]
    assert seen == [f"p:/pick {i}" for i in range(23)]  # every country once, in order
    await user.tap("/pick 21")  # the last page's row answers the question like any other


async def test_long_payloads_are_mapped_to_short_ids(served: Served, graph: FakeGraphAPI) -> None:
    payload = "/edit " + "x" * 300
    reply = served.channel.interactive("Edit?", [Button("Edit", payload)], "en")
    reply_id = reply["action"]["buttons"][0]["reply"]["id"]
    assert len(reply_id) <= 200 and reply_id.startswith("k:")
    assert served.channel._payload(reply_id, "Edit") == payload
    assert served.channel._payload("k:forgotten", "Edit") == "Edit"  # after a restart: the title, as typed


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Short", 20, "Short"),
    ("My asylum application is still open", 24, "My asylum application…"),
    ("Antidisestablishmentarianism", 20, "Antidisestablishmen…"),
    ("ማመልከቻዬ ገና ክፍት እዩ ኣብ ቤት ጽሕፈት", 20, "ማመልከቻዬ ገና ክፍት እዩ ኣብ…"),
    ("طلب اللجوء الخاص بي لا يزال مفتوحا", 20, "طلب اللجوء الخاص بي…"),
])
def test_shortening_never_breaks_a_word(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_shortening_never_breaks_a_grapheme() -> None:
    flags = "🇧🇪🇪🇷🇪🇹🇸🇾🇦🇫🇺🇦🇬🇪🇲🇦🇹🇷🇷🇴🇸🇴"  # one word of 11 two-code-point flags
    cut = shorten(flags, 10)
    assert cut == "🇧🇪🇪🇷🇪🇹🇸🇾…" and len(cut) <= 10
    accents = "e\u0301" * 30  # é as e + combining acute: never split from its accent
    cut = shorten(accents, 20)
    assert cut == "e\u0301" * 9 + "…"
    assert split_text("e\u0301" * 5, 3) == ["e\u0301", "e\u0301", "e\u0301", "e\u0301", "e\u0301"]


# --- 4. duplicates, attachments, read receipts ------------------------------------------------------


async def test_a_duplicate_delivery_is_answered_once(engine: Engine, served: Served, graph: FakeGraphAPI) -> None:
    delivery = text_message(PHONE, "/start")
    assert await served.post(delivery) == 200
    assert await served.post(delivery) == 200
    assert served.channel.stats == {"turns": 1, "duplicates": 1}
    texts = [(m.get("text") or m["interactive"]["body"])["text" if "interactive" in m else "body"]
             for m in graph.messages(PHONE)]
    assert sum("automated assistant" in t for t in texts) == 1


async def test_a_redelivery_after_a_restart_is_answered_from_what_was_saved(
    engine: Engine, flows: FlowSet, graph: FakeGraphAPI
) -> None:
    delivery = text_message(PHONE, "/voluntary_return")
    answers = []
    for _ in range(2):  # two processes: nothing in memory the second time
        channel = make_channel(engine, graph)
        async with serving(create_app(services_for(engine, flows), [channel]), shutdown_timeout=1.0) as url:
            async with aiohttp.ClientSession() as http:
                before = len(graph.messages(PHONE))
                assert await Served(channel, url, http).post(delivery) == 200
                answers.append([m.get("text") or m.get("interactive") for m in graph.messages(PHONE)[before:]])
    assert answers[0] == answers[1]
    async with engine.store.turn("whatsapp", PHONE, engine.clock()) as turn:
        assert turn.conversation.state["flow_id"] == "voluntary_return"  # one turn, not two


@pytest.mark.parametrize("attachment", [voice_message, image_message, sticker_message, document_message, location_message])
async def test_media_get_a_clear_answer_and_the_question_again(
    served: Served, graph: FakeGraphAPI, attachment: Callable[[str], dict[str, Any]]
) -> None:
    user = WhatsAppUser(served, graph)
    await user.say("/voluntary_return")
    question = user.replies[-1]
    await user.send(attachment(PHONE))
    assert "I can only read text and buttons" in user.text
    assert user.replies[-1]["interactive"] == question["interactive"]  # asked again
    assert not graph.uploads  # nothing downloaded or kept


async def test_media_are_answered_in_the_applicants_language(served: Served, graph: FakeGraphAPI) -> None:
    user = WhatsAppUser(served, graph)
    await user.say("/language ti")
    await user.say("/voluntary_return")
    await user.send(voice_message(PHONE))
    assert "I can only read" not in user.text and user.text


# --- 5. pushing: the 24-hour window -------------------------------------------------------------------


async def test_push_inside_the_window_is_sent_as_usual(engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock) -> None:
    await WhatsAppUser(served, graph).say("/start")
    clock.now += timedelta(hours=23)
    before = len(graph.messages(PHONE))
    ics = ics_attachment(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    reminder = Outbound("Reminder: tomorrow 09:00", language="en", custom={"attachment": ics})
    assert await served.channel.push(PHONE, [reminder]) is True
    sent = graph.messages(PHONE)[before:]
    assert [m["type"] for m in sent] == ["text", "document"]
    assert sent[0]["text"]["body"] == "Reminder: tomorrow 09:00"


async def test_push_outside_the_window_needs_the_opt_in_and_then_goes_as_a_template(
    engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await WhatsAppUser(served, graph).say("/start")
    clock.now += timedelta(hours=25)
    before = len(graph.messages(PHONE))
    message = Outbound("Message from staff:\nplease bring your passport", language="en")
    with pytest.raises(NotDeliverable):  # not opted in: kept, not sent, not retried
        await served.channel.push(PHONE, [message])
    assert len(graph.messages(PHONE)) == before
    assert PHONE not in " ".join(r.getMessage() for r in caplog.records)

    assert await engine.store.whatsapp.opt_in(PHONE, clock.now) is True
    assert await served.channel.push(PHONE, [message]) is True
    [template] = graph.messages(PHONE)[before:]
    assert template["template"]["name"] == "intake_update"
    assert template["template"]["components"][0]["parameters"][0]["text"] == "Message from staff: please bring your passport"
    # A language without an approved template falls back to the default language's.
    assert await served.channel.push(PHONE, [Outbound("Hallo", language="nl")]) is True
    assert graph.messages(PHONE)[-1]["template"]["language"]["code"] == "en"
    assert {s.kind for s in await engine.store.whatsapp.statuses()} >= {"template"}

    assert await engine.store.whatsapp.opt_in(PHONE, None) is True  # withdrawn
    with pytest.raises(NotDeliverable):
        await served.channel.push(PHONE, [message])


async def test_the_window_survives_a_restart(engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock) -> None:
    await WhatsAppUser(served, graph).say("/start")
    fresh = make_channel(engine, graph)  # a new process: nothing in memory
    await fresh.start()
    try:
        assert await fresh.push(PHONE, [Outbound("Reminder", language="en")]) is True
        clock.now += timedelta(days=2)
        with pytest.raises(NotDeliverable):
            await fresh.push(PHONE, [Outbound("Reminder", language="en")])
        assert await fresh.push("not-a-number", [Outbound("Reminder", language="en")]) is False
    finally:
        await fresh.stop()


async def test_staff_messages_outside_the_window_are_kept_and_shown_as_not_delivered(
    engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock
) -> None:
    from bot.messaging import ApplicantMessenger, Delivery

    user = WhatsAppUser(served, graph)
    await user.say("/start")
    async with engine.store.turn("whatsapp", PHONE, engine.clock()) as turn:
        conversation_id = turn.conversation.id
    messenger = ApplicantMessenger(engine.store, engine, [served.channel])
    assert await messenger.message(conversation_id, "VR-TEST", "Please call us") == Delivery.PUSHED
    clock.now += timedelta(hours=30)
    assert await messenger.message(conversation_id, "VR-TEST", "Please call us again") == Delivery.KEPT
    await user.say("hello")
    assert "Please call us again" in user.text


async def urgent_request(engine: Engine, served: Served, graph: FakeGraphAPI, language: str) -> WhatsAppUser:
    """An applicant who sent a request (the short urgent-help journey) in ``language``."""
    commands, answers, end = JOURNEYS["urgent_help"]
    sent, offered = await script(engine, language, commands, answers, end)
    served.offered = offered
    user = WhatsAppUser(served, graph)
    for value in sent:
        await user.answer(value)
    return user


def opt_in_buttons(user: WhatsAppUser, since: int = 0) -> list[dict[str, str]]:
    """The buttons of the latest opt-in question sent (from message ``since`` on)."""
    for message in reversed(user.graph.messages(user.phone)[since:]):
        if message["type"] == "interactive" and message["interactive"]["type"] == "button":
            buttons = [b["reply"] for b in message["interactive"]["action"]["buttons"]]
            if buttons and buttons[0]["id"].startswith("o:"):
                return buttons
    return []


async def test_after_a_request_the_applicant_is_asked_once_whether_we_may_write_later(
    engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock
) -> None:
    user = await urgent_request(engine, served, graph, "ar")
    yes, no = opt_in_buttons(user)
    assert yes["id"] == "o:yes:ar" and no["id"] == "o:no:ar"
    [question] = [m for m in graph.messages(PHONE) if m["type"] == "interactive"
                  and m["interactive"]["action"].get("buttons", [{}])[0].get("reply", {}).get("id") == yes["id"]]
    body = question["interactive"]["body"]["text"]
    assert "/updates" in body and "WhatsApp" in body and any("\u0600" <= c <= "\u06ff" for c in body)
    assert (await engine.store.whatsapp.window(PHONE)).opted_in_at is None  # asking is not agreeing

    await user.send(button_reply(PHONE, yes["id"], yes["title"]))
    assert [m["type"] for m in user.replies] == ["text"] and "/updates" in user.text
    assert (await engine.store.whatsapp.window(PHONE)).opted_in_at is not None

    # Outside the window a staff message now goes as the Arabic template.
    clock.now += timedelta(hours=30)
    assert await served.channel.push(PHONE, [Outbound("رسالة", language="ar")]) is True
    assert graph.messages(PHONE)[-1]["template"]["language"]["code"] == "ar"

    # A second request does not ask again.
    before = len(graph.messages(PHONE))
    await urgent_request(engine, served, graph, "ar")
    assert not opt_in_buttons(user, since=before)


async def test_no_is_respected_and_updates_lets_the_applicant_agree_later_in_a_language_with_a_template(
    engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock
) -> None:
    user = await urgent_request(engine, served, graph, "nl")  # no Dutch template in TEMPLATES
    yes, no = opt_in_buttons(user)
    await user.send(button_reply(PHONE, no["id"], no["title"]))
    assert "/updates" in user.text
    clock.now += timedelta(hours=30)
    with pytest.raises(NotDeliverable):
        await served.channel.push(PHONE, [Outbound("Bericht", language="nl")])

    await user.say("/updates")  # asks again, in Dutch
    yes, no = opt_in_buttons(user, since=len(graph.messages(PHONE)) - 1)
    assert yes["id"] == "o:yes:nl"
    await user.send(button_reply(PHONE, yes["id"], yes["title"]))
    _, choices = user.options()  # no Dutch template: which language should it be?
    assert {c["title"] for c in choices} == {"English", "العربية"}
    [arabic] = [c for c in choices if c["title"] == "العربية"]
    await user.send(button_reply(PHONE, arabic["id"], arabic["title"]))
    window = await engine.store.whatsapp.window(PHONE)
    assert window.opted_in_at is not None and window.template_language == "ar"
    clock.now += timedelta(hours=30)
    assert await served.channel.push(PHONE, [Outbound("Bericht", language="nl")]) is True
    assert graph.messages(PHONE)[-1]["template"]["language"]["code"] == "ar"


async def test_a_reminder_outside_the_window_without_opt_in_is_kept_and_not_retried(
    engine: Engine, served: Served, graph: FakeGraphAPI, clock: Clock
) -> None:
    user = WhatsAppUser(served, graph)
    await user.say("/start")
    async with engine.store.turn("whatsapp", PHONE, engine.clock()) as turn:
        conversation_id = turn.conversation.id
    clock.now += timedelta(hours=30)
    reminder = JobView(
        id=1, kind="appointment_reminder", due_at=engine.clock(), conversation_id=conversation_id,
        booking_id=None, attempts=1,
        payload={"starts_at": "2026-12-01T08:00:00+00:00", "place": "registration_centre", "language": "en"},
    )
    before = len(graph.messages(PHONE))
    deliver = deliverer(engine.store, engine, [served.channel], "Europe/Brussels")
    assert await deliver(reminder) is True  # done: the scheduler does not retry it
    assert len(graph.messages(PHONE)) == before
    await user.say("hello")
    assert user.text.startswith("Reminder: your registration appointment")


# --- 6. statuses ------------------------------------------------------------------------------------------


async def test_statuses_are_recorded_per_message_without_personal_data(
    engine: Engine, served: Served, graph: FakeGraphAPI
) -> None:
    user = WhatsAppUser(served, graph)
    await user.say("/start")
    first, *_ = graph.messages(PHONE)
    await user.say("/voluntary_return")
    for status in ("sent", "delivered", "read", "delivered"):  # late "delivered" does not undo "read"
        assert await served.post(status_update(first["_id"], status, PHONE)) == 200
    last = graph.messages(PHONE)[-1]
    assert await served.post(status_update(last["_id"], "failed", PHONE, error_code=131026)) == 200
    assert await served.post(status_update("wamid.someone-else", "sent", PHONE)) == 200
    statuses = {s.wa_message_id: s for s in await engine.store.whatsapp.statuses()}
    assert statuses[first["_id"]].status == "read"
    assert (statuses[last["_id"]].status, statuses[last["_id"]].error_code) == ("failed", 131026)
    assert "wamid.someone-else" not in statuses
    assert served.channel.stats["unknown_statuses"] == 1
    async with engine.store.engine.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT * FROM whatsapp_messages")).all()
        contacts = (await conn.exec_driver_sql("SELECT * FROM whatsapp_contacts")).all()
        senders = (await conn.exec_driver_sql("SELECT sender_key FROM conversations")).all()
    assert PHONE not in repr(rows) + repr(contacts) + repr(senders)


# --- 7. settings ------------------------------------------------------------------------------------------


def test_the_channel_is_on_only_when_configured(engine: Engine, flows: FlowSet, monkeypatch: pytest.MonkeyPatch) -> None:
    services = services_for(engine, flows)

    def from_environment() -> WhatsAppChannel | None:
        return create_channel(dataclasses.replace(services, settings=Settings()))

    assert from_environment() is None
    monkeypatch.setenv("INTAKE_WHATSAPP_TOKEN", TOKEN)
    monkeypatch.setenv("INTAKE_WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
    monkeypatch.setenv("INTAKE_WHATSAPP_APP_SECRET", APP_SECRET)
    assert from_environment() is None  # the verify token is missing
    monkeypatch.setenv("INTAKE_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("INTAKE_WHATSAPP_TEMPLATES", '{"en": {"name": "intake_update", "language": "en"}}')
    channel = from_environment()
    assert channel is not None and channel.api_url == "https://graph.facebook.com/v21.0"
    assert channel.templates == {"en": {"name": "intake_update", "language": "en"}}
    monkeypatch.setenv("INTAKE_WHATSAPP_API_URL", "http://127.0.0.1:9/v21.0/")
    assert from_environment().api_url == "http://127.0.0.1:9/v21.0"  # type: ignore[union-attr]
    settings = Settings()
    assert "whatsapp" in [c.name for c in default_channels(dataclasses.replace(services, settings=settings))]
    shown = repr(settings) + str(settings.model_dump())
    assert TOKEN not in shown and APP_SECRET not in shown and VERIFY_TOKEN not in shown
