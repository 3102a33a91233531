"""The case's conversation in the back office, over HTTP: messaging the applicant (free
text or a template in their language), taking over and handing back, the panel, the
status-change notice and its opt-out, the answers' labels in two languages; every form
needs its CSRF token and a case out of reach answers 404."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import gettext, use_locale
from bot.messaging import TEMPLATES
from bot.store.models import CaseRow
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import make_case, make_user
from .backoffice_http import client, page_csrf, sign_in
from .conftest import START, Clock
from .serving import services_for, serving

SENDER = "web-applicant-5c1e9a7b3d2f"
WEBHOOK = "/webhooks/rest/webhook"
KEPT = "/webhooks/rest/kept"


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[tuple[str, Store, str, str]]:
    """The app with the web chat's REST channel; a French-speaking applicant with a
    voluntary-return case (Fedasil's) and a visa question of someone else (not Fedasil's)."""
    d = StaffDirectory(store)
    for email, role, org in (
        ("fedasil@example.org", "caseworker", "fedasil"),
        ("io@example.org", "caseworker", "immigration-office"),
        ("partner@example.org", "partner", "ngo"),
    ):
        await make_user(d, email, role, org, START)
    engine = Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    app = create_app(services_for(engine, flows), [RestChannel(engine)])
    async with serving(app) as base:
        async with aiohttp.ClientSession(base) as web:
            await say(web, "/language fr")
        vr = await make_case(
            store, START, "voluntary_return", "voluntary_return", sender=SENDER,
            answers={"destination_country": "GE"}, share=("ngo",),
        )
        visa = await make_case(store, START, "visa_question", "visa_info", sender="someone-else-0001")
        yield base, store, vr.reference, visa.reference


async def say(web: aiohttp.ClientSession, text: str) -> list[dict[str, Any]]:
    async with web.post(WEBHOOK, json={"sender": SENDER, "message": text}) as response:
        assert response.status == 200
        return await response.json()


async def kept(web: aiohttp.ClientSession) -> list[str]:
    async with web.post(KEPT, json={"sender": SENDER}) as response:
        return [m["text"] for m in await response.json()]


@contextlib.asynccontextmanager
async def staff(base: str, email: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with client(base) as session:
        assert (await sign_in(session, email)).status == 303
        yield session


async def post(session: aiohttp.ClientSession, path: str, **data: str) -> aiohttp.ClientResponse:
    token = await page_csrf(session, "/backoffice/cases")
    async with session.post(path, data={"csrf_token": token, **data}, allow_redirects=False) as response:
        await response.read()
        return response


async def text_of(session: aiohttp.ClientSession, path: str) -> str:
    async with session.get(path) as response:
        assert response.status == 200, response.status
        return unescape(await response.text())


async def test_a_template_reaches_the_applicant_in_their_language_and_is_audited_without_text(site) -> None:  # type: ignore[no-untyped-def]
    base, store, reference, _ = site
    async with staff(base, "fedasil@example.org") as session:
        response = await post(session, f"/backoffice/cases/{reference}/message", template="documents")
        assert response.status == 303 and "delivery=kept" in response.headers["Location"]
        page = await text_of(session, response.headers["Location"])
        assert "Kept: the applicant will see it at their next visit." in page
        with use_locale("fr"):
            french = gettext(TEMPLATES["documents"], reference=reference)
        assert french in page  # in the conversation panel, as the applicant sees it
        assert "We need more documents to handle your request" in page  # and in the staff's language
    async with aiohttp.ClientSession(base) as web:
        [message] = await kept(web)
        assert french in message and reference in message
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(CaseRow).where(CaseRow.reference == reference))).one()
    assert row.first_answer_at == START and row.status == "submitted"
    lines, _ = await StaffDirectory(store).audit_log(case_reference=reference)
    [entry] = [line for line in lines if line.action == "message"]
    assert entry.detail == "template=documents;delivery=kept"


async def test_a_free_text_message_and_the_applicants_answer_go_to_the_case(site) -> None:  # type: ignore[no-untyped-def]
    base, store, reference, _ = site
    async with staff(base, "fedasil@example.org") as session:
        response = await post(session, f"/backoffice/cases/{reference}/message", text="Is your passport valid?")
        assert response.status == 303
        async with aiohttp.ClientSession(base) as web:
            assert "Is your passport valid?" in (await kept(web))[0]
            replies = await say(web, "Oui, jusqu'en 2030")
            assert reference in replies[0]["text"]
        panel = await text_of(session, f"/backoffice/cases/{reference}/conversation")
        assert "Oui, jusqu'en 2030" in panel and f"answers {reference}" in panel
    lines, _ = await StaffDirectory(store).audit_log(case_reference=reference)
    assert all("passport" not in (line.detail or "") for line in lines)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Write a message or choose a template."),
        ({"template": "documents", "text": "and more"}, "Choose a template or write a message, not both."),
        ({"template": "bribe"}, "Choose one of the templates."),
        ({"text": "x" * 2001}, "The message is too long."),
    ],
)
async def test_a_bad_message_form_is_refused_with_a_clear_message(site, data: dict[str, str], error: str) -> None:  # type: ignore[no-untyped-def]
    base, _, reference, _ = site
    async with staff(base, "fedasil@example.org") as session:
        response = await post(session, f"/backoffice/cases/{reference}/message", **data)
        assert response.status == 303
        assert error in await text_of(session, response.headers["Location"])
    async with aiohttp.ClientSession(base) as web:
        assert await kept(web) == []


async def test_forms_need_their_csrf_token_and_cases_out_of_reach_answer_404(site) -> None:  # type: ignore[no-untyped-def]
    base, _, reference, visa = site
    async with staff(base, "fedasil@example.org") as session:
        for action in ("message", "takeover", "handback"):
            async with session.post(
                f"/backoffice/cases/{reference}/{action}", data={"text": "hello"}, allow_redirects=False
            ) as response:
                assert response.status == 403, action
            response = await post(session, f"/backoffice/cases/{visa}/{action}", text="hello")
            assert response.status == 404, action  # the visa question is not Fedasil's
        async with session.get(f"/backoffice/cases/{visa}/conversation") as response:
            assert response.status == 404
    async with staff(base, "partner@example.org") as session:  # sees the case, may not write
        assert "Message the applicant" not in await text_of(session, f"/backoffice/cases/{reference}")
        for action in ("message", "takeover"):
            response = await post(session, f"/backoffice/cases/{reference}/{action}", text="hello")
            assert response.status == 403, action
    async with aiohttp.ClientSession(base) as web:
        assert await kept(web) == []


async def test_take_over_show_who_and_until_then_hand_back(site, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    base, store, reference, _ = site
    async with staff(base, "fedasil@example.org") as session:
        response = await post(session, f"/backoffice/cases/{reference}/takeover")
        assert response.status == 303
        page = await text_of(session, f"/backoffice/cases/{reference}")
        assert "Taken over by fedasil@example.org until 2026-11-23 11:30" in page  # Brussels time
        assert 'data-live="/backoffice/cases/' in page and "Hand back to the bot" in page
        async with aiohttp.ClientSession(base) as web:
            replies = await say(web, "Allô ? Il y a quelqu'un ?")
            with use_locale("fr"):
                assert replies[0]["text"].startswith(gettext("A person is reading your messages now and will answer you here. For an emergency, type /urgent_help.")[:20])
            assert len(replies) == 1  # the bot says it once, and nothing else
            panel = await text_of(session, f"/backoffice/cases/{reference}/conversation")
            assert "Il y a quelqu'un ?" in panel and "Taken over by" in panel
            response = await post(session, f"/backoffice/cases/{reference}/handback")
            assert "delivery=kept" in response.headers["Location"]
            with use_locale("fr"):
                assert await kept(web) == [gettext("You are talking to the automated assistant again.")]
        page = await text_of(session, f"/backoffice/cases/{reference}")
        assert "Taken over by" not in page and "Take over the conversation" in page
    lines, _ = await StaffDirectory(store).audit_log(case_reference=reference)
    assert {"take_over", "hand_back"} <= {line.action for line in lines}


async def test_a_status_change_tells_the_applicant_unless_they_opted_out(site) -> None:  # type: ignore[no-untyped-def]
    base, store, reference, _ = site
    async with staff(base, "fedasil@example.org") as session, aiohttp.ClientSession(base) as web:
        response = await post(session, f"/backoffice/cases/{reference}/status", status="in_review", reason="checking")
        assert "delivery=kept" in response.headers["Location"]
        with use_locale("fr"):
            status = gettext("being handled by a person")
        [notice] = await kept(web)
        assert reference in notice and status in notice and "Nouveau statut" in notice

        replies = await say(web, "/case_status updates off")
        assert "ne serez plus prévenu" in replies[0]["text"]
        response = await post(
            session, f"/backoffice/cases/{reference}/status", status="waiting_for_applicant", reason="documents"
        )
        assert "delivery=opted_out" in response.headers["Location"]
        assert "Not sent: the applicant asked not to be told" in await text_of(session, response.headers["Location"])
        assert await kept(web) == []
    lines, _ = await StaffDirectory(store).audit_log(case_reference=reference)
    assert [line.detail for line in lines if line.action == "status_notice"] == ["delivery=opted_out", "delivery=kept"]


async def test_answer_labels_are_in_the_staff_language_next_to_the_applicants(site) -> None:  # type: ignore[no-untyped-def]
    base, _, reference, _ = site
    async with staff(base, "fedasil@example.org") as session:
        page = await text_of(session, f"/backoffice/cases/{reference}")
    assert re.search(r"<dt>Country of return <small[^>]*>\(Pays de retour\)</small></dt>", page)


async def test_the_panel_shows_the_bots_messages_in_the_staff_language(site) -> None:  # type: ignore[no-untyped-def]
    base, _, reference, _ = site
    async with aiohttp.ClientSession(base) as web:
        await say(web, "/case_status")
    async with staff(base, "fedasil@example.org") as session:
        panel = await text_of(session, f"/backoffice/cases/{reference}/conversation")
    assert re.search(rf"In your language: [^<]*{reference}: received \(since", panel)  # French above it
    assert re.search(rf"{reference} : demande reçue \(depuis le", panel)
    assert re.search(r"Retirer [A-Z]{2}-\w+ · Withdraw [A-Z]{2}-\w+", panel)  # a button, both ways


async def test_the_applicant_withdraws_from_the_chat_and_staff_see_it_in_the_history(site) -> None:  # type: ignore[no-untyped-def]
    base, _, reference, _ = site
    async with aiohttp.ClientSession(base) as web:
        replies = await say(web, "/case_status")
        assert any(b["payload"] == f"/case_status withdraw {reference}" for r in replies for b in r.get("buttons", []))
        replies = await say(web, f"/case_status withdraw {reference}")
        assert "Voulez-vous vraiment retirer" in replies[0]["text"]
        replies = await say(web, f"/case_status withdraw {reference} confirm")
        assert reference in replies[0]["text"] and "retirée" in replies[0]["text"]
    async with staff(base, "fedasil@example.org") as session:
        page = await text_of(session, f"/backoffice/cases/{reference}")
        assert '<strong class="status">Withdrawn</strong>' in page
        assert "Withdrawn</strong> · applicant" in page and "This case is final." in page
        response = await post(session, f"/backoffice/cases/{reference}/status", status="in_review", reason="oops")
        assert "error=" in response.headers["Location"]  # final: staff cannot reopen it
