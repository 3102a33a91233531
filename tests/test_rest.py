"""The web chat / REST channel, over real HTTP on 127.0.0.1 (Rasa's REST protocol)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.channels.rasa import RateLimiter, accept_language_tags
from bot.channels.rest import RestChannel, create_channel
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import native_name, supported_locales

from .chat import VOLUNTARY_RETURN, answer_by_field
from .serving import serving, services_for

WEBHOOK = "/webhooks/rest/webhook"


class Client:
    """Real HTTP against a served app; ``say`` posts one message and keeps the replies."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.replies: list[dict[str, Any]] = []

    async def post(self, body: Any = None, *, raw: bytes | None = None,
                   content_type: str = "application/json", headers: dict[str, str] | None = None,
                   ) -> tuple[int, Any, aiohttp.ClientResponse]:
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(
            self.base + WEBHOOK, data=data, headers={"Content-Type": content_type, **(headers or {})}
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None, response

    async def say(self, message: str, sender: str = "web-1-8f3c2a9d7b6e", **metadata: Any) -> list[dict[str, Any]]:
        status, body, _ = await self.post({"sender": sender, "message": message, "metadata": metadata})
        assert status == 200, body
        self.replies = body
        return body

    @property
    def expects(self) -> dict[str, Any] | None:
        for reply in reversed(self.replies):
            if "expects" in reply.get("custom", {}):
                return reply["custom"]["expects"]
        return None

    @property
    def field(self) -> str | None:
        return (self.expects or {}).get("field")

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for r in self.replies for b in r.get("buttons", [])]

    @property
    def text(self) -> str:
        return "\n".join(r["text"] for r in self.replies)

    async def click(self, value: str, sender: str = "web-1-8f3c2a9d7b6e") -> None:
        """Click the button whose payload (or title) is ``value``; type it when there is none."""
        for button in self.buttons:
            if value in (button["payload"], button["title"]):
                await self.say(button["payload"], sender)
                return
        await self.say(value, sender)


Serve = Callable[..., contextlib.AbstractAsyncContextManager[Client]]


@pytest.fixture
def serve(engine: Engine, flows: FlowSet) -> Serve:
    @contextlib.asynccontextmanager
    async def run(**channel_options: Any) -> AsyncIterator[Client]:
        services = services_for(engine, flows)
        app = create_app(services, [RestChannel(engine, **channel_options), WebChatPage()])
        async with serving(app) as url, aiohttp.ClientSession() as session:
            yield Client(session, url)

    return run


async def counts(engine: Engine) -> tuple[int, int, int]:
    """Conversations, transcript lines and remembered replies: what a processed turn moves."""
    async with engine.store.engine.connect() as conn:
        result = []
        for table in ("conversations", "transcript", "processed_messages"):
            result.append((await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one())
    return tuple(result)  # type: ignore[return-value]


async def test_replies_have_the_rasa_rest_shape(serve: Serve) -> None:
    async with serve() as client:
        replies = await client.say("/start")
        assert isinstance(replies, list) and replies
        for reply in replies:
            assert reply["recipient_id"] == "web-1-8f3c2a9d7b6e"
            assert isinstance(reply["text"], str) and reply["text"]
            assert reply["custom"]["language"] == "en"
        assert "automated assistant" in client.text
        payloads = [b["payload"] for b in client.buttons]
        assert "/voluntary_return" in payloads and "/language" in payloads
        assert all(set(b) == {"title", "payload"} for b in client.buttons)

        await client.say("/voluntary_return")
        assert client.expects is not None
        assert client.expects["field"] == "consent.data_processing"
        assert client.expects["type"] in {"consent", "yes_no"}

        async with client.session.get(client.base + "/webhooks/rest/") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}


async def test_whole_voluntary_return_journey_over_http_ends_in_a_case(serve: Serve, engine: Engine) -> None:
    async with serve() as client:
        await client.say("/start")
        await client.click("/voluntary_return")

        async def send(value: str) -> None:
            if client.field == "departure_from":
                assert client.expects["type"] == "date"
            await client.click(value)

        # The date as the page's <input type=date> sends it.
        answers = dict(VOLUNTARY_RETURN, departure_from="2027-01-15")
        await answer_by_field(lambda: client.field, send, answers)
        assert [b["payload"] for b in client.buttons] == ["/confirm", "/edit"]
        await client.click("/confirm")
        assert "Your reference is VR-" in client.text
        reference = client.text.split("Your reference is ")[1][:9]

    case = await engine.store.case(reference)
    assert case is not None
    assert case.kind == "voluntary_return" and case.channel == "rest" and case.language == "en"
    assert case.applicant.name == "Nino Beridze" and case.applicant.phone == "+32470123456"
    assert case.answers["departure_from"] == "2027-01-15"
    assert case.answers["reintegration_interest"] == ["housing", "job_training"]


