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
from .store.appointments import ConversationAddress

log = logging.getLogger(__name__)

TAKEOVER = timedelta(minutes=30)
"""How long a takeover lasts without a hand-back (the bot then answers again)."""


class Delivery(StrEnum):
    PUSHED = "pushed"
    """Sent to the applicant's channel now."""
    KEPT = "kept"
    """Kept for the applicant's next message or web chat visit."""
    ERASED = "erased"
    """The applicant erased their conversation: there is no one to write to."""


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

    async def message(self, conversation_id: int, case_reference: str, text: str) -> Delivery:
        """Write ``text`` to the applicant of ``conversation_id`` about ``case_reference``."""
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return Delivery.ERASED
        pusher = self._pusher(address)
        message = await self.engine.staff_message(
            address.channel, address.sender_id, text, case_reference=case_reference, keep=pusher is None
        )
        if message is None:
            return Delivery.ERASED
        return await self._deliver(address, pusher, message)

    async def take_over(self, conversation_id: int, case_reference: str, now: datetime,
                        length: timedelta = TAKEOVER) -> bool:
        """The bot stays quiet in this conversation until :meth:`hand_back` or ``length``."""
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return False
        await self.engine.take_over(address.channel, address.sender_id, case_reference=case_reference, until=now + length)
        return True

    async def hand_back(self, conversation_id: int) -> Delivery | None:
        """The bot answers again, and says so in the applicant's language."""
        address = await self.addresses.conversation_address(conversation_id)
        if address is None:
            return Delivery.ERASED
        pusher = self._pusher(address)
        message = await self.engine.hand_back(address.channel, address.sender_id, keep=pusher is None)
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
