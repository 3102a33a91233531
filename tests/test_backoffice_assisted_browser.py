"""A partner's assisted intake in headless Chromium on a 360 px phone: start with the
applicant's language and how they gave consent, answer the journey by clicking the bot's
buttons and typing, then print the summary with its link code. Nothing is wider than the
screen, and the printed page is only the summary."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_user
from .backoffice_http import backoffice
from .browser import CHROMIUM, browser, fits_phone, page, sign_in, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .chat import VOLUNTARY_RETURN
from .conftest import START, Clock

skip_without_chromium()

from playwright.async_api import Page, expect


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), "outreach@ngo.example", "partner", "ngo", START)
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base


async def _send(page: Page, value: str) -> None:
    """Click the bot's button for ``value`` when there is one, else type it and Send."""
    button = page.locator(f'form.answer button[name=payload][value="{value}"]')
    async with page.expect_navigation():
        if await button.count():
            await button.first.click()
        else:
            await page.locator("form.answer input[name=text]").fill(value)
            await page.get_by_role("button", name="Send", exact=True).click()


async def test_a_partner_does_an_assisted_intake_on_a_phone(page: Page) -> None:
    await sign_in(page, "outreach@ngo.example", PASSWORD)
    await page.get_by_role("link", name="Assisted intake").click()
    await expect(page.locator("h1")).to_have_text("Assisted intake")
    await fits_phone(page)

    await page.get_by_label("Journey").select_option("voluntary_return")
    await page.get_by_label("The applicant's language").select_option("ar")
    await page.get_by_label("Read aloud to the applicant").check()
    await page.get_by_role("button", name="Start the intake").click()
    await expect(page.locator("section.bot")).to_have_attribute("dir", "rtl")
    await fits_phone(page)

    for _ in range(60):
        field = await page.locator("form.answer").get_attribute("data-field")
        if not field:
            break
        value = VOLUNTARY_RETURN[field]
        for item in value if isinstance(value, list) else [value]:
            await _send(page, item)
        if isinstance(value, list):
            await _send(page, "/done")
        await fits_phone(page)
    await _send(page, "/confirm")
    done = page.locator("section.done")
    await expect(done).to_contain_text("VR-")
    await fits_phone(page)

    await done.get_by_role("button", name="Print the summary with a link code").click()
    sheet = page.locator('article.handout[lang="ar"]')
    await expect(sheet).to_have_attribute("dir", "rtl")
    await expect(sheet.locator(".code")).to_have_text(re.compile(r"^/link [A-Z0-9]{4}-[A-Z0-9]{4}$"))
    await expect(page.locator('article.handout[lang="en"]')).to_contain_text("What happens next")
    await fits_phone(page)
    await page.emulate_media(media="print")
    await expect(page.locator("header.top")).to_be_hidden()
    await expect(page.locator(".no-print")).to_be_hidden()
    await expect(sheet).to_be_visible()
