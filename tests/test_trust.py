"""Trust (issue 6): how to recognise the official service, and how to report someone who
asks for money (/official, at any step)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest

from bot.app import runtime_facts
from bot.cli import main
from bot.config import Settings
from bot.engine import Engine, commands
from bot.engine.loader import FlowError, FlowSet, load_flows
from bot.i18n import gettext, supported_locales, use_locale
from bot.resources import FLOWS_DIR
from bot.store.store import Store

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock
from .test_dialogue import answers_of, at_question
from .test_flows import flows_dir
from .test_languages import fallbacks  # noqa: F401  (a fixture)

WEB_CHAT = "https://chat.intake.example.be/"
BOT = "@BelgiumIntakeBot"
OFFICIAL_SITES = ("dofi.ibz.be", "fedasil.be", "belgium.iom.int")
REPORT = {"consent.fraud_report": "yes", "applicant.preferred_contact": "phone", "applicant.phone": "0470 12 34 56"}


@cache
def flows_with(web_chat: str = "", telegram_bot: str = "", public_url: str = "") -> FlowSet:
    settings = Settings(official_web_chat_url=web_chat, official_telegram_bot=telegram_bot, public_url=public_url)
    return load_flows(FLOWS_DIR, runtime_facts=runtime_facts(settings))


def engine_with(store: Store, clock: Clock, **settings: str) -> Engine:
    return Engine(store, flows_with(**settings), clock=clock, idle_timeout=timedelta(hours=24))


def no_hole(text: str) -> None:
    assert "{" not in text and "}" not in text and "()" not in text


async def test_without_addresses_it_sends_the_applicant_to_the_official_websites(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/official")
    assert "This service is free" in chat.text and "bank card details or passwords" in chat.text
    assert '"agent"' in chat.text
    for site in OFFICIAL_SITES:
        assert f"({site})" in chat.text
    assert "web chat" not in chat.text and "Telegram" not in chat.text
    no_hole(chat.text)
    assert chat.field == "topic"
    assert "fraud_concern" in chat.payloads and "none" in chat.payloads


async def test_with_addresses_it_gives_them(sqlite_store: Store, clock: Clock) -> None:
    chat = Chat(engine_with(sqlite_store, clock, web_chat=WEB_CHAT, telegram_bot="t.me/BelgiumIntakeBot"))
    await chat.say("/official")
    assert f"the web chat {WEB_CHAT} and the Telegram bot {BOT}" in chat.text
    assert "is not the official service" in chat.text
    assert not any(site in chat.text for site in OFFICIAL_SITES)
    no_hole(chat.text)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"public_url": "https://intake.example.be"}, "The official web chat of this service is https://intake.example.be/."),
        ({"telegram_bot": BOT}, f"The official Telegram bot of this service is {BOT}."),
    ],
)
async def test_one_address_alone_is_given_for_its_own_channel(
    sqlite_store: Store, clock: Clock, settings: dict[str, str], expected: str
) -> None:
    chat = Chat(engine_with(sqlite_store, clock, **settings))
    await chat.say("/official")
    assert expected in chat.text
    assert "addresses of this service are" not in chat.text
    no_hole(chat.text)


def test_settings_read_the_addresses_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_OFFICIAL_WEB_CHAT_URL", WEB_CHAT)
    monkeypatch.setenv("INTAKE_OFFICIAL_TELEGRAM_BOT", "BelgiumIntakeBot")
    monkeypatch.setenv("INTAKE_PUBLIC_URL", "https://elsewhere.example.be")
    settings = Settings()
    assert settings.official_web_chat() == WEB_CHAT  # the explicit setting wins over the public URL
    assert settings.official_telegram_bot == BOT
    facts = runtime_facts(settings)
    assert facts["official_telegram_bot"].formatted() == BOT
    assert str(facts["official_telegram_bot"].source_url) == "https://t.me/BelgiumIntakeBot"


@pytest.mark.parametrize("handle", ["@JohnSmith", "@ab", "intake bot"])
def test_a_handle_that_cannot_be_a_telegram_bot_is_refused(handle: str) -> None:
    with pytest.raises(ValueError, match="Telegram bot username"):
        Settings(official_telegram_bot=handle)


def test_a_web_chat_address_must_be_a_web_address() -> None:
    with pytest.raises(ValueError, match="web address"):
        Settings(official_web_chat_url="chat.example.be")


async def test_a_report_makes_a_high_priority_callback_case_with_the_minimum(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/official")
    await chat.say("fraud_concern")
    assert "any police station" in chat.text and "101" in chat.text
    assert chat.field == "consent.fraud_report"
    await chat.answer_until(REPORT)
    [case] = await engine.store.cases()
    assert case.kind == "human_callback" and case.reference.startswith("HC-")
    assert case.priority == "high"
    assert "fraud_concern" in case.flags
    assert case.answers == {"topic": "fraud_concern"}
    assert case.applicant.phone == "+32470123456"
    assert case.applicant.name is None and case.applicant.nationality is None  # only the minimum
    assert case.consent is not None and case.consent.scopes == {"fraud_report": True}
    assert case.reference in chat.text
    assert "09:00–17:00" in chat.text and "within 2 working days" in chat.text  # when to expect an answer
    no_hole(chat.text)


async def test_declining_or_not_reporting_records_nothing(engine: Engine) -> None:
    chat = Chat(engine, sender="declines")
    await chat.say("/official")
    await chat.say("fraud_concern")
    await chat.say("no")
    assert "nothing was recorded" in chat.text and "/official" in chat.text
    other = Chat(engine, sender="just-looks")
    await other.say("/official")
    await other.say("none")
    assert "/official" in other.text
    assert "/voluntary_return" in other.payloads  # then the menu
    assert await engine.store.cases() == []


async def test_official_mid_journey_interrupts_and_the_journey_resumes_intact(engine: Engine) -> None:
    chat = await at_question(engine, "travel_document")
    before = await answers_of(engine, chat)
    await chat.say("/official")
    assert "This service is free" in chat.text and chat.field == "topic"
    await chat.say("none")
    assert "Let us continue where you were: Return to my country." in chat.text
    assert chat.field == "travel_document"
    assert await answers_of(engine, chat) == before
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.kind == "voluntary_return" and case.answers["destination_country"] == "GE"


async def test_a_report_mid_journey_says_where_it_came_from_and_the_journey_resumes(engine: Engine) -> None:
    chat = await at_question(engine, "household.adults", sender="reports-mid-journey")
    before = await answers_of(engine, chat)
    await chat.say("/official")
    await chat.say("fraud_concern")
    await chat.answer_until({**REPORT, "applicant.preferred_contact": "this_chat"}, stop_at="household.adults")
    assert chat.field == "household.adults"
    assert await answers_of(engine, chat) == before
    [case] = await engine.store.cases()
    assert case.kind == "human_callback" and "fraud_concern" in case.flags
    assert case.answers["from_flow"] == "voluntary_return" and case.answers["from_step"] == "adults"


@pytest.mark.parametrize("journey", ["/visa_info", "/protection_registration", "/voluntary_return"])
async def test_every_journey_intro_points_to_official(engine: Engine, journey: str) -> None:
    chat = Chat(engine)
    await chat.say(journey)
    intro = chat.replies[0].text
    assert "nobody may ask you for money" in intro.lower()  # it says it is free
    assert "report someone who asks you for money, type /official." in intro


def test_help_lists_official() -> None:
    assert "/official: how to recognise the official service" in commands.HELP


async def test_help_mentions_official(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/help")
    assert "/official" in chat.text


LOCALES = supported_locales()


@pytest.mark.parametrize("code", LOCALES)
async def test_official_and_a_report_complete_in_every_language(
    sqlite_store: Store, clock: Clock, code: str, fallbacks: Callable[[], list[str]]  # noqa: F811
) -> None:
    variants: list[dict[str, str]] = [{}, {"web_chat": WEB_CHAT, "telegram_bot": BOT}, {"web_chat": WEB_CHAT}, {"telegram_bot": BOT}]
    for i, settings in enumerate(variants):  # every text of the addresses, with a report each time
        chat = Chat(engine_with(sqlite_store, clock, **settings), sender=f"{code}-{i}", lang=code)
        await chat.say("/voluntary_return")
        await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
        await chat.say("/official")
        no_hole(chat.text)
        await chat.say("fraud_concern")
        await chat.answer_until({**REPORT, "applicant.preferred_contact": "email",
                                 "applicant.email": "nino@example.org"}, stop_at="household.adults")
        assert chat.field == "household.adults"
    # and the other endings: not reporting, and declining
    chat = Chat(engine_with(sqlite_store, clock), sender=f"{code}-endings", lang=code)
    await chat.say("/official")
    await chat.say("none")
    await chat.say("/official")
    await chat.say("fraud_concern")
    await chat.say("no")
    assert not fallbacks(), f"{code}: English shown instead of a translation"
    cases = await sqlite_store.cases()
    assert len(cases) == 4 and all(c.language == code and "fraud_concern" in c.flags for c in cases)
    with use_locale(code):
        assert "/official" in gettext(commands.HELP)


def test_configured_is_only_for_deployment_facts(tmp_path: Path) -> None:
    folder = flows_dir(tmp_path, {
        "id": "demo", "intent": "visa_info", "case_kind": "human_callback", "title": "Demo",
        "steps": [{"id": "a", "when": {"configured": "io_website"}, "say": "x"}, {"id": "b", "end": "y"}],
    })
    with pytest.raises(FlowError, match="configured: 'io_website' is not a deployment fact"):
        load_flows(folder)


def test_an_unset_address_quoted_anyway_points_to_the_official_site() -> None:
    content = flows_with().content
    assert not content.configured("official_web_chat_url")
    with use_locale("en"):
        params = content.params(["official_web_chat_url"], content.get("io_website").last_verified)
    assert "dofi.ibz.be" in params["official_web_chat_url"]


def test_flows_check_lists_the_new_flow_and_the_deployment_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "check"]) == 0
    out = capsys.readouterr().out
    assert "official_service.yml: official_service → case human_callback:" in out
    assert "deployment fact: official_telegram_bot" in out


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "Is this a scam?"),
        ("en", "Someone asked me for money for my return"),  # a report, not a return request
        ("fr", "Un homme m'a demandé de l'argent pour le rendez-vous"),
        ("ar", "هل هذا رسمي؟"),
    ],
)
async def test_typed_words_about_scams_lead_to_the_official_service(engine: Engine, lang: str, said: str) -> None:
    chat = Chat(engine, lang=lang)
    await chat.say(f"/language {lang}")
    await chat.say(said)
    assert chat.field == "topic"  # the official service's question: report it?
    assert "fraud_concern" in chat.payloads


async def test_a_return_request_still_starts_the_return_journey(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/start")
    await chat.say("I want to go back home")
    assert chat.field == "consent.data_processing" and "voluntary return" in chat.text
