"""Assisted intake over HTTP: a partner runs a whole journey for an applicant from the
back office (the same engine and validation), the case records who, for which
organisation and how consent was given, the partner's organisation sees it and another
NGO does not, the applicant's printable summary is in their language, and the one-time
link code moves the case to the applicant's own chat once, never twice, never late."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy import text as text_sql

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import gettext, use_locale
from bot.messaging import ApplicantMessenger, Delivery
from bot.store.models import CaseRow, Conversation
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import make_user
from .backoffice_http import client, csrf_of, page_csrf, sign_in
from .chat import VOLUNTARY_RETURN, Chat
from .conftest import START, Clock
from .serving import services_for, serving

FIELD = re.compile(r'data-field="([^"]*)"')
PAYLOAD = re.compile(r'<button type="submit" name="payload" value="([^"]*)"')
MESSAGE_ID = re.compile(r'name="message_id" value="([^"]+)"')
CODE = re.compile(r'<p class="code" dir="ltr">/link ([A-Z0-9]{4}-[A-Z0-9]{4})</p>')


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    directory = StaffDirectory(store)
    if "caritas" not in [slug for slug, _, _ in await directory.organisations()]:
        await directory.add_organisation("caritas", "Caritas")  # kept between tests on PostgreSQL
    await make_user(directory, "outreach@ngo.example", "partner", "ngo", START)
    await make_user(directory, "outreach@caritas.example", "partner", "caritas", START)
    await make_user(directory, "audit@example.org", "auditor", "fedasil", START)
    # The back office with the web chat's REST channel, as `intake serve` runs them.
    engine = Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    async with serving(create_app(services_for(engine, flows), [RestChannel(engine)])) as base:
        yield base


class Desk:
    """A signed-in staff member's browser on the assisted-intake page (no JavaScript)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.url = ""
        self.page = ""

    async def start(self, flow: str, language: str, consent_method: str | None) -> aiohttp.ClientResponse:
        token = await page_csrf(self.session, "/backoffice/assisted")
        form = {"csrf_token": token, "flow": flow, "language": language}
        if consent_method:
            form["consent_method"] = consent_method
        async with self.session.post("/backoffice/assisted", data=form) as response:
            self.page, self.url = await response.text(), str(response.url.path)
            return response

    @property
    def field(self) -> str | None:
        found = FIELD.search(self.page)
        return found[1] or None if found else None

    @property
    def payloads(self) -> list[str]:
        return [html.unescape(p) for p in PAYLOAD.findall(self.page)]

    @property
    def said(self) -> str:
        return html.unescape(" ".join(re.findall(r'<p class="say">(.*?)</p>', self.page, re.DOTALL)))

    async def send(self, value: str, *, message_id: str | None = None) -> None:
        """Click the button whose payload is ``value``, else type it."""
        form = {"csrf_token": csrf_of(self.page), "message_id": message_id or MESSAGE_ID.search(self.page)[1]}  # type: ignore[index]
        form["payload" if value in self.payloads else "text"] = value
        async with self.session.post(self.url, data=form) as response:
            assert response.status == 200, response.status
            self.page = await response.text()

    async def answer_until_summary(self, answers: dict[str, Any]) -> None:
        for _ in range(60):
            field = self.field
            if field is None:
                return
            value = answers[field]
            for item in value if isinstance(value, list) else [value]:
                await self.send(item)
            if isinstance(value, list):
                await self.send("/done")
        raise AssertionError("the journey did not end")


async def _assisted_return(base: str, language: str = "ar") -> tuple[Desk, aiohttp.ClientSession]:
    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    assert (await sign_in(session, "outreach@ngo.example")).status == 303
    desk = Desk(session)
    response = await desk.start("voluntary_return", language, "read_aloud")
    assert response.status == 200 and desk.url.startswith("/backoffice/assisted/")
    await desk.answer_until_summary(VOLUNTARY_RETURN)
    assert desk.payloads == ["/confirm", "/edit"]
    await desk.send("/confirm")
    return desk, session


