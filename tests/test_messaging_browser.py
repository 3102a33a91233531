"""Staff and applicant in two headless Chromium windows: a caseworker messages the
applicant from the case page and the message arrives in the open web chat; the caseworker
takes over, the applicant's message appears in the case's conversation panel without a
reload (static/conversation.js), and after the hand-back the bot's notice arrives in the
web chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import PASSWORD, make_case, make_user
from .browser import (  # noqa: F401
    CHROMIUM,
    TIMEOUT_MS,
    VIEWPORT,
    browser,
    page,
    sign_in,
    skip_without_chromium,
    state,
    turn,
    type_answer,
)
from .conftest import START, Clock
from .serving import services_for, serving

skip_without_chromium()

from playwright.async_api import Page, expect

LIVE_MS = 15_000
"""Long enough for the panel's refresh (every 4 s) and the chat's check for kept messages."""


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), "fedasil@example.org", "caseworker", "fedasil", START)
    engine = Engine(sqlite_store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    app = create_app(services_for(engine, flows), [WebChatPage(), RestChannel(engine)])
    async with serving(app) as url:
        yield url


@pytest.fixture
async def staff_page(browser: Any, base_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT, locale="en-US", base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    await context.route(lambda url: not url.startswith(base_url + "/"), lambda route: route.abort())
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def chat_shows(chat: Page, text: str) -> None:
    """Wait until the web chat shows ``text``; focusing the window makes it ask at once for
    what staff wrote (it also asks every 15 s)."""
    log = chat.locator("#log")
    for _ in range(LIVE_MS // 1000):
        await chat.evaluate("() => window.dispatchEvent(new Event('focus'))")
        if text in await log.inner_text():
            return
        await chat.wait_for_timeout(1000)
    await expect(log).to_contain_text(text)


async def test_message_take_over_and_hand_back_between_the_case_page_and_the_web_chat(
    page: Page, staff_page: Page, sqlite_store: Store
) -> None:
    chat = page
    await turn(chat, lambda: chat.goto("/"))
    await expect(chat.locator("#choices button").first).to_be_visible()
    sender = (await state(chat))["sender"]
    case = await make_case(sqlite_store, START, "voluntary_return", "voluntary_return", sender=sender)

    await sign_in(staff_page, "fedasil@example.org", PASSWORD)
    await staff_page.goto(f"/backoffice/cases/{case.reference}")
    await staff_page.locator("#applicant-contact summary").click()  # the templates' texts
    width = await staff_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"the case page is {width} px wide on a phone"

    # A template, sent in the applicant's language, arrives in the open web chat.
    await staff_page.get_by_label("Template").select_option("documents")
    await staff_page.get_by_role("button", name="Send to the applicant").click()
    await expect(staff_page.locator(".delivery")).to_contain_text("Kept: the applicant will see it")
    await chat_shows(chat, f"We need more documents to handle your request {case.reference}")

    # Take over: the applicant's words appear in the case without a reload.
    await staff_page.get_by_role("button", name="Take over the conversation").click()
    await expect(staff_page.locator(".takeover")).to_contain_text("Taken over by fedasil@example.org")
    await type_answer(chat, "Is my ticket booked?")
    await expect(chat.locator("#log")).to_contain_text("A person is reading your messages now")
    await expect(staff_page.locator("#conversation")).to_contain_text("Is my ticket booked?", timeout=LIVE_MS)
    await expect(staff_page.locator("#conversation .takeover")).to_contain_text("Taken over by")  # still, after the refresh

    # Hand back: the bot tells the applicant, in the web chat.
    await staff_page.get_by_role("button", name="Hand back to the bot").click()
    await expect(staff_page.locator(".takeover")).to_have_count(0)
    await chat_shows(chat, "You are talking to the automated assistant again.")

    # A status change is told in the web chat too.
    await staff_page.get_by_label("New status").select_option("in_review")
    await staff_page.get_by_label("Reason").fill("Documents received")
    await staff_page.get_by_role("button", name="Change the status").click()
    await expect(staff_page.locator(".status")).to_have_text("In review")
    await chat_shows(chat, f"News about your request {case.reference}. New status: being handled by a person.")
