"""Every script legible, every sentence in order: the web chat in headless Chromium on a
machine whose only font is a Latin one (a fontconfig made for the test), at 360 px.

Tigrinya and Arabic must render with the page's own fonts (not as empty boxes), an
English page must download neither font, and in right-to-left text a command keeps its
slash and the full stop stays at the sentence's end. Screenshots are left in
tests/artifacts/ to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.channels.webchat_fonts import WEB_FONTS
from bot.channels.webchat_page import WebChatPage
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.i18n import gettext, use_locale

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, click_choice, page, skip_without_chromium, turn  # noqa: F401 (page is a fixture)
from .serving import serving, services_for

skip_without_chromium()

from playwright.async_api import Page, expect  # noqa: E402

LATIN_FONT = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
"""The one font the browser may see: Latin only, no Arabic, no Ethiopic (Chromium's
Debian package depends on fonts-liberation)."""

ETHIOPIC_FONT, ARABIC_FONT, *NAMES_FONTS = WEB_FONTS
TIGRINYA = "ሰላም፡ ብኽመይ ክሕግዘኩም ይኽእል?"
UNASSIGNED = "".join(ch if ch.isascii() else "\u0378" for ch in TIGRINYA)
"""Code points no font has: what missing glyphs look like, character for character."""


@pytest.fixture
def fontconfig(tmp_path: Path) -> Path:
    """A fonts.conf that lists only :data:`LATIN_FONT` (and caches in the test's folder)."""
    if not LATIN_FONT.exists():
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{LATIN_FONT} is missing: apt-get install fonts-liberation")
        pytest.skip(f"{LATIN_FONT} is missing (apt-get install fonts-liberation)")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(LATIN_FONT, fonts)
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{fonts}</dir>\n  <cachedir>{tmp_path / 'cache'}</cachedir>\n"
        "</fontconfig>\n"
    )
    return conf


@pytest.fixture
async def browser(fontconfig: Path) -> AsyncIterator[Any]:
    """Chromium that sees no font but the Latin one (overrides tests/browser.py's)."""
    from playwright.async_api import async_playwright

    env = {**os.environ, "FONTCONFIG_FILE": str(fontconfig)}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def base_url(engine: Engine, flows: FlowSet) -> AsyncIterator[str]:
    async with serving(create_app(services_for(engine, flows), [WebChatPage(), RestChannel(engine)])) as url:
        yield url


async def open_in(page: Page, code: str) -> list[str]:
    """Open the chat and switch to ``code``; the URLs of the fonts the page fetched."""
    fonts: list[str] = []
    page.on("request", lambda r: fonts.append(r.url) if r.resource_type == "font" else None)
    await turn(page, lambda: page.goto("/"))
    await expect(page.locator("#choices button").first).to_be_visible()
    if code != "en":
        await turn(page, lambda: page.locator("#language").select_option(code))
        await expect(page.locator("html")).to_have_attribute("lang", code)
    await page.evaluate("() => document.fonts.ready")
    return fonts


async def width(page: Page, text: str, family: str | None = None) -> float:
    """The rendered width of ``text`` in the page's fonts (or only in ``family``)."""
    return float(await page.evaluate(
        """async ([text, family]) => {
            const span = document.createElement("span");
            span.textContent = text;
            span.style.position = "absolute";  // its own width, not the log's
            span.style.whiteSpace = "nowrap";
            if (family) { span.style.fontFamily = family; }
            document.getElementById("log").appendChild(span);
            await document.fonts.ready;
            const width = span.getBoundingClientRect().width;
            span.remove();
            return width;
        }""",
        [text, family],
    ))


