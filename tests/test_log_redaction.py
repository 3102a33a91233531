"""Logs carry no personal data: every journey, with a failure injected where the whole
case is at hand, logged through the CLI's logging setup."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from bot.cases.model import Applicant
from bot.channels.base import TurnsInFlight
from bot.engine import Engine, Inbound
from bot.logs import configure, format_exception, scrub
from bot.store.store import Turn

from .chat import VOLUNTARY_RETURN, Chat
from .test_languages import VISA
from .test_protection import PROTECTION, add_slots

JOURNEYS: dict[str, dict[str, Any]] = {
    "/voluntary_return": VOLUNTARY_RETURN,
    "/protection_registration": PROTECTION,
    "/visa_info": VISA,
}
PERSONAL = [
    "Nino Beridze", "0470 12 34 56", "470123456", "insulin",
    "Amanuel Tesfaye", "12/04/1999", "1999-04-12",
    "Youssef Alaoui", "youssef@example.org",
]


@pytest.fixture
def cli_logs() -> Iterator[io.StringIO]:
    """The root logger as ``intake`` sets it up, writing here (the test runner's own
    handlers set aside meanwhile)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    for handler in saved:
        root.removeHandler(handler)
    out = io.StringIO()
    installed = configure("INFO", out)
    assert installed is not None
    try:
        yield out
    finally:
        root.removeHandler(installed)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


class Injected:
    """``Turn.create_case`` failing the way a validation deep down would: the exception
    and its cause quote the applicant's data."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    async def __call__(self, turn: Turn, draft: Any, now: Any) -> Any:
        try:
            Applicant.model_validate({**draft.applicant, "phone": f"bad {draft.applicant}", "email": draft.answers})
        except ValidationError as exc:
            error = RuntimeError(f"could not store the case of {draft.applicant} with {draft.answers}")
            self.seen.append(error)
            raise error from exc
        raise AssertionError("the injected validation passed")


async def test_no_personal_value_reaches_the_logs(
    engine: Engine, cli_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    injected = Injected()
    monkeypatch.setattr(Turn, "create_case", lambda turn, draft, now: injected(turn, draft, now))
    await add_slots(engine)
    turns = TurnsInFlight("rest")
    for journey, answers in JOURNEYS.items():
        chat = Chat(engine, sender=f"logs-{journey}")
        await chat.say(journey)
        await chat.answer_until(answers, stop_at="slot")
        if chat.field == "slot":
            await chat.say(chat.payloads[0])
            await chat.answer_until(answers)
        with pytest.raises(RuntimeError):
            await turns.run(engine.handle(Inbound(channel="test", sender_id=chat.sender, text="/confirm")))
    logging.getLogger("bot.test").warning(
        "applicant wrote %s, %s, born 12/04/1999", "youssef@example.org", "+32 470 12 34 56"
    )
    logs = cli_logs.getvalue()

    # The injection did carry personal data, so this test can fail.
    assert len(injected.seen) == len(JOURNEYS)
    raw = "".join("".join(traceback.format_exception(e)) for e in injected.seen)
    assert all(value in raw for value in ("Nino Beridze", "Amanuel Tesfaye", "Youssef Alaoui", "1999-04-12"))

    assert logs.count("rest: a turn failed") == len(JOURNEYS)
    assert "builtins.RuntimeError (message withheld" in logs and "ValidationError" in logs
    assert "Traceback (most recent call last)" in logs and "in _advance" in logs  # frames kept
    leaked = [value for value in PERSONAL if value in logs]
    assert leaked == [], f"personal values in the logs: {leaked}"
    assert "wrote [email], [number], born [number]" in logs


def test_our_own_exception_messages_are_kept_scrubbed() -> None:
    from bot.store.keys import LookupKeyChanged

    try:
        raise LookupKeyChanged("set INTAKE_LOOKUP_KEY (ask ops@example.org)")
    except LookupKeyChanged as exc:
        shown = format_exception(exc)
    assert "bot.store.keys.LookupKeyChanged: set INTAKE_LOOKUP_KEY (ask [email])" in shown


def test_scrub_leaves_addresses_and_counts_alone() -> None:
    assert scrub("serving on http://127.0.0.1:8080/; 12 turns, job 4512") == (
        "serving on http://127.0.0.1:8080/; 12 turns, job 4512"
    )
    assert scrub("call +32 470 12 34 56 or 0470-123456, born 1999-04-12 or 12.04.1999") == (
        "call [number] or [number], born [number] or [date]"
    )
