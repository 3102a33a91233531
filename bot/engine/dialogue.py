"""What happens in one turn: global commands first, then the flow or the menu."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from collections.abc import Awaitable, Callable
from typing import Any

from ..answers import Rules, Valid, validate
from ..cases.model import Case
from ..i18n import N_, gettext, native_name, negotiate, set_locale, supported_locales, use_locale, word_set
from ..limits import Limits
from . import commands, my_data
from .commands import Command
from .desks import AppointmentDesk, CaseDesk
from .flow import AskStep
from .linking import LinkDesk
from .loader import FlowSet
from .context import LanguageIdentifier, TurnContext
from .runner import FlowRunner
from .state import Mode, State
from .turn import Button, Inbound, Outbound

FREE_TEXT_TYPES = ("text", "phone", "email")
"""Answers whose language says nothing about the applicant's (names, numbers, addresses)."""

CONTACT_FACTS = ["fedasil_free_number", "fedasil_free_number_hours"]
"""Content facts the global texts quote; checked at start-up."""


INTERRUPTING = ("urgent_help", "human_handoff", "change_language", "privacy", "help")
"""Intents that interrupt a journey when the model is confident (urgent_help: whenever the
model says so, since its own threshold already leans towards offering help)."""
CONFIDENT = 0.8
"""Outside a journey, from here an intent starts its journey; below, down to MIDDLING,
the applicant is asked to confirm first."""
MIDDLING = 0.5
FREE_TEXT_MIN_WORDS = 3
"""Shorter answers to a free-text question (names, places) are never read as a wish."""
SERVICES = ("appointment_manage", "case_status")
"""Intents answered by a desk rather than a journey."""
CommandHandler = Callable[["TurnContext", State, Command], Awaitable["list[Outbound] | None"]]
KIND_OF_SERVICE = {"appointment_manage": N_("My appointment"), "case_status": N_("My requests")}


