"""The fonts the web chat ships for scripts that devices often lack.

A phone or desktop without an Ethiopic font shows Tigrinya as empty boxes; some lack the
letters Pashto adds to the Arabic script. The page serves subsets of Noto fonts (OFL,
files and licences in ``webchat/``), declared in ``style.css`` with these unicode ranges
and the device's own copy first (``local()``):

- a script's whole font is in the font list only of the page in its languages
  (``html:lang(ti)``), so other languages never download it;
- a tiny font with only the glyphs of the language picker's names in that script is in
  every page's list, so a Tigrinya reader finds "ትግርኛ" in an English page all the same.

tools/webfonts.py makes the files.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.messages.pofile import read_po

from ..i18n import LOCALES_DIR, VARIANTS, native_name


@dataclass(frozen=True, slots=True)
class WebFont:
    file: str
    """Its name in webchat/ (served at /webchat/<file>)."""
    family: str
    """The CSS family name in style.css."""
    ranges: tuple[tuple[int, int], ...]
    """The code points it covers: its ``unicode-range``, all kept in the subset."""
    languages: tuple[str, ...]
    """The catalogs written in its script: each character of theirs must be in it."""
    names_only: bool = False
    """Only the glyphs of these languages' names in the picker (no range kept whole)."""

    @property
    def licence(self) -> str:
        """Its OFL licence file, next to it (the names font shares its script's)."""
        return self.file.replace("-names", "").replace(".woff2", ".OFL.txt")

    def covers(self, code_point: int) -> bool:
        return any(first <= code_point <= last for first, last in self.ranges)


WEB_FONTS = (
    WebFont(
        file="noto-sans-ethiopic.woff2",
        family="Intake Noto Sans Ethiopic",
        ranges=((0x1200, 0x137F),),  # Ethiopic: every syllable Tigrinya and Amharic use
        languages=("ti",),
    ),
    WebFont(
        file="noto-sans-arabic.woff2",
        family="Intake Noto Sans Arabic",
        # Arabic (with Persian and Pashto letters and Arabic-Indic digits), and the
        # zero-width non-joiner and joiner that Persian spelling needs inside words.
        ranges=((0x0600, 0x06FF), (0x200C, 0x200D)),
        languages=("ar", "fa", "ps"),
    ),
    WebFont(
        file="noto-sans-ethiopic-names.woff2",
        family="Intake Language Names Ethiopic",
        ranges=((0x1200, 0x137F),),
        languages=("ti",),
        names_only=True,
    ),
    WebFont(
        file="noto-sans-arabic-names.woff2",
        family="Intake Language Names Arabic",
        ranges=((0x0600, 0x06FF), (0x200C, 0x200D)),
        languages=("ar", "fa", "fa_AF", "ps"),
        names_only=True,
    ),
)


def written_text(language: str) -> str:
    """Everything the page may show in ``language``: its catalog and its picker name."""
    if language in VARIANTS:
        return native_name(language) + written_text(VARIANTS[language])
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    parts = [native_name(language)]
    for message in catalog:
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        parts.extend(s for s in strings if s)
    return "".join(parts)
