"""The Telegram channel, with python-telegram-bot running for real against a local fake API."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.channels.telegram import (
    SECRET_HEADER,
    TelegramChannel,
    create_channel,
    derive_secret,
    keyboard_rows,
    split_text,
)
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.engine.booking import ics_attachment
from bot.engine.turn import Button, Expects, Outbound
from bot.reminders import deliverer
from bot.store.appointments import JobView

from .chat import VOLUNTARY_RETURN, Chat
from .serving import free_port, serving, services_for
from .fake_telegram import (
    FakeTelegram,
    callback_update,
    contact_update,
    document_update,
    edited_update,
    location_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
CHAT = 424242


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error here) when durations are read as ints; opt in to timedeltas.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def make_channel(engine: Engine, fake: FakeTelegram, **kwargs: Any) -> TelegramChannel:
    return TelegramChannel(
        engine, TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url,
        poll_timeout=1, retry_base_delay=0.01, **kwargs,
    )


Deliver = Callable[..., Awaitable[None]]
"""Hands updates to the bot the way Telegram would in the channel's mode."""


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def channel(engine: Engine, flows: FlowSet, fake: FakeTelegram, mode: str) -> AsyncIterator[TelegramChannel]:
    """The channel, started in ``mode``: polling the fake, or behind our own aiohttp app
    with Telegram's webhook pointing at it."""
    if mode == "polling":
        ch = make_channel(engine, fake)
        await ch.start()
        yield ch
        await ch.stop()
        return
    port = free_port()
    ch = make_channel(engine, fake, public_url=f"http://127.0.0.1:{port}")
    async with serving(create_app(services_for(engine, flows), [ch]), port, shutdown_timeout=1.0):
        yield ch


@pytest.fixture
async def deliver(fake: FakeTelegram, channel: TelegramChannel, mode: str) -> AsyncIterator[Deliver]:
    if mode == "polling":
        async def by_polling(*updates: dict[str, Any]) -> None:
            fake.inject(*updates)

        yield by_polling
        return
    async with aiohttp.ClientSession() as http:
        async def by_webhook(*updates: dict[str, Any]) -> None:
            for update in updates:
                await post_update(http, channel, update)

        yield by_webhook


async def post_update(http: aiohttp.ClientSession, channel: TelegramChannel, update: dict[str, Any]) -> None:
    """What Telegram does in webhook mode: POST the update with the secret; expect 200."""
    async with http.post(
        f"{channel.public_url}/webhooks/telegram", json=update, headers={SECRET_HEADER: channel.secret_token}
    ) as response:
        assert response.status == 200


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


class TelegramUser:
    """An applicant in the Telegram app: sends updates, reads what the bot sent."""

    def __init__(self, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver, chat_id: int = CHAT) -> None:
        self.fake, self.channel, self.deliver, self.chat_id = fake, channel, deliver, chat_id
        self.replies: list[dict[str, Any]] = []

    async def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.fake.sent(self.chat_id))
        turns = self.channel.stats["turns"]
        await self.deliver(update)
        await wait_for(lambda: self.channel.stats["turns"] > turns)
        self.replies = self.fake.sent(self.chat_id)[before:]
        return self.replies

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.send(text_update(self.chat_id, text))

    @property
    def text(self) -> str:
        return "\n".join(r["text"] for r in self.replies)

    def keyboard(self) -> tuple[int, list[dict[str, str]]] | None:
        """The message id and buttons of the last inline keyboard the bot sent."""
        for reply in reversed(self.fake.sent(self.chat_id)):
            markup = reply.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                return reply["_message_id"], [b for row in markup["inline_keyboard"] for b in row]
        return None

    async def click(self, payload: str) -> list[dict[str, Any]]:
        found = self.keyboard()
        assert found is not None, "no keyboard to click"
        message_id, buttons = found
        data = next(b["callback_data"] for b in buttons if b["callback_data"] == payload)
        return await self.send(callback_update(self.chat_id, data, message_id))

    def payloads(self) -> list[str]:
        found = self.keyboard()
        return [b["callback_data"] for b in found[1]] if found else []

    async def answer(self, value: str) -> None:
        """Click the button with this payload if the last keyboard has one, else type it."""
        if value in self.payloads():
            await self.click(value)
        else:
            await self.say(value)


