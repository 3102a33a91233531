"""The Socket.IO channel, over real sockets on 127.0.0.1 (Rasa's socketio protocol)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import socketio

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.channels.socketio import SocketIOChannel, as_markdown, create_channel, to_socketio
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine, Outbound
from bot.engine.loader import FlowSet
from bot.engine.turn import Button, Expects
from bot.i18n import gettext, use_locale

from .chat import VOLUNTARY_RETURN, answer_by_field
from .serving import serving, services_for
from .test_rest import counts

TIMEOUT = 5


class Widget:
    """A chat widget on a real socket: ``say`` emits ``user_uttered`` and keeps the replies.

    The server acknowledges an event after its last ``bot_uttered``, so waiting for the
    acknowledgement is waiting for all the replies.
    """

    def __init__(self, base: str, transports: list[str] | None = None) -> None:
        self.base = base
        self.transports = transports or ["websocket"]
        self.client = socketio.AsyncClient(reconnection=False)
        self.session_id: str | None = None
        self.confirmed: asyncio.Queue[Any] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.ack: Any = None
        self.client.on("session_confirm", self.confirmed.put_nowait)
        self.client.on("bot_uttered", self.received.append)

    async def connect(self, headers: dict[str, str] | None = None) -> None:
        await self.client.connect(self.base, transports=self.transports, headers=headers or {},
                                  wait_timeout=TIMEOUT)

    async def request_session(self, session_id: str | None = None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        self.session_id = await asyncio.wait_for(self.confirmed.get(), TIMEOUT)
        return self.session_id

    async def send(self, data: Any) -> list[dict[str, Any]]:
        """Emit ``data`` as it is; the replies it got."""
        start = len(self.received)
        self.ack = await self.client.call("user_uttered", data, timeout=TIMEOUT)
        self.replies = self.received[start:]
        return self.replies

    async def say(self, message: str, **metadata: Any) -> list[dict[str, Any]]:
        replies = await self.send({"message": message, "session_id": self.session_id,
                                   "customData": metadata})
        assert self.ack is None, self.ack
        return replies

    @property
    def text(self) -> str:
        return "\n".join(r["text"] for r in self.replies)

    @property
    def quick_replies(self) -> list[dict[str, str]]:
        return [q for r in self.replies for q in r.get("quick_replies", [])]

    @property
    def field(self) -> str | None:
        for reply in reversed(self.replies):
            if "expects" in reply.get("custom", {}):
                return reply["custom"]["expects"]["field"]
        return None

    async def click(self, value: str) -> None:
        """Click the quick reply whose payload (or title) is ``value``; type it when there is none."""
        for button in self.quick_replies:
            if value in (button["payload"], button["title"]):
                await self.say(button["payload"])
                return
        await self.say(value)

    async def close(self) -> None:
        await self.client.disconnect()


Serve = Callable[..., contextlib.AbstractAsyncContextManager[str]]


@pytest.fixture
def serve(engine: Engine, flows: FlowSet) -> Serve:
    @contextlib.asynccontextmanager
    async def run(*, with_rest: bool = False, **options: Any) -> AsyncIterator[str]:
        services = services_for(engine, flows)
        channels: list[Any] = [SocketIOChannel(engine, **options)]
        if with_rest:
            channels[:0] = [RestChannel(engine), WebChatPage()]
        async with serving(create_app(services, channels)) as url:
            yield url

    return run


@contextlib.asynccontextmanager
async def widget(base: str, transports: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> AsyncIterator[Widget]:
    client = Widget(base, transports)
    try:
        await client.connect(headers)
        yield client
    finally:
        await client.close()


async def test_session_request_confirms_the_given_id_or_a_new_one(serve: Serve) -> None:
    async with serve() as base, widget(base) as client:
        assert await client.request_session("abc-123-9f8e7d6c5b") == "abc-123-9f8e7d6c5b"
        new = await client.request_session(None)
        assert isinstance(new, str) and len(new) == 32 and new != "abc-123-9f8e7d6c5b"
        await client.client.emit("session_request")  # no data at all, as old clients do
        assert len(await asyncio.wait_for(client.confirmed.get(), TIMEOUT)) == 32
        # Not a usable sender id (too long, not a string, blank, or easy to guess): a new one instead.
        for bad in ("x" * 129, 42, "   ", "me", "abc-123"):
            got = await client.request_session(bad)  # type: ignore[arg-type]
            assert isinstance(got, str) and len(got) == 32


async def test_start_gets_bot_uttered_with_text_and_quick_replies_in_rasas_shape(serve: Serve) -> None:
    async with serve() as base, widget(base) as client:
        await client.request_session()
        replies = await client.say("/start")
        assert replies and "automated assistant" in client.text
        for reply in replies:
            # What rasa-webchat renders: {text} alone, or {text, quick_replies}.
            assert set(reply) in ({"text"}, {"text", "quick_replies"}), reply
            assert isinstance(reply["text"], str) and reply["text"]
        payloads = [q["payload"] for q in client.quick_replies]
        assert "/voluntary_return" in payloads and "/language" in payloads
        assert all(set(q) == {"content_type", "title", "payload"} and q["content_type"] == "text"
                   for q in client.quick_replies)


async def test_whole_voluntary_return_journey_ends_in_a_case(serve: Serve, engine: Engine) -> None:
    async with serve(send_custom=True) as base, widget(base) as client:
        session_id = await client.request_session()
        await client.say("/start")
        assert client.replies[0]["custom"]["language"] == "en"
        await client.click("/voluntary_return")
        await answer_by_field(lambda: client.field, client.click, VOLUNTARY_RETURN)
        assert [q["payload"] for q in client.quick_replies] == ["/confirm", "/edit"]
        await client.click("/confirm")
        assert "Your reference is VR-" in client.text
        reference = client.text.split("Your reference is ")[1][:9]

    cases = await engine.store.cases()
    assert [c.reference for c in cases] == [reference]
    case = cases[0]
    assert case.kind == "voluntary_return" and case.channel == "socketio" and case.language == "en"
    assert case.applicant.name == "Nino Beridze"
    assert case.answers["reintegration_interest"] == ["housing", "job_training"]
    assert await sender_ids(engine) == [key(engine, session_id)]


async def sender_ids(engine: Engine) -> list[tuple[str, str]]:
    """The conversations' (channel, sender key): the store keeps only a keyed hash of ids."""
    async with engine.store.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT channel, sender_key FROM conversations")
        return [(row[0], row[1]) for row in rows]


