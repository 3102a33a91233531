"""Conversation tests read as transcripts: ``await chat.say("yes")``, then look at replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.engine import Engine, Inbound, Outbound

# Answers for the voluntary-return journey, by the field each question names in
# `expects`. A list is clicked button by button (multiple choice), then Done.
VOLUNTARY_RETURN = {
    "consent.data_processing": "yes",
    "destination_country": "Georgia",
    "applicant.nationality": "GE",
    "admin_status": "asylum_rejected",
    "in_reception": "yes",
    "reception_centre": "Petit-Château",
    "unaccompanied_minor": "no",
    "household.adults": "2",
    "household.children": "1",
    "travel_document": "valid",
    "assisted_return_last_5y": "no",
    "health_needs": "yes",
    "consent.health_details": "yes",
    "health_details": "needs insulin every day",
    "reintegration_interest": ["housing", "job_training"],
    "departure_from": "15/01/2027",
    "applicant.name": "Nino Beridze",
    "applicant.preferred_contact": "phone",
    "applicant.phone": "0470 12 34 56",
    "consent.share_fedasil": "yes",
    "consent.share_iom": "yes",
    "consent.share_caritas": "no",
}


class Chat:
    def __init__(self, engine: Engine, sender: str = "applicant-1", channel: str = "test", lang: str | None = None) -> None:
        self.engine = engine
        self.sender = sender
        self.channel = channel
        self.lang = lang
        self.replies: list[Outbound] = []
        self.transcript: list[tuple[str, str]] = []

    async def say(self, text: str, message_id: str | None = None) -> list[Outbound]:
        self.replies = await self.engine.handle(
            Inbound(channel=self.channel, sender_id=self.sender, text=text,
                    message_id=message_id, language_hint=self.lang)
        )
        self.transcript.append(("in", text))
        self.transcript += [("out", r.text) for r in self.replies]
        return self.replies

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    @property
    def expects(self) -> dict[str, Any] | None:
        for reply in reversed(self.replies):
            if reply.expects:
                return reply.expects.to_dict()
        return None

    @property
    def field(self) -> str | None:
        return (self.expects or {}).get("field")

    @property
    def payloads(self) -> list[str]:
        return [b.payload for r in self.replies for b in r.buttons]

    @property
    def button_titles(self) -> list[str]:
        return [b.title for r in self.replies for b in r.buttons]

    async def answer_until(self, answers: dict[str, Any], stop_at: str | None = None) -> None:
        """Answer each question from ``answers`` by its field until the summary (or ``stop_at``)."""
        await answer_by_field(lambda: self.field, self.say, answers, stop_at)


async def answer_by_field(
    field_of: Callable[[], str | None],
    send: Callable[[str], Awaitable[Any]],
    answers: dict[str, Any],
    stop_at: str | None = None,
    limit: int = 60,
) -> None:
    """Answer the question being asked (``field_of()``) from ``answers`` until none is asked
    (the summary) or ``stop_at``; a list is clicked item by item, then Done. Any channel's
    test client can drive a journey with it."""
    for _ in range(limit):
        field = field_of()
        if field is None or field == stop_at:
            return
        value = answers[field]
        if isinstance(value, list):
            for item in value:
                await send(item)
            await send("/done")
        else:
            await send(value)
    raise AssertionError("the journey did not end")
