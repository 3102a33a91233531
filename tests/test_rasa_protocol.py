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

S = "s-3f8a9c2e7b1d4a06"
MINE = "mine-5b0e4d1c9a7f"


def parse(data: Any, dialect: rasa.Dialect = rasa.REST, **options: Any):  # type: ignore[no-untyped-def]
    return parse_message(data, dialect, max_message_chars=10, **options)


def test_a_rest_message_becomes_an_inbound() -> None:
    inbound = parse({"sender": S, "message": "hi", "metadata": {"language": "fr-BE", "message_id": 7}})
    assert (inbound.channel, inbound.sender_id, inbound.text) == ("rest", S, "hi")
    assert inbound.language_hint == "fr" and inbound.message_id == "7"
    assert parse({"sender": S, "message": "hi"}, accept_language=["nl-BE"]).language_hint == "nl"


@pytest.mark.parametrize(("data", "status", "error"), [
    ({"message": "hi"}, 400, "sender must be a non-empty string"),
    ({"sender": "x" * 129, "message": "hi"}, 400, "sender must be at most 128 characters"),
    ({"sender": S, "message": 1}, 400, "message must be a string"),
    ({"sender": S, "message": "x" * 11}, 413, "message must be at most 10 characters"),
    ({"sender": S, "message": "hi", "metadata": []}, 400, "metadata must be a JSON object"),
    ({"sender": S, "message": "hi", "metadata": {"language": 3}}, 400, "metadata.language must be"),
    ({"sender": S, "message": "hi", "metadata": {"message_id": True}}, 400, "metadata.message_id must be"),
])
def test_rest_refuses_what_is_malformed(data: dict[str, Any], status: int, error: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(data)
    assert refused.value.status == status and refused.value.error.startswith(error)


@pytest.mark.parametrize("sender", ["me", "user1", "0000000000000000", "abababababababababab", "test-test-test-test"])
def test_rest_refuses_a_sender_id_that_can_be_guessed(sender: str) -> None:
    with pytest.raises(Refused) as refused:
        parse({"sender": sender, "message": "hi"})
    assert refused.value.status == 400 and "random id of at least 16 characters" in refused.value.error


@pytest.mark.parametrize("sender", ["3f2a9c1e-7b4d-4e0a-9f6c-2d8b1a5e7c30", "c0ffee12deadbeef", "AbCdEfGh12345678"])
def test_random_sender_ids_pass(sender: str) -> None:
    assert parse({"sender": sender, "message": "hi"}).sender_id == sender


def test_socketio_replaces_a_guessable_session_by_the_socket_s() -> None:
    inbound = parse({"message": "hi", "session_id": "me"}, rasa.SOCKETIO, default_sender="session-from-the-server")
    assert inbound.sender_id == "session-from-the-server"
    assert rasa.sender_id_or_none("me") is None


def test_the_secrets_the_server_issued_come_back_in_metadata() -> None:
    token, device = "t" * 20 + "-AbC_123", "d" * 43
    inbound = parse({"sender": S, "message": "hi", "metadata": {"conversation_token": token, "device_key": device}})
    assert (inbound.conversation_token, inbound.device_key, inbound.bindable) == (token, device, True)
    for bad in ({"conversation_token": 5}, {"conversation_token": "short"}, {"device_key": "é" * 30}):
        with pytest.raises(Refused) as refused:
            parse({"sender": S, "message": "hi", "metadata": bad})
        assert refused.value.status == 400 and "the string the server issued" in refused.value.error
    lenient = parse({"message": "hi", "session_id": MINE, "customData": {"conversation_token": 5}}, rasa.SOCKETIO)
    assert lenient.conversation_token is None


def test_lone_surrogates_are_replaced_and_odd_message_ids_refused() -> None:
    assert parse({"sender": S, "message": "a\ud800b"}).text == "a\ufffdb"
    with pytest.raises(Refused, match="printable"):
        parse({"sender": S, "message": "hi", "metadata": {"message_id": "a\x00b"}})


def test_socketio_ignores_what_it_cannot_use_and_falls_back_to_the_session() -> None:
    data = {"message": "hi", "session_id": 7, "metadata": "no", "customData": {"language": ["x"]}}
    inbound = parse(data, rasa.SOCKETIO, default_sender="session-1", accept_language=["de"])
    assert (inbound.channel, inbound.sender_id, inbound.language_hint) == ("socketio", "session-1", "de")
    named = parse({"message": "hi", "session_id": MINE, "customData": {"language": "fr"}},
                  rasa.SOCKETIO, default_sender="session-1")
    assert (named.sender_id, named.language_hint) == (MINE, "fr")
    per_socket = parse({"message": "hi", "session_id": MINE}, rasa.SOCKETIO_PER_SOCKET, default_sender="sid")
    assert per_socket.sender_id == "sid"
    with pytest.raises(Refused, match="send session_request first"):
        parse({"message": "hi"}, rasa.SOCKETIO)
    with pytest.raises(Refused, match="must be an object"):
        parse("hi", rasa.SOCKETIO, default_sender="s")


def test_a_refusal_knows_the_language_to_answer_in() -> None:
    with pytest.raises(Refused) as refused:
        parse({"message": "x" * 11, "session_id": S, "customData": {"language": "fr"}}, rasa.SOCKETIO)
    assert refused.value.status == 413 and refused.value.language_hint == "fr"


def test_the_limiter_refuses_with_the_seconds_to_wait() -> None:
    limiter = rasa.RateLimiter(1, clock=lambda: 0.0)
    inbound = parse({"sender": S, "message": "hi"})
    limiter.admit(inbound)
    with pytest.raises(Refused) as refused:
        limiter.admit(inbound)
    assert refused.value.status == 429 and refused.value.retry_after == 60


async def test_the_default_channels_serve_the_page_next_to_rest_and_socketio(engine: Engine, flows: FlowSet) -> None:
    names = [channel.name for channel in default_channels(services_for(engine, flows))]
    assert names[:3] == ["webchat", "rest", "socketio"]
