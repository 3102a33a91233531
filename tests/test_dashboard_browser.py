"""The dashboard in headless Chromium: an SVG bar chart of the seeded cases, the alert
banner, and nothing wider than a 360 px phone (nor broken on a 1280 px desk screen)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine.loader import FlowSet
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_case
from .backoffice_http import backoffice
from .browser import CHROMIUM, browser, page, sign_in, skip_without_chromium  # noqa: F401 (browser and page are fixtures)
from .conftest import START, Clock
from .test_dashboard import seed

skip_without_chromium()

from playwright.async_api import Page, expect  # noqa: E402


@pytest.fixture
async def base_url(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await seed(sqlite_store)
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base


async def _width(page: Page) -> int:
    return int(await page.evaluate("() => document.documentElement.scrollWidth"))


async def test_the_dashboard_draws_its_chart_on_a_phone_and_a_desk(page: Page, sqlite_store: Store) -> None:
    await sign_in(page, "io@example.org", PASSWORD)
    await expect(page.locator(".alert-banner")).to_contain_text("Urgent alerts nobody has acknowledged: 1")
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.locator("h1")).to_have_text("Dashboard")

    chart = page.get_by_role("img", name="Cases per kind per day")
    await expect(chart).to_be_visible()
    bars = page.locator("svg.per-day rect.bar")
    await expect(bars).to_have_count(3)  # protection on the 20th, visa and urgent safety stacked on the 23rd
    box = await chart.bounding_box()
    assert box is not None and 300 <= box["width"] <= 360 and box["height"] > 80
    heights = [float(await bar.get_attribute("height") or 0) for bar in await bars.all()]
    assert all(h > 0 for h in heights) and max(heights) == pytest.approx(240 - 14 - 30)  # the peak day (two cases) fills the plot
    assert await _width(page) <= 360, "wider than the phone"
    await page.get_by_text("The figures as a table").click()  # the chart's data, for screen readers too
    await expect(page.locator("table.figures tbody tr").first).to_be_visible()
    assert await _width(page) <= 360, "the opened table made the page wider than the phone"

    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.reload()
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 600
    assert await _width(page) <= 1280

    await page.get_by_role("button", name="I am on it").click()
    await expect(page.locator(".alert-banner")).to_have_count(0)
    await expect(page.locator("#alerts-title")).to_contain_text("(0)")

    # A page left open learns of a new urgent case without a reload (static/alerts.js).
    case = await make_case(sqlite_store, START, "urgent_safety", "urgent_help", sender="new", priority="urgent")
    await page.evaluate("() => window.intakeAlerts.refresh()")
    await expect(page.locator(".alert-banner")).to_contain_text("Urgent alerts nobody has acknowledged: 1")
    await expect(page.locator(".alert-banner").get_by_role("link", name=case.reference)).to_be_visible()
