"""The web chat page in a real browser: headless Chromium (Debian's) driven by Playwright.

The app is served on 127.0.0.1 as in test_rest.py; the page talks to it over real HTTP.
Skipped when /usr/bin/chromium is missing, unless CI=true (CI installs it: .ci/run).
A failing test leaves a screenshot in tests/artifacts/<test name>.png.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import gettext, use_locale

from .browser import (  # noqa: F401 (browser and page are fixtures)
    CHROMIUM,
    WEBHOOK,
    answer,
    browser,
    click_choice,
    log_texts,
    page,
    skip_without_chromium,
    state,
    turn,
    type_answer,
)
from .chat import VOLUNTARY_RETURN
from .serving import serving, services_for

skip_without_chromium()

from playwright.async_api import Page, expect  # noqa: E402

DEPARTURE = "2027-01-15"  # what <input type=date> sends: an ISO date


@pytest.fixture
async def base_url(engine: Engine, flows: FlowSet) -> AsyncIterator[str]:
    """The app with the web chat, served on a free port of 127.0.0.1."""
    async with serving(create_app(services_for(engine, flows), [WebChatPage(), RestChannel(engine)])) as url:
        yield url


async def open_chat(page: Page) -> None:
    """Open the page; it says /start by itself and shows the greeting with its buttons."""
    await turn(page, lambda: page.goto("/"))
    await expect(page.locator("#choices button").first).to_be_visible()


async def test_whole_voluntary_return_journey_in_the_page_ends_in_a_case(page: Page, engine: Engine) -> None:
    await open_chat(page)
    await click_choice(page, "/voluntary_return")
    for _ in range(60):
        expects = (await state(page))["expects"]
        if not expects:
            break
        field = expects["field"]
        value = VOLUNTARY_RETURN[field]
        if field == "departure_from":
            # The page offers a date picker for a date question.
            assert expects["type"] == "date"
            date_input = page.locator("#input")
            await expect(date_input).to_have_attribute("type", "date")
            await date_input.fill(DEPARTURE)
            await turn(page, page.locator("#send").click)
        elif isinstance(value, list):
            for item in value:
                await answer(page, item)
            await click_choice(page, "/done")
        else:
            await answer(page, value)
    else:
        raise AssertionError("the journey did not end")

    await expect(page.locator("#choices button")).to_have_count(2)
    await click_choice(page, "/confirm")
    done = page.locator("#log li.bot").filter(has_text="Your reference is VR-")
    await expect(done).to_have_count(1)
    reference = re.search(r"Your reference is (VR-[A-Z0-9]+)", await done.inner_text())
    assert reference is not None

    cases = await engine.store.cases()
    assert [c.reference for c in cases] == [reference.group(1)]
    assert cases[0].channel == "rest"


async def test_the_conversation_survives_a_reload(page: Page, engine: Engine) -> None:
    await open_chat(page)
    await click_choice(page, "/voluntary_return")
    await answer(page, VOLUNTARY_RETURN["consent.data_processing"])
    before = await state(page)
    assert before["expects"]["field"] == "destination_country"
    shown = await log_texts(page)
    assert len(shown) >= 4

    # A reload sends nothing: the page shows what it saved.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith(WEBHOOK) else None)
    await page.reload()
    await expect(page.locator("#log li")).to_have_count(len(shown))
    assert await log_texts(page) == shown
    assert requests == []

    # ... and the next answer continues the same conversation on the server.
    await type_answer(page, VOLUNTARY_RETURN["destination_country"])
    after = await state(page)
    assert after["sender"] == before["sender"]
    assert after["expects"]["field"] == "applicant.nationality"
    assert (await log_texts(page))[: len(shown)] == shown
    await expect(page.locator("#log li.me").last).to_contain_text("Georgia")


async def test_keyboard_only_the_input_is_focused_and_enter_sends(page: Page) -> None:
    await open_chat(page)
    message = page.locator("#input")
    # Focused after each reply (app.js); if not, Tab must reach it.
    for _ in range(15):
        if await message.evaluate("el => el === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(message).to_be_focused()

    # Tab also reaches the reply buttons; Enter on one clicks it.
    first_choice = page.locator("#choices button").first
    title = (await first_choice.inner_text()).strip()
    for _ in range(20):
        if await first_choice.evaluate("el => el === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(first_choice).to_be_focused()
    await turn(page, lambda: page.keyboard.press("Enter"))
    await expect(page.locator("#log li.me").last).to_contain_text(title)

    # Typing and Enter sends the message, clears the box and keeps the focus there.
    await expect(message).to_be_focused()
    assert (await state(page))["expects"]["field"] == "nationality"  # the visa journey
    await page.keyboard.type("Morocco")
    await turn(page, lambda: page.keyboard.press("Enter"))
    await expect(page.locator("#log li.me").last).to_contain_text("Morocco")
    await expect(message).to_have_value("")
    await expect(message).to_be_focused()
    assert (await state(page))["expects"]["field"] == "currently_in_belgium"


@pytest.mark.parametrize("code", ["ar", "fa", "ps"])
async def test_a_right_to_left_language_turns_the_page_rtl(page: Page, code: str) -> None:
    """Picking Arabic, Farsi or Pashto lays the page out right to left, in that language."""
    await open_chat(page)
    await turn(page, lambda: page.locator("#language").select_option(code))
    with use_locale(code):
        title = gettext("Immigration Office assistant")
        switched = gettext("I will write in English from now on.")
        menu_button = gettext("Talk to a person")
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", code)
    await expect(page.locator("#chat")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#title")).to_have_text(title)
    assert any(switched in text for text in await log_texts(page))
    await expect(page.locator("#choices button", has_text=menu_button)).to_be_visible()
    # Text inputs and bubbles take their direction from their content.
    await expect(page.locator("#input")).to_have_attribute("dir", "auto")


async def test_the_device_keeps_only_a_device_key_and_clear_this_device_drops_everything(
    page: Page, engine: Engine
) -> None:
    await open_chat(page)
    await click_choice(page, "/voluntary_return")  # sends the token back: the conversation is bound
    saved = await state(page)
    assert saved["token"] and saved["log"]
    local = await page.evaluate("() => Object.assign({}, localStorage)")
    assert list(local) == ["intake-webchat-device"]  # nothing of the conversation in localStorage

    # The server holds the conversation as bound to this page.
    async with engine.store.turn("rest", saved["sender"], engine.clock()) as turn:
        assert (turn.conversation.state or {})["binding"]["bound"] is True

    await page.locator("#clear").click()
    await expect(page.locator("#status")).to_contain_text("Nothing of this conversation is kept")
    await expect(page.locator("#log li")).to_have_count(0)
    assert await page.evaluate("() => localStorage.length + sessionStorage.length") == 0


async def test_forget_clears_the_log_on_the_device_and_start_over_keeps_the_device_key(page: Page) -> None:
    await open_chat(page)
    device = await page.evaluate("() => localStorage.getItem('intake-webchat-device')")
    assert device
    await click_choice(page, "/voluntary_return")
    await turn(page, page.locator("#restart").click)
    assert await page.evaluate("() => localStorage.getItem('intake-webchat-device')") == device
    await type_answer(page, "/forget")
    await type_answer(page, "yes")
    texts = await log_texts(page)
    assert not any("/forget" in t for t in texts)  # what came before the erasure is gone
    assert any("erased" in t for t in texts)
