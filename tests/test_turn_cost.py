"""What a turn must not pay for: clicks and valid answers never reach the NLU, and the
check whether a typed answer is rather a wish (urgent help first) stays cheap."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from bot.engine import Engine, commands
from bot.engine.loader import FlowSet
from bot.store.store import Store

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock


class CountingNLU:
    """The real NLU, noting every text it is asked to read."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.read: list[str] = []

    async def parse(self, text: str, language_hint: str | None = None) -> Any:
        self.read.append(text)
        return await self.real.parse(text, language_hint)

    async def intent(self, text: str, language_hint: str | None = None) -> Any:
        self.read.append(text)
        return await self.real.intent(text, language_hint)

    def language_identifier(self) -> Any:
        return self.real.language_identifier()


@pytest.fixture(scope="module")
def real_nlu() -> Any:
    from nlu.service import load_nlu

    return load_nlu()


async def test_a_whole_journey_of_clicks_and_valid_answers_reads_only_the_sentence(
    sqlite_store: Store, flows: FlowSet, clock: Clock, real_nlu: Any
) -> None:
    nlu = CountingNLU(real_nlu)
    chat = Chat(Engine(sqlite_store, flows, clock=clock, nlu=nlu, language_id=nlu.language_identifier()))
    answers = {**VOLUNTARY_RETURN, "reception_centre": "Petit-Château in Brussels"}
    await chat.say("/voluntary_return")
    await chat.answer_until(answers)
    await chat.say("/confirm")
    assert "VR-" in chat.text
    # Only the one sentence typed into a free-text question that may hide a wish is read:
    # it could be a cry for help rather than the answer. Clicks, names, numbers, dates,
    # and the health question (``understand: false``) are not.
    assert nlu.read == ["Petit-Château in Brussels"]


async def test_urgent_help_still_wins_over_a_free_text_answer(
    sqlite_store: Store, flows: FlowSet, clock: Clock, real_nlu: Any
) -> None:
    nlu = CountingNLU(real_nlu)
    chat = Chat(Engine(sqlite_store, flows, clock=clock, nlu=nlu, language_id=nlu.language_identifier()))
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="reception_centre")
    await chat.say("my husband beats me and I am afraid")
    assert chat.payloads == ["/urgent_help", "/answer"]
    assert nlu.read == ["my husband beats me and I am afraid"]


async def test_the_wish_check_takes_a_fraction_of_a_millisecond(real_nlu: Any) -> None:
    sentences = [f"I have to take medicine number {i} every morning" for i in range(60)]
    took = []
    for sentence in sentences:  # each new: no cached parse helps
        started = time.perf_counter()
        await real_nlu.intent(sentence, "en")
        took.append(time.perf_counter() - started)
    assert statistics.median(took) < 0.002  # about 0.2 ms on a quiet core; a shared one is slower


def test_commands_are_parsed_once_per_text_and_language() -> None:
    commands.parse("back")  # cached from here on
    started = time.perf_counter()
    for _ in range(1000):
        assert commands.parse("back") == commands.Command("back", typed=True)
    assert time.perf_counter() - started < 0.05
