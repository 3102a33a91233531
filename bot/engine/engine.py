"""``Engine.handle(inbound) -> list[Outbound]``: one turn, start to end.

The engine takes the conversation's lock, answers a redelivered message from what it
already said, loads the state, lets the dialogue respond, and writes state, transcript and
any case in the same transaction. It knows nothing about Telegram or HTTP, and nothing
about tables: the store is reached through the ports of ``context.py``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..cases.draft import AssistedBy
from ..content import Content
from ..i18n import DEFAULT_LOCALE, gettext, negotiate, source_of, use_locale
from ..limits import Limits, MemoryLimits
from . import binding, commands
from .context import ConversationStore, LanguageIdentifier, TurnContext, TurnRecords
from .dialogue import Dialogue
from .loader import FlowSet
from .state import State
from .desks import OPEN, STATUS_TITLES
from .turn import Button, Inbound, Outbound, utcnow

KNOWN_SENDERS = 50_000
"""Senders remembered as known by :meth:`Engine.knows` (a few MB)."""

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        store: ConversationStore,
        flows: FlowSet,
        *,
        idle_timeout: timedelta = timedelta(hours=24),
        timezone: str = "Europe/Brussels",
        default_language: str = DEFAULT_LOCALE,
        clock: Callable[[], datetime] = utcnow,
        nlu: Any = None,
        language_id: LanguageIdentifier | None = None,
        limits: Limits | None = None,
        on_turn: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self.store = store
        self.flows = flows
        self.dialogue = Dialogue(
            flows, find_case=store.case, nlu=nlu, language_id=language_id, limits=limits or MemoryLimits()
        )
        self.idle_timeout = idle_timeout
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.default_language = default_language
        self.clock = clock
        self.on_turn = on_turn
        """Told (channel, seconds, succeeded) after each turn: the metrics."""
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def handle(self, inbound: Inbound, *, assisted: AssistedBy | None = None) -> list[Outbound]:
        """One turn. ``assisted``: a staff member answers for the applicant (the back
        office's assisted intake); a case this turn creates records who and how."""
        if self.on_turn is None:
            return await self._handle(inbound, assisted)
        started, ok = time.perf_counter(), False
        try:
            replies = await self._handle(inbound, assisted)
            ok = True
            return replies
        finally:
            self.on_turn(inbound.channel, time.perf_counter() - started, ok)

    async def _handle(self, inbound: Inbound, assisted: AssistedBy | None) -> list[Outbound]:
        now = self.clock()
        inbound = inbound.storable()
        async with self.store.turn(inbound.channel, inbound.sender_id, now, message_id=inbound.message_id) as turn:
            secrets: dict[str, Any] = {}
            if inbound.bindable:
                # Before anything is read: a redelivered answer is the conversation's too.
                stored = turn.conversation.state or {}
                bound, must_issue = binding.check(stored.get("binding"), inbound.conversation_token)
            if inbound.message_id:
                earlier = await turn.previous_replies(inbound.message_id)
                if earlier is not None:
                    return [Outbound.from_dict(r) for r in earlier]
            await turn.reached()
            conversation = turn.conversation
            state = State.from_dict(conversation.state)
            if inbound.bindable:
                state.binding = bound
                if must_issue:
                    secrets[binding.CONVERSATION_TOKEN], state.binding = binding.issue(bound)
                secrets.update(await self._link_device(turn, inbound, state, issue=must_issue))
                if not conversation.is_new and conversation.state is None:
                    secrets["purged"] = True  # what the device kept of it should go too
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
                records=turn,
                timezone=self.timezone,
                assisted=assisted,
                origin=inbound.origin,
            )
            with use_locale(language):
                notice: list[Outbound] = []
                if state.flow_id and now - conversation.updated_at > self.idle_timeout:
                    state.leave_flow()
                    if inbound.bindable:
                        secrets["purged"] = True
                    notice.append(Outbound(gettext(
                        "We had not heard from you for a while, so your unfinished answers "
                        "were deleted to protect your privacy. You can start again."
                    )))
                notice += [Outbound(text) for text in state.notices]  # reminders kept for this turn
                state.notices = []
                if _answers_staff(inbound, state):
                    assert state.replying_to is not None
                    await turn.case_message(state.replying_to, now)
                if state.takeover is not None and not _for_the_bot(inbound):
                    if now < datetime.fromisoformat(state.takeover["until"]):
                        said = notice + self._quiet(state)
                        case = await self._answered_case(turn, state)
                        return self._finish(turn, inbound, state, ctx, said, secrets, case=case)
                    notice += self._handed_back(state)
                if state.replying_to and _a_reply(inbound, state):
                    case = await self._answered_case(turn, state)
                    if case is not None:
                        said = notice + [Outbound(gettext(
                            "Thank you. Your message was passed on to the staff handling your request "
                            "{reference}. To use the assistant again, type /start.",
                            reference=case,
                        ))]
                        return self._finish(turn, inbound, state, ctx, said, secrets, case=case)
                elif state.replying_to and inbound.content and commands.parse(inbound.content) is not None:
                    state.replying_to = None  # back to the assistant
                first_contact = conversation.is_new or (conversation.state is None and not notice)
                said = notice + await self.dialogue.respond(ctx, inbound, state, first_contact)
            return self._finish(turn, inbound, state, ctx, said, secrets)

    async def _link_device(self, turn: TurnRecords, inbound: Inbound, state: State, *, issue: bool) -> dict[str, Any]:
        """Link the conversation to the device that sent it; a device without a key gets
        one with the conversation's token. What the client must keep, if anything."""
        key, issued = inbound.device_key, {}
        if not key and issue:
            key = binding.pending_device_key(state.binding) or binding.new_secret()
            state.binding = binding.with_device_key(state.binding, key)
            issued[binding.DEVICE_KEY] = key
        if key:
            device = binding.device_digest(key)
            if state.device != device:
                await turn.link_device(device)
                state.device = device
        return issued

    def _finish(
        self,
        turn: TurnRecords,
        inbound: Inbound,
        state: State,
        ctx: TurnContext,
        said: list[Outbound],
        secrets: dict[str, Any] | None = None,
        case: str | None = None,
    ) -> list[Outbound]:
        now = ctx.now
        replies = [replace(r, language=ctx.language) for r in said]
        if ctx.erased and inbound.bindable:
            secrets = {**(secrets or {}), "erased": True}
            state.device = None  # the link is gone with the data: the next message relinks
        if secrets and replies:
            # On the first reply only: what the web chat keeps (token, device key), and
            # whether it must drop what it kept of the conversation (erased, purged).
            replies[0] = replace(replies[0], custom={**(replies[0].custom or {}), **secrets})
        turn.save_state(state.to_dict(), ctx.language, now)
        if not ctx.erased:
            incoming = inbound.content or f"[{inbound.attachment_kind or 'empty'}]"
            turn.log(incoming, [r.text for r in replies], now, sources=[_source(r) for r in replies], case=case)
        if inbound.message_id:
            turn.remember(inbound.message_id, [r.to_dict() for r in replies], now)
        return replies

    # --- staff on the other side (the back office) ------------------------------------

    async def _answered_case(self, turn: TurnRecords, state: State) -> str | None:
        """The case the applicant's words answer: the one whose staff wrote to them (or
        took over) while it is open, else the conversation's latest open case, else that
        one still; None when neither exists any more (then nobody is waiting)."""
        wanted = (state.takeover or {}).get("case") or state.replying_to
        own = await turn.cases()
        found = next((c for c in own if c.reference == wanted), None)
        if found is not None and found.status in OPEN:
            return found.reference
        latest = next((c for c in own if c.status in OPEN), None)  # newest first
        if latest is not None:
            return latest.reference
        if found is None:
            state.replying_to = None
            return None
        return found.reference

    def _quiet(self, state: State) -> list[Outbound]:
        """While a person has taken over, the bot only says so, once."""
        assert state.takeover is not None
        if state.takeover.get("told"):
            return []
        state.takeover["told"] = True
        return [Outbound(gettext(
            "A person is reading your messages now and will answer you here. "
            "For an emergency, type /urgent_help."
        ))]

    def _handed_back(self, state: State) -> list[Outbound]:
        state.takeover = None
        return [Outbound(gettext("You are talking to the automated assistant again."))]

    async def staff_message(
        self,
        channel: str,
        sender_id: str,
        text: str,
        *,
        case_reference: str,
        keep: bool,
        template: str | None = None,
    ) -> Outbound | None:
        """A staff member writes to the applicant about ``case_reference``: recorded in the
        transcript, and the applicant's next words answer that case. ``template``: a
        message id written in the applicant's language instead of ``text`` (its
        ``{reference}`` filled). With ``keep`` (the channel cannot push) it is shown first
        at their next message, or when their web chat asks (:meth:`kept_messages`)."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            language = turn.conversation.language or self.default_language
            with use_locale(language):
                heading = gettext("Message from the staff handling your request {reference}:", reference=case_reference)
                if template is not None:
                    text = gettext(template, reference=case_reference)
            message = Outbound(f"{heading}\n{text}", language=language)
            state = State.from_dict(turn.conversation.state)
            state.replying_to = case_reference
            if keep:
                state.notices.append(message.text)
            turn.save_state(state.to_dict(), language, now)
            turn.log(None, [], now, staff=[text], staff_sources=[source_of(text)])
        return message

    async def status_notice(
        self, channel: str, sender_id: str, *, case_reference: str, status: str, keep: bool
    ) -> Outbound | None:
        """Tell the applicant, in their language, that staff moved ``case_reference`` to
        ``status``, with a button to stop such notices; None when they opted out."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            if not await turn.status_notices():
                return None
            language = turn.conversation.language or self.default_language
            with use_locale(language):
                message = Outbound(
                    gettext(
                        "News about your request {reference}. New status: {status}. Type /case_status to see your requests.",
                        reference=case_reference,
                        status=gettext(STATUS_TITLES.get(status, status)),
                    ),
                    (Button(gettext("Stop status updates"), "/case_status updates off"),),
                    language=language,
                )
            state = State.from_dict(turn.conversation.state)
            state.replying_to = case_reference
            if keep:
                state.notices.append(message.text)
            turn.save_state(state.to_dict(), language, now)
            turn.log(None, [message.text], now, sources=[_source(message)])
        return message

    async def take_over(
        self, channel: str, sender_id: str, *, case_reference: str, until: datetime, by: str | None = None
    ) -> None:
        """A staff member answers in person until ``until`` (or :meth:`hand_back`): the
        applicant's messages go to the transcript and the bot stays quiet, except for an
        emergency or a request to erase their data."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            state = State.from_dict(turn.conversation.state)
            state.takeover = {"case": case_reference, "until": until.isoformat(), "told": False, "by": by}
            state.replying_to = case_reference
            turn.save_state(state.to_dict(), turn.conversation.language, now)

    async def hand_back(
        self, channel: str, sender_id: str, *, keep: bool, ended: datetime | None = None
    ) -> Outbound | None:
        """The bot answers again; what the applicant is told (kept with ``keep``), or None
        when no one had taken over. ``ended``: only the takeover that was to end then (its
        timeout), not one taken again since."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            state = State.from_dict(turn.conversation.state)
            if state.takeover is None:
                return None
            if ended is not None and state.takeover.get("until") != ended.isoformat():
                return None
            language = turn.conversation.language or self.default_language
            with use_locale(language):
                message = replace(self._handed_back(state)[0], language=language)
            if keep:
                state.notices.append(message.text)
            turn.save_state(state.to_dict(), language, now)
            turn.log(None, [message.text], now, sources=[_source(message)])
        return message

    async def kept_messages(
        self, channel: str, sender_id: str, *, bindable: bool = False, conversation_token: str | None = None
    ) -> list[Outbound]:
        """Hand over, once, what was kept for an applicant whose channel cannot push (a web
        chat page asks now and then while it is open). A bound conversation's kept
        messages go only to the holder of its token (:class:`binding.NotYourConversation`)."""
        if not await self.store.has_conversation(channel, sender_id):
            return []  # never create a conversation for a sender who did not write
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            if bindable:
                binding.check((turn.conversation.state or {}).get("binding"), conversation_token)
            state = State.from_dict(turn.conversation.state)
            if not state.notices:
                return []
            language = turn.conversation.language or self.default_language
            kept, state.notices = state.notices, []
            turn.save_state(state.to_dict(), language, now)
        return [Outbound(text, language=language) for text in kept]

    async def knows(self, channel: str, sender_id: str) -> bool:
        """Whether this sender has a conversation (a message from one who has not starts
        one). A sender once known is remembered (bounded, per process): the channels ask
        before every message of a client without a token, and a lookup a turn is not free.
        One who erased their data still counts as known here, which only spares them the
        new-conversation limit."""
        key = (channel, sender_id)
        if key in self._known:
            self._known.move_to_end(key)
            return True
        if not await self.store.has_conversation(channel, sender_id):
            return False
        self._known[key] = None
        while len(self._known) > KNOWN_SENDERS:
            self._known.popitem(last=False)
        return True

    async def leave_notice(self, channel: str, sender_id: str, text: str) -> None:
        """Keep a message (a reminder) for an applicant whose channel cannot push: it is
        shown first at their next message."""
        now = self.clock()
        async with self.store.turn(channel, sender_id, now) as turn:
            state = State.from_dict(turn.conversation.state)
            state.notices.append(text)
            turn.save_state(state.to_dict(), turn.conversation.language, now)

    async def unreachable(self, channel: str, sender_id: str) -> None:
        """The channel refused to deliver to this applicant (they blocked the bot): kept
        until they write again, so that reminders wait for them instead."""
        await self.store.mark_unreachable(channel, sender_id, self.clock())

    @property
    def content(self) -> Content:
        """The content facts the journeys quote (places, numbers), for texts sent outside
        a turn (reminders)."""
        return self.flows.content

    async def purge(self) -> dict[str, int]:
        counts = await self.store.purge(self.clock(), self.idle_timeout)
        if any(counts.values()):
            log.info("purged %s", counts)
        return counts