async def scripted_answers(engine: Engine) -> list[str]:
    """What an applicant sends, in order, for the whole journey (found with another sender)."""
    chat = Chat(engine, sender="script", channel="script")
    sent: list[str] = ["/start", "/voluntary_return"]
    for message in sent:
        await chat.say(message)
    for _ in range(60):
        field = chat.field
        if field is None:
            break
        value = VOLUNTARY_RETURN[field]
        for item in ([*value, "/done"] if isinstance(value, list) else [value]):
            sent.append(item)
            await chat.say(item)
    return [*sent, "/confirm"]


# --- 1. the whole journey (polling and webhook) -------------------------------------------------------


async def test_whole_journey_by_text_and_buttons(engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver) -> None:
    script = await scripted_answers(engine)
    user = TelegramUser(fake, channel, deliver)
    await user.say(script[0])
    assert "automated assistant" in user.text
    for value in script[1:]:
        await user.answer(value)
    assert "Your reference is VR-" in user.text
    cases = [c for c in await engine.store.cases() if c.channel == "telegram"]
    assert len(cases) == 1 and cases[0].applicant.name == "Nino Beridze"
    # Every click was answered and its keyboard removed.
    clicks = [c for c in fake.calls if c.method == "answerCallbackQuery"]
    edits = fake.calls_to("editMessageReplyMarkup")
    assert len(clicks) >= 10 and len(edits) == len(clicks)
    assert all("reply_markup" not in e for e in edits)  # None: the keyboard is gone
    # Plain text only: no parse_mode anywhere.
    assert all("parse_mode" not in m for m in fake.calls_to("sendMessage"))


# --- 2. phone by contact sharing --------------------------------------------------------------


async def test_phone_question_offers_contact_button_and_contact_answers_it(
    engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver
) -> None:
    script = await scripted_answers(engine)
    user = TelegramUser(fake, channel, deliver)
    phone_at = script.index(VOLUNTARY_RETURN["applicant.phone"])
    await user.say(script[0])
    for value in script[1:phone_at]:
        await user.answer(value)
    markup = user.replies[-1]["reply_markup"]
    assert markup["one_time_keyboard"] is True
    [[button]] = markup["keyboard"]
    assert button == {"text": "Share my phone number", "request_contact": True}

    sent_before = len(fake.sent(CHAT))
    await user.send(contact_update(CHAT, "+32470123456"))
    for value in script[phone_at + 1:]:
        await user.answer(value)
    assert "Your reference is VR-" in user.text
    # The phone keyboard is taken away by the first later message without inline buttons
    # (a message carries one keyboard only), once.
    later = fake.sent(CHAT)[sent_before:]
    removals = [m for m in later if m.get("reply_markup") == {"remove_keyboard": True}]
    assert len(removals) == 1
    first_plain = next(m for m in later if "inline_keyboard" not in (m.get("reply_markup") or {}))
    assert first_plain is removals[0]
    [case] = [c for c in await engine.store.cases() if c.channel == "telegram"]
    assert case.applicant.phone == "+32470123456"


# --- 3. attachments --------------------------------------------------------------------------


@pytest.mark.parametrize("attachment", [voice_update, photo_update, document_update, sticker_update, location_update])
async def test_attachments_get_a_helpful_answer_and_the_question_stays(
    engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver,
    attachment: Callable[[int], dict[str, Any]],
) -> None:
    user = TelegramUser(fake, channel, deliver)
    await user.say("/voluntary_return")
    question = user.replies[-1]["text"]
    await user.send(attachment(CHAT))
    assert "I can only read text and buttons" in user.text
    assert "wrong" not in user.text.lower() and "error" not in user.text.lower()
    assert user.replies[-1]["text"] == question  # asked again: the conversation is where it was


