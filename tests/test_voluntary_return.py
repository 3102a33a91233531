"""The voluntary-return journey, as an applicant lives it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.engine import Engine

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock


async def start_journey(chat: Chat) -> None:
    await chat.say("/start")
    assert "/voluntary_return" in chat.payloads
    await chat.say("/voluntary_return")
    assert chat.field == "consent.data_processing"


async def test_start_says_it_is_an_automated_assistant_and_offers_journeys(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("/start")
    assert "automated assistant" in chat.text
    assert "not a person" in chat.text
    assert "free" in chat.text
    assert chat.payloads == [
        "/visa_info", "/protection_registration", "/voluntary_return", "/urgent_help",
        "/case_status", "/human", "/language",
    ]


async def test_whole_journey_produces_a_typed_case(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN)
    summary = chat.text
    assert "Georgia" in summary and "Nino Beridze" in summary and "+32 470 12 34 56" in summary
    assert chat.payloads == ["/confirm", "/edit"]
    await chat.say("/confirm")
    assert "Your reference is VR-" in chat.text
    reference = chat.text.split("Your reference is ")[1][:9]

    case = await engine.store.case(reference)
    assert case is not None
    assert case.kind == "voluntary_return" and case.status == "submitted"
    assert case.language == "en" and case.channel == "test"
    assert case.applicant.name == "Nino Beridze"
    assert case.applicant.nationality == "GE"
    assert case.applicant.phone == "+32470123456"
    assert case.applicant.preferred_contact == "phone"
    assert case.household.adults == 2 and case.household.children == 1
    assert case.answers["destination_country"] == "GE"
    assert case.answers["departure_from"] == "2027-01-15"
    assert case.answers["reintegration_interest"] == ["housing", "job_training"]
    assert case.answers["health_details"] == "needs insulin every day"
    assert case.consent is not None and case.consent.version == "vr-consent-2026-11"
    assert case.consent.scopes == {
        "data_processing": True, "health_details": True,
        "share_fedasil": True, "share_iom": True, "share_caritas": False,
    }
    assert set(case.flags) == {"health_needs", "premium_visa_free_country"}
    assert case.priority == "high"
    assert [h.status for h in case.status_history] == ["submitted"]
    # The journey is over: the applicant gets the menu again and nothing unfinished is kept.
    assert "/voluntary_return" in chat.payloads


async def test_answers_of_an_abandoned_branch_are_not_sent(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/edit")
    await chat.say("/edit contact_way")
    assert chat.field == "applicant.preferred_contact"
    await chat.say("email")
    assert chat.field == "applicant.email"  # the change opened a new question
    await chat.say("nino@example.org")
    assert chat.payloads == ["/confirm", "/edit"]  # straight back to the summary
    assert "nino@example.org" in chat.text and "+32 470" not in chat.text
    await chat.say("/confirm")
    reference = chat.text.split("Your reference is ")[1][:9]
    case = await engine.store.case(reference)
    assert case is not None
    assert case.applicant.email == "nino@example.org"
    assert case.applicant.phone is None


async def test_declining_consent_ends_without_a_case(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.say("no")
    assert "0800 32 745" in chat.text
    assert chat.field is None
    assert await engine.store.cases() == []


async def test_unaccompanied_minor_is_routed_to_a_person_with_urgent_priority(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    answers = dict(VOLUNTARY_RETURN, unaccompanied_minor="yes", guardian_contact="Mr Janssens 0470 99 88 77")
    await chat.answer_until(answers, stop_at="unaccompanied_minor")
    await chat.say("yes")
    assert chat.field == "guardian_contact"
    await chat.say("Mr Janssens 0470 99 88 77")
    assert "guardian" in chat.text
    assert chat.field == "travel_document"  # household questions are skipped for a minor
    await chat.answer_until(answers)
    await chat.say("/confirm")
    case = (await engine.store.cases())[0]
    assert "unaccompanied_minor" in case.flags
    assert case.priority == "urgent"
    assert "household" not in case.answers and case.household.adults is None


async def test_declining_to_describe_health_keeps_going_and_is_recorded(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="consent.health_details")
    await chat.say("no")
    assert chat.field == "reintegration_interest"
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    case = (await engine.store.cases())[0]
    assert case.consent is not None and case.consent.scopes["health_details"] is False
    assert "health_details" not in case.answers


async def test_eu15_nationals_are_told_and_flagged(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="applicant.nationality")
    await chat.say("Portugal")
    assert "15 first EU member states" in chat.text
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    case = (await engine.store.cases())[0]
    assert "eu15_national" in case.flags


# Typed the way people write in each language: words, country names and dates in that
# language, choices by their translated title or number.
TYPED = {
    "fr": dict(
        VOLUNTARY_RETURN,
        **{
            "consent.data_processing": "oui", "destination_country": "Géorgie",
            "applicant.nationality": "géorgie", "in_reception": "oui", "unaccompanied_minor": "non",
            "assisted_return_last_5y": "non", "health_needs": "oui", "consent.health_details": "oui",
            "departure_from": "15 janvier 2027", "consent.share_fedasil": "oui",
            "health_details": "besoin d'insuline tous les jours",
            "consent.share_iom": "oui", "consent.share_caritas": "non", "travel_document": "1",
        },
    ),
    "nl": dict(
        VOLUNTARY_RETURN,
        **{
            "consent.data_processing": "ja", "destination_country": "Georgië",
            "applicant.nationality": "Georgie", "in_reception": "ja", "unaccompanied_minor": "nee",
            "assisted_return_last_5y": "nee", "health_needs": "ja", "consent.health_details": "ja",
            "departure_from": "15 januari 2027", "consent.share_fedasil": "ja",
            "health_details": "heeft elke dag insuline nodig",
            "consent.share_iom": "ja", "consent.share_caritas": "nee", "travel_document": "1",
        },
    ),
}
ENGLISH_ONLY = (" the ", " your ", "Please", " you ", "Yes", "What ")


@pytest.mark.parametrize("lang", ["fr", "nl"])
async def test_whole_journey_in_french_and_dutch(engine: Engine, lang: str) -> None:
    chat = Chat(engine, lang=lang)
    await chat.say("/start")
    await chat.say("/voluntary_return")
    await chat.answer_until(TYPED[lang])
    await chat.say("/confirm")
    shown = [text for direction, text in chat.transcript if direction == "out"]
    shown += chat.button_titles
    for text in shown:
        leaks = [w for w in ENGLISH_ONLY if w in f" {text} "]
        assert not leaks, f"English in the {lang} journey: {text!r}"
    case = (await engine.store.cases())[0]
    assert case.language == lang
    assert case.answers["destination_country"] == "GE" and case.applicant.nationality == "GE"
    assert case.answers["departure_from"] == "2027-01-15"
    assert case.answers["travel_document"] == "valid"
    assert case.consent is not None and case.consent.scopes["share_caritas"] is False
    assert case.reference in chat.text


async def test_premium_is_quoted_from_content_with_its_date(engine: Engine) -> None:
    chat = Chat(engine)
    await start_journey(chat)
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.children")
    await chat.say("1")
    assert "€50.00 per adult and €25.00 per child" in chat.text  # Georgia: no visa needed
    assert "last checked on November 1, 2026" in chat.text


async def test_a_figure_past_its_review_date_is_not_stated(engine: Engine, clock: Clock) -> None:
    clock.now = datetime(2027, 3, 1, 10, 0, tzinfo=timezone.utc)  # past review_by
    chat = Chat(engine)
    await start_journey(chat)
    answers = dict(VOLUNTARY_RETURN, departure_from="15/04/2027")
    await chat.answer_until(answers, stop_at="household.children")
    await chat.say("1")
    assert "€" not in chat.text
    assert "https://www.fedasil.be/en/voluntary-return/return-journey" in chat.text


async def test_country_questions_offer_likely_countries_and_still_take_any(engine: Engine) -> None:
    chat = Chat(engine, lang="ka")
    await chat.say("/voluntary_return")
    await chat.say("yes")
    assert chat.field == "destination_country"
    assert chat.payloads[0] == "GE" and chat.button_titles[0] == "საქართველო"
    assert chat.expects is not None and "choices" not in chat.expects  # free text stays the answer
    await chat.say("GE")
    assert chat.field == "applicant.nationality"
    # The country already named comes first, the flow's own choices stay last.
    assert chat.payloads[0] == "GE"
    assert chat.payloads[-2:] == ["stateless", "unknown"]

    other = Chat(engine, sender="applicant-2")
    await other.say("/voluntary_return")
    await other.say("yes")
    assert other.payloads == ["BR", "MD", "SY", "CO"]  # en: the most frequent return destinations
    await other.say("Senegal")
    assert other.field == "applicant.nationality"
    assert other.payloads[:4] == ["SN", "BR", "MD", "SY"]
