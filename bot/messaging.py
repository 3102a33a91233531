"""Staff reaching the applicant: a message about a case, and a live takeover of the
conversation, on the applicant's own channel.

The back office (and later the staff API) calls :class:`ApplicantMessenger`; the engine
records the message in the conversation (transcript, "answers go to this case"), and the
channel pushes it when it can (Telegram, an open socket.io web chat). When it cannot (our
REST web chat, a Telegram user who blocked the bot), the message is kept and shown at the
applicant's next message, or when their web chat page asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from .channels.base import NotDeliverable
from .engine import Engine, Outbound
from .i18n import N_
from .store.appointments import ConversationAddress

log = logging.getLogger(__name__)

TAKEOVER = timedelta(minutes=30)
"""How long a takeover lasts without a hand-back (the bot then answers again)."""
TAKEOVER_END = "takeover_end"
"""The scheduler's job that ends a takeover at its timeout (bot/reminders.py delivers it)."""


class Delivery(StrEnum):
    PUSHED = "pushed"
    """Sent to the applicant's channel now."""
    KEPT = "kept"
    """Kept for the applicant's next message or web chat visit."""
    ERASED = "erased"
    """The applicant erased their conversation: there is no one to write to."""
    OPTED_OUT = "opted_out"
    """Not sent: the applicant asked not to be told of status changes."""
    NO_CHAT = "no_chat"
    """Not sent: the case came without a chat (a partner's assisted intake, not linked yet)."""


TEMPLATES: dict[str, str] = {
    # TRANSLATORS: a message staff send to an applicant about their request {reference}
    "documents": N_(
        "We need more documents to handle your request {reference}. Please bring or send copies "
        "of your identity and travel documents, and any document about your situation."
    ),
    # TRANSLATORS: a message staff send to an applicant about their request {reference}
    "appointment": N_(
        "Please check your appointment for request {reference}: type /appointment_manage to see "
        "its date, time and place. Come on time and bring your documents."
    ),
    # TRANSLATORS: a message staff send to an applicant about their request {reference}
    "reviewed": N_(
        "Your request {reference} is being reviewed by our staff. We will write to you here when "
        "there is news. You do not need to do anything now."
    ),
    # TRANSLATORS: a message staff send to an applicant about their request {reference}
    "contact": N_(
        "Please contact us about your request {reference}. Answer here, or type /human to see how "
        "to reach a person, and give your reference."
    ),
}
"""Messages staff may send as they are, written in each applicant's language (the
``messages`` catalogs): an id, and the text with its ``{reference}``."""


class Addresses(Protocol):
    async def conversation_address(self, conversation_id: int) -> ConversationAddress | None:
        """Where the applicant of a conversation is reached (None once erased)."""


class Pusher(Protocol):
    name: str

    async def push(self, sender_id: str, replies: Sequence[Outbound]) -> bool:
        """Send without being asked; False when it could not be delivered."""


def pushers(channels: Sequence[Any]) -> dict[str, Pusher]:
    """The channels that can send without being asked, by name."""
    return {c.name: c for c in channels if callable(getattr(c, "push", None))}


class ApplicantMessenger:
    def __init__(self, addresses: Addresses, engine: Engine, channels: Sequence[Any]) -> None:
        self.addresses = addresses
        self.engine = engine
        self.pushers = pushers(channels)

    async def message(
        self, conversation_id: int, case_reference: str, text: str = "", *, template: str | None = None
    ) -> Delivery:
        """Write ``text``, or the template of that id (:data:`TEMPLATES`) in the applicant's
        language, to the applicant of ``conversation_id`` about ``case_reference``."""
        if template is not None and template not in TEMPLATES:
            raise ValueError(f"unknown template {template!r}")
        if template is None and not text.strip():
            raise ValueError("an empty message")
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return Delivery.ERASED
        pusher = self._pusher(address)
        message = await self.engine.staff_message(
            address.channel, address.sender_id, text.strip(), case_reference=case_reference, keep=pusher is None,
            template=TEMPLATES[template] if template is not None else None,
        )
        if message is None:
            return Delivery.ERASED
        return await self._deliver(address, pusher, message)

    async def status_changed(self, conversation_id: int | None, case_reference: str, status: str) -> Delivery:
        """Tell the applicant that staff moved their case to ``status``, in their language,
        unless they opted out (the back office and the staff API both call this)."""
        if not conversation_id:
            return Delivery.NO_CHAT
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return Delivery.ERASED
        if not address.status_notices:
            return Delivery.OPTED_OUT
        pusher = self._pusher(address)
        message = await self.engine.status_notice(
            address.channel, address.sender_id, case_reference=case_reference, status=status, keep=pusher is None
        )
        if message is None:
            return Delivery.OPTED_OUT
        return await self._deliver(address, pusher, message)

    async def take_over(self, conversation_id: int, case_reference: str, now: datetime,
                        length: timedelta = TAKEOVER, *, by: str | None = None) -> bool:
        """The bot stays quiet in this conversation until :meth:`hand_back` or ``length``
        (``by``: who took over, shown to their colleagues)."""
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return False
        until = now + length
        await self.engine.take_over(
            address.channel, address.sender_id, case_reference=case_reference, until=until, by=by
        )
        schedule = getattr(self.addresses, "add_job", None)
        if schedule is not None:  # the timeout's notice is sent even if the applicant is silent
            await schedule(TAKEOVER_END, conversation_id, until, {"until": until.isoformat()}, now)
        return True

    async def hand_back(self, conversation_id: int, *, ended: datetime | None = None) -> Delivery | None:
        """The bot answers again, and says so in the applicant's language (``ended``: by
        the timeout of the takeover that was to end then; None if it ended otherwise)."""
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return Delivery.ERASED
        pusher = self._pusher(address)
        message = await self.engine.hand_back(address.channel, address.sender_id, keep=pusher is None, ended=ended)
        if message is None:
            return None
        return await self._deliver(address, pusher, message)

    def _pusher(self, address: ConversationAddress) -> Pusher | None:
        pusher = self.pushers.get(address.channel)
        return None if pusher is None or address.unreachable else pusher

    async def _deliver(self, address: ConversationAddress, pusher: Pusher | None, message: Outbound) -> Delivery:
        if pusher is None:
            return Delivery.KEPT
        try:
            if await pusher.push(address.sender_id, [message]):
                return Delivery.PUSHED
        except NotDeliverable:
            log.info("staff message: not deliverable on %s now; kept", address.channel)
        except Exception as exc:  # the reason is logged without the message (personal)
            log.warning("staff message: push on %s failed (%s)", address.channel, type(exc).__name__)
        await self.engine.leave_notice(address.channel, address.sender_id, message.text)
        return Delivery.KEPT
