"""The flow runner: one generic engine that walks any flow's steps.

It asks, validates, re-asks, goes back, shows the summary, lets the applicant change one
answer, and submits. It holds no text of its own beyond the generic prompts; everything a
journey says is in its YAML.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from string import Formatter
from typing import Any

from babel.dates import format_date

from .. import answers
from ..cases import kinds
from ..cases.draft import CaseDraft
from ..i18n import current_locale, gettext
from . import booking, dates
from .booking import ChoiceSource, FreeSlots
from .context import TurnContext
from .flow import (
    AskStep,
    BranchStep,
    EndStep,
    Flow,
    GotoStep,
    RecapStep,
    SayStep,
    SubmitStep,
    SummaryStep,
)
from .loader import FlowSet
from .state import Mode, State
from .turn import Button, Expects, Outbound

MAX_TRIES_BEFORE_OFFER = 3
LIKELY_COUNTRIES = "likely_countries"
"""Content fact: for each language, the countries its speakers most often come from or
return to (ISO codes, space-separated), offered as buttons on country questions."""
MAX_SUGGESTED_COUNTRIES = 4
_PRIORITY = {name: rank for rank, name in enumerate(kinds.PRIORITIES)}
_NAMESPACES = ("applicant", "household", "consent")


class FlowRuntimeError(RuntimeError):
    pass


class FlowRunner:
    def __init__(self, flows: FlowSet) -> None:
        self.flows = flows
        self.sources: dict[str, ChoiceSource] = {"free_slots": FreeSlots()}
        unknown = sorted(
            f"{flow.id}: {ask.choices_from}"
            for flow in flows.flows.values()
            for ask in flow.asks()
            if ask.choices_from and ask.choices_from not in self.sources
        )
        if unknown:
            raise ValueError(f"unknown choices_from source ({unknown[0]}); known: {', '.join(self.sources)}")

    # --- entry points -------------------------------------------------------------

    async def start(self, ctx: TurnContext, state: State, flow: Flow) -> list[Outbound]:
        """Start ``flow``. A journey that ``interrupts`` (safety, a person) sets the one in
        progress aside with every answer; the other journey resumes when it ends."""
        if flow.interrupts and state.flow_id and state.flow_id != flow.id:
            state.suspend()
        else:
            state.leave_flow()
        state.flow_id = flow.id
        return await self._advance(ctx, state, flow, 0)

    def interrupted(self, state: State) -> Flow | None:
        """The journey waiting for the current one to end, if any."""
        if not state.suspended:
            return None
        return self.flows.flows.get(state.suspended[-1].get("flow_id") or "")

    def stop(self, ctx: TurnContext, state: State) -> list[Outbound]:
        """Abandon the current journey; an interrupted one resumes."""
        return self._finish(ctx, state)

    async def answer(self, ctx: TurnContext, state: State, text: str) -> list[Outbound]:
        flow = self.flow(state)
        step = flow.step(state.pending) if state.pending else None
        if isinstance(step, SummaryStep):
            return await self._summary_reply(ctx, state, flow, step, text)
        if not isinstance(step, AskStep):
            raise FlowRuntimeError(f"{flow.id}: nothing is pending")
        if step.multiple and text in {c.value for c in step.choices}:
            return self._toggle(ctx, state, step, text)
        if step.multiple and text == "/done":
            if not state.selection:
                return [Outbound(gettext("Please choose at least one option, then press Done."))] + self.prompt(ctx, state)
            text = ", ".join(state.selection)
        result = answers.validate(self._rules(ctx, state, step), text, today=ctx.today)
        if isinstance(result, answers.Invalid):
            return self._retry(ctx, state, step, result.message)
        return await self._accept(ctx, state, flow, step, result.value)

    async def keep(self, ctx: TurnContext, state: State) -> list[Outbound] | None:
        """Keep the earlier answer to the question asked again (after back or edit)."""
        flow = self.flow(state)
        step = flow.step(state.pending) if state.pending else None
        if not isinstance(step, AskStep) or step.field not in state.answers:
            return None
        return await self._accept(ctx, state, flow, step, state.answers[step.field])

    async def skip(self, ctx: TurnContext, state: State) -> list[Outbound]:
        flow = self.flow(state)
        step = flow.step(state.pending) if state.pending else None
        if not isinstance(step, AskStep) or not step.optional:
            return [Outbound(gettext("This question cannot be skipped."))] + self.prompt(ctx, state)
        return await self._accept(ctx, state, flow, step, None)

    def back(self, ctx: TurnContext, state: State) -> list[Outbound]:
        if not state.path:
            return [Outbound(gettext("This is the first question."))] + self.prompt(ctx, state)
        state.pending = state.path.pop()
        state.attempts = 0
        state.selection = []
        state.mode = None
        return self.prompt(ctx, state)

    def edit(self, ctx: TurnContext, state: State, step_id: str | None) -> list[Outbound]:
        """From the summary: pick an answer to change, then ask that one question again."""
        flow = self.flow(state)
        if step_id is None:
            state.mode = Mode.EDIT_PICK
            buttons = tuple(
                Button(gettext(flow.step(sid).label), f"/edit {sid}") for sid in state.path
            )
            return [Outbound(gettext("Which answer do you want to change?"), buttons=buttons)]
        if step_id not in state.path:
            return [Outbound(gettext("Please choose one of the answers shown."))] + self.edit(ctx, state, None)
        state.mode = Mode.EDITING
        state.pending = step_id
        state.attempts = 0
        state.selection = []
        return self.prompt(ctx, state)

    def accepts(self, ctx: TurnContext, state: State, step: AskStep, text: str) -> bool:
        """Whether ``text`` is a valid answer to ``step`` (nothing is recorded)."""
        if step.multiple and text in {c.value for c in step.choices}:
            return True
        result = answers.validate(self._rules(ctx, state, step), text, today=ctx.today)
        return isinstance(result, answers.Valid)

    def prompt(self, ctx: TurnContext, state: State) -> list[Outbound]:
        """Say again what the applicant is being asked right now."""
        if not state.flow_id or not state.pending:
            return []
        flow = self.flow(state)
        step = flow.step(state.pending)
        if isinstance(step, SummaryStep):
            return [self._summary(ctx, state, flow, step)]
        return [self._question(ctx, state, step)]

    def fits(self, state: State) -> bool:
        """Whether a stored state still matches the flows (a flow file may have changed)."""
        if not state.flow_id:
            return True
        flow = self.flows.flows.get(state.flow_id)
        if flow is None:
            return False
        ids = {s.id for s in flow.steps}
        return (state.pending is None or state.pending in ids) and all(s in ids for s in state.path)

    def flow(self, state: State) -> Flow:
        if state.flow_id not in self.flows.flows:
            raise FlowRuntimeError(f"unknown flow {state.flow_id!r}")
        return self.flows.flows[state.flow_id]

    # --- walking the steps --------------------------------------------------------

    async def _accept(
        self, ctx: TurnContext, state: State, flow: Flow, step: AskStep, value: Any
    ) -> list[Outbound]:
        if step.type == "consent" and value is False:
            if step.on_decline:
                state.answers[step.field] = False
                self._on_path(state, step)
                state.mode = None
                return await self._advance(ctx, state, flow, flow.index(step.on_decline))
            return [Outbound(gettext("We can only continue with your agreement."))] + self.prompt(ctx, state)
        state.answers[step.field] = value
        state.answered_at[step.field] = ctx.now.isoformat()
        self._on_path(state, step)
        state.attempts = 0
        state.selection = []
        editing = state.mode == Mode.EDITING
        state.mode = None
        return await self._advance(ctx, state, flow, flow.index(step.id) + 1, fast_forward=editing)

    @staticmethod
    def _on_path(state: State, step: AskStep) -> None:
        if step.id in state.path:
            del state.path[state.path.index(step.id):]
        state.path.append(step.id)

    async def _advance(
        self, ctx: TurnContext, state: State, flow: Flow, index: int, fast_forward: bool = False
    ) -> list[Outbound]:
        """Run steps from ``index`` until one waits for the applicant or the flow ends.

        With ``fast_forward`` (after changing an answer from the summary) questions that
        still have an answer are not asked again, and ``say`` steps stay quiet, so the
        applicant goes straight back to the summary unless the change opened a new branch.
        """
        out: list[Outbound] = []
        state.pending = None
        for _ in range(len(flow.steps) * 4):
            if index >= len(flow.steps):
                return out + self._finish(ctx, state)
            step = flow.steps[index]
            if step.when is not None and not step.when.holds(state.answers, ctx.today):
                index += 1
                continue
            if isinstance(step, SayStep):
                if step.keep:  # said once, all together, in the recap
                    if step.id not in state.kept:
                        state.kept.append(step.id)
                elif not fast_forward:
                    out.append(Outbound(self._say(ctx, state, step)))
                index += 1
            elif isinstance(step, RecapStep):
                out.append(Outbound(self._recap(ctx, state, flow, step)))
                index += 1
            elif isinstance(step, AskStep):
                if fast_forward and step.field in state.answers:
                    if step.id not in state.path:
                        state.path.append(step.id)
                    index += 1
                    continue
                if step.choices_from and not await self._offer(ctx, state, step):
                    assert step.on_empty is not None  # the schema pairs them
                    index = flow.index(step.on_empty)
                    continue
                state.pending = step.id
                state.attempts = 0
                if fast_forward:
                    state.mode = Mode.EDITING  # a new question on the way back to the summary
                return out + [self._question(ctx, state, step)]
            elif isinstance(step, BranchStep):
                target = next((b.goto for b in step.branch if b.when.holds(state.answers, ctx.today)), step.otherwise)
                index = flow.index(target) if target else index + 1
            elif isinstance(step, GotoStep):
                index = flow.index(step.goto)
            elif isinstance(step, SummaryStep):
                state.pending = step.id
                state.mode = None
                return out + [self._summary(ctx, state, flow, step)]
            elif isinstance(step, SubmitStep):
                seat = None
                if step.book:
                    seat = await self._book(ctx, state, step.book)
                    if seat is None:  # taken meanwhile: choose again, then back to the summary
                        retry = await self._choose_again(ctx, state, flow, step.book)
                        if retry is not None:
                            return out + retry
                        # Nothing left to choose: the taken time is no answer any more
                        # (the on_empty steps may test that it is unanswered).
                        ask = flow.ask_for(step.book)
                        state.answers.pop(step.book, None)
                        if ask.id in state.path:
                            state.path.remove(ask.id)
                        index = flow.index(ask.on_empty)  # type: ignore[arg-type]
                        continue
                draft = self._draft(ctx, state, flow, step)
                if seat is not None:
                    draft = replace(draft, appointment=seat.for_case())
                case = await ctx.records.create_case(draft, ctx.now)
                # ``custom.case``: channels learn that a request was sent (WhatsApp then asks
                # whether it may write later), clients may show the reference.
                custom: dict[str, Any] = {"case": {"reference": case.reference, "kind": case.kind}}
                if seat is not None:
                    await ctx.records.attach_reference(seat.id, case.reference)
                    custom["attachment"] = self._calendar_file(ctx, seat, case.reference)
                reply = Outbound(
                    self._text(ctx, state, step.submit, step.facts, {"reference": case.reference}, step.dates),
                    custom=custom,
                )
                out.append(reply)
                index += 1
            elif isinstance(step, EndStep):
                out.append(Outbound(self._text(ctx, state, step.end, step.facts, None, step.dates)))
                return out + self._finish(ctx, state)
        raise FlowRuntimeError(f"{flow.id}: steps loop without asking anything (at {step.id!r})")

    def _finish(self, ctx: TurnContext, state: State) -> list[Outbound]:
        if not state.resume():
            return []
        journey = gettext(self.flow(state).title)
        back = Outbound(gettext("Let us continue where you were: {journey}.", journey=journey))
        return [back] + self.prompt(ctx, state)

    def _retry(self, ctx: TurnContext, state: State, step: AskStep, problem: str) -> list[Outbound]:
        state.attempts += 1
        question = self._question(ctx, state, step)
        if state.attempts < MAX_TRIES_BEFORE_OFFER:
            return [Outbound(problem), question]
        extra = [Button(gettext("Help"), "/help"), Button(gettext("Talk to a person"), "/human")]
        if step.optional and not any(b.payload == "/skip" for b in question.buttons):
            extra.append(Button(gettext("Skip this question"), "/skip"))
        offer = gettext(
            "This question seems hard to answer here. You can try again, ask for help, "
            "or talk to a person."
        )
        return [
            Outbound(problem),
            Outbound(f"{offer}\n\n{question.text}", question.buttons + tuple(extra), question.expects),
        ]

    def _toggle(self, ctx: TurnContext, state: State, step: AskStep, value: str) -> list[Outbound]:
        if value in state.selection:
            state.selection.remove(value)
        else:
            state.selection.append(value)
        order = [c.value for c in step.choices]
        state.selection.sort(key=order.index)
        return self.prompt(ctx, state)

    # --- what the applicant sees ------------------------------------------------

    def _question(self, ctx: TurnContext, state: State, step: AskStep) -> Outbound:
        text = self._text(ctx, state, step.ask, step.facts)
        buttons: list[Button] = []
        if step.type == "choice" and step.multiple:
            for choice in step.choices:
                mark = "✓ " if choice.value in state.selection else ""
                buttons.append(Button(mark + gettext(choice.title), choice.value))
            buttons.append(Button(gettext("Done"), "/done"))
            if state.selection:
                chosen = ", ".join(gettext(c.title) for c in step.choices if c.value in state.selection)
                text += "\n\n" + gettext("Chosen so far: {choices}", choices=chosen)
            else:
                text += "\n\n" + gettext("Choose one or more, then press Done.")
        elif step.type in ("choice", "country"):
            if step.type == "country" and not step.choices_from:
                rules = step.rules(ctx.today)
                buttons += [Button(answers.display(rules, code), code) for code in self._likely_countries(state, step)]
            buttons += [Button(c.shown(), c.value) for c in self._choices(ctx, state, step)]
        elif step.type == "yes_no":
            buttons += [Button(gettext("Yes"), "yes"), Button(gettext("No"), "no")]
        elif step.type == "consent":
            buttons += [Button(gettext("I agree"), "yes"), Button(gettext("I do not agree"), "no")]
        if state.answers.get(step.field) is not None and not step.choices_from:
            shown = answers.display(step.rules(ctx.today), state.answers[step.field])
            buttons.append(Button(gettext("Keep: {answer}", answer=_short(shown)), "/keep"))
        if step.optional:
            buttons.append(Button(gettext("Skip this question"), "/skip"))
        choices = None
        if step.type in ("choice", "country") and (step.choices or step.choices_from):
            choices = tuple(c.value for c in self._choices(ctx, state, step))
        elif step.type in ("yes_no", "consent"):
            choices = ("yes", "no")
        return Outbound(
            text,
            tuple(buttons),
            Expects(field=step.field, type=step.type, choices=choices, optional=step.optional),
        )

    def _summary(self, ctx: TurnContext, state: State, flow: Flow, step: SummaryStep) -> Outbound:
        lines = [self._text(ctx, state, step.summary, [])]
        for step_id in state.path:
            ask = flow.step(step_id)
            lines.append(f"• {gettext(ask.label)}: {self._display(ctx, state, ask)}")
        buttons = (
            Button(gettext("Confirm and send"), "/confirm"),
            Button(gettext("Change an answer"), "/edit"),
        )
        return Outbound("\n".join(lines), buttons)

    async def _summary_reply(
        self, ctx: TurnContext, state: State, flow: Flow, step: SummaryStep, text: str
    ) -> list[Outbound]:
        result = answers.validate(answers.Rules(type="yes_no"), text, today=ctx.today)
        if text == "/confirm" or (isinstance(result, answers.Valid) and result.value is True):
            return await self._advance(ctx, state, flow, flow.index(step.id) + 1)
        if isinstance(result, answers.Valid):  # "no": they want to change something
            return self.edit(ctx, state, None)
        return [Outbound(gettext("Please confirm your answers, or choose one to change."))] + self.prompt(ctx, state)

    def _say(self, ctx: TurnContext, state: State, step: SayStep) -> str:
        """A say step quoting figures past their review date is not stated at all: a half
        sentence around a missing amount helps nobody. The applicant gets the source."""
        stale = [f for f in step.facts if self.flows.content.get(f).stale(ctx.today)]
        if stale:
            return gettext(
                "This information changes often and I cannot confirm it today. "
                "Please check the official page: {url}",
                url=str(self.flows.content.get(stale[0]).source_url),
            )
        return self._text(ctx, state, step.say, step.facts, None, step.dates)

    def _recap(self, ctx: TurnContext, state: State, flow: Flow, step: RecapStep) -> str:
        """One message the applicant can keep: the heading, then every ``keep`` text that
        was shown on their path, rendered again now (in today's language and figures)."""
        parts = [self._text(ctx, state, step.recap, [])]
        parts += [self._say(ctx, state, flow.step(step_id)) for step_id in state.kept]
        return "\n\n".join(parts)

    def _display(self, ctx: TurnContext, state: State, step: AskStep) -> str:
        value = state.answers.get(step.field)
        if value is None:
            return gettext("(skipped)")
        return answers.display(self._rules(ctx, state, step), value)

    # --- choices computed at run time, and booking ---------------------------------

    def _likely_countries(self, state: State, step: AskStep) -> list[str]:
        """Buttons for a country question (typing any country still works): countries
        this conversation already named (a nationality for the destination question, say),
        then those most likely for the applicant's language, from content data."""
        named = [
            state.answers.get(other.field)
            for other in self.flow(state).steps
            if isinstance(other, AskStep) and other.type == "country" and other.field != step.field
        ]
        likely = []
        if LIKELY_COUNTRIES in self.flows.content:
            likely = self.flows.content.get(LIKELY_COUNTRIES).formatted().split()
        extras = {c.value for c in step.choices}
        codes = [c for c in (*named, *likely) if isinstance(c, str) and len(c) == 2 and c not in extras]
        return list(dict.fromkeys(codes))[:MAX_SUGGESTED_COUNTRIES]

    def _choices(self, ctx: TurnContext, state: State, step: AskStep) -> tuple[answers.Choice, ...]:
        if not step.choices_from:
            return tuple(answers.Choice(c.value, c.title) for c in step.choices)
        source = self.sources[step.choices_from]
        return tuple(answers.Choice(value, source.title(ctx, data), localized=True) for value, data in state.offered)

    def _rules(self, ctx: TurnContext, state: State, step: AskStep) -> answers.Rules:
        rules = step.rules(ctx.today)
        if step.choices_from:
            rules = replace(rules, choices=self._choices(ctx, state, step))
        return rules

    async def _offer(self, ctx: TurnContext, state: State, step: AskStep) -> bool:
        """Fetch what can be chosen now (free slots); kept in the state so that the same
        buttons can be shown again and validated until the applicant answers."""
        assert step.choices_from is not None
        options = await self.sources[step.choices_from].options(ctx, state)
        state.offered = [[value, data] for value, data in options]
        return bool(options)

    async def _book(self, ctx: TurnContext, state: State, field: str) -> Any | None:
        chosen = state.answers.get(field)
        data = next((d for v, d in state.offered if v == chosen), None)
        if chosen is None or data is None:
            return None
        starts_at = datetime.fromisoformat(data["starts_at"])
        reminders = booking.reminders(starts_at, ctx.language, ctx.now, data.get("place", "registration_centre"))
        return await ctx.records.book(int(chosen), ctx.now, reminders)

    async def _choose_again(self, ctx: TurnContext, state: State, flow: Flow, field: str) -> list[Outbound] | None:
        ask = flow.ask_for(field)
        if not await self._offer(ctx, state, ask):
            return None
        state.answers.pop(field, None)
        state.pending = ask.id
        state.attempts = 0
        state.mode = Mode.EDITING  # once chosen, straight back to the summary
        sorry = Outbound(gettext("Sorry, someone else just took that time. Please choose another one."))
        return [sorry, self._question(ctx, state, ask)]

    def _calendar_file(self, ctx: TurnContext, booking_view: Any, reference: str) -> dict[str, str]:
        from ..appointments_ics import appointment_ics

        ics = appointment_ics(
            uid=f"{reference}@intake",
            starts_at=booking_view.starts_at,
            duration=booking.APPOINTMENT_LENGTH,
            summary=gettext("Registration appointment ({reference})", reference=reference),
            location=self.flows.content.place(booking_view.place),
            description=gettext("Bring your documents, if you have any, and this reference: {reference}.", reference=reference),
        )
        return booking.ics_attachment(ics)

    def _text(
        self,
        ctx: TurnContext,
        state: State,
        msgid: str,
        facts: list[str],
        extra: dict[str, Any] | None = None,
        computed: dict[str, str] | None = None,
    ) -> str:
        if "{" not in msgid:
            return gettext(msgid)
        params: dict[str, Any] = self.flows.content.params(facts, ctx.today) if facts else {}
        params.update(extra or {})
        for name, expression in (computed or {}).items():
            day = dates.resolve(expression, state.answers, ctx.today)
            params[name] = format_date(day, format="long", locale=current_locale()) if day else "?"
        flow = self.flows.flows.get(state.flow_id or "")
        if flow is not None:  # only the answers this text names: displaying one costs a lookup
            named = {name for _, name, _, _ in Formatter().parse(msgid) if name} - params.keys()
            for ask in flow.asks():
                key = ask.field.replace(".", "_")
                if key in named and ask.field in state.answers:
                    params[key] = self._display(ctx, state, ask)
        return gettext(msgid, **params)

    # --- the hand-over ------------------------------------------------------------

    def _draft(self, ctx: TurnContext, state: State, flow: Flow, step: SubmitStep) -> CaseDraft:
        """The answers on the applicant's path only: nothing from abandoned branches."""
        sections: dict[str, dict[str, Any]] = {name: {} for name in (*_NAMESPACES, "answers")}
        for step_id in state.path:
            ask = flow.step(step_id)
            section, _, name = ask.field.rpartition(".")
            sections[section or "answers"][name] = state.answers.get(ask.field)
        origin = state.suspended[-1] if state.suspended else None
        if origin is not None:  # a person must know where the applicant was stuck
            sections["answers"]["from_flow"] = origin.get("flow_id")
            sections["answers"]["from_step"] = origin.get("pending")
        flags = [f.name for f in step.flags if f.when.holds(state.answers, ctx.today)]
        priority = step.priority or kinds.get(flow.case_kind).default_priority
        for flag in step.flags:
            if flag.name in flags and flag.priority and _PRIORITY[flag.priority] > _PRIORITY[priority]:
                priority = flag.priority
        consent = None
        if sections["consent"]:
            first = min(
                (state.answered_at.get(f"consent.{k}", ctx.now.isoformat()) for k in sections["consent"]),
            )
            consent = {
                "version": flow.consent_version or f"{flow.id}@{self.flows.content.version}",
                "given_at": first,
                "scopes": sections["consent"],
            }
        return CaseDraft(
            kind=flow.case_kind,
            flow_id=flow.id,
            language=ctx.language,
            channel=ctx.channel,
            applicant=sections["applicant"],
            household=sections["household"],
            answers=sections["answers"],
            flags=flags,
            priority=priority,
            consent=consent,
            content_version=self.flows.content.version,
            submitted_by=ctx.assisted.staff if ctx.assisted else None,
            submitted_org=ctx.assisted.organisation if ctx.assisted else None,
            consent_method=ctx.assisted.consent_method if ctx.assisted else None,
        )


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

