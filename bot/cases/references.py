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
