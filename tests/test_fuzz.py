"""The conversation fuzzer: arbitrary input to the engine and the REST channel.

Every input is answered, nothing ends in a 5xx, and no state is lost: the answers given
before are still there and the journey goes on from where it was. In the suite the run is
short and derandomized (the same examples every time); ``pytest -m fuzz --fuzz-examples
2000`` runs a long random one.

Hypothesis drives the examples from a worker thread; each example runs on the test's
event loop (where the engine, its database and the served app live), so shrinking works
as usual.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.channels.abuse import AddressLimits
from bot.channels.rest import RestChannel
from bot.engine import Engine, Inbound
from bot.engine.loader import FlowSet
from bot.limits import MemoryLimits

from .chat import VOLUNTARY_RETURN, Chat
from .serving import serving, services_for

pytestmark = pytest.mark.fuzz

SUITE_EXAMPLES = {"engine": 40, "rest": 60}
WEBHOOK = "/webhooks/rest/webhook"

INJECTIONS = [
    "'; DROP TABLE cases; --", "\" OR 1=1 --", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "{{7*7}}", "${jndi:ldap://example.org/a}", "%s%s%s%n", "{applicant.name}", "{0.__class__}", "{reference}",
    "../../etc/passwd", "`rm -rf /`", "$(reboot)", "\\", "\\u0000", "[[", "]]", "null", "[]", "{}", "*_~`#>",
    "/start /forget", "/case_status '; --", "/appointment_manage cancel 1 OR 1=1", "/language ../../etc",
]
ODD_VALUES = [
    "31/02/2020", "2020-13-01", "00/00/0000", "29/02/2023", "9999-99-99", "0001-01-01", "1/1/1", "32.13.2020",
    "-1", "0", "-0", "1e309", "NaN", "Infinity", "-Infinity", "0x10", "1_000", "99999999999999999999999",
    "٣١/١٢/٢٠٢٠", "１２/０４/１９９９", "۱۲/۰۴/۱۳۷۸", "+32 470 00 00 00 00 00 00", "2", "²", "½", "Ⅻ",
]
BIDI = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]

any_text = st.text(max_size=300)
controls = st.text(st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(["\x7f", "\x85", "\u2028"]),
                   max_size=40)
surrogates = st.lists(st.integers(0xD800, 0xDFFF).map(chr), min_size=1, max_size=4).map("".join)
bidi = st.lists(st.sampled_from(BIDI) | st.sampled_from(ODD_VALUES), max_size=8).map("".join)
huge = st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "ا", "😀", " ", "\n", "/", "1"]),
                 st.integers(50_000, 100_000))
pieces = st.sampled_from(INJECTIONS) | st.sampled_from(ODD_VALUES) | any_text | controls | surrogates | bidi
texts = st.one_of(
    pieces,
    st.lists(pieces, min_size=2, max_size=4).map("".join),
    huge,
)


def examples(request: pytest.FixtureRequest, kind: str) -> settings:
    wanted = request.config.getoption("--fuzz-examples")
    return settings(
        max_examples=wanted or SUITE_EXAMPLES[kind],
        derandomize=wanted is None,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


async def run_in_thread(run: Callable[[Callable[[Coroutine[Any, Any, Any]], Any]], None]) -> None:
    """Run a Hypothesis test in a worker thread; ``on_loop(coroutine)`` runs one example's
    coroutine on this event loop and waits for it."""
    loop = asyncio.get_running_loop()

    def on_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)

    await asyncio.to_thread(run, on_loop)


async def state_of(engine: Engine, channel: str, sender: str) -> dict[str, Any]:
    async with engine.store.turn(channel, sender, engine.clock()) as turn:
        return dict(turn.conversation.state or {})


async def template_at(engine: Engine, field: str) -> tuple[dict[str, Any], str | None]:
    """The state of a voluntary-return journey waiting at ``field``, and its language."""
    chat = Chat(engine, sender=f"template-{field}")
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at=field)
    assert chat.field == field
    async with engine.store.turn("test", chat.sender, engine.clock()) as turn:
        return dict(turn.conversation.state or {}), turn.conversation.language


def given_answers_are_kept(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Every answer given before is still in the journey (or in the one set aside when an
    emergency or a person interrupted it)."""
    journeys = [after] + list(after.get("suspended") or [])
    return any(
        j.get("flow_id") == before["flow_id"]
        and all(j.get("answers", {}).get(k) == v for k, v in before["answers"].items())
        and set(before["path"]) <= set(j.get("path") or [])
        for j in journeys
    )