async def fonts_used(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium really drew ``selector``'s text with: family name -> glyphs."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = await cdp.send("DOM.getDocument")
    node = await cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector})
    used = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    return {f["familyName"]: f["glyphCount"] for f in used["fonts"]}


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_tigrinya_renders_with_real_glyphs_without_any_ethiopic_system_font(page: Page, base_url: str) -> None:
    fonts = await open_in(page, "ti")
    assert f"{base_url}/webchat/{ETHIOPIC_FONT.file}" in fonts
    assert f"{base_url}/webchat/{ARABIC_FONT.file}" not in fonts
    with use_locale("ti"):
        title = gettext("Immigration Office assistant")
    await expect(page.locator("#title")).to_have_text(title)
    loaded = await page.evaluate("() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert ETHIOPIC_FONT.family in [name.strip('"') for name in loaded]

    # Missing glyphs are boxes of one width; the real syllables are not.
    boxes = await width(page, TIGRINYA, '"Liberation Sans"')
    unassigned = await width(page, UNASSIGNED)
    real = await width(page, TIGRINYA)
    assert abs(boxes - unassigned) < 1, "the fallback boxes should be what missing glyphs look like"
    assert abs(real - boxes) > 10, f"Tigrinya is drawn as boxes ({real:.1f} px vs {boxes:.1f} px)"
    print(f"Tigrinya: {real:.1f} px with the page's fonts, {boxes:.1f} px as boxes")

    # And the bot's own message is drawn with that font, every character of it.
    used = await fonts_used(page, "#log li.bot:last-child")
    assert used.get("Noto Sans Ethiopic", 0) > 10, used
    # The bold heading too: a bold face synthesised from the regular one, no boxes.
    heading = await fonts_used(page, "#title")
    assert heading.get("Noto Sans Ethiopic", 0) >= sum(1 for ch in title if "\u1200" <= ch <= "\u137f"), heading
    await screenshot(page, "webchat-ti-360.png")


async def test_arabic_renders_with_the_page_s_own_arabic_font(page: Page, base_url: str) -> None:
    fonts = await open_in(page, "ar")
    assert f"{base_url}/webchat/{ARABIC_FONT.file}" in fonts
    assert f"{base_url}/webchat/{ETHIOPIC_FONT.file}" not in fonts
    used = await fonts_used(page, "#log li.bot:last-child")
    assert used.get("Noto Sans Arabic", 0) > 10, used
    heading = await fonts_used(page, "#title")
    assert heading.get("Noto Sans Arabic", 0) > 5, heading
    await screenshot(page, "webchat-ar-360.png")


async def test_an_english_page_downloads_only_the_picker_names_glyphs(page: Page, base_url: str) -> None:
    """The picker names Tigrinya, Arabic, Farsi and Pashto in their own scripts: those
    names are legible (a few glyphs), and the scripts' whole fonts are not downloaded."""
    fonts = await open_in(page, "en")
    assert sorted(fonts) == sorted(f"{base_url}/webchat/{font.file}" for font in NAMES_FONTS)
    names = await page.evaluate(
        "() => [...document.querySelectorAll('#language option')].map(o => o.textContent)"
    )
    assert "ትግርኛ" in names and "العربية" in names
    # The select's width is measured over all its options, so their glyphs are drawn:
    # Tigrinya's name is real syllables, not boxes.
    assert abs(await width(page, "ትግርኛ") - await width(page, "\u0378" * 4)) > 3


@pytest.mark.parametrize("code", ["ar", "fa", "ps"])
async def test_in_right_to_left_text_a_command_stays_whole_and_the_full_stop_ends_the_sentence(
    page: Page, code: str
) -> None:
    """The voluntary-return greeting ends "... /official." in Arabic (mid-sentence in
    Farsi and Pashto): "/official" must read left to right with its slash first, and the
    full stop must sit at the left end of its line, where a right-to-left sentence ends."""
    await open_in(page, code)
    await click_choice(page, "/voluntary_return")
    bubble = page.locator("#log li.bot").filter(has_text="/official").first
    await expect(bubble).to_be_visible()
    layout = await bubble.evaluate(
        """(li) => {
            const walker = document.createTreeWalker(li, NodeFilter.SHOW_TEXT);
            let node = null;
            while (walker.nextNode()) { if (walker.currentNode.data.includes('/official')) { node = walker.currentNode; } }
            const box = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                                 const b = r.getBoundingClientRect(); return {left: b.left, right: b.right, top: b.top}; };
            const data = node.data;
            const slash = data.indexOf('/official');
            const stop = data.trimEnd().length - 1;
            const all = [...data].map((ch, i) => ch.trim() && !/[\u2066-\u2069]/.test(ch) ? box(i) : null).filter(Boolean);
            return {stopChar: data[stop], slash: box(slash), o: box(slash + 1), l: box(slash + 8),
                    stop: box(stop), all};
        }"""
    )
    # "/official" reads left to right: the slash, then o ... l.
    assert layout["slash"]["right"] <= layout["o"]["left"] + 0.5 < layout["l"]["left"], layout
    # The sentence's full stop is the leftmost character of its line.
    assert layout["stopChar"] in ".۔", layout["stopChar"]
    stop = layout["stop"]
    same_line = [b for b in layout["all"] if abs(b["top"] - stop["top"]) < 2]
    assert len(same_line) > 3
    assert stop["left"] <= min(b["left"] for b in same_line) + 0.5, (stop, same_line)
    await screenshot(page, f"webchat-{code}-command-360.png")
    await bubble.screenshot(path=str(ARTIFACTS / f"webchat-{code}-command-bubble.png"))
