"""The password change on the profile in headless Chromium on a 360 px phone: a wrong
current password is said, the new one works at the next sign-in, the old one no longer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_user
from .backoffice_http import backoffice
from .browser import browser, fits_phone, page, sign_in, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .conftest import START, Clock

skip_without_chromium()

from playwright.async_api import Page, expect

ME = "partner@ngo.example"
NEW = "a pass phrase of my own"


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), ME, "partner", "ngo", START)
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base


async def test_a_partner_changes_the_password_the_admin_gave(page: Page) -> None:
    await sign_in(page, ME, PASSWORD)
    await page.get_by_role("link", name="Profile").click()
    form = page.locator("section.password form")
    await form.get_by_label("Current password").fill("not the password")
    await form.get_by_label("New password", exact=True).fill(NEW)
    await form.get_by_label("New password again").fill(NEW)
    await form.get_by_role("button", name="Change password").click()
    await expect(page.locator(".alert")).to_have_text("Your current password is not right.")
    await fits_phone(page)

    form = page.locator("section.password form")
    await form.get_by_label("Current password").fill(PASSWORD)
    await form.get_by_label("New password", exact=True).fill(NEW)
    await form.get_by_label("New password again").fill(NEW)
    await form.get_by_role("button", name="Change password").click()
    await expect(page.locator(".notice")).to_have_text("Your password was changed. Your other sessions were signed out.")
    await fits_phone(page)

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, ME, PASSWORD)
    await expect(page.locator(".alert")).to_contain_text("Wrong e-mail address or password.")
    await sign_in(page, ME, NEW)
    await expect(page.get_by_role("link", name="Profile")).to_be_visible()