async def test_a_partner_runs_a_voluntary_return_for_an_applicant(site: str, store: Store) -> None:
    desk, session = await _assisted_return(site)
    async with session:
        reference = re.search(r'<strong class="reference">(VR-[A-Z0-9]{6})</strong>', desk.page)
        assert reference, "the page names the new case"
        assert 'lang="ar" dir="rtl"' in desk.page  # the bot's words, in the applicant's language
        case = await store.case(reference[1])
        assert case is not None
        assert (case.submitted_by, case.submitted_org, case.consent_method) == (
            "outreach@ngo.example", "ngo", "read_aloud"
        )
        assert case.channel == "assisted" and case.language == "ar"
        assert case.applicant.name == "Nino Beridze" and case.applicant.phone == "+32470123456"

        # The partner's organisation sees it in its list and its page ...
        async with session.get("/backoffice/cases?status=all") as listing:
            assert reference[1] in await listing.text()
        async with session.get(f"/backoffice/cases/{reference[1]}") as detail:
            text = await detail.text()
            assert detail.status == 200 and "outreach@ngo.example" in text and "Read aloud" in text

    # ... another NGO does not, by list or by address.
    async with client(site) as other:
        await sign_in(other, "outreach@caritas.example")
        async with other.get("/backoffice/cases?status=all") as listing:
            assert reference[1] not in await listing.text()
        async with other.get(f"/backoffice/cases/{reference[1]}") as detail:
            assert detail.status == 404
        # Nor does it reach the intake itself.
        async with other.get(desk.url) as page:
            assert page.status == 404


async def test_bad_input_gets_the_engines_localised_re_ask_and_a_double_click_counts_once(site: str, store: Store) -> None:
    async with client(site) as session:
        await sign_in(session, "outreach@ngo.example")
        desk = Desk(session)
        await desk.start("voluntary_return", "fr", "signed_form")
        assert desk.field == "consent.data_processing"
        await desk.send("yes")
        assert desk.field == "destination_country"
        await desk.send("Georgia")
        assert desk.field == "applicant.nationality"
        asked = desk.said
        message_id = MESSAGE_ID.search(desk.page)[1]  # type: ignore[index]
        await desk.send("zzzz-not-a-country", message_id=message_id)
        assert desk.field == "applicant.nationality"
        assert desk.said != asked and "pays" in desk.said.lower()  # the re-ask, in French
        # /link is the applicant's, in their own chat: in an intake it links nothing.
        await desk.send("/link 2345-6789")
        assert desk.field == "applicant.nationality" and "ce code" not in desk.said
        # The same form sent twice (a double click): answered once, from what was said.
        message_id = MESSAGE_ID.search(desk.page)[1]  # type: ignore[index]
        await desk.send("zzzz-not-a-country", message_id=message_id)
        first = desk.said
        await desk.send("GE", message_id=message_id)
        assert desk.said == first and desk.field == "applicant.nationality"
        # An answer longer than any question wants: refused, the question stays.
        form = {"csrf_token": csrf_of(desk.page), "message_id": "long-one", "text": "x" * 2001}
        async with session.post(desk.url, data=form) as refused:
            page = await refused.text()
            assert refused.status == 400 and "too long" in page and 'data-field="applicant.nationality"' in page
        # Opened again later (from "your recent intakes"): the same question, no new turn.
        turns = await _turns(store, desk.url)
        async with session.get(desk.url) as again:
            assert html.unescape(" ".join(re.findall(r'<p class="say">(.*?)</p>', await again.text(), re.DOTALL))) == first
        assert await _turns(store, desk.url) == turns


async def _turns(store: Store, intake_url: str) -> int:
    key = store.sender_key("assisted", intake_url.rsplit("/", 1)[1])
    async with store.reading() as db:
        conversation = (await db.scalars(select(Conversation.id).where(Conversation.sender_key == key))).one()
    return len(await store.transcript(conversation))


async def test_consent_must_be_recorded_before_the_journey(site: str, store: Store) -> None:
    async with client(site) as session:
        await sign_in(session, "outreach@ngo.example")
        desk = Desk(session)
        response = await desk.start("voluntary_return", "ar", None)
        assert response.status == 400 and "how the applicant gave consent" in desk.page
        response = await desk.start("voluntary_return", "xx", "read_aloud")
        assert response.status == 400
    async with store.reading() as db:
        assert (await db.scalars(select(CaseRow))).all() == []


async def test_an_auditor_cannot_run_an_intake(site: str) -> None:
    async with client(site) as session:
        await sign_in(session, "audit@example.org")
        async with session.get("/backoffice/assisted") as page:
            assert page.status == 403


