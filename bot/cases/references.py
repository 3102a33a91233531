"""Human references such as ``VR-7K3M9Q``: short, random, and hard to misread.

The alphabet leaves out 0/O, 1/I/L and U, so a reference read over the phone or copied
by hand stays unambiguous; six characters give 30**6 (about 729 million) references per
kind, drawn with ``secrets`` so they cannot be guessed from one another. The two-letter
prefix is the case kind's (``kinds.py``).
"""

from __future__ import annotations

import re
import secrets

from ..i18n import strip_bidi_controls
from .kinds import BY_PREFIX, get

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
PATTERN = re.compile(rf"^(?:{'|'.join(sorted(BY_PREFIX))})-[{ALPHABET}]{{{LENGTH}}}$")
"""A reference of a registered kind, in its canonical form."""


def new_reference(kind: str) -> str:
    return f"{get(kind).prefix}-" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """A reference as typed (``vr 7k3m9q``, ``VR7K3M9Q``, copied with its direction marks
    from a right-to-left message) in its canonical form, or None."""
    compact = re.sub(r"[\s\-_.]", "", strip_bidi_controls(text).upper())
    if len(compact) != 2 + LENGTH:
        return None
    candidate = f"{compact[:2]}-{compact[2:]}"
    return candidate if PATTERN.match(candidate) else None


LINK_LENGTH = 8
"""One-time link codes (an applicant links their own chat to a case staff submitted for
them): eight characters of the same alphabet, 30**8 (about 650 billion) codes."""


def new_link_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LINK_LENGTH))


def normalise_link_code(text: str) -> str | None:
    """A link code as typed (``7k3m 9qxa``, ``7K3M-9QXA``) in its canonical form, or None."""
    compact = re.sub(r"[\s\-_.]", "", strip_bidi_controls(text).upper())
    if len(compact) != LINK_LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return compact


def show_link_code(code: str) -> str:
    """``7K3M-9QXA``: two groups of four, easier to copy by hand."""
    return f"{code[:4]}-{code[4:]}"
