"""Every branch of the visa decision path (DOMAIN.md §2), with the content tables' data.

Today is 23 November 2026 (tests/conftest.py); dates below are chosen around it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import use_locale

from .chat import Chat
from .conftest import Clock

SHORT_TRIP = {
    "nationality": "Morocco",
    "currently_in_belgium": "no",
    "refusal_received": "no",
    "residence_country": "Morocco",
    "legal_residence": "yes",
    "purpose": "tourism",
    "intended_stay_days": "20",
    "main_destination_belgium": "yes",
    "planned_arrival": "01/03/2027",
    "passport_expiry": "01/01/2030",
    "wants_followup": "no",
}


async def visa(engine: Engine, sender: str = "v", **changes: Any) -> Chat:
    """Run the visa journey with SHORT_TRIP's answers, changed by ``changes``, until the
    question about a follow-up (or the end)."""
    chat = Chat(engine, sender=sender)
    await chat.say("/visa_info")
    answers = {**SHORT_TRIP, **changes}
    seen: list[str] = []
    for _ in range(40):
        field = chat.field
        if field is None or field == "wants_followup":
            break
        seen.append(field)
        await chat.say(answers[field])
    chat.asked = seen  # type: ignore[attr-defined]
    return chat


def recap(chat: Chat) -> str:
    """The one message to keep."""
    found = [r.text for r in chat.replies if r.text.startswith("Here is everything in one message")]
    assert found, "no recap shown"
    return found[-1]


async def test_visa_required_short_stay_gets_a_c_visa_with_where_what_fee_and_time(engine: Engine) -> None:
    chat = await visa(engine)
    text = recap(chat)
    assert "short-stay Schengen visa (type C)" in text
    assert "https://visaonweb.diplomatie.be" in text
    assert "travel medical insurance" in text
    assert "€90.00" in text and "€45.00" in text and "last checked on November 1, 2026" in text
    assert "Warning" not in text
    assert chat.field == "wants_followup"
    await chat.say("no")
    assert await engine.store.cases() == []


async def test_eu_citizens_need_no_visa_and_are_not_asked_more(engine: Engine) -> None:
    chat = await visa(engine, nationality="France")
    assert chat.asked == ["nationality"]  # type: ignore[attr-defined]
    assert "do not need a visa" in recap(chat)


async def test_visa_free_nationality_short_trip(engine: Engine) -> None:
    chat = await visa(engine, nationality="Brazil", residence_country="Brazil")
    text = recap(chat)
    assert "you do not need a visa for a stay of up to 90 days" in text
    assert "type C" not in text
    assert "main_destination_belgium" not in chat.asked  # type: ignore[attr-defined]


async def test_visa_free_nationality_still_needs_a_d_visa_for_a_long_stay(engine: Engine) -> None:
    chat = await visa(engine, nationality="Brazil", intended_stay_days="200", purpose="other")
    assert "long-stay visa (type D)" in recap(chat)


async def test_too_late_and_passport_too_short_are_warned(engine: Engine) -> None:
    chat = await visa(engine, planned_arrival="28/11/2026", passport_expiry="01/02/2027")
    text = recap(chat)
    assert "at least 15 days before you travel" in text
    # 28 Nov 2026 + 20 days = 18 Dec 2026, + 3 months = 18 March 2027
    assert "valid until at least March 18, 2027" in text


async def test_too_early_gives_the_first_day_to_apply(engine: Engine) -> None:
    chat = await visa(engine, planned_arrival="10/08/2027")
    assert "Please wait until February 10, 2027 to apply" in recap(chat)


async def test_belgium_not_the_main_destination(engine: Engine) -> None:
    chat = await visa(engine, main_destination_belgium="no")
    assert "apply to the embassy or consulate of the country where you will spend most" in recap(chat)


async def test_embassy_itself_for_marriage(engine: Engine) -> None:
    chat = await visa(engine, purpose="marriage")
    assert "not through a service provider" in recap(chat)


async def test_refusal_within_30_days_gives_the_call_deadline_and_an_urgent_case(engine: Engine) -> None:
    chat = await visa(engine, refusal_received="yes", refusal_received_on="10/11/2026")
    assert "until December 10, 2026" in recap(chat)
    await chat.say("yes")
    await chat.say("yes")
    await chat.say("Youssef Alaoui")
    await chat.say("email")
    await chat.say("youssef@example.org")
    assert chat.field is None  # the summary
    await chat.say("/confirm")
    [case] = await engine.store.cases()
    assert case.kind == "visa_question" and case.priority == "urgent"
    assert {"refusal_deadline", "visa_refused"} <= set(case.flags)
    assert case.answers["refusal_received_on"] == "2026-11-10"
    assert case.answers["nationality"] == "MA" and case.applicant.email == "youssef@example.org"
    assert case.reference in chat.text


async def test_refusal_older_than_30_days_says_the_deadline_passed(engine: Engine) -> None:
    chat = await visa(engine, refusal_received="yes", refusal_received_on="01/09/2026")
    text = recap(chat)
    assert "ended on October 1, 2026" in text and "until" not in text


async def test_already_in_belgium_goes_to_a_person(engine: Engine) -> None:
    chat = await visa(engine, currently_in_belgium="yes")
    assert "through the municipality" in recap(chat)
    assert "purpose" not in chat.asked  # type: ignore[attr-defined]


async def test_study_needs_a_d_visa_and_a_passport_valid_12_months(engine: Engine) -> None:
    chat = await visa(engine, purpose="study", intended_stay_days="300", passport_expiry_study="01/06/2027")
    text = recap(chat)
    assert "long-stay visa (type D)" in text and "annex 32" in text
    assert "must be valid for more than 12 months" in text
    assert "https://dofi.ibz.be/en/themes/third-country-nationals/administrative-fee" in text
    assert "€" not in text  # no current official D-visa figure: the page, never an amount


async def test_work_goes_through_the_employer_single_permit(engine: Engine) -> None:
    chat = await visa(engine, purpose="work", intended_stay_days="365")
    assert "single permit" in recap(chat)


async def test_family_reunification_with_a_refugee(engine: Engine) -> None:
    chat = await visa(engine, purpose="family_reunification", intended_stay_days="3650", sponsor_status="refugee")
    text = recap(chat)
    assert "€2,323.00" in text and "plus 10% for each extra family member" in text and "within 6" in text


def test_a_rate_is_written_the_way_of_the_language(flows: FlowSet) -> None:
    """A rate is a fact, so no text holds a literal ``%`` that gettext takes for printf."""
    rate = flows.content.get("family_reunification_income_per_member")
    assert rate.formatted() == "10%"
    with use_locale("tr"):
        assert rate.formatted() == "%10"
    with use_locale("fr"):
        assert rate.formatted() == "10\u00a0%"


async def test_stateless_gets_a_person(engine: Engine) -> None:
    chat = await visa(engine, nationality="stateless")
    assert "A person should look at your situation" in recap(chat)


async def test_a_fee_past_its_review_date_is_not_stated(engine: Engine, clock: Clock) -> None:
    clock.now = datetime(2027, 3, 1, 10, 0, tzinfo=timezone.utc)  # past review_by of the fees
    chat = await visa(engine, planned_arrival="01/06/2027")
    text = recap(chat)
    assert "€" not in text
    assert "Please check the official page: https://home-affairs.ec.europa.eu" in text