async def _web_chat(session: aiohttp.ClientSession, sender: str, text: str) -> str:
    async with session.post("/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
        assert response.status == 200, await response.text()
        return "\n".join(m.get("text", "") for m in await response.json())


async def _summary_with_code(desk: Desk, session: aiohttp.ClientSession) -> tuple[str, str, str]:
    reference = re.search(r'<strong class="reference">(VR-[A-Z0-9]{6})</strong>', desk.page)[1]  # type: ignore[index]
    action = f"{desk.url}/cases/{reference}/code"
    async with session.post(action, data={"csrf_token": csrf_of(desk.page)}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        page = await response.text()
    code = CODE.search(page)
    assert code, "the summary shows the link code"
    return reference, code[1], page


async def test_the_printable_summary_is_in_the_applicants_language_with_a_one_time_code(
    site: str, store: Store, flows: FlowSet, clock: Clock
) -> None:
    desk, session = await _assisted_return(site, "ar")
    async with session:
        reference, code, page = await _summary_with_code(desk, session)
    with use_locale("ar"):
        title, keep = gettext("Your request"), gettext("Keep this sheet. Give your reference whenever you contact us.")
    assert title != "Your request"  # really translated
    sheets = re.findall(r'<article class="handout[^"]*" lang="([^"]+)" dir="([^"]+)">(.*?)</article>', page, re.DOTALL)
    assert [(lang, direction) for lang, direction, _ in sheets] == [("ar", "rtl"), ("en", "ltr")]
    arabic, english = html.unescape(sheets[0][2]), html.unescape(sheets[1][2])
    assert title in arabic and keep in arabic and reference in arabic
    assert "Your request" in english and "What happens next" in english and "Fedasil will contact you" in english
    stylesheet = re.search(r'href="(/backoffice/static/backoffice.css[^"]*)"', page)
    assert stylesheet
    async with aiohttp.ClientSession(site) as browser, browser.get(stylesheet[1]) as css:
        assert "@media print" in await css.text()  # the header, the buttons and the nav are not printed
    # Only a keyed hash of the code is kept.
    async with store.reading() as db:
        kept = (await db.execute(text_sql("SELECT code_hash FROM case_link_codes"))).scalars().all()
    assert len(kept) == 1 and code.replace("-", "") not in kept[0]

    async with aiohttp.ClientSession(site) as phone:
        sender = uuid.uuid4().hex
        said = await _web_chat(phone, sender, f"/link {code.lower()}")
        assert reference in said and "/case_status" in said
        assert reference in await _web_chat(phone, sender, "/case_status")
        # The same code again, from another chat: refused, the case stays where it is.
        other = uuid.uuid4().hex
        assert "already used" in await _web_chat(phone, other, f"/link {code}")
        assert reference not in await _web_chat(phone, other, "/case_status")
    # Staff messages now reach the applicant's web chat: the case is that conversation's.
    async with store.reading() as db:
        row = (await db.scalars(select(CaseRow).where(CaseRow.reference == reference))).one()
    address = await store.conversation_address(row.conversation_id)  # type: ignore[arg-type]
    assert address is not None and (address.channel, address.sender_id) == ("rest", sender)
    messenger = ApplicantMessenger(store, Engine(store, flows, clock=clock), [])
    assert await messenger.message(row.conversation_id, reference, "Please call us.") == Delivery.KEPT  # type: ignore[arg-type]
    async with aiohttp.ClientSession(site) as phone:
        said = await _web_chat(phone, sender, "/case_status")
        assert "Please call us." in said and reference in said  # shown at their next message
    # The intake still lists the case, as linked.
    async with client(site) as again:
        await sign_in(again, "outreach@ngo.example")
        async with again.get(desk.url) as intake:
            assert "linked to the applicant" in await intake.text()


async def test_an_expired_code_and_too_many_wrong_codes_are_refused(site: str, clock: Clock) -> None:
    desk, session = await _assisted_return(site, "fr")
    async with session:
        reference, code, _ = await _summary_with_code(desk, session)
    clock.advance(days=15)
    async with aiohttp.ClientSession(site) as phone:
        sender = uuid.uuid4().hex
        assert "expired" in await _web_chat(phone, sender, f"/link {code}")
        assert reference not in await _web_chat(phone, sender, "/case_status")
        assert "I do not know this code" in await _web_chat(phone, sender, "/link 2345-6789")
        assert "I do not know this code" in await _web_chat(phone, sender, "/link nonsense")
        for _ in range(2):
            await _web_chat(phone, sender, "/link ABCD-EFGH")
        assert "Too many attempts" in await _web_chat(phone, sender, "/link ABCD-EFGH")


async def test_link_answers_are_in_the_applicants_language(engine: Engine) -> None:
    chat = Chat(engine, lang="ar")
    await chat.say("/link 2345-6789")
    with use_locale("ar"):
        unknown = gettext(
            "I do not know this code. Please check it: it has 8 letters and numbers, as printed on your sheet."
        )
        how = gettext(
            "To follow a request that a staff member sent for you, type /link and the code "
            "on your sheet, for example: /link 7K3M-9QXA"
        )
    assert unknown.startswith("لا أعرف هذا الرمز")  # the Arabic catalog's, not the English text
    assert chat.replies[0].text == unknown
    await chat.say("/link")
    assert chat.replies[0].text == how