def key(engine: Engine, sender_id: str) -> tuple[str, str]:
    return ("socketio", engine.store.sender_key("socketio", sender_id))


async def test_a_reconnect_with_the_same_session_id_continues_the_conversation(serve: Serve) -> None:
    async with serve(send_custom=True) as base:
        async with widget(base) as first:
            session_id = await first.request_session()
            await first.say("/start")
            await first.click("/voluntary_return")
            assert first.field == "consent.data_processing"
            await first.click("yes")
            asked = first.field
            assert asked not in (None, "consent.data_processing")
        async with widget(base) as second:
            assert await second.request_session(session_id) == session_id
            await second.say("/help")  # asks the open question again
            assert second.field == asked
        async with widget(base) as other:
            await other.request_session()  # a new session starts afresh
            await other.say("/help")
            assert other.field is None


async def test_the_default_polling_transport_works_too(serve: Serve) -> None:
    async with serve() as base, widget(base, transports=["polling"]) as client:
        assert client.client.transport() == "polling"
        await client.request_session()
        await client.say("/start")
        assert "automated assistant" in client.text


async def test_the_language_comes_from_custom_data_metadata_or_accept_language(serve: Serve) -> None:
    async with serve(send_custom=True) as base:
        async with widget(base) as client:
            await client.request_session()
            await client.say("/start", language="fr-BE")  # rasa-webchat's customData
            assert "Bonjour" in client.text and "automated assistant" not in client.text
        async with widget(base) as client:
            await client.request_session()
            await client.send({"message": "/start", "session_id": client.session_id,
                               "metadata": {"language": "fr"}})  # Rasa's metadata key
            assert client.replies[0]["custom"]["language"] == "fr" and "Bonjour" in client.text
        async with widget(base, headers={"Accept-Language": "nl-BE, en;q=0.5"}) as client:
            await client.request_session()
            await client.say("/start")
            assert client.replies[0]["custom"]["language"] == "nl"


INVALID = [
    pytest.param("yes", id="not-an-object"),
    pytest.param({"session_id": "S"}, id="missing-message"),
    pytest.param({"message": 1, "session_id": "S"}, id="non-string-message"),
    pytest.param({"message": {"text": "yes"}, "session_id": "S"}, id="object-message"),
    pytest.param({"message": "y" * 2001, "session_id": "S"}, id="message-too-long"),
    pytest.param({"message": "yes", "session_id": "S", "metadata": {"message_id": ["a"]}},
                 id="message-id-not-string"),
]


