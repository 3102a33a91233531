"""The voluntary-return journey in every language we serve, start to end.

"No untranslated text" is measured where it happens: every lookup that falls back to
English is reported by :mod:`bot.i18n`, and none may be reported during a journey.
"""

from __future__ import annotations

import logging
from datetime import timedelta
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


VISA = {
    "nationality": "MA", "currently_in_belgium": "no", "refusal_received": "yes", "refusal_received_on": "10/11/2026",
    "residence_country": "MA", "legal_residence": "yes", "purpose": "tourism", "intended_stay_days": "20",
    "main_destination_belgium": "yes", "planned_arrival": "01/03/2027", "passport_expiry": "01/01/2030",
    "wants_followup": "yes", "consent.visa_followup": "yes", "applicant.name": "Youssef Alaoui",
    "applicant.preferred_contact": "email", "applicant.email": "youssef@example.org",
}


@pytest.mark.parametrize("code", LOCALES)
async def test_visa_information_completes_in_every_language(engine: Engine, code: str, fallbacks: Callable[[], list[str]]) -> None:
    chat = Chat(engine, lang=code)
    await chat.say("/visa_info")
    await chat.answer_until(VISA)
    await chat.say("/confirm")
    assert not fallbacks(), f"{code}: English shown instead of a translation"
    [case] = await engine.store.cases()
    assert case.kind == "visa_question" and case.language == code and "refusal_deadline" in case.flags


@pytest.mark.parametrize("code", LOCALES)
async def test_protection_appointment_completes_in_every_language(
    engine: Engine, code: str, fallbacks: Callable[[], list[str]]
) -> None:
    from .test_protection import FIRST_SLOT, PROTECTION

    await engine.store.add_slots(FIRST_SLOT, FIRST_SLOT + timedelta(hours=1), timedelta(minutes=30), 2)
    chat = Chat(engine, lang=code)
    await chat.say("/protection_registration")
    await chat.answer_until(PROTECTION, stop_at="slot")
    await chat.say(chat.payloads[0])
    await chat.say("/confirm")
    await chat.say("/appointment_manage")
    await chat.say("/case_status")
    assert not fallbacks(), f"{code}: English shown instead of a translation"
    [case] = await engine.store.cases()
    assert case.kind == "protection_appointment" and case.language == code and case.appointment


@pytest.mark.parametrize("code", LOCALES)
async def test_urgent_help_and_a_person_in_every_language(engine: Engine, code: str, fallbacks: Callable[[], list[str]]) -> None:
    chat = Chat(engine, lang=code)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
    await chat.say("/urgent_help")
    await chat.say("no")
    await chat.say("/human")
    await chat.answer_until({"topic": "voluntary_return", "consent.callback": "yes",
                             "applicant.preferred_contact": "this_chat"}, stop_at="household.adults")
    assert chat.field == "household.adults"
    assert not fallbacks(), f"{code}: English shown instead of a translation"