@pytest.mark.parametrize("field", ["household.adults", "departure_from", "applicant.name"])
async def test_the_engine_answers_every_input_and_loses_no_state(
    engine: Engine, field: str, request: pytest.FixtureRequest
) -> None:
    template, language = await template_at(engine, field)
    tried: list[int] = []

    async def example(text: str) -> None:
        sender = f"fuzz-{uuid.uuid4().hex}"
        async with engine.store.turn("test", sender, engine.clock()) as turn:
            turn.save_state(template, language, engine.clock())
        replies = await engine.handle(Inbound(channel="test", sender_id=sender, text=text))
        assert replies and all(isinstance(r.text, str) and r.text for r in replies)
        json.dumps([r.to_dict() for r in replies], ensure_ascii=False).encode("utf-8")  # sendable as it is
        after = await state_of(engine, "test", sender)
        assert given_answers_are_kept(template, after), (text[:200], after.get("flow_id"), after.get("pending"))
        tried.append(1)

    def run(on_loop: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        @examples(request, "engine")
        @given(texts)
        def fuzz(text: str) -> None:
            on_loop(example(text))

        fuzz()

    await run_in_thread(run)
    assert tried  # the examples ran
    print(f"engine fuzzer at {field}: {len(tried)} examples answered, no state lost")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def nested(depth: int, opener: str = "[") -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "[":
        return (opener * depth + closer * depth).encode()
    return ('{"a":' * depth + "1" + "}" * depth).encode()


SENDER = "fuzzed-rest-sender-5c9e1f3a"
bodies = st.one_of(
    # a well-formed message with an arbitrary text
    texts.map(lambda t: {"sender": SENDER, "message": t}),
    # well-formed but with arbitrary metadata and extra fields
    st.fixed_dictionaries({"sender": st.just(SENDER), "message": texts},
                          optional={"metadata": json_values, "extra": json_values}),
    # anything at all where the sender, message and metadata go
    st.fixed_dictionaries({}, optional={"sender": json_values, "message": json_values, "metadata": json_values}),
    json_values,
).map(lambda body: json.dumps(body, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass"))
raw_bodies = bodies | st.builds(nested, st.integers(1, 70_000), st.sampled_from(["[", "{"])) | st.binary(max_size=300)


async def test_the_rest_channel_never_answers_5xx_and_the_conversation_goes_on(
    engine: Engine, flows: FlowSet, request: pytest.FixtureRequest
) -> None:
    unlimited = AddressLimits(MemoryLimits(), messages_per_minute=10**9, new_conversations_per_hour=10**9)
    channel = RestChannel(engine, rate_limit_per_minute=10**9, address_limits=unlimited)
    app = create_app(services_for(engine, flows), [channel])
    statuses: dict[int, int] = {}
    async with serving(app) as url, aiohttp.ClientSession() as http:
        # A conversation in the middle of a journey, on its own sender: the fuzzer must not disturb it.
        owner = "owner-of-a-journey-7b2d4f6a"

        async def say(text: str) -> list[dict[str, Any]]:
            async with http.post(url + WEBHOOK, json={"sender": owner, "message": text}) as response:
                assert response.status == 200
                return await response.json()  # type: ignore[no-any-return]

        await say("/voluntary_return")
        await say("yes")
        before = await state_of(engine, "rest", owner)

        async def example(raw: bytes) -> None:
            async with http.post(url + WEBHOOK, data=raw, headers={"Content-Type": "application/json"}) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                body = await response.json()
                assert response.status < 500, (raw[:200], body)
                assert isinstance(body, list) if response.status == 200 else isinstance(body["error"], str)

        def run(on_loop: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
            @examples(request, "rest")
            @given(raw_bodies)
            def fuzz(raw: bytes) -> None:
                on_loop(example(raw))

            fuzz()

        await run_in_thread(run)
        assert given_answers_are_kept(before, await state_of(engine, "rest", owner))
        replies = await say("Georgia")  # and the journey goes on where it was
        assert any(r.get("custom", {}).get("expects", {}).get("field") == "applicant.nationality" for r in replies)
    assert sum(statuses.values()) >= 1 and not any(s >= 500 for s in statuses)
    print(f"REST fuzzer: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