@pytest.mark.parametrize("data", INVALID)
async def test_an_invalid_message_is_refused_and_nothing_is_processed(
    serve: Serve, engine: Engine, data: Any
) -> None:
    async with serve(send_custom=True) as base, widget(base) as client:
        session_id = await client.request_session()
        await client.say("/start")
        await client.say("/voluntary_return")
        assert client.field == "consent.data_processing"
        before = await counts(engine)

        if isinstance(data, dict):
            data = {**data, "session_id": session_id}
        replies = await client.send(data)
        assert isinstance(client.ack, dict) and client.ack["error"]
        if isinstance(data, dict) and isinstance(data.get("message"), str) and len(data["message"]) > 2000:
            assert [r["text"] for r in replies] == ["Your message is too long. Please make it shorter."]
        else:
            assert replies == []

        assert await counts(engine) == before
        await client.say("/help")  # the socket still works, and the question is the same
        assert client.field == "consent.data_processing"


async def test_a_message_without_a_session_is_ignored(serve: Serve, engine: Engine) -> None:
    async with serve() as base, widget(base) as client:
        for session_id in (None, "", "x" * 129, 7):
            assert await client.send({"message": "/start", "session_id": session_id}) == []
            assert "session_id" in client.ack["error"]
        assert await counts(engine) == (0, 0, 0)
        # Once the socket has a session, a message that names none uses it.
        session_id = await client.request_session()
        await client.send({"message": "/start"})
        assert "automated assistant" in client.text
        assert await sender_ids(engine) == [key(engine, session_id)]


async def test_without_session_persistence_the_socket_is_the_sender(serve: Serve, engine: Engine) -> None:
    async with serve(session_persistence=False) as base, widget(base) as client:
        await client.send({"message": "/start"})
        assert "automated assistant" in client.text
        assert await sender_ids(engine) == [key(engine, client.client.get_sid())]


async def test_a_session_that_sends_too_fast_is_told_to_wait(serve: Serve, engine: Engine) -> None:
    async with serve(rate_limit_per_minute=3) as base, widget(base) as client:
        await client.request_session()
        for _ in range(3):
            await client.say("/start")
        before = await counts(engine)
        replies = await client.send({"message": "/start", "session_id": client.session_id})
        assert "too many messages" in client.ack["error"]
        assert len(replies) == 1 and "too fast" in replies[0]["text"]
        assert await counts(engine) == before
        await client.request_session()  # another session has a bucket of its own
        await client.say("/start")
        assert "automated assistant" in client.text


async def test_a_failing_turn_is_answered_and_the_socket_lives_on(
    serve: Serve, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve() as base, widget(base) as client:
        await client.request_session()
        real = engine.handle

        async def broken(*args: Any, **kwargs: Any) -> list[Outbound]:
            raise RuntimeError("boom")

        monkeypatch.setattr(engine, "handle", broken)
        replies = await client.send({"message": "/start", "session_id": client.session_id})
        assert client.ack == {"error": "internal error"}
        assert [r["text"] for r in replies] == [
            "Sorry, something went wrong on our side. Please try again in a moment."
        ]
        monkeypatch.setattr(engine, "handle", real)
        await client.say("/start")
        assert "automated assistant" in client.text


async def test_it_shares_the_app_with_the_other_routes(serve: Serve) -> None:
    async with serve(with_rest=True) as base, widget(base) as client:
        await client.request_session()
        await client.say("/start")
        async with aiohttp.ClientSession() as session:
            for path in ("/", "/healthz", "/webhooks/rest/"):
                async with session.get(base + path) as response:
                    assert response.status == 200, path
            async with session.post(base + "/webhooks/rest/webhook",
                                    json={"sender": "web-1-8f3c2a9d7b6e", "message": "/start"}) as response:
                assert response.status == 200
                assert "automated assistant" in (await response.json())[0]["text"]


async def test_stopping_the_server_closes_connected_sockets(serve: Serve) -> None:
    loop = asyncio.get_running_loop()
    disconnected = asyncio.Event()
    disconnected_at: list[float] = []

    def on_disconnect(*args: Any) -> None:
        disconnected_at.append(loop.time())
        disconnected.set()

    client: Widget | None = None
    try:
        async with serve() as base:
            client = Widget(base)
            client.client.on("disconnect", on_disconnect)
            await client.connect()
            await client.request_session()
            await client.say("/start")
            assert not disconnected.is_set()
            stopping_at = loop.time()
        # The server has stopped. The client must have been told it closed (the event may
        # still be on its way), and long before aiohttp's shutdown timeout (2 s, see
        # tests/serving.py) would have cut the socket instead.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(disconnected.wait(), 1)
        assert disconnected.is_set(), "the client was never told that the server closed"
        assert disconnected_at[0] - stopping_at < 1.0
    finally:
        if client is not None:
            await client.close()


def test_to_socketio_keeps_rasa_webchat_shapes() -> None:
    plain = Outbound("Hello", language="en")
    assert to_socketio(plain, "s") == {"text": "Hello"}
    asking = Outbound("Pick", buttons=(Button("Yes", "/yes"),), expects=Expects("f", "yes_no"), language="en")
    assert to_socketio(asking, "s") == {
        "text": "Pick", "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/yes"}],
    }
    assert to_socketio(asking, "s", send_custom=True)["custom"] == {
        "expects": {"field": "f", "type": "yes_no"}, "language": "en",
    }


