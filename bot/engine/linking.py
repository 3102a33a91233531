"""``/link CODE``: an applicant links their own chat to a case a staff member submitted
for them (the back office's assisted intake), with the one-time code printed on the
summary they took home.

Afterwards "my requests" in this chat shows the case and staff messages about it come
here (the store moves the case to this conversation). Wrong codes are limited per
conversation, per address group and in all, like reference lookups (desks.py), so codes
cannot be guessed; a right code is never refused for someone else's wrong ones except by
the overall cap, which only slows everyone down for the rest of the hour.
"""

from __future__ import annotations

from ..cases.references import normalise_link_code
from ..i18n import gettext
from ..limits import Limits
from .context import TurnContext
from .state import State
from .turn import Outbound

WRONG_PER_CONVERSATION = 5
"""Wrong codes one conversation may send per hour."""
WRONG_PER_ADDRESS = 20
"""Wrong codes per hour from one address group (a shelter's Wi-Fi is shared: generous)."""
WRONG_EVERYWHERE = 300
"""Wrong codes per hour from everyone: with codes of 30**8, guessing stays hopeless."""
HOUR = 3600


class LinkDesk:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    async def handle(self, ctx: TurnContext, state: State, argument: str | None) -> list[Outbound]:
        if not (argument or "").strip():
            return [Outbound(gettext(
                "To follow a request that a staff member sent for you, type /link and the code "
                "on your sheet, for example: /link 7K3M-9QXA"
            ))]
        now = ctx.now.timestamp()
        state.link_tries = [t for t in state.link_tries if now - t < HOUR]
        if await self._too_many(ctx, state):
            return [Outbound(gettext("Too many attempts. Please try again later, or type /human."))]
        code = normalise_link_code(argument or "")
        outcome, reference = await ctx.records.redeem_link_code(code, ctx.now) if code else ("unknown", None)
        if outcome == "linked":
            return [Outbound(gettext(
                "Done: this chat is now linked to your request {reference}. Type /case_status to "
                "see it. Messages from the staff about it will come here.",
                reference=reference,
            ))]
        state.link_tries.append(now)
        await self.limits.hit("link:wrong", WRONG_EVERYWHERE, HOUR)
        if ctx.origin is not None:
            await self.limits.hit(f"link:address:{ctx.origin}", WRONG_PER_ADDRESS, HOUR)
        if outcome == "expired":
            return [Outbound(gettext(
                "This code has expired. Ask the staff who helped you for a new one."
            ))]
        if outcome == "used":
            return [Outbound(gettext(
                "This code was already used: a code works only once. If you did not use it, "
                "ask the staff who helped you for a new one."
            ))]
        return [Outbound(gettext(
            "I do not know this code. Please check it: it has 8 letters and numbers, as printed on your sheet."
        ))]

    async def _too_many(self, ctx: TurnContext, state: State) -> bool:
        if len(state.link_tries) >= WRONG_PER_CONVERSATION:
            return True
        if await self.limits.used("link:wrong", HOUR) >= WRONG_EVERYWHERE:
            return True
        return ctx.origin is not None and await self.limits.used(f"link:address:{ctx.origin}", HOUR) >= WRONG_PER_ADDRESS
