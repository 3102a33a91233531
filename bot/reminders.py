"""Delivering scheduled jobs (appointment reminders, the end of a staff takeover) to the
applicant's own channel.

The scheduler (bot/scheduler.py) claims due jobs from the database; this module turns one
into a message in the applicant's language and hands it to the channel the conversation
came from. Channels that can push (Telegram) send it now; the others (web chat) keep it
for the applicant's next message (:meth:`Engine.leave_notice`), as they do for an
applicant whose channel refused the last delivery (a Telegram user who blocked the bot).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from .channels.base import NotDeliverable
from .engine import Engine, Outbound
from .i18n import format_moment, gettext, use_locale
from .messaging import TAKEOVER_END, Addresses, ApplicantMessenger, pushers

log = logging.getLogger(__name__)


def reminder_text(payload: dict[str, Any], content: Any, timezone: str) -> str:
    return gettext(
        "Reminder: your registration appointment is on {moment}, at {place}. Bring any "
        "documents you have. To change or cancel it, type /appointment_manage.",
        moment=format_moment(datetime.fromisoformat(payload["starts_at"]), timezone),
        place=content.place(payload.get("place", "")),
    )


def deliverer(
    addresses: Addresses, engine: Engine, channels: Sequence[Any], timezone: str
) -> Callable[[Any], Awaitable[bool]]:
    """The ``deliver`` callback of the scheduler."""
    by_channel = pushers(channels)

    messenger = ApplicantMessenger(addresses, engine, channels)

    async def deliver(job: Any) -> bool:
        if job.kind == TAKEOVER_END:
            ended = datetime.fromisoformat(job.payload["until"])
            if engine.clock() < ended:  # never before its time by the conversation's clock
                return False  # (tried again later)
            await messenger.hand_back(job.conversation_id, ended=ended)
            return True
        if job.kind != "appointment_reminder":
            log.warning("job %s: unknown kind %s", job.id, job.kind)
            return False
        address = await addresses.conversation_address(job.conversation_id)
        if address is None:  # erased meanwhile: nothing to send, nothing to retry
            return True
        language = job.payload.get("language") or engine.default_language
        with use_locale(language):
            text = reminder_text(job.payload, engine.content, timezone)
        pusher = by_channel.get(address.channel)
        if pusher is not None and not address.unreachable:
            try:
                return await pusher.push(address.sender_id, [Outbound(text, language=language)])
            except NotDeliverable:  # retrying will not help: kept like the cases below
                log.info("job %s: not deliverable on %s now; kept for the next message", job.id, address.channel)
        # Shown first at their next message: a web chat cannot be pushed to, a Telegram
        # user who blocked the bot only reads it if they come back, and WhatsApp outside
        # its 24-hour window needs the applicant's agreement to templates.
        await engine.leave_notice(address.channel, address.sender_id, text)
        return True

    return deliver