async def test_create_channel_builds_the_socketio_channel(engine: Engine, flows: FlowSet) -> None:
    services = services_for(engine, flows)
    channel = create_channel(services)
    assert isinstance(channel, SocketIOChannel) and channel.name == "socketio" and channel.engine is engine
    assert channel.socketio_path == "/socket.io" and channel.session_persistence


def test_text_is_sent_as_markdown_that_reads_as_the_plain_text() -> None:
    """Rasa widgets render Markdown: an applicant's *name* must stay as typed, and the
    summary's lines must stay lines."""
    text = "Please check:\n• Name: *Nino* _B_ [x](y)\n• Phone: +32 470\n\n1. first\n- dash\n# hash"
    assert as_markdown(text) == (
        "Please check:  \n• Name: \\*Nino\\* \\_B\\_ \\[x\\](y)  \n• Phone: +32 470\n\n"
        "1\\. first  \n\\- dash  \n\\# hash"
    )
    reply = Outbound("a_b\nc")
    assert to_socketio(reply, "s")["text"] == "a\\_b  \nc"
    assert to_socketio(reply, "s", markdown=False)["text"] == "a_b\nc"


async def test_staff_messages_are_pushed_to_an_open_chat_and_kept_when_none_is_open(
    engine: Engine, flows: FlowSet
) -> None:
    channel = SocketIOChannel(engine)
    async with serving(create_app(services_for(engine, flows), [channel])) as base:
        async with widget(base) as client:
            session = await client.request_session("pushed-session-0123456789")
            await client.say("/start")
            before = len(client.received)
            assert await channel.push(session, [Outbound("Your ticket is booked.")])
            for _ in range(100):
                if len(client.received) > before:
                    break
                await asyncio.sleep(0.01)
            assert client.received[before:] == [{"text": "Your ticket is booked."}]
        for _ in range(100):  # the server notices the disconnect a moment later
            if not await channel.push(session, [Outbound("Nobody is listening.")]):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("a closed chat still counts as open")


async def test_with_custom_a_conversation_binds_and_refuses_a_socket_without_its_token(serve: Serve) -> None:
    async with serve(send_custom=True) as base, widget(base) as owner:
        session_id = await owner.request_session()
        first = await owner.say("/start")
        token = first[0]["custom"]["conversation_token"]
        await owner.say("/voluntary_return", conversation_token=token)  # binds it
        async with widget(base, headers={"Accept-Language": "fr"}) as intruder:
            await intruder.request_session(session_id)
            replies = await intruder.send({"message": "/forget", "session_id": session_id})
            assert "conversation_token" in intruder.ack["error"]
            with use_locale("fr"):
                assert replies[0]["text"] == as_markdown(gettext(
                    "This conversation is open in another window or device, so it cannot continue "
                    "here. Please start a new conversation."))
        await owner.say("/back", conversation_token=token)


async def test_without_custom_no_token_is_issued_and_widgets_stay_unbound(serve: Serve) -> None:
    async with serve() as base, widget(base) as client:
        await client.request_session()
        replies = await client.say("/start")
        assert all(set(r) <= {"text", "quick_replies"} for r in replies)
