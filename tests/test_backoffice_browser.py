"""The back office in headless Chromium on a 360 px phone: sign in, filter the list, open
a case, change its status with a reason; urgent cases stand out; nothing is wider than
the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_case, make_user
from .backoffice_http import backoffice
from .browser import CHROMIUM, browser, fits_phone, page, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .conftest import START, Clock

skip_without_chromium()

from playwright.async_api import Page, expect  # noqa: E402


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), "fedasil@example.org", "caseworker", "fedasil", START, on_duty=True)
    await make_case(sqlite_store, START, "voluntary_return", "voluntary_return", sender="a")
    await make_case(sqlite_store, START, "visa_question", "visa_info", sender="b")  # not Fedasil's
    await make_case(sqlite_store, START, "urgent_safety", "urgent_help", sender="c", priority="urgent")
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base


async def test_sign_in_filter_open_and_move_a_case_on_a_phone(page: Page) -> None:
    await page.goto("/backoffice/cases")
    await expect(page).to_have_url("/backoffice/login")
    await page.get_by_label("E-mail address").fill("fedasil@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("h1")).to_contain_text("Cases")
    await expect(page.locator(".urgent-banner")).to_contain_text("Open urgent cases: 1")
    await expect(page.locator("table.cases tbody tr")).to_have_count(2)
    await fits_phone(page)

    await page.locator("select[name=kind]").select_option("voluntary_return")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.cases tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Voluntary return")
    await rows.first.locator("a").first.click()

    await expect(page.locator("h1")).to_contain_text("Voluntary return")
    await expect(page.locator(".status")).to_have_text("Submitted")
    await fits_phone(page)
    await page.get_by_label("New status").select_option("in_review")
    await page.get_by_label("Reason").fill("Eligibility check started")
    await page.get_by_role("button", name="Change the status").click()
    await expect(page.locator(".status")).to_have_text("In review")
    await expect(page.locator(".history")).to_contain_text("Eligibility check started")
    await fits_phone(page)
