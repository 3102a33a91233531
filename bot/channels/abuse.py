"""Per-address abuse limits for the web chat's channels (REST, socket.io).

Per sender is not enough over HTTP: senders are free to invent. So every message also
counts against its address group (:mod:`.addresses`), and a message that starts a new
conversation counts against a cap of new conversations per address and hour, which bounds
how fast one client can grow the database. The limits are generous: a shelter's Wi-Fi or a
mobile carrier's NAT puts many applicants behind one address. The webhooks of Telegram
and WhatsApp are not limited here (their requests come from the platforms).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ..limits import Limits, MemoryLimits, retry_after
from . import addresses
from .rasa import Refused

MESSAGES_PER_ADDRESS_PER_MINUTE = 600
NEW_CONVERSATIONS_PER_ADDRESS_PER_HOUR = 120


@dataclass
class AddressLimits:
    limits: Limits
    trusted: tuple[addresses.Network, ...] = ()
    messages_per_minute: int = MESSAGES_PER_ADDRESS_PER_MINUTE
    new_conversations_per_hour: int = NEW_CONVERSATIONS_PER_ADDRESS_PER_HOUR

    @classmethod
    def in_memory(cls) -> AddressLimits:
        return cls(MemoryLimits())

    def origin(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The address group a request comes from (see :mod:`.addresses`)."""
        return addresses.group(addresses.client_address(peer, headers, self.trusted))

    async def admit(
        self,
        origin: str,
        *,
        language_hint: str | None = None,
        is_new: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Count a message from ``origin``, or refuse it (429) when the address sends too
        much; ``is_new`` says whether the message would start a conversation (asked only
        when given, since it costs a lookup)."""
        wait = await self.limits.hit(f"address:{origin}", self.messages_per_minute, 60)
        if not wait and is_new is not None and await is_new():
            wait = await self.limits.hit(f"new:{origin}", self.new_conversations_per_hour, 3600)
        if wait:
            seconds = retry_after(wait)
            raise Refused(429, f"too many messages from this address; retry after {seconds} seconds",
                          retry_after=seconds, language_hint=language_hint)
