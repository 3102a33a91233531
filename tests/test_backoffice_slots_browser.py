"""Appointments in headless Chromium on a 360 px phone: an admin creates a slot in the
back office, an applicant books it through the web chat's REST channel, and the booking
shows on the day view, which is no wider than the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import PASSWORD, make_user
from .browser import CHROMIUM, browser, fits_phone, page, sign_in, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .chat import answer_by_field
from .conftest import START, Clock
from .serving import services_for, serving
from .test_protection import PROTECTION

skip_without_chromium()

from playwright.async_api import Page, expect  # noqa: E402

WEBHOOK = "/webhooks/rest/webhook"
SENDER = "web-1-5c0a7e2b9d41"


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), "admin@example.org", "admin", "immigration-office", START)
    engine = Engine(sqlite_store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    app = create_app(services_for(engine, flows), [RestChannel(engine), WebChatPage()])
    async with serving(app) as base:
        yield base


async def _book_over_rest(base: str) -> str:
    """The applicant's side, as the web chat sends it: the journey, the first free time."""
    replies: list[dict] = []

    async with aiohttp.ClientSession() as session:
        async def say(text: str) -> None:
            async with session.post(base + WEBHOOK, json={"sender": SENDER, "message": text}) as response:
                assert response.status == 200
                replies[:] = await response.json()

        def field() -> str | None:
            for reply in reversed(replies):
                expects = reply.get("custom", {}).get("expects")
                if expects:
                    return expects.get("field")
            return None

        await say("/protection_registration")
        await answer_by_field(field, say, PROTECTION, stop_at="slot")
        assert field() == "slot"
        buttons = [b for r in replies for b in r.get("buttons", [])]
        assert [b["title"] for b in buttons] == ["Tuesday, December 1, 2026, 9:00\u202fAM"]
        await say(buttons[0]["payload"])
        await say("/confirm")
        text = "\n".join(r["text"] for r in replies)
    assert "Your appointment is booked" in text
    return text.split("Your reference is ")[1][:9]


async def test_admin_creates_a_slot_an_applicant_books_it_and_the_day_view_shows_it(page: Page, base_url: str) -> None:
    await sign_in(page, "admin@example.org", PASSWORD)
    await page.get_by_role("link", name="Appointments").click()
    await expect(page.locator("h1")).to_contain_text("Appointments on Monday, November 23, 2026")
    await expect(page.locator("main")).to_contain_text("No slots on this day.")
    await fits_phone(page)

    await page.get_by_label("First start").fill("2026-12-01T09:00")
    await page.get_by_label("End").fill("09:30")
    await page.get_by_label("Every").fill("30m")
    await page.get_by_label("Seats per slot").fill("1")
    await page.get_by_role("button", name="Create slots").click()
    await expect(page.locator(".done")).to_have_text("Slots created: 1.")
    await expect(page.locator("h1")).to_contain_text("Appointments on Tuesday, December 1, 2026")
    await expect(page.locator(".slot")).to_have_count(1)
    await expect(page.locator(".slot")).to_contain_text("0/1 booked")

    reference = await _book_over_rest(base_url)

    await page.reload()
    slot = page.locator(".slot")
    await expect(slot).to_contain_text("1/1 booked")
    await expect(slot.get_by_role("link", name=reference)).to_be_visible()
    await expect(slot.get_by_role("button", name="Cancel and tell the applicant")).to_be_visible()
    await expect(slot.get_by_role("button", name="Remove this slot")).to_have_count(0)  # booked: cannot go
    await fits_phone(page)

    await page.get_by_role("link", name="Previous day").click()
    await expect(page.locator("h1")).to_contain_text("Appointments on Monday, November 30, 2026")
    await page.get_by_role("link", name="Next day").click()
    await expect(page.locator("h1")).to_contain_text("Appointments on Tuesday, December 1, 2026")
    await slot.get_by_role("link", name=reference).click()
    await expect(page.locator("h1")).to_contain_text(reference)
