"""Rasa's message shape, as REST (strict) and socket.io (lenient, like Rasa's) read it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import default_channels
from bot.channels import rasa
from bot.channels.rasa import Refused, parse_message
from bot.engine import Engine
from bot.engine.loader import FlowSet

from .serving import services_for


def parse(data: Any, dialect: rasa.Dialect = rasa.REST, **options: Any):  # type: ignore[no-untyped-def]
    return parse_message(data, dialect, max_message_chars=10, **options)


def test_a_rest_message_becomes_an_inbound() -> None:
    inbound = parse({"sender": "s", "message": "hi", "metadata": {"language": "fr-BE", "message_id": 7}})
    assert (inbound.channel, inbound.sender_id, inbound.text) == ("rest", "s", "hi")
    assert inbound.language_hint == "fr" and inbound.message_id == "7"
    assert parse({"sender": "s", "message": "hi"}, accept_language=["nl-BE"]).language_hint == "nl"


@pytest.mark.parametrize(("data", "status", "error"), [
    ({"message": "hi"}, 400, "sender must be a non-empty string"),
    ({"sender": "x" * 129, "message": "hi"}, 400, "sender must be at most 128 characters"),
    ({"sender": "s", "message": 1}, 400, "message must be a string"),
    ({"sender": "s", "message": "x" * 11}, 413, "message must be at most 10 characters"),
    ({"sender": "s", "message": "hi", "metadata": []}, 400, "metadata must be a JSON object"),
    ({"sender": "s", "message": "hi", "metadata": {"language": 3}}, 400, "metadata.language must be"),
    ({"sender": "s", "message": "hi", "metadata": {"message_id": True}}, 400, "metadata.message_id must be"),
])
def test_rest_refuses_what_is_malformed(data: dict[str, Any], status: int, error: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(data)
    assert refused.value.status == status and refused.value.error.startswith(error)


def test_socketio_ignores_what_it_cannot_use_and_falls_back_to_the_session() -> None:
    data = {"message": "hi", "session_id": 7, "metadata": "no", "customData": {"language": ["x"]}}
    inbound = parse(data, rasa.SOCKETIO, default_sender="session-1", accept_language=["de"])
    assert (inbound.channel, inbound.sender_id, inbound.language_hint) == ("socketio", "session-1", "de")
    named = parse({"message": "hi", "session_id": "mine", "customData": {"language": "fr"}},
                  rasa.SOCKETIO, default_sender="session-1")
    assert (named.sender_id, named.language_hint) == ("mine", "fr")
    per_socket = parse({"message": "hi", "session_id": "mine"}, rasa.SOCKETIO_PER_SOCKET, default_sender="sid")
    assert per_socket.sender_id == "sid"
    with pytest.raises(Refused, match="send session_request first"):
        parse({"message": "hi"}, rasa.SOCKETIO)
    with pytest.raises(Refused, match="must be an object"):
        parse("hi", rasa.SOCKETIO, default_sender="s")


def test_a_refusal_knows_the_language_to_answer_in() -> None:
    with pytest.raises(Refused) as refused:
        parse({"message": "x" * 11, "session_id": "s", "customData": {"language": "fr"}}, rasa.SOCKETIO)
    assert refused.value.status == 413 and refused.value.language_hint == "fr"


def test_the_limiter_refuses_with_the_seconds_to_wait() -> None:
    limiter = rasa.RateLimiter(1, clock=lambda: 0.0)
    inbound = parse({"sender": "s", "message": "hi"})
    limiter.admit(inbound)
    with pytest.raises(Refused) as refused:
        limiter.admit(inbound)
    assert refused.value.status == 429 and refused.value.retry_after == 60


async def test_the_default_channels_serve_the_page_next_to_rest_and_socketio(engine: Engine, flows: FlowSet) -> None:
    names = [channel.name for channel in default_channels(services_for(engine, flows))]
    assert names[:3] == ["webchat", "rest", "socketio"]