async def test_edited_messages_are_ignored(engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver) -> None:
    user = TelegramUser(fake, channel, deliver)
    await user.say("/start")
    before = len(fake.sent())
    await deliver(edited_update(CHAT, "/start"))
    await user.say("/start")  # processed after the edit, in order
    assert channel.stats["turns"] == 2
    assert len(fake.sent()) > before


# --- 4. duplicates -----------------------------------------------------------------------------


async def test_a_redelivered_update_is_processed_once(
    engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver
) -> None:
    update = text_update(CHAT, "/start")
    await deliver(update, update)
    await wait_for(lambda: channel.stats["turns"] == 1 and channel.stats["duplicates"] == 1)
    await asyncio.sleep(0.05)
    assert channel.stats["turns"] == 1
    texts = [m["text"] for m in fake.sent(CHAT)]
    assert sum("automated assistant" in t for t in texts) == 1


# --- 5. flood control ---------------------------------------------------------------------------


async def test_flood_control_is_waited_out_and_the_message_arrives(
    engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver
) -> None:
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    user = TelegramUser(fake, channel, deliver)
    started = asyncio.get_running_loop().time()
    await user.say("/start")
    assert asyncio.get_running_loop().time() - started >= 0.9
    assert "automated assistant" in user.text
    attempts = fake.calls_to("sendMessage")
    assert attempts[0]["text"] == attempts[1]["text"]


# --- 7. blocked ----------------------------------------------------------------------------------


async def test_a_blocked_bot_stops_sending_to_that_chat(engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver) -> None:
    for _ in range(10):
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await deliver(text_update(CHAT, "/start"))
    await wait_for(lambda: channel.stats["turns"] == 1)
    assert CHAT in channel.blocked_chats
    assert len(fake.calls_to("sendMessage")) == 1  # no retry, no further messages of the turn


async def test_a_blocked_bot_is_remembered_for_reminders_until_they_write_again(
    engine: Engine, fake: FakeTelegram, channel: TelegramChannel, deliver: Deliver
) -> None:
    user = TelegramUser(fake, channel, deliver)
    await user.say("/start")
    for _ in range(10):
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await deliver(text_update(CHAT, "/start"))
    await wait_for(lambda: CHAT in channel.blocked_chats)
    async with engine.store.turn("telegram", str(CHAT), engine.clock()) as turn:
        assert turn.conversation.unreachable_since is not None
        conversation_id = turn.conversation.id
    fake.failures.clear()

    # A reminder, from a scheduler in a process that never saw the 403: not pushed, kept.
    reminder = JobView(
        id=1, kind="appointment_reminder", due_at=engine.clock(), conversation_id=conversation_id,
        booking_id=None, attempts=1,
        payload={"starts_at": "2026-12-01T08:00:00+00:00", "place": "registration_centre", "language": "en"},
    )
    sent = len(fake.calls_to("sendMessage"))
    assert await deliverer(engine.store, engine, [make_channel(engine, fake)], "Europe/Brussels")(reminder) is True
    assert len(fake.calls_to("sendMessage")) == sent

    # They unblock and write: the reminder comes first, and pushing works again.
    await user.say("/start")
    assert user.replies[0]["text"].startswith("Reminder: your registration appointment")
    address = await engine.store.conversation_address(conversation_id)
    assert address is not None and not address.unreachable


async def test_network_errors_are_retried_a_few_times(engine: Engine, fake: FakeTelegram, channel: TelegramChannel) -> None:
    for _ in range(10):
        fake.fail_next("sendMessage", 502, "Bad Gateway")
    sent = await channel._send(CHAT, "hello", None)
    assert sent is False
    assert len(fake.calls_to("sendMessage")) == 4
    fake.failures.clear()
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    assert await channel._send(CHAT, "hello", None) is True


# --- 6. webhook ---------------------------------------------------------------------------------


