"""``Engine.handle(inbound) -> list[Outbound]``: one turn, start to end.

The engine takes the conversation's lock, answers a redelivered message from what it
already said, loads the state, lets the dialogue respond, and writes state, transcript and
any case in the same transaction. It knows nothing about Telegram or HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from collections.abc import Callable
from typing import Any
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..i18n import DEFAULT_LOCALE, gettext, negotiate, use_locale
from ..store.store import Store
from .booking import Appointments
from .dialogue import Dialogue
from .loader import FlowSet
from .runner import TurnContext
from .state import State
from .turn import Inbound, Outbound, utcnow

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        store: Store,
        flows: FlowSet,
        *,
        idle_timeout: timedelta = timedelta(hours=24),
        timezone: str = "Europe/Brussels",
        default_language: str = DEFAULT_LOCALE,
        clock: Callable[[], datetime] = utcnow,
        nlu: Any = None,
    ) -> None:
        self.store = store
        self.flows = flows
        self.dialogue = Dialogue(flows, find_case=store.case, nlu=nlu)
        self.idle_timeout = idle_timeout
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.default_language = default_language
        self.clock = clock

    async def handle(self, inbound: Inbound, *, submitted_by: str | None = None) -> list[Outbound]:
        now = self.clock()
        async with self.store.turn(inbound.channel, inbound.sender_id, now) as turn:
            if inbound.message_id:
                earlier = await turn.previous_replies(inbound.message_id)
                if earlier is not None:
                    return [Outbound.from_rest(r) for r in earlier]
            await turn.reached()
            conversation = turn.conversation
            state = State.from_dict(conversation.state)
            language = (
                conversation.language
                or negotiate(inbound.language_hint)
                or self.default_language
            )
            ctx = TurnContext(
                channel=inbound.channel,
                language=language,
                now=now,
                today=now.astimezone(self.zone).date(),
                create_case=lambda draft: turn.create_case(draft, now),
                erase=lambda: turn.erase(now),
                timezone=self.timezone,
                appointments=Appointments(
                    free_slots=lambda: turn.slots(now, free_only=True, limit=20),
                    book=lambda slot_id, reminders: turn.book(slot_id, now, reminders),
                    attach_reference=lambda booking_id, reference: turn.attach_reference(booking_id, reference),
                    bookings=lambda: turn.bookings(now),
                    cancel=lambda booking_id: turn.cancel_booking(booking_id, now),
                    move=lambda booking_id, slot_id, reminders: turn.move_booking(booking_id, slot_id, now, reminders),
                ),
                own_cases=turn.cases,
                submitted_by=submitted_by,
            )
            with use_locale(language):
                notice: list[Outbound] = []
                if state.flow_id and now - conversation.updated_at > self.idle_timeout:
                    state.leave_flow()
                    notice.append(Outbound(gettext(
                        "We had not heard from you for a while, so your unfinished answers "
                        "were deleted to protect your privacy. You can start again."
                    )))
                notice += [Outbound(text) for text in state.notices]  # reminders kept for this turn
                state.notices = []
                first_contact = conversation.is_new or (conversation.state is None and not notice)
                said = notice + await self.dialogue.respond(ctx, inbound, state, first_contact)
            replies = [replace(r, language=ctx.language) for r in said]
            turn.save_state(state.to_dict(), ctx.language, now)
            if not ctx.erased:
                incoming = inbound.content or f"[{inbound.attachment_kind or 'empty'}]"
                turn.log(incoming, [r.text for r in replies], now)
            if inbound.message_id:
                turn.remember(
                    inbound.message_id,
                    [r.to_rest(inbound.sender_id) for r in replies],
                    now,
                )
        return replies

    async def leave_notice(self, channel: str, sender_id: str, text: str) -> None:
        """Keep a message (a reminder) for an applicant whose channel cannot push: it is
        shown first at their next message."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            state = State.from_dict(turn.conversation.state)
            state.notices.append(text)
            turn.save_state(state.to_dict(), turn.conversation.language, now)

    async def purge(self) -> dict[str, int]:
        counts = await self.store.purge(self.clock(), self.idle_timeout)
        if any(counts.values()):
            log.info("purged %s", counts)
        return counts