def _answers_staff(inbound: Inbound, state: State) -> bool:
    """The applicant's words answer the case a staff member wrote about: typed words (not
    a button, not a command), while a person has taken over or outside a journey (an
    answer to the bot's question in a journey is not one to staff)."""
    if not state.replying_to or not (inbound.text or "").strip() or commands.parse(inbound.text):
        return False
    return state.takeover is not None or not state.flow_id


def _for_the_bot(inbound: Inbound) -> bool:
    """Words the bot answers even while a person has taken over: safety and erasure."""
    command = commands.parse(inbound.content) if inbound.content else None
    return command is not None and command.name in ("urgent_help", "forget")


def _a_reply(inbound: Inbound, state: State) -> bool:
    """Whether the applicant's message answers staff rather than the assistant: typed text,
    not a command, with no journey or side-dialogue waiting for an answer."""
    content = inbound.content
    return bool(
        content
        and inbound.payload is None
        and not inbound.attachment_kind
        and state.flow_id is None
        and state.mode is None
        and commands.parse(content) is None
    )


def _source(reply: Outbound) -> dict[str, Any] | None:
    """What the transcript keeps for staff: the message id and parameters of a reply and
    of its buttons (None for a text that was not one message of the catalogs)."""
    text = source_of(reply.text)
    buttons = [{"title": b.title, "source": source_of(b.title)} for b in reply.buttons]
    if text is None and not buttons:
        return None
    return {"text": text, "buttons": buttons}