BAD_REQUESTS = [
    pytest.param({"raw": b'{"sender": "web-1-8f3c2a9d7b6e", "message": "yes"}', "content_type": "text/plain"}, 415,
                 id="wrong-content-type"),
    pytest.param({"raw": b'{"sender": "web-1-8f3c2a9d7b6e", "message": '}, 400, id="invalid-json"),
    pytest.param({"raw": b"\xff\xfe not utf-8"}, 400, id="not-utf8"),
    pytest.param({"body": ["web-1-8f3c2a9d7b6e", "yes"]}, 400, id="not-an-object"),
    pytest.param({"body": {"message": "yes"}}, 400, id="missing-sender"),
    pytest.param({"body": {"sender": "", "message": "yes"}}, 400, id="empty-sender"),
    pytest.param({"body": {"sender": "   ", "message": "yes"}}, 400, id="blank-sender"),
    pytest.param({"body": {"sender": 42, "message": "yes"}}, 400, id="non-string-sender"),
    pytest.param({"body": {"sender": "x" * 129, "message": "yes"}}, 400, id="sender-too-long"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e"}}, 400, id="missing-message"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": 1}}, 400, id="non-string-message"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": {"text": "yes"}}}, 400, id="object-message"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": "y" * 2001}}, 413, id="message-too-long"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": "yes", "metadata": "fr"}}, 400, id="metadata-not-object"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": "yes", "metadata": {"language": 3}}}, 400,
                 id="language-not-string"),
    pytest.param({"body": {"sender": "web-1-8f3c2a9d7b6e", "message": "yes", "metadata": {"message_id": ["a"]}}}, 400,
                 id="message-id-not-string"),
    pytest.param({"raw": b'{"sender": "web-1-8f3c2a9d7b6e", "message": "' + b"y" * 70_000 + b'"}'}, 413, id="body-too-large"),
]


@pytest.mark.parametrize(("request_kwargs", "status"), BAD_REQUESTS)
async def test_bad_requests_are_refused_and_nothing_is_processed(
    serve: Serve, engine: Engine, request_kwargs: dict[str, Any], status: int
) -> None:
    async with serve() as client:
        await client.say("/start")
        await client.say("/voluntary_return")
        assert client.field == "consent.data_processing"
        before = await counts(engine)

        got, body, response = await client.post(**request_kwargs)
        assert got == status
        assert response.content_type == "application/json"
        assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"]

        assert await counts(engine) == before
        await client.say("/help")  # asks the open question again: still the same one
        assert client.field == "consent.data_processing"


async def test_a_sender_that_sends_too_fast_gets_429_with_retry_after(serve: Serve, engine: Engine) -> None:
    async with serve(rate_limit_per_minute=3) as client:
        for _ in range(3):
            await client.say("/start")
        before = await counts(engine)
        status, body, response = await client.post({"sender": "web-1-8f3c2a9d7b6e", "message": "/start"})
        assert status == 429
        assert "error" in body
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert await counts(engine) == before
        # Another sender has a bucket of its own.
        await client.say("/start", sender="web-2-8f3c2a9d7b6e")


def test_the_token_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0], max_keys=2)  # one token every 10 s
    assert [limiter.take("a") for _ in range(6)] == [0.0] * 6
    assert limiter.take("a") == pytest.approx(10.0)
    now[0] += 5.0
    assert limiter.take("a") == pytest.approx(5.0)  # a refused request does not cost a token
    now[0] += 5.0
    assert limiter.take("a") == 0.0
    limiter.take("b")
    limiter.take("c")  # only two buckets are kept: "a" is forgotten, so starts full again
    assert limiter.take("a") == 0.0


async def test_metadata_language_fr_gives_french(serve: Serve) -> None:
    async with serve() as client:
        replies = await client.say("/start", language="fr-BE")
        assert replies[0]["custom"]["language"] == "fr"
        assert "Bonjour" in client.text and "assistant automatique" in client.text
        assert "automated assistant" not in client.text