class Dialogue:
    def __init__(
        self,
        flows: FlowSet,
        find_case: Callable[[str], Awaitable[Case | None]] | None = None,
        nlu: Any = None,
        language_id: LanguageIdentifier | None = None,
        limits: Limits | None = None,
    ) -> None:
        missing = [f for f in CONTACT_FACTS if f not in flows.content]
        if missing:
            raise ValueError(f"content facts missing: {', '.join(missing)}")
        clashes = [f.intent for f in flows.flows.values() if f.intent in commands.GLOBAL + commands.INTERNAL]
        if clashes:
            raise ValueError(f"flow intent {clashes[0]!r} is a reserved command")
        self.flows = flows
        self.runner = FlowRunner(flows)
        self.appointments = AppointmentDesk(flows.content)
        self.case_desk = CaseDesk(find_case, limits)
        self.link_desk = LinkDesk(self.case_desk.limits)
        self.nlu = nlu
        self._commands = self._command_table()
        self._journey_intents = frozenset(f.intent for f in flows.flows.values())
        """Commands a flow took over by name (a desk gives way to a journey of the same intent)."""
        """``nlu.service.NLU`` (Rasa's parse shape), or None: then typed words and keywords."""
        self.language_id = language_id
        """Tells the language of a first typed sentence; None: the bot never offers another."""

    async def respond(self, ctx: TurnContext, inbound: Inbound, state: State, first_contact: bool) -> list[Outbound]:
        if not self.runner.fits(state):
            state.leave_flow()
            return [Outbound(gettext(
                "This service was updated since your last message, so I have to start again. "
                "Sorry for the trouble."
            ))] + self._menu(ctx, greeting=False)
        text = inbound.content
        if inbound.attachment_kind and not text:
            return [Outbound(gettext(
                "I can only read text and buttons for now. Please write your answer, "
                "or type /human to reach a person."
            ))] + self.runner.prompt(ctx, state)
        if not text:
            return self.runner.prompt(ctx, state) or self._menu(ctx, greeting=first_contact)

        command = commands.parse(text)
        side = await self._side_dialogue(ctx, state, text, command)
        if side is not None:
            return side
        if command is not None:
            handled = await self._command(ctx, state, command)
            if handled is not None:
                return handled
        elif not state.language_settled and self._tells_language(state, text):
            state.language_settled = True
            offer = self._language_offer(ctx, state, text)
            if offer is not None:
                return offer
        return await self._free_text(ctx, state, text, first_contact)

    async def _free_text(self, ctx: TurnContext, state: State, text: str, first_contact: bool) -> list[Outbound]:
        """A message that is not a command: the answer to the question, or a wish."""
        if state.flow_id and state.pending:
            if self.nlu is not None and self._may_interrupt(ctx, state, text):
                interrupted = await self._interruption(ctx, state, text)
                if interrupted is not None:
                    return interrupted
            return await self._answer(ctx, state, text)
        return await self._outside_flow(ctx, state, text, first_contact)

    async def _answer(self, ctx: TurnContext, state: State, text: str) -> list[Outbound]:
        replies = await self.runner.answer(ctx, state, text)
        if state.flow_id is None:  # the journey just ended: offer what comes next
            replies += self._menu(ctx, greeting=False)
        return replies

    # --- understanding free text (NLU) --------------------------------------------

    async def _parse(self, ctx: TurnContext, text: str) -> dict[str, Any]:
        return dict(await self.nlu.parse(text, ctx.language))

    def _may_interrupt(self, ctx: TurnContext, state: State, text: str) -> bool:
        """Whether a typed answer could be a wish rather than the answer: always for a
        free-text question (where "they beat me" is a valid text), otherwise only when it
        is not a valid answer (so a click or "yes" costs no parse)."""
        if text.startswith("/") or not any(ch.isalpha() for ch in text):
            return False
        step = self.runner.flow(state).step(state.pending) if state.pending else None
        if not isinstance(step, AskStep) or not step.understand:
            return False
        if step.type == "text":  # a name or a centre is not a wish; a sentence may be
            return len(text.split()) >= FREE_TEXT_MIN_WORDS
        return not self.runner.accepts(ctx, state, step, text)

    async def _interruption(self, ctx: TurnContext, state: State, text: str) -> list[Outbound] | None:
        """A wish in the middle of a journey. Only the intent is needed to decide (the
        whole parse, with entities, only to act on a change of language), which keeps
        this check, run on every sentence typed as an answer, cheap."""
        intent, confidence = await self.nlu.intent(text, ctx.language)
        confidence = float(confidence or 0.0)
        if intent == "urgent_help" and self._asks_free_text(state):
            # "I am pregnant" may be the answer to a question about health: ask, do not guess.
            if confidence < MIDDLING:
                return None
            state.mode, state.held_text = Mode.URGENT_OFFER, text
            return [Outbound(
                gettext("Are you in danger or do you need urgent help now?"),
                (Button(gettext("Yes, I need help now"), "/urgent_help"),
                 Button(gettext("No, this is my answer"), "/answer")),
            )]
        if intent not in INTERRUPTING or (intent != "urgent_help" and confidence < CONFIDENT):
            return None
        parse = await self._parse(ctx, text) if intent == "change_language" else {}
        return await self._act_on(ctx, state, intent, parse)

    def _asks_free_text(self, state: State) -> bool:
        step = self.runner.flow(state).step(state.pending) if state.flow_id and state.pending else None
        return isinstance(step, AskStep) and step.type == "text"

    async def _act_on(self, ctx: TurnContext, state: State, intent: str, parse: dict[str, Any]) -> list[Outbound] | None:
        """Do what a confident intent asks, as its command or journey would."""
        if intent == "change_language":
            wanted = next((e.get("value") for e in parse.get("entities", []) if e.get("entity") == "language"), None)
            code = negotiate(wanted) if isinstance(wanted, str) else None
            return self._switch_language(ctx, state, code) if code else self._language_picker(state)
        if intent == "privacy":
            return [Outbound(self._privacy_text())] + (self._resume(ctx, state) or self._menu(ctx, greeting=False))
        if intent == "greet":
            return self._menu(ctx, greeting=True)
        if intent == "goodbye":
            return [Outbound(gettext("Goodbye. Type /start at any time if you need something."))]
        name = {"human_handoff": "human"}.get(intent, intent)
        return await self._command(ctx, state, Command(name))

    def _privacy_text(self) -> str:
        return gettext(
            "Your answers are stored encrypted and seen only by the staff who handle your "
            "request. They are not passed to the police or to the authorities of your country "
            "without a legal basis. Type /case_status to see your requests and /forget to erase "
            "everything. You can complain to the Data Protection Authority "
            "(dataprotectionauthority.be)."
        )

    # --- short side-dialogues that wait for one answer ----------------------------

    async def _side_dialogue(
        self, ctx: TurnContext, state: State, text: str, command: Command | None
    ) -> list[Outbound] | None:
        mode = state.mode
        if mode == Mode.RESTART:
            state.mode = None  # the offer to continue or start again was not taken up
        if mode == Mode.FORGET and (command is None or command.typed):
            state.mode = None
            answer = validate(Rules(type="yes_no"), text, today=ctx.today)
            if isinstance(answer, Valid) and answer.value is True:
                erased, kept = await ctx.records.erase(ctx.now)
                ctx.erased = True
                state.leave_flow()
                state.notices, state.replying_to, state.takeover = [], None, None
                done = gettext("Your answers and this conversation have been erased.")
                if erased:
                    done += " " + gettext(
                        "Requests you had sent from this chat were withdrawn and their personal data erased."
                    )
                if kept:
                    done += " " + gettext(
                        "Some of your requests must be kept for now for a legal reason recorded by the staff. "
                        "They will be erased when that reason ends."
                    )
                return [Outbound(done)] + self._menu(ctx, greeting=False)
            return [Outbound(gettext("Nothing was erased."))] + self._resume(ctx, state)
        if mode == Mode.LANGUAGE and command is None:
            code = self._language_named(text)
            state.mode = None
            if code:
                return self._switch_language(ctx, state, code)
        if mode == Mode.LANGUAGE_OFFER:
            return await self._language_offer_answered(ctx, state, text, command)
        if mode == Mode.URGENT_OFFER:
            held, state.mode, state.held_text = state.held_text, None, None
            if command is not None and command.name == "answer" and held and state.flow_id and state.pending:
                return await self._answer(ctx, state, held)
        if mode == Mode.CASE_LOOKUP and command is None:
            return await self.case_desk.check_birth(ctx, state, text) + (
                self._resume(ctx, state) or self._menu(ctx, greeting=False)
            )
        if mode == Mode.CASE_LOOKUP:
            state.mode, state.held_text = None, None
        if mode == Mode.EDIT_PICK and command is None:
            flow = self.runner.flow(state)
            labels = {commands.normalise(gettext(flow.step(s).label)): s for s in state.path}
            step_id = labels.get(commands.normalise(text))
            if step_id is None and text.strip().isdigit() and 0 < int(text) <= len(state.path):
                step_id = state.path[int(text) - 1]
            return self.runner.edit(ctx, state, step_id or "?")
        return None

    # --- global commands ------------------------------------------------------------

    def _command_table(self) -> dict[str, CommandHandler]:
        """Each command's handler. A handler answers None when the command means nothing
        at this point (then it is read as a journey's name, or as an answer)."""
        return {
            "start": self._start,
            "continue": self._continue,
            "restart": self._restart,
            "cancel": self._cancel,
            "back": self._back,
            "help": self._help_command,
            "human": self._human,
            "language": self._language_command,
            "stay": self._stay,
            "appointment_manage": self._appointment_desk,
            "case_status": self._case_desk,
            "link": self._link,
            "forget": self._forget,
            "my_data": self._my_data,
            "skip": self._skip,
            "keep": self._keep,
            "edit": self._edit,
            "confirm": self._an_answer,
            "done": self._an_answer,
        }

    async def _command(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if state.mode == Mode.EDIT_PICK and command.name != "edit":
            state.mode = None
        handler = self._commands.get(command.name)
        if handler is not None and command.name not in self._journey_intents:
            return await handler(ctx, state, command)
        return await self._journey_command(ctx, state, command.name)

    async def _journey_command(self, ctx: TurnContext, state: State, name: str) -> list[Outbound] | None:
        """``/visa_info`` and the like: start that journey, unless another one is open."""
        wanted = self.flows.by_intent(name)
        if wanted is None:
            return None
        if not _in_flow(state):
            return await self.runner.start(ctx, state, wanted)
        if wanted.interrupts and wanted.id != state.flow_id:
            return await self.runner.start(ctx, state, wanted)  # safety first: the journey waits
        journey = gettext(self.runner.flow(state).title)
        return [Outbound(gettext(
            "Please finish or cancel this first: {journey}.", journey=journey
        ))] + self._resume(ctx, state)

    async def _start(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if _in_flow(state):
            state.mode = Mode.RESTART
            title = gettext(self.runner.flow(state).title)
            return [Outbound(
                gettext("You are in the middle of: {journey}. Do you want to continue or start again?", journey=title),
                (Button(gettext("Continue"), "/continue"), Button(gettext("Start again"), "/restart")),
            )]
        return self._menu(ctx, greeting=True)

    async def _continue(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        state.mode = None
        return self._resume(ctx, state) or self._menu(ctx, greeting=False)

    async def _restart(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        state.leave_flow()
        return self._menu(ctx, greeting=True)

    async def _cancel(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if not state.flow_id:
            return [Outbound(gettext("There is nothing to cancel."))] + self._menu(ctx, greeting=False)
        if self.runner.interrupted(state) is not None:
            return [Outbound(gettext("Cancelled. Nothing was sent."))] + self.runner.stop(ctx, state)
        state.leave_flow()
        return [Outbound(gettext(
            "Cancelled. Nothing was sent, and the answers you gave in this conversation were deleted."
        ))] + self._menu(ctx, greeting=False)

    async def _back(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if not _in_flow(state):
            return self._menu(ctx, greeting=False)
        return self.runner.back(ctx, state)

    async def _help_command(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return self._help(ctx, state)

    async def _human(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        handoff = self.flows.by_intent("human_handoff")
        if handoff is not None and state.flow_id != handoff.id:
            return await self.runner.start(ctx, state, handoff)
        return [Outbound(self._contact_text(ctx))] + (
            self._resume(ctx, state) or self._menu(ctx, greeting=False)
        )

    async def _language_command(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if command.argument:
            code = negotiate(command.argument)
            if code:
                return self._switch_language(ctx, state, code)
        return self._language_picker(state)

    async def _stay(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return self._resume(ctx, state) or self._menu(ctx, greeting=False)

    async def _appointment_desk(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return await self.appointments.handle(ctx, state, command.argument) + (
            self._resume(ctx, state) or self._menu(ctx, greeting=False)
        )

    async def _case_desk(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        replies = await self.case_desk.handle(ctx, state, command.argument, await ctx.records.cases())
        if state.mode == Mode.CASE_LOOKUP:
            return replies
        if replies and replies[-1].buttons and not _in_flow(state):
            # Its buttons (withdraw, updates, a confirmation) stay the last ones shown.
            last = replies[-1]
            return replies[:-1] + [replace(last, buttons=last.buttons + (Button(gettext("Main menu"), "/start"),))]
        return replies + (self._resume(ctx, state) or self._menu(ctx, greeting=False))

    async def _link(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        if ctx.assisted is not None:
            return None  # staff answering for an applicant link nothing to their intake
        return await self.link_desk.handle(ctx, state, command.argument) + (
            self._resume(ctx, state) or self._menu(ctx, greeting=False)
        )

    async def _forget(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        state.mode = Mode.FORGET
        return [Outbound(
            gettext(
                "Do you want me to erase everything you told me in this chat? Requests you "
                "already sent from this chat will be withdrawn. This cannot be undone."
            ),
            (Button(gettext("Yes, erase my data"), "yes"), Button(gettext("No, keep it"), "no")),
        )]

    async def _my_data(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        held = await my_data.gather(ctx)
        return my_data.describe(ctx, state, self.flows, held) + (
            self._resume(ctx, state) or self._menu(ctx, greeting=False)
        )

    async def _skip(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return await self.runner.skip(ctx, state) if _in_flow(state) else None

    async def _keep(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return await self.runner.keep(ctx, state) if _in_flow(state) else None

    async def _edit(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return self.runner.edit(ctx, state, command.argument) if _in_flow(state) else None

    async def _an_answer(self, ctx: TurnContext, state: State, command: Command) -> list[Outbound] | None:
        return None  # an answer to the current step (or nothing): the runner reads it

    def _resume(self, ctx: TurnContext, state: State) -> list[Outbound]:
        return self.runner.prompt(ctx, state)

    def _help(self, ctx: TurnContext, state: State) -> list[Outbound]:
        out: list[Outbound] = []
        if state.flow_id and state.pending:
            step = self.runner.flow(state).step(state.pending)
            if isinstance(step, AskStep) and step.help:
                out.append(Outbound(gettext(step.help)))
        out.append(Outbound(gettext(commands.HELP)))
        return out + (self._resume(ctx, state) or self._menu(ctx, greeting=False))

    def _contact_text(self, ctx: TurnContext) -> str:
        params = self.flows.content.params(CONTACT_FACTS, ctx.today)
        return gettext(
            "To talk to a person, call Fedasil for free on {fedasil_free_number} "
            "({fedasil_free_number_hours}), or ask the social worker in your reception centre. "
            "(Checked on {fedasil_free_number_checked}.)",
            **params,
        )

    # --- language -------------------------------------------------------------------

    def _language_picker(self, state: State) -> list[Outbound]:
        state.mode = Mode.LANGUAGE
        buttons = tuple(Button(native_name(code), f"/language {code}") for code in supported_locales())
        return [Outbound(gettext("Choose your language:"), buttons)]

    def _language_named(self, text: str) -> str | None:
        said = commands.normalise(text)
        for code in supported_locales():
            if said in (commands.normalise(native_name(code)), code):
                return code
        return negotiate(text.strip()) if len(text.strip()) <= 5 else None

    def _switch_language(self, ctx: TurnContext, state: State, code: str) -> list[Outbound]:
        self._set_language(ctx, state, code)
        done = Outbound(gettext("I will write in English from now on."))
        return [done] + (self._resume(ctx, state) or self._menu(ctx, greeting=False))

    def _set_language(self, ctx: TurnContext, state: State, code: str) -> None:
        ctx.language = code
        set_locale(code)
        state.language_settled = True
        state.mode = None if state.mode in (Mode.LANGUAGE, Mode.LANGUAGE_OFFER) else state.mode

    def _tells_language(self, state: State, text: str) -> bool:
        """Whether ``text`` is the first message that says which language the applicant
        reads: a sentence, not a click or a single word, and not the answer to a free-text
        question (a name reads as any language)."""
        if self.language_id is None or len(text.split()) < self.language_id.min_words:
            return False
        if state.flow_id and state.pending:
            step = self.runner.flow(state).step(state.pending)
            return not (isinstance(step, AskStep) and step.type in FREE_TEXT_TYPES)
        return True

    def _language_offer(self, ctx: TurnContext, state: State, text: str) -> list[Outbound] | None:
        """Offer, never impose, the language the first typed message is clearly written in.

        The message is held, then handled in whichever language the applicant picks, so
        nothing they wrote is lost either way.
        """
        assert self.language_id is not None  # _tells_language said so
        found = self.language_id.clearly_in(text, supported_locales())
        if found is None or found.split("_")[0] == ctx.language.split("_")[0]:
            return None
        if _script(text) != SCRIPTS.get(found.split("_")[0], "LATIN"):
            return None  # Latin letters read as Arabizi or Finglish: too unsure to offer
        state.mode = Mode.LANGUAGE_OFFER
        state.held_text = text
        with use_locale(found):
            question = gettext("Do you want to continue in {language}?", language=native_name(found))
        return [Outbound(
            question,
            (Button(native_name(found), f"/language {found}"), Button(native_name(ctx.language), "/stay")),
        )]

    async def _language_offer_answered(
        self, ctx: TurnContext, state: State, text: str, command: Command | None
    ) -> list[Outbound]:
        held, state.held_text, state.mode = state.held_text, None, None
        chosen = command.name if command is not None else None
        if chosen == "language" and command is not None and command.argument:
            code = negotiate(command.argument)
            if code:
                self._set_language(ctx, state, code)
                done = [Outbound(gettext("I will write in English from now on."))]
                if held is None:
                    return done + (self._resume(ctx, state) or self._menu(ctx, greeting=False))
                return done + await self._free_text(ctx, state, held, first_contact=False)
        if chosen == "stay" and held:
            return await self._free_text(ctx, state, held, first_contact=False)
        return await self._ignoring_offer(ctx, state, text, command)

    async def _ignoring_offer(
        self, ctx: TurnContext, state: State, text: str, command: Command | None
    ) -> list[Outbound]:
        """The applicant wrote something else instead: handle it as if no offer was made."""
        if command is not None:
            handled = await self._command(ctx, state, command)
            if handled is not None:
                return handled
        return await self._free_text(ctx, state, text, first_contact=False)

    # --- outside a journey ----------------------------------------------------------

    async def _outside_flow(self, ctx: TurnContext, state: State, text: str, first_contact: bool) -> list[Outbound]:
        if self.nlu is not None and any(ch.isalpha() for ch in text):
            understood = await self._understood(ctx, state, await self._parse(ctx, text))
            if understood is not None:
                return understood
        said = commands.normalise(text)
        # The most specific (longest) keyword found decides: "someone asked me for money
        # for my return" is a report, not a return request.
        found = [
            (max(len(word) for word in words), flow)
            for flow in self.flows.with_keywords()
            if (words := [w for w in _keywords(flow.keywords or "") if w in said])
        ]
        if found:
            return await self.runner.start(ctx, state, max(found, key=lambda hit: hit[0])[1])
        if first_contact:
            return self._menu(ctx, greeting=True)
        return [Outbound(gettext("Sorry, I did not understand. Please choose one of these:"))] + self._menu(ctx, greeting=False)

    async def _understood(self, ctx: TurnContext, state: State, parse: dict[str, Any]) -> list[Outbound] | None:
        """Outside a journey the intent picks one: at once when the model is confident (and
        always for urgent_help), after a confirming click when it is middling."""
        intent = (parse.get("intent") or {}).get("name")
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        if not intent or intent in ("nlu_fallback", "out_of_scope", "affirm", "deny"):
            return None
        flow = self.flows.by_intent(intent)
        if intent == "urgent_help" or confidence >= CONFIDENT:
            if flow is not None:
                return await self.runner.start(ctx, state, flow)
            return await self._act_on(ctx, state, intent, parse)
        if confidence >= MIDDLING and (flow is not None or intent in SERVICES):
            title = gettext(flow.title) if flow is not None else gettext(KIND_OF_SERVICE[intent])
            return [Outbound(
                gettext("Do you mean: {journey}?", journey=title),
                (Button(gettext("Yes"), f"/{intent}"), Button(gettext("No, show the menu"), "/start")),
            )]
        return None

    def _menu(self, ctx: TurnContext, greeting: bool) -> list[Outbound]:
        buttons = [Button(gettext(f.title), f"/{f.intent}") for f in self.flows.menu()]
        buttons.append(Button(gettext("My requests"), "/case_status"))
        buttons.append(Button(gettext("Talk to a person"), "/human"))
        buttons.append(Button("🌐 " + gettext("Language"), "/language"))
        if greeting:
            text = gettext(
                "Hello. I am an automated assistant of the Belgian Immigration Office and its "
                "partners, not a person. This service is free: nobody may ask you for money for it.\n\n"
                "What can I help you with?"
            )
        else:
            text = gettext("What can I help you with?")
        return [Outbound(text, tuple(buttons))]


def _in_flow(state: State) -> bool:
    """Whether a journey is open and waiting for an answer."""
    return bool(state.flow_id and state.pending)


SCRIPTS = {"ar": "ARABIC", "fa": "ARABIC", "ps": "ARABIC", "ti": "ETHIOPIC", "ru": "CYRILLIC",
           "uk": "CYRILLIC", "ka": "GEORGIAN"}
"""The script each language is written in, when it is not Latin."""


def _script(text: str) -> str:
    """The script of the first letter (ARABIC, CYRILLIC…; LATIN by default)."""
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "LATIN")
            return next((s for s in ("ARABIC", "ETHIOPIC", "CYRILLIC", "GEORGIAN") if name.startswith(s)), "LATIN")
    return "LATIN"


def _keywords(msgid: str) -> list[str]:
    return [commands.normalise(w) for w in word_set(msgid) if len(w) >= 3]
