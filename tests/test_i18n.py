"""Choosing the language, falling back to English, and right-to-left isolation."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from bot import i18n
from bot.engine import Engine
from bot.answers import Rules, display
from bot.i18n import FSI, PDI, format_moment, gettext, native_name, negotiate, use_locale
from nlu import langid

from .chat import VOLUNTARY_RETURN, Chat


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("fr-BE", "fr"), ("nl_BE", "nl"), ("de-AT", "de"), ("EN-us", "en"),
        ("fa", "fa"), ("fa-IR", "fa"), ("fa-AF", "fa_AF"), ("prs", "fa_AF"),
        ("pt", "pt_BR"), ("pt-BR", "pt_BR"), ("pt-PT", "pt_BR"),
        ("kmr", "ku"), ("ku", "ku"), ("ti-ER", "ti"), ("ar-SY", "ar"),
        ("zh-TW", None), ("", None), (None, None),
    ],
)
def test_negotiation_against_the_supported_set(hint: str | None, expected: str | None) -> None:
    assert negotiate(hint) == expected


def test_first_usable_hint_wins() -> None:
    assert negotiate(None, "xx", "tr-TR", "fr") == "tr"


def test_dari_reads_the_farsi_catalog_with_afghan_country_names() -> None:
    with use_locale("fa"):
        farsi = gettext("Yes")
        belgium_fa = display(Rules(type="country"), "BE")
    with use_locale("fa_AF"):
        assert gettext("Yes") == farsi != "Yes"
        belgium_af = display(Rules(type="country"), "BE")
    assert belgium_fa != belgium_af  # CLDR: بلژیک in Iran, بلجیم in Afghanistan
    assert native_name("fa_AF") == "دری" and native_name("fa") == "فارسی"


def test_language_names_are_capitalised_only_where_the_script_does_it() -> None:
    assert native_name("ru") == "Русский" and native_name("fr") == "Français"
    # Not "Ქართული": Georgian Mtavruli reads as all-caps, and many fonts lack it.
    assert native_name("ka") == "ქართული"


def test_placeholders_are_isolated_in_right_to_left_text_only() -> None:
    msgid = "Your reference is {reference}."
    with use_locale("ar"):
        text = gettext(msgid, reference="VR-7K3M9Q")
        assert f"{FSI}VR-7K3M9Q{PDI}" in text
        assert text.count(FSI) == 1
    with use_locale("de"):
        assert FSI not in gettext(msgid, reference="VR-7K3M9Q")


def test_appointment_times_are_local_to_brussels_and_written_the_locale_s_way() -> None:
    winter = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)  # 09:30 in Brussels (CET)
    summer = datetime(2027, 7, 1, 8, 30, tzinfo=timezone.utc)  # 10:30 in Brussels (CEST)
    with use_locale("de"):
        assert format_moment(winter) == "Dienstag, 1. Dezember 2026, 09:30"
        assert format_moment(summer).endswith("10:30")
    with use_locale("pt_BR"):
        assert format_moment(winter) == "terça-feira, 1 de dezembro de 2026 09:30"
    with use_locale("fa_AF"):
        assert "دسمبر" in format_moment(winter)  # Afghan month name, not Iran's دسامبر


def test_amounts_and_numbers_are_localized() -> None:
    with use_locale("de"):
        assert display(Rules(type="number"), 1234.5) == "1.234,5"
    with use_locale("en"):
        assert display(Rules(type="number"), 1234.5) == "1,234.5"


def test_a_missing_translation_falls_back_to_english_and_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(i18n, "_reported_missing", set())
    caplog.set_level(logging.WARNING, logger="bot.i18n")
    with use_locale("de"):
        assert gettext("A text nobody translated, {name}.", name="Ana") == "A text nobody translated, Ana."
        gettext("A text nobody translated, {name}.", name="Ana")
    assert len([r for r in caplog.records if "missing de translation" in r.getMessage()]) == 1


def test_a_broken_translation_never_breaks_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def gettext(self, msgid: str) -> str:
            return "Referenz: {referenz"

    monkeypatch.setattr(i18n, "translations", lambda code: Broken())
    with use_locale("de"):
        assert gettext("Your reference is {reference}.", reference="VR-1") == "Your reference is VR-1."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("أريد العودة إلى بلدي", "ar"),
        ("من می خواهم به کشورم برگردم", "fa"),
        ("ናብ ሃገረይ ክምለስ እደሊ", "ti"),
        ("Quero voltar para casa", "pt_BR"),
        ("Ich möchte nach Hause zurückkehren", "de"),
        ("yes", None),  # one word: not clearly anything
        ("Mohammed Al Khatib", None),  # a name, not a language we serve
    ],
)
def test_language_identification_is_narrowed_to_ours(text: str, expected: str | None) -> None:
    assert langid.clearly_in(text, i18n.supported_locales()) == expected


async def test_first_typed_message_in_another_language_gets_an_offer_not_a_switch(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/start")
    await chat.say("Ich möchte nach Hause zurückkehren")
    assert chat.payloads == ["/language de", "/stay"]
    assert chat.button_titles == ["Deutsch", "English"]
    assert chat.replies[0].language == "en"  # not switched yet
    with use_locale("de"):
        assert chat.text == gettext("Do you want to continue in {language}?", language="Deutsch")
    await chat.say("/language de")
    assert chat.replies[-1].language == "de"
    with use_locale("de"):
        assert chat.replies[0].text == gettext("I will write in English from now on.")
    # The message that was held is handled now, in German: it names the journey.
    assert chat.field == "consent.data_processing"


async def test_declining_the_offer_handles_the_message_in_the_current_language(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/start")
    await chat.say("Quero voltar para casa agora")
    assert "/language pt_BR" in chat.payloads
    await chat.say("/stay")
    assert all(r.language == "en" for r in chat.replies)
    await chat.say("Ik wil naar huis terug")  # only the first typed message is checked
    assert "/language nl" not in chat.payloads


async def test_offer_mid_flow_keeps_answers_and_answers_the_question(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="destination_country")
    await chat.say("Ich möchte zurück nach Georgien")
    assert "/language de" in chat.payloads
    await chat.say("/language de")
    assert chat.replies[-1].language == "de"
    # The held sentence was read as the answer, in German; not a country, so asked again.
    assert chat.field == "destination_country"
    await chat.say("Georgien")
    assert chat.field == "applicant.nationality"
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    case = (await engine.store.cases())[0]
    assert case.language == "de" and case.answers["destination_country"] == "GE"
    assert case.consent is not None


async def test_no_offer_once_a_language_was_chosen(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/language fr")
    await chat.say("Ich möchte nach Hause zurückkehren")
    assert "/language de" not in chat.payloads
    assert all(r.language == "fr" for r in chat.replies)
