"""Global commands: the same few words work at every step, in every channel.

A command is a slash command (``/back``, ``/language fr``, ``/back@IntakeBot`` as Telegram
sends it in groups) or a message that is, on its own, one of the command's words in the
applicant's language (or English). Words come from the catalogs, so translators add what
people really type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ..i18n import N_, current_locale, strip_bidi_controls, use_locale, word_set

GLOBAL = ("start", "restart", "back", "help", "language", "human", "cancel", "forget", "my_data", "link")
"""Commands offered everywhere; flows may not use these names as intents."""

INTERNAL = ("skip", "keep", "done", "confirm", "edit", "continue", "stay", "answer")
"""Commands that buttons send; they mean something only at certain steps."""

WORDS = {
    # TRANSLATORS: words that, typed alone, show the main menu; separate them with |
    "start": N_("start|menu|main menu|home"),
    # TRANSLATORS: words that, typed alone, abandon the journey and start again; separate with |
    "restart": N_("restart|start again|start over"),
    # TRANSLATORS: words that, typed alone, go back to the previous question; separate with |
    "back": N_("back|go back|previous"),
    # TRANSLATORS: words that, typed alone, ask for help; separate with |
    "help": N_("help|?|i need help"),
    # TRANSLATORS: words that, typed alone, open the language choice; separate with |
    "language": N_("language|languages|change language"),
    # TRANSLATORS: words that, typed alone, ask to talk to a person; separate with |
    "human": N_("human|person|a person|talk to a person|speak to a person|staff"),
    # TRANSLATORS: words that, typed alone, cancel the journey; separate with |
    "cancel": N_("cancel|stop|quit|exit"),
    # TRANSLATORS: words that, typed alone, ask to erase all personal data; separate with |
    "forget": N_("forget|forget me|forget my data|delete my data|erase my data"),
    # TRANSLATORS: words that, typed alone, skip an optional question; separate with |
    "skip": N_("skip|pass"),
    # TRANSLATORS: words that, typed alone, say the person is in danger or needs emergency
    # help now (they get emergency numbers at once); separate with |
    "urgent_help": N_("emergency|urgent|danger|sos|help me|i am in danger|112"),
}

HELP = N_(
    "You can type these at any time:\n"
    "/back: go back to the previous question\n"
    "/language: change the language\n"
    "/human: how to reach a person\n"
    "/official: how to recognise the official service, or report someone who asks for money\n"
    "/cancel: stop and delete your answers\n"
    "/my_data: see the data we hold about you\n"
    "/forget: erase all your data\n"
    "/start: main menu"
)
"""What /help lists: the commands that work at every step (shown by dialogue.py)."""

_SLASH = re.compile(r"^/([a-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    argument: str | None = None
    typed: bool = False
    """True when it came as a plain word rather than a slash command or a button."""


def normalise(text: str) -> str:
    """Case-, accent-, punctuation- and direction-mark-insensitive form of a short message."""
    decomposed = unicodedata.normalize("NFKD", strip_bidi_controls(text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = re.sub(r"[.!¡¿,;:\"'«»“”()\[\]]+", " ", stripped)
    return " ".join(stripped.split())


def parse(text: str) -> Command | None:
    """A slash command (any name: flows' intents too), or one of the global words.

    Direction marks are ignored: a right-to-left message shows its commands isolated
    (:func:`bot.i18n.isolate_tokens`), and people copy them back with the marks."""
    if len(text) > 200:  # longer than any command with its argument: not cached
        return _parse(text, current_locale())
    return _parse_cached(text, current_locale())


def _parse(text: str, locale: str) -> Command | None:
    text = strip_bidi_controls(text).strip()
    match = _SLASH.match(text)
    if match:
        argument = (match.group(2) or "").strip() or None
        return Command(match.group(1).lower(), argument)
    if len(text) > 40:
        return None
    name = _typed_words(locale).get(normalise(text))
    return Command(name, typed=True) if name else None


_parse_cached = lru_cache(maxsize=4096)(_parse)
"""Commands are a handful of texts typed and clicked over and over (Command is frozen)."""


@lru_cache(maxsize=64)
def _typed_words(locale: str) -> dict[str, str]:
    with use_locale(locale):
        table: dict[str, str] = {}
        for name, words in WORDS.items():
            for word in word_set(words):
                table.setdefault(normalise(word), name)
        return table