async def test_webhook_mode_checks_the_secret(engine: Engine, flows: FlowSet, fake: FakeTelegram) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    channel = make_channel(engine, fake, public_url=public)
    assert channel.secret_token == derive_secret(TOKEN)
    async with serving(create_app(services_for(engine, flows), [channel]), port, shutdown_timeout=1.0):
        [hook] = fake.calls_to("setWebhook")
        assert hook["url"] == f"{public}/webhooks/telegram"
        assert hook["secret_token"] == channel.secret_token
        assert not fake.calls_to("getUpdates")

        url = f"{public}/webhooks/telegram"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                async with http.post(url, json=text_update(CHAT, "/start"), headers=headers) as resp:
                    assert resp.status == 403
            update = text_update(CHAT, "/start")
            for _ in range(2):  # Telegram may deliver twice: processed once
                await post_update(http, channel, update)
        await wait_for(lambda: channel.stats["turns"] == 1 and channel.stats["duplicates"] == 1)
        texts = [m["text"] for m in fake.sent(CHAT)]
        assert sum("automated assistant" in t for t in texts) == 1


# --- 8. rendering units -------------------------------------------------------------------------


def test_long_text_is_split_on_paragraphs_then_lines_then_spaces() -> None:
    para = "a" * 3000
    text = f"{para}\n\n{'b' * 2000}\n\nend"
    assert split_text(text) == [para, f"{'b' * 2000}\n\nend"]
    lines = "\n".join(["x" * 100] * 50)  # 5049 characters, no paragraph break
    pieces = split_text(lines)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) == 2
    assert pieces[0].endswith("x") and "".join(p + "\n" for p in pieces).rstrip() == lines
    words = " ".join(["word"] * 2000)
    assert all(len(p) <= 4096 and not p.startswith(" ") for p in split_text(words))
    assert split_text("z" * 5000) == ["z" * 4096, "z" * 904]
    assert split_text("short") == ["short"]


def test_button_rows_are_mirrored_for_right_to_left_languages() -> None:
    short = [Button("Yes", "yes"), Button("No", "no"), Button("Maybe", "maybe")]
    assert [[b.payload for b in r] for r in keyboard_rows(short, "en")] == [["yes", "no"], ["maybe"]]
    assert [[b.payload for b in r] for r in keyboard_rows(short, "ar")] == [["no", "yes"], ["maybe"]]
    assert [[b.payload for b in r] for r in keyboard_rows(short, "fa")] == [["no", "yes"], ["maybe"]]
    long = [Button("My asylum application is still open", "a"), Button("No", "b")]
    assert [[b.payload for b in r] for r in keyboard_rows(long, "ps")] == [["a"], ["b"]]


async def test_long_payloads_get_short_callback_data(engine: Engine, fake: FakeTelegram) -> None:
    channel = make_channel(engine, fake)
    payload = "/edit " + "x" * 100
    data = channel._callback_data(payload)
    assert data.startswith("k:") and len(data.encode()) <= 64
    assert channel._long_payloads[data] == payload
    assert channel._callback_data("/confirm") == "/confirm"
    await channel.application.shutdown()


async def test_outbound_rendering_sends_phone_keyboard_then_removes_it(engine: Engine, fake: FakeTelegram, channel: TelegramChannel) -> None:
    ask = Outbound("Your phone number?", expects=Expects("applicant.phone", "phone"), language="en")
    await channel.send_replies(CHAT, [ask])
    await channel.send_replies(CHAT, [Outbound("Thanks", language="en"), Outbound("Next", language="en")])
    sent = fake.sent(CHAT)
    assert sent[0]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert sent[1]["reply_markup"] == {"remove_keyboard": True}
    assert "reply_markup" not in sent[2]


async def test_a_reminder_is_pushed_with_its_calendar_file(engine: Engine, fake: FakeTelegram, channel: TelegramChannel) -> None:
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    reminder = Outbound("Reminder: tomorrow 09:00", language="en", custom={"attachment": ics_attachment(ics)})
    assert await channel.push(str(CHAT), [reminder]) is True
    assert [m["text"] for m in fake.sent(CHAT)] == ["Reminder: tomorrow 09:00"]
    [document] = [c["document"] for c in fake.calls_to("sendDocument")]
    assert document == {"file_name": "appointment.ics", "data": ics}
    assert await channel.push("not-a-chat", [reminder]) is False


