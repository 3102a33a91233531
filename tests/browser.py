"""Helpers for the web chat browser tests (headless Chromium driven by Playwright).

Also a tiny pytest plugin, registered by the ``page`` fixture: it keeps each phase's
report on the test item, so the fixture can tell in its teardown whether the test failed
(and save a screenshot then).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 360, "height": 740}  # a cheap phone
WEBHOOK = "/webhooks/rest/webhook"
STORE_KEY = "intake-webchat-v2"  # app.js keeps the conversation there (sessionStorage)
TIMEOUT_MS = 10_000
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
TRACKER = "intake-browser-failures"


class _FailureTracker:
    """Keeps each phase's report on the test item (pytest's "result in fixtures" recipe)."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        item.stash.setdefault(REPORTS, {})[report.when] = report
        return report


def track_failures(config: pytest.Config) -> None:
    """Register the tracker once (from a fixture: the conftest is not ours to edit)."""
    if not config.pluginmanager.has_plugin(TRACKER):
        config.pluginmanager.register(_FailureTracker(), TRACKER)


def failed(item: pytest.Item) -> bool:
    """Whether the test failed (asked from a fixture's teardown, after the call phase)."""
    reports = item.stash.get(REPORTS, {})
    return any(r.failed for when, r in reports.items() if when in ("setup", "call"))


# --- fixtures: import them into a test module that defines ``base_url`` ---------------


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: CI must install Debian's chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Any, base_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh phone-sized page (empty localStorage) that reaches nothing but our server;
    a screenshot is kept in tests/artifacts/ if the test fails."""
    track_failures(request.config)
    context = await browser.new_context(viewport=VIEWPORT, locale="en-US", base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    await context.route(lambda url: not url.startswith(base_url + "/"), lambda route: route.abort())
    page = await context.new_page()
    try:
        yield page
    finally:
        if failed(request.node):
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as error:  # a screenshot must not hide the real failure
                print(f"no screenshot: {error!r}")
        await context.close()


# --- driving the page ----------------------------------------------------------------


def is_webhook(response: Any) -> bool:
    return response.url.endswith(WEBHOOK) and response.request.method == "POST"


async def turn(page: Any, action: Callable[[], Awaitable[Any]]) -> None:
    """Do ``action`` (a click, Enter, a page load) and wait until the page has shown the reply.

    app.js disables Send while a message is on its way and enables it again only after
    it has rendered the replies, so: wait for the webhook's response, then for Send.
    """
    async with page.expect_response(is_webhook) as info:
        await action()
    response = await info.value
    assert response.ok, f"webhook answered {response.status}"
    await page.wait_for_function("() => !document.getElementById('send').disabled")


async def state(page: Any) -> dict[str, Any]:
    """The page's saved conversation: sender, log, current buttons and ``expects``."""
    raw = await page.evaluate(f"() => sessionStorage.getItem({json.dumps(STORE_KEY)})")
    assert raw, "the page saved no conversation"
    return json.loads(raw)


async def log_texts(page: Any) -> list[str]:
    return [t.strip() for t in await page.locator("#log li").all_inner_texts()]


async def click_choice(page: Any, value: str) -> None:
    """Click the reply button whose payload or title is ``value``."""
    buttons = (await state(page))["buttons"]
    titles = [b["title"] for b in buttons if value in (b["payload"], b["title"])]
    assert titles, f"no reply button for {value!r} among {buttons}"
    button = page.locator("#choices button").filter(has_text=titles[0]).first
    await turn(page, button.click)


async def type_answer(page: Any, text: str) -> None:
    """Type ``text`` in the message box and send it with the Send button."""
    await page.locator("#input").fill(text)
    await turn(page, page.locator("#send").click)


async def answer(page: Any, value: str) -> None:
    """Click the reply button for ``value`` when there is one, else type it."""
    buttons = (await state(page))["buttons"]
    if any(value in (b["payload"], b["title"]) for b in buttons):
        await click_choice(page, value)
    else:
        await type_answer(page, value)


def skip_without_chromium() -> None:
    """Skip the calling test module when Chromium or playwright is missing; with CI=true
    their absence is a failure instead (call at module level, before importing playwright)."""
    import os

    if os.environ.get("CI") == "true":
        return
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI=true makes this a failure",
                    allow_module_level=True)
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[test]')")


async def sign_in(page: Any, email: str, password: str) -> None:
    """Sign in to the back office through its form."""
    await page.goto("/backoffice/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def fits_phone(page: Any) -> None:
    """No horizontal scrolling on the 360 px phone of ``VIEWPORT``."""
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"the page is {width} px wide on a {VIEWPORT['width']} px screen"
