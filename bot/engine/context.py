"""What one turn works with: its context, and the narrow ports the engine needs from a store.

The engine never imports the store. It names here, as Protocols, the few calls it makes;
``bot.store.store.Store`` and its ``Turn`` satisfy them structurally, and anything else that
does (a fake in a test) works as well. Every call of a :class:`TurnRecords` runs in the
turn's transaction, under the conversation's lock, so a case, a booking and the new state
are committed together or not at all.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ..cases.draft import AssistedBy, CaseDraft
from ..cases.model import Case

Reminders = list[tuple[datetime, dict[str, Any]]]
"""Reminder jobs of an appointment: when, and what the message needs."""


class ConversationView(Protocol):
    """The stored conversation, as the turn found it."""

    @property
    def language(self) -> str | None: ...
    @property
    def state(self) -> dict[str, Any] | None: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def is_new(self) -> bool: ...


class SlotLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def place(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...


class BookingLike(SlotLike, Protocol):
    @property
    def slot_id(self) -> int: ...
    @property
    def case_reference(self) -> str | None: ...

    def for_case(self) -> dict[str, Any]:
        """The case record's ``appointment``."""


class TurnRecords(Protocol):
    """The open transaction of one conversation's turn."""

    @property
    def conversation(self) -> ConversationView: ...

    async def previous_replies(self, message_id: str) -> list[dict[str, Any]] | None:
        """What was answered to this message id before (a redelivery), or None."""

    async def reached(self) -> None:
        """The applicant wrote: their channel delivers again."""

    def save_state(self, state: dict[str, Any] | None, language: str | None, now: datetime) -> None: ...

    def log(
        self,
        incoming: str | None,
        replies: list[str],
        now: datetime,
        *,
        staff: list[str] | None = None,
        sources: list[dict[str, Any] | None] | None = None,
        case: str | None = None,
        staff_sources: list[dict[str, Any] | None] | None = None,
    ) -> None:
        """Add the turn to the transcript (``staff``: what a staff member wrote to the
        applicant, ``staff_sources`` the message ids of those that were templates;
        ``sources``: each reply's message id, parameters and buttons, so staff can read it
        in their language; ``case``: the case the applicant's words answer)."""

    def remember(self, message_id: str, replies: list[dict[str, Any]], now: datetime) -> None:
        """Keep the replies, so that a redelivery of ``message_id`` gets the same answer."""

    async def create_case(self, draft: CaseDraft, now: datetime) -> Case: ...

    async def case_message(self, reference: str, now: datetime) -> bool:
        """The applicant's message of this turn answers the case ``reference`` (a staff
        member wrote to them about it): other systems hear of it. False if not theirs."""

    async def link_device(self, device_hash: str) -> None:
        """Record the device this conversation is written from: erasure reaches its others too."""

    async def cases(self) -> list[Case]:
        """The cases sent from this conversation, newest first."""

    async def redeem_link_code(self, code: str, now: datetime) -> tuple[str, str | None]:
        """Link the case a staff member submitted for the applicant (assisted intake) to
        this conversation with its one-time code (canonical form): ``("linked",
        reference)``, or ``("unknown" | "expired" | "used", None)``."""

    async def withdraw_case(self, reference: str, now: datetime) -> Case | None:
        """Withdraw one of this applicant's open cases (recorded in its history); None
        when it is not theirs or not open."""

    async def status_notices(self) -> bool:
        """Whether this applicant wants to hear when staff change a case's status."""

    async def set_status_notices(self, wanted: bool) -> None: ...

    async def erase(self, now: datetime) -> tuple[int, int]:
        """Erase this conversation, its bookings and its sender's cases: (cases erased,
        cases kept because staff put them under a legal hold)."""

    async def slots(self, now: datetime, *, free_only: bool = False, limit: int = 100) -> list[Any]:
        """Future slots (``SlotLike``), soonest first."""

    async def book(self, slot_id: int, now: datetime, reminders: Reminders) -> Any | None:
        """Take a seat atomically (a ``BookingLike``; None when full) and schedule the reminders."""

    async def attach_reference(self, booking_id: int, reference: str) -> None: ...

    async def bookings(self, now: datetime, *, upcoming_only: bool = True) -> list[Any]:
        """This conversation's upcoming active bookings (``BookingLike``)."""

    async def cancel_booking(self, booking_id: int, now: datetime) -> bool:
        """Free the seat at once and drop its reminders."""

    async def move_booking(self, booking_id: int, slot_id: int, now: datetime, reminders: Reminders) -> Any | None:
        """Take the new seat and free the old one in one step (None when the new one is full)."""


class LanguageIdentifier(Protocol):
    """Which of our locales a sentence is clearly written in (``nlu.langid``)."""

    min_words: int

    def clearly_in(self, text: str, supported: tuple[str, ...]) -> str | None: ...


class ConversationStore(Protocol):
    """What the engine needs from a store besides the turn itself."""

    def turn(
        self, channel: str, sender_id: str, now: datetime, *, message_id: str | None = None
    ) -> AbstractAsyncContextManager[TurnRecords]:
        """Lock the conversation and open its transaction; commit when the block ends.
        ``message_id``: the message the turn answers, whose earlier replies (a redelivery)
        are then read with the conversation, in the same query."""

    async def case(self, reference: str) -> Case | None: ...

    async def purge(self, now: datetime, idle: timedelta) -> dict[str, int]: ...

    async def mark_unreachable(self, channel: str, sender_id: str, now: datetime) -> None: ...

    async def has_conversation(self, channel: str, sender_id: str) -> bool: ...


@dataclass
class TurnContext:
    """What one turn knows about its surroundings; handed down, never global."""

    channel: str
    language: str
    now: datetime
    today: date
    records: TurnRecords
    """The turn's transaction: cases, bookings, erasure."""
    assisted: AssistedBy | None = None
    """A staff member runs this journey for the applicant (assisted intake)."""
    erased: bool = False
    """Set when the applicant erased their data this turn: the turn itself is not logged."""
    timezone: str = "Europe/Brussels"
    origin: str | None = None
    """The address group the message came from, when the channel knows it (rate limits)."""
