"""Human references such as ``VR-7K3M9Q``: short, random, and hard to misread.

The alphabet leaves out 0/O, 1/I/L and U, so a reference read over the phone or copied
by hand stays unambiguous; six characters give 30**6 (about 729 million) references per
kind, drawn with ``secrets`` so they cannot be guessed from one another.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
PREFIXES = {
    "voluntary_return": "VR",
    "protection_appointment": "PA",
    "visa_question": "VQ",
    "human_callback": "HC",
    "urgent_safety": "US",
}
_PATTERN = re.compile(rf"^[A-Z]{{2}}-[{ALPHABET}]{{{LENGTH}}}$")
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "L": "I"})


def new_reference(kind: str) -> str:
    prefix = PREFIXES.get(kind, "CS")
    return f"{prefix}-" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """A reference as typed (``vr 7k3m9q``, ``VR7K3M9Q``) in its canonical form, or None."""
    compact = re.sub(r"[\s\-_.]", "", text.upper())
    if len(compact) != 2 + LENGTH:
        return None
    candidate = f"{compact[:2]}-{compact[2:]}"
    return candidate if _PATTERN.match(candidate) else None
