"""Fitting text into a platform's limits without breaking a word or a grapheme.

``split_text`` cuts a long message into several; ``shorten`` cuts a title to a limit and
marks the cut with "…". Lengths are counted in code points (what Telegram and WhatsApp
count); cuts fall only between grapheme clusters (``regex``'s ``\\X``), so a letter with its
combining marks, an emoji with its modifiers, or an Ethiopic syllable is never split.
"""

from __future__ import annotations

import regex

ELLIPSIS = "…"
_GRAPHEME = regex.compile(r"\X")
_SPACE = regex.compile(r"\s")


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at paragraph breaks first,
    then at line breaks, then at spaces, and only mid-word (between graphemes) when
    nothing else fits."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        for sep in ("\n\n", "\n", " "):
            cut = rest.rfind(sep, 0, limit)
            if cut > 0:
                break
        else:
            cut, sep = _grapheme_cut(rest, limit), ""
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut + len(sep):].lstrip("\n ")
    if rest.strip():
        pieces.append(rest)
    return pieces


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its longest start of whole words
    (of whole graphemes when the first word alone is too long) followed by "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = _grapheme_cut(text, room)
    head = text[:cut]
    if not _SPACE.match(text, cut):  # the cut fell inside a word: end at the word before
        space = head.rstrip().rfind(" ")
        if space > 0:
            head = head[:space]
    return head.rstrip(" ,;:.-–—") + ELLIPSIS


def _grapheme_cut(text: str, limit: int) -> int:
    """The largest index ≤ ``limit`` that falls between two graphemes (at least one
    grapheme, so a cut always makes progress)."""
    end = 0
    for match in _GRAPHEME.finditer(text):
        if match.end() > limit:
            break
        end = match.end()
    if end == 0 and text:
        first = _GRAPHEME.match(text)
        end = first.end() if first else 1
    return end