async def test_accept_language_is_the_hint_without_metadata(serve: Serve) -> None:
    async with serve() as client:
        status, body, _ = await client.post(
            {"sender": "web-nl-8f3c2a9d7b6e", "message": "/start"},
            headers={"Accept-Language": "de;q=0.9, nl-BE, en;q=0.5"},
        )
        assert status == 200
        assert body[0]["custom"]["language"] == "nl"


def test_accept_language_tags_are_ordered_by_weight() -> None:
    assert accept_language_tags("de;q=0.9, nl-BE, *, en;q=0.5, fr;q=0") == ["nl-BE", "de", "en"]
    assert accept_language_tags(None) == []
    assert accept_language_tags("en;q=abc") == []


async def test_a_retried_message_id_is_answered_once_with_the_same_body(serve: Serve, engine: Engine) -> None:
    async with serve() as client:
        await client.say("/start")
        before = await counts(engine)
        first = await client.say("/voluntary_return", message_id="m-1")
        after_first = await counts(engine)
        second = await client.say("/voluntary_return", message_id="m-1")
        assert second == first
        assert await counts(engine) == after_first != before
        third = await client.say("/help", message_id="m-2")
        assert third[-1]["custom"]["expects"]["field"] == "consent.data_processing"


async def test_the_page_is_served_with_a_strict_content_security_policy(serve: Serve) -> None:
    async with serve() as client:
        async with client.session.get(client.base + "/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "no-cache" in response.headers["Cache-Control"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp
        assert '<script src="/webchat/app.js"' in page and "<script>" not in page
        assert "http://" not in page and "https://" not in page and "style=" not in page
        assert 'aria-live="polite"' in page

        for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
            async with client.session.get(client.base + "/webchat/" + name) as response:
                assert response.status == 200
                assert response.content_type == kind
                assert "Content-Security-Policy" in response.headers
                body = await response.text()
            assert "http://" not in body and "https://" not in body
        for bad in ("/webchat/..%2Fapp.py", "/webchat/nothing.js", "/webchat/rest.py", "/webchat/.hidden.js"):
            async with client.session.get(client.base + bad) as response:
                assert response.status == 404


async def test_languages_json_names_each_language_in_itself(serve: Serve) -> None:
    async with serve() as client:
        async with client.session.get(client.base + "/webchat/languages.json") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            data = await response.json()
    codes = [entry["code"] for entry in data["languages"]]
    assert codes == list(supported_locales())
    by_code = {entry["code"]: entry for entry in data["languages"]}
    assert by_code["fr"]["name"] == native_name("fr") == "Français"
    assert by_code["nl"]["name"] == "Nederlands"
    assert all(entry["dir"] == "ltr" for entry in data["languages"] if entry["code"] in {"en", "fr", "nl"})
    strings = by_code["en"]["strings"]
    assert strings["send"] == "Send" and "{seconds}" in strings["rate_limited"]
    assert set(by_code["fr"]["strings"]) == set(strings)


async def test_create_channel_builds_the_rest_channel(engine: Engine, flows: FlowSet) -> None:
    services = services_for(engine, flows)
    channel = create_channel(services)
    assert isinstance(channel, RestChannel) and channel.name == "rest" and channel.engine is engine


async def test_messages_kept_for_the_web_chat_are_handed_over_once(serve: Serve, engine: Engine) -> None:
    async with serve() as client:
        await client.say("/start", sender="kept-web-chat-sender-0001", language="de")
        await engine.leave_notice("rest", "kept-web-chat-sender-0001", "Ihr Termin wurde bestätigt.")
        kept = client.base + "/webhooks/rest/kept"
        async with client.session.post(kept, json={"sender": "kept-web-chat-sender-0001"}) as response:
            assert response.status == 200
            assert [m["text"] for m in await response.json()] == ["Ihr Termin wurde bestätigt."]
        async with client.session.post(kept, json={"sender": "kept-web-chat-sender-0001"}) as response:
            assert await response.json() == []
        async with client.session.post(kept, json={"sender": "never-wrote-8f3c2a9d"}) as response:
            assert await response.json() == []
        async with client.session.post(kept, json={"message": "x"}) as response:
            assert response.status == 400
