"""The admin screens in headless Chromium on a 360 px phone: an admin adds an account,
then changes who sees voluntary-return cases in the need-to-know table; both pages fit
the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine.loader import FlowSet
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_user
from .backoffice_http import backoffice
from .browser import CHROMIUM, browser, fits_phone, page, sign_in, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .conftest import START, Clock

skip_without_chromium()

from playwright.async_api import Page, expect


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(sqlite_store), "admin@example.org", "admin", "immigration-office", START)
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base


async def test_an_admin_adds_an_account_and_edits_a_kind_rule(page: Page, sqlite_store: Store) -> None:
    await sign_in(page, "admin@example.org", PASSWORD)
    await page.get_by_role("link", name="Staff").click()
    await expect(page.locator("h1")).to_contain_text("Staff")
    await fits_phone(page)

    form = page.locator("form.add-user")
    await form.get_by_label("E-mail address").fill("new.worker@example.org")
    await form.get_by_label("Role").select_option("caseworker")
    await form.get_by_label("Organisation").select_option("fedasil")
    await form.get_by_label("Initial password").fill("short")
    await form.get_by_role("button", name="Add the account").click()  # the browser's minlength stops it
    await expect(page.locator("tr[data-email='new.worker@example.org']")).to_have_count(0)
    await form.get_by_label("Initial password").fill("an initial password of some length")
    await form.get_by_role("button", name="Add the account").click()
    await expect(page.locator(".notice")).to_have_text("The account is added.")
    row = page.locator("tr[data-email='new.worker@example.org']")
    await expect(row).to_contain_text("never")
    await expect(row.locator("select[name=organisation]")).to_have_value("fedasil")
    await fits_phone(page)

    await page.get_by_role("link", name="Organisations").click()
    cell = page.get_by_label("Voluntary return · iom")
    await expect(cell).to_have_value("shared")
    await cell.select_option("always")
    await page.get_by_role("button", name="Save the rules").click()
    await expect(page.locator(".notice")).to_have_text("The access rules are saved.")
    await expect(page.get_by_label("Voluntary return · iom")).to_have_value("always")
    await fits_phone(page)

    access = {slug: dict(kinds) for slug, _, kinds in await StaffDirectory(sqlite_store).organisations()}
    assert access["iom"]["voluntary_return"] == "always"
    user = await StaffDirectory(sqlite_store).user("new.worker@example.org")
    assert user is not None and (user.role, user.organisation) == ("caseworker", "fedasil")
