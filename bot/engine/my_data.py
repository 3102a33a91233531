"""``/my_data``: the applicant's right of access, answered in the chat.

Everything the service holds that this conversation can reach: the answers of the journey
in progress, the cases sent from this chat (every field, with the question's label in the
applicant's language, and the notes staff see such as ``unaccompanied_minor``), and the
appointments. Only what the sender's own conversation leads to, so nobody learns anything
about anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import answers
from ..i18n import format_moment, gettext
from .desks import CaseDesk
from .flow import AskStep
from .loader import FlowSet
from .context import TurnContext
from .state import State
from .turn import Outbound

LIMIT = 3500
"""Characters per message: Telegram takes 4,096; a long answer is split between lines."""


@dataclass(frozen=True, slots=True)
class Held:
    cases: list[Any]
    bookings: list[Any]


async def gather(ctx: TurnContext) -> Held:
    return Held(await ctx.records.cases(), await ctx.records.bookings(ctx.now, upcoming_only=False))


def describe(ctx: TurnContext, state: State, flows: FlowSet, held: Held) -> list[Outbound]:
    questions = _questions(flows)
    lines = [gettext("This is all we hold about you:")]
    if state.answers:
        lines += ["", gettext("Your answers in this chat, not sent yet:")]
        lines += [_line(ctx, questions, field, value) for field, value in state.answers.items()]
    for case in held.cases:
        lines += ["", CaseDesk._line(case)]
        lines += [_line(ctx, questions, field, value) for field, value in _fields(case)]
        if case.flags:
            lines.append("• " + gettext("Notes for the staff: {notes}", notes=", ".join(case.flags)))
    if held.bookings:
        lines += ["", gettext("Your appointments:")]
        lines += [
            f"• {format_moment(b.starts_at, ctx.timezone)}, {flows.content.place(b.place)}" for b in held.bookings
        ]
    if len(lines) == 1:
        lines = [gettext("We hold no answers, requests or appointments of yours.")]
    lines += ["", gettext(
        "The messages of this chat are kept as long as your requests, or a short time if you send none. "
        "Type /forget to erase everything now."
    )]
    return [Outbound(text) for text in _split("\n".join(lines))]


def _questions(flows: FlowSet) -> dict[str, AskStep]:
    found: dict[str, AskStep] = {}
    for flow in flows.flows.values():
        for step in flow.steps:
            if isinstance(step, AskStep):
                found.setdefault(step.field, step)
    return found


def _fields(case: Any) -> list[tuple[str, Any]]:
    """A case's personal fields as the questions named them (``applicant.name``)."""
    record = case.model_dump(mode="json", exclude_none=True)
    fields = [(f"applicant.{k}", v) for k, v in record.get("applicant", {}).items()]
    fields += [(f"household.{k}", v) for k, v in record.get("household", {}).items()]
    fields += [(k, v) for k, v in record.get("answers", {}).items()]
    fields += [(f"consent.{k}", v) for k, v in (record.get("consent") or {}).get("scopes", {}).items()]
    return fields


def _line(ctx: TurnContext, questions: dict[str, AskStep], field: str, value: Any) -> str:
    step = questions.get(field)
    label = gettext(step.label) if step is not None else field
    if value is None:
        shown = gettext("(skipped)")
    elif step is None:
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    else:
        try:
            shown = answers.display(step.rules(ctx.today), value)
        except (ValueError, TypeError, KeyError, LookupError):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return f"• {label}: {shown}"


def _split(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        if current and len(current) + len(line) + 1 > LIMIT:
            parts.append(current)
            current = line[:LIMIT]
        else:
            current = f"{current}\n{line}" if current else line[:LIMIT]
    return parts + [current] if current else parts
