"""The voluntary-return journey in every language we serve, start to end.

"No untranslated text" is measured where it happens: every lookup that falls back to
English is reported by :mod:`bot.i18n`, and none may be reported during a journey.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot import i18n
from bot.engine import Engine
from bot.i18n import FSI, PDI, is_rtl, native_name, supported_locales

from .chat import VOLUNTARY_RETURN, Chat

LOCALES = supported_locales()


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The English fallbacks logged from now on (each text is logged once per process)."""
    monkeypatch.setattr(i18n, "_reported_missing", set())
    caplog.set_level(logging.WARNING, logger="bot.i18n")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "bot.i18n" and "missing" in r.getMessage()]


@pytest.mark.parametrize("code", LOCALES)
async def test_voluntary_return_completes_in_every_language(engine: Engine, code: str, fallbacks: Callable[[], list[str]]) -> None:
    chat = Chat(engine, lang=code)
    await chat.say("/start")
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    assert not fallbacks(), f"{code}: English shown instead of a translation"
    assert all(reply.language == code for reply in chat.replies)
    case = (await engine.store.cases())[0]
    assert case.language == code
    assert case.answers["destination_country"] == "GE"
    assert case.answers["departure_from"] == "2027-01-15"
    if is_rtl(code):
        # The Latin reference keeps its own direction inside the right-to-left text.
        assert f"{FSI}{case.reference}{PDI}" in chat.text
    else:
        assert case.reference in chat.text and FSI not in chat.text


@pytest.mark.parametrize("code", [c for c in LOCALES if c != "en"])
async def test_picker_mid_flow_switches_and_keeps_every_answer(engine: Engine, code: str, fallbacks: Callable[[], list[str]]) -> None:
    chat = Chat(engine)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
    await chat.say("/language")
    picker = {b.payload: b.title for r in chat.replies for b in r.buttons}
    assert picker[f"/language {code}"] == native_name(code)
    await chat.say(f"/language {code}")
    assert chat.field == "household.adults" and chat.replies[-1].language == code
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    assert not fallbacks()
    case = (await engine.store.cases())[0]
    assert case.language == code
    assert case.answers["destination_country"] == "GE"  # answered in English, before the switch
    assert case.answers["admin_status"] == "asylum_rejected"
