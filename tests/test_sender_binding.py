"""Sender binding (bot/engine/binding.py): a conversation belongs to the holder of the
token the server issued, and a device's conversations are erased together."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.engine import Engine, Inbound, Outbound
from bot.engine.binding import NotYourConversation
from bot.engine.loader import FlowSet

from .chat import VOLUNTARY_RETURN, Chat
from .serving import serving, services_for

WEBHOOK = "/webhooks/rest/webhook"
KEPT = "/webhooks/rest/kept"
SENDER = "3f2a9c1e-7b4d-4e0a-9f6c-2d8b1a5e7c30"


class WebChat(Chat):
    """A chat that talks like our web chat: it keeps and sends back the token and the device key."""

    def __init__(self, engine: Engine, sender: str, device_key: str | None = None, echo: bool = True) -> None:
        super().__init__(engine, sender=sender, channel="rest")
        self.token: str | None = None
        self.device_key = device_key
        self.echo = echo

    async def say(self, text: str, message_id: str | None = None) -> list[Outbound]:
        self.replies = await self.engine.handle(Inbound(
            channel=self.channel, sender_id=self.sender, text=text, message_id=message_id, bindable=True,
            conversation_token=self.token if self.echo else None, device_key=self.device_key,
        ))
        for reply in self.replies:
            custom = reply.custom or {}
            self.token = custom.get("conversation_token", self.token)
            self.device_key = custom.get("device_key", self.device_key)
        self.transcript += [("in", text)] + [("out", r.text) for r in self.replies]
        return self.replies


@pytest.fixture
async def base(engine: Engine, flows: FlowSet) -> AsyncIterator[str]:
    async with serving(create_app(services_for(engine, flows), [RestChannel(engine)])) as url:
        yield url


async def post(base: str, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(base + path, json=body) as response:
        return response.status, await response.json()


async def rows(engine: Engine) -> tuple[int, int]:
    async with engine.store.engine.connect() as conn:
        return tuple([(await conn.exec_driver_sql(f"SELECT count(*) FROM {t}")).scalar_one()  # type: ignore[return-value]
                      for t in ("transcript", "processed_messages")])


async def test_the_first_reply_carries_a_token_and_a_message_with_it_binds_the_conversation(
    base: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    status, first = await post(base, WEBHOOK, {"sender": SENDER, "message": "/start"})
    assert status == 200
    token, device = first[0]["custom"]["conversation_token"], first[0]["custom"]["device_key"]
    assert len(token) >= 40 and len(device) >= 40 and token != device
    assert all("conversation_token" not in r.get("custom", {}) for r in first[1:])

    status, _ = await post(base, WEBHOOK, {"sender": SENDER, "message": "/voluntary_return",
                                          "metadata": {"conversation_token": token}})
    assert status == 200
    before = await rows(engine)
    for metadata in ({}, {"conversation_token": "x" * 43}, {"message_id": "m-1"}):
        status, body = await post(base, WEBHOOK, {"sender": SENDER, "message": "/forget", "metadata": metadata})
        assert status == 403 and "conversation_token" in body["error"]
    assert await rows(engine) == before  # nothing read, nothing written
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # a refusal, not a failure
    status, body = await post(base, KEPT, {"sender": SENDER})
    assert status == 403

    status, replies = await post(base, WEBHOOK, {"sender": SENDER, "message": "/back",
                                                "metadata": {"conversation_token": token}})
    assert status == 200 and all("conversation_token" not in r.get("custom", {}) for r in replies)
    status, kept = await post(base, KEPT, {"sender": SENDER, "metadata": {"conversation_token": token}})
    assert (status, kept) == (200, [])


async def test_a_client_that_never_sends_the_token_keeps_an_unbound_conversation(base: str) -> None:
    for message in ("/start", "/voluntary_return", "yes"):
        status, replies = await post(base, WEBHOOK, {"sender": SENDER, "message": message})
        assert status == 200 and replies
    status, body = await post(base, WEBHOOK, {"sender": "me", "message": "/start"})
    assert status == 400 and "random id of at least 16 characters" in body["error"]


async def test_a_guessed_token_is_refused_even_before_binding(engine: Engine) -> None:
    chat = WebChat(engine, SENDER, echo=False)
    await chat.say("/start")
    with pytest.raises(NotYourConversation):
        await engine.handle(Inbound(channel="rest", sender_id=SENDER, text="/start", bindable=True,
                                    conversation_token="A" * 43))


async def test_a_lost_first_reply_is_not_fatal_a_retry_gets_the_token(engine: Engine) -> None:
    chat = WebChat(engine, SENDER)
    await chat.say("/start", message_id="first")
    token = chat.token
    chat.token = None  # the reply never arrived
    await chat.say("/start", message_id="first")  # the retry gets the same replies, token included
    assert chat.token == token
    await chat.say("/voluntary_return")
    assert chat.field is not None


async def test_a_purged_conversation_tells_the_device_and_issues_a_new_token(engine: Engine, clock: Any) -> None:
    from datetime import timedelta

    chat = WebChat(engine, SENDER)
    await chat.say("/voluntary_return")
    await chat.say("/back")
    clock.now += timedelta(days=2)
    await engine.purge()
    await chat.say("hello")  # the old token cannot be checked any more: a new one
    custom = chat.replies[0].custom or {}
    assert custom.get("purged") is True and custom.get("conversation_token") not in (None, "")


@pytest.fixture
def any_engine(store: Any, flows: FlowSet, clock: Any) -> Engine:
    """The engine on each backend (SQLite, and PostgreSQL when it is reachable)."""
    from datetime import timedelta

    return Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24))


async def test_forget_reaches_the_requests_sent_before_start_over_from_the_same_device(any_engine: Engine) -> None:
    engine = any_engine
    first = WebChat(engine, "first-conversation-7c1e9a3b")
    await first.say("/voluntary_return")
    await first.answer_until(VOLUNTARY_RETURN)
    await first.say("/confirm")
    [case] = await engine.store.cases()
    assert case.status == "submitted"

    # "Start over": a new sender, the same device key.
    second = WebChat(engine, "second-conversation-4d2b8f6a", device_key=first.device_key)
    await second.say("/start")
    await second.say("/forget")
    await second.say("yes")
    assert (second.replies[0].custom or {}).get("erased") is True
    assert await engine.store.cases() == []  # erased, the first conversation's case too
    assert (await rows(engine))[0] == 0  # both conversations' transcripts are gone


async def test_another_device_s_forget_does_not_reach_these_requests(engine: Engine) -> None:
    first = WebChat(engine, "first-conversation-7c1e9a3b")
    await first.say("/voluntary_return")
    await first.answer_until(VOLUNTARY_RETURN)
    await first.say("/confirm")
    stranger = WebChat(engine, "stranger-conversation-5e3a1c")
    await stranger.say("/start")
    await stranger.say("/forget")
    await stranger.say("yes")
    [case] = await engine.store.cases()
    assert case.status == "submitted"


def test_bound_digests_are_not_the_token() -> None:
    from bot.engine import binding

    token, state = binding.issue()
    assert state["bound"] is False
    # Until bound, the same token (and device key) is sent again: no new secret a turn.
    state = binding.with_device_key(state, "device-key-1")
    assert binding.issue(state) == (token, state)
    assert binding.pending_device_key(state) == "device-key-1"
    bound, must_issue = binding.check(state, token)
    assert not must_issue and bound == {"digest": state["digest"], "bound": True}
    assert token not in json.dumps(bound) and "device-key-1" not in json.dumps(bound)
    assert binding.pending_device_key(bound) is None and binding.issue(bound)[0] != token
