"""What a journey needs to book an appointment, and the choices it offers.

The engine does not know tables: it books through the turn's records
(``context.TurnRecords``), so a booking commits with its case or not at all.
:class:`FreeSlots` is the ``choices_from: free_slots`` source of a flow: the next free
registration times, shown in the applicant's language and time zone.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ..i18n import format_moment

if TYPE_CHECKING:
    from .context import TurnContext
    from .state import State

REMINDERS_BEFORE = (timedelta(days=1), timedelta(hours=2))
"""When the applicant is reminded of an appointment."""
APPOINTMENT_LENGTH = timedelta(hours=2)
"""How long to block in the applicant's calendar (registration takes a morning)."""


class ChoiceSource(Protocol):
    async def options(self, ctx: TurnContext, state: State) -> list[tuple[str, dict[str, Any]]]:
        """``(value, data)`` pairs; ``data`` is kept in the state to show the choice again."""

    def title(self, ctx: TurnContext, data: dict[str, Any]) -> str:
        """The button title, in the turn's language."""


class FreeSlots:
    """The next free registration slots."""

    def __init__(self, limit: int = 6) -> None:
        self.limit = limit

    async def options(self, ctx: TurnContext, state: State) -> list[tuple[str, dict[str, Any]]]:
        slots = await free_slots(ctx)
        return [
            (str(slot.id), {"starts_at": slot.starts_at.isoformat(), "place": slot.place})
            for slot in slots[: self.limit]
        ]

    def title(self, ctx: TurnContext, data: dict[str, Any]) -> str:
        return format_moment(datetime.fromisoformat(data["starts_at"]), ctx.timezone)


async def free_slots(ctx: TurnContext, limit: int = 20) -> list[Any]:
    """Future slots with a free seat, soonest first, read in the turn's transaction."""
    return await ctx.records.slots(ctx.now, free_only=True, limit=limit)


def reminders(
    starts_at: datetime, language: str, now: datetime, place: str = "registration_centre"
) -> list[tuple[datetime, dict[str, Any]]]:
    """The reminder jobs of an appointment: when, and what the message needs."""
    payload = {"starts_at": starts_at.isoformat(), "language": language, "place": place}
    return [(starts_at - before, dict(payload)) for before in REMINDERS_BEFORE if starts_at - before > now]


def ics_attachment(ics: bytes, filename: str = "appointment.ics") -> dict[str, str]:
    """An ``Outbound.custom["attachment"]``: channels that can send files send it."""
    return {"filename": filename, "media_type": "text/calendar", "data": base64.b64encode(ics).decode()}
