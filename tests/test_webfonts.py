"""The web chat's own fonts: they cover what our catalogs write, are declared with the
right ranges, carry their licence, and are served within the page's CSP.

(That they really render in a browser without system fonts: test_webchat_browser.py.)
"""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web

from bot.channels.webchat_fonts import WEB_FONTS, WebFont, written_text
from bot.channels.webchat_page import CONTENT_SECURITY_POLICY, WEBCHAT_DIR, WebChatPage
from bot.i18n import native_name

from .serving import serving

TTFont = pytest.importorskip("fontTools.ttLib", reason="pip install -e '.[test]'").TTFont
pytest.importorskip("brotli", reason="woff2 needs brotli: pip install -e '.[test]'")

MAX_BYTES = 64_000
"""Per font: a phone on a slow connection downloads it before the first reply shows."""


def cmap(font: WebFont) -> set[int]:
    return set(TTFont(str(WEBCHAT_DIR / font.file)).getBestCmap())


WHOLE = [font for font in WEB_FONTS if not font.names_only]
NAMES = [font for font in WEB_FONTS if font.names_only]


@pytest.mark.parametrize("font", WHOLE, ids=lambda f: f.file)
def test_each_font_has_every_character_its_languages_write(font: WebFont) -> None:
    have = cmap(font)
    for language in font.languages:
        text = written_text(language)
        in_script = {ch for ch in text if font.covers(ord(ch))}
        assert len(in_script) > 20, f"{language} catalog writes hardly any {font.family} text"
        missing = sorted(ch for ch in in_script if ord(ch) not in have)
        assert not missing, f"{font.file} lacks {missing} of the {language} catalog: run tools/webfonts.py"


@pytest.mark.parametrize("font", NAMES, ids=lambda f: f.file)
def test_a_names_font_has_the_picker_names_and_little_else(font: WebFont) -> None:
    have = cmap(font)
    wanted = {ord(ch) for language in font.languages for ch in native_name(language) if font.covers(ord(ch))}
    assert wanted and wanted <= have
    assert len(have) < 2 * len(wanted) + 10
    assert (WEBCHAT_DIR / font.file).stat().st_size < 8_000


def test_the_ethiopic_font_has_the_whole_syllabary_people_type() -> None:
    font = WEB_FONTS[0]
    assert font.family.endswith("Ethiopic")
    have = cmap(font)
    # Every assigned code point of the block (people type their own names and answers).
    syllables = [cp for cp in range(0x1200, 0x1380) if chr(cp).isprintable()]
    assert len(syllables) > 350
    assert all(cp in have for cp in syllables)
    # ... and not the Latin letters: those come from the device's fonts.
    assert ord("a") not in have


@pytest.mark.parametrize("font", WEB_FONTS, ids=lambda f: f.file)
def test_each_font_is_small_licensed_and_declared_with_its_range(font: WebFont) -> None:
    path = WEBCHAT_DIR / font.file
    assert path.stat().st_size < MAX_BYTES
    licence = (WEBCHAT_DIR / font.licence).read_text()
    assert "SIL Open Font License, Version 1.1" in licence and "Noto Project Authors" in licence

    css = (WEBCHAT_DIR / "style.css").read_text()
    faces = {
        re.search(r'font-family:\s*"([^"]+)"', block).group(1): block  # type: ignore[union-attr]
        for block in re.findall(r"@font-face\s*{([^}]*)}", css)
    }
    face = faces[font.family]
    assert f'url("/webchat/{font.file}") format("woff2")' in face
    declared = re.search(r"unicode-range:\s*([^;]+);", face).group(1)  # type: ignore[union-attr]
    assert declared.replace(" ", "") == ",".join(
        f"U+{first:04X}-{last:04X}" for first, last in font.ranges
    )


def font_stacks() -> dict[str, list[str]]:
    """style.css's font lists by selector."""
    css = (WEBCHAT_DIR / "style.css").read_text()
    stacks = {}
    for selector, body in re.findall(r"([^{}]+){([^}]*)}", css):
        found = re.search(r"(?:^|;)\s*font-family:([^;]+);", body)
        if found and "@font-face" not in selector:
            stacks[" ".join(selector.split())] = [
                name.strip().strip('"') for name in found.group(1).split(",")
            ]
    return stacks


def test_each_language_lists_its_script_s_whole_font_and_no_other_does() -> None:
    stacks = font_stacks()
    root = stacks[":root"]
    assert root[0] == "var(--device-fonts)" and root[-1] == "sans-serif"
    assert all(font.family in root for font in NAMES)
    assert not any(font.family in root for font in WHOLE)
    for font in WHOLE:
        listed_in = [selector for selector, stack in stacks.items() if font.family in stack]
        assert len(listed_in) == 1, listed_in
        selector = listed_in[0]
        assert sorted(re.findall(r"html:lang\((\w+)\)", selector)) == sorted(font.languages)
        stack = stacks[selector]
        # first (its unicode-range keeps it to its script), then the device's fonts for the rest
        assert stack[0] == font.family and stack[1] == "var(--device-fonts)" and stack[-1] == "sans-serif"
        # the languages' own font comes before any names font (it has every glyph)
        assert all(stack.index(font.family) < stack.index(n.family) for n in NAMES if n.family in stack)


async def test_fonts_are_served_as_woff2_under_the_same_policy() -> None:
    app = web.Application()
    WebChatPage().mount(app)
    async with serving(app) as base, aiohttp.ClientSession() as session:
        for font in WEB_FONTS:
            async with session.get(f"{base}/webchat/{font.file}") as response:
                assert response.status == 200
                assert response.content_type == "font/woff2"
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert await response.read() == (WEBCHAT_DIR / font.file).read_bytes()
            # The licence sits next to the font in the source, but is not a page resource.
            async with session.get(f"{base}/webchat/{font.licence}") as response:
                assert response.status == 404
    assert "font-src 'self'" in CONTENT_SECURITY_POLICY