async def test_a_reminder_to_a_chat_that_blocked_the_bot_is_not_retried(engine: Engine, fake: FakeTelegram, channel: TelegramChannel) -> None:
    fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    assert await channel.push(str(CHAT), [Outbound("Reminder", language="en")]) is False
    assert await channel.push(str(CHAT), [Outbound("Reminder", language="en")]) is True  # known blocked: done
    assert len(fake.calls_to("sendMessage")) == 1


def test_create_channel_reads_the_settings_from_the_environment(
    engine: Engine, flows: FlowSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = services_for(engine, flows)

    def from_environment() -> TelegramChannel | None:
        return create_channel(dataclasses.replace(services, settings=Settings()))

    for name in ("TELEGRAM_BOT_TOKEN", "INTAKE_TELEGRAM_BOT_TOKEN", "INTAKE_TELEGRAM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert from_environment() is None
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("INTAKE_PUBLIC_URL", "https://intake.example.org/")
    monkeypatch.setenv("INTAKE_TELEGRAM_API_URL", "http://127.0.0.1:9/bot")
    channel = from_environment()
    assert channel is not None
    assert channel.public_url == "https://intake.example.org"
    assert channel.secret_token == derive_secret(TOKEN)
    assert channel.application.bot.base_url.startswith("http://127.0.0.1:9/bot")
    monkeypatch.setenv("INTAKE_TELEGRAM_SECRET", "s3cret")
    assert from_environment().secret_token == "s3cret"  # type: ignore[union-attr]
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    monkeypatch.setenv("INTAKE_TELEGRAM_BOT_TOKEN", TOKEN)  # the prefixed name works too
    assert from_environment() is not None
    monkeypatch.setenv("INTAKE_TELEGRAM_BOT_TOKEN", "  ")
    assert from_environment() is None


def test_telegram_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = Settings(telegram_bot_token=TOKEN, telegram_secret="s3cret")
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    assert TOKEN not in shown and "s3cret" not in shown
    assert settings.telegram_bot_token is not None and settings.telegram_bot_token.get_secret_value() == TOKEN


async def test_webhook_answers_only_after_the_turn_so_a_restart_loses_nothing(
    engine: Engine, flows: FlowSet, fake: FakeTelegram
) -> None:
    """Telegram forgets an update once it has our 200. So the 200 comes after the turn is
    committed and its replies sent; an update redelivered after a restart (a new process:
    nothing in memory) is answered again from what the engine saved, not taken as new."""
    port = free_port()
    services = services_for(engine, flows)

    async def post_with_a_fresh_process(update: dict[str, Any]) -> list[str]:
        channel = make_channel(engine, fake, public_url=f"http://127.0.0.1:{port}")
        async with serving(create_app(services, [channel]), port, shutdown_timeout=1.0):
            before = len(fake.sent(CHAT))
            async with aiohttp.ClientSession() as http:
                await post_update(http, channel, update)
            return [m["text"] for m in fake.sent(CHAT)[before:]]  # already sent: no waiting

    assert "Do you agree?" in " ".join(await post_with_a_fresh_process(text_update(CHAT, "/voluntary_return")))
    consent = text_update(CHAT, "yes")
    first = await post_with_a_fresh_process(consent)
    assert first and "Which country do you want to return to?" in first[-1]
    again = await post_with_a_fresh_process(consent)  # Telegram did not get the 200: it retries
    assert again == first


async def test_a_chat_that_floods_is_told_once_and_its_extra_messages_are_dropped(
    engine: Engine, fake: FakeTelegram
) -> None:
    channel = make_channel(engine, fake, messages_per_minute=3)
    await channel.start()
    try:
        fake.inject(*[text_update(CHAT, "/start") for _ in range(6)], text_update(CHAT + 1, "/start"))
        await wait_for(lambda: channel.stats["turns"] == 4 and channel.stats["rate_limited"] == 3)
        await asyncio.sleep(0.05)
        too_fast = [m for m in fake.sent(CHAT) if "too fast" in m["text"]]
        assert len(too_fast) == 1  # told once, not once per dropped message
        assert any("automated assistant" in m["text"] for m in fake.sent(CHAT + 1))  # another chat is not slowed
    finally:
        await channel.stop()
