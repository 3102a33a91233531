"""Make the web chat's fonts: Noto subsets for the scripts that devices often lack.

Not run by the app or the build: the results are committed in bot/channels/webchat/
(``*.woff2`` with their OFL licence). Run it again when a catalog of these languages
gains characters the fonts lack (tests/test_webfonts.py says so), with fonttools and
brotli installed and the source fonts from npm's Fontsource packages::

    npm pack @fontsource/noto-sans-ethiopic @fontsource/noto-sans-arabic
    (unpack both)
    python tools/webfonts.py ETHIOPIC_WOFF2 ARABIC_WOFF2

A subset keeps the script's common block (people type their own names and answers too)
plus every character of its languages' catalogs and picker names, and nothing else
(Latin comes from the device's own fonts); a names font keeps only the picker's names.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.webchat_page import WEBCHAT_DIR  # noqa: E402
from bot.channels.webchat_fonts import WEB_FONTS, WebFont, written_text  # noqa: E402
from bot.i18n import native_name  # noqa: E402


def characters(font: WebFont) -> set[int]:
    wanted: set[int] = set()
    if font.names_only:
        for language in font.languages:
            wanted.update(ord(ch) for ch in native_name(language) if font.covers(ord(ch)))
        return wanted
    for first, last in font.ranges:
        wanted.update(range(first, last + 1))
    for language in font.languages:
        wanted.update(ord(ch) for ch in written_text(language) if font.covers(ord(ch)))
    return wanted


def build(font: WebFont, source: Path) -> Path:
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]  # Arabic joining forms, Ethiopic and mark positioning
    options.name_IDs = ["*"]  # keep the copyright and licence names the OFL asks for
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    ttfont = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(characters(font) & set(ttfont.getBestCmap())))
    subsetter.subset(ttfont)
    target = WEBCHAT_DIR / font.file
    subset.save_font(ttfont, str(target), options)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sources = {"Ethiopic": Path(argv[0]), "Arabic": Path(argv[1])}
    for font in WEB_FONTS:
        target = build(font, sources[font.family.rsplit(" ", 1)[-1]])
        glyphs = len(TTFont(str(target)).getGlyphOrder())
        print(f"{target.name}: {target.stat().st_size} bytes, {glyphs} glyphs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
