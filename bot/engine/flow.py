"""The flow schema: journeys are YAML data, checked here when they are loaded.

A flow is a list of steps with stable ids. Each step is exactly one of ``say``, ``ask``,
``branch``, ``goto``, ``summary``, ``submit`` or ``end``; any step may carry a ``when``
condition and is skipped when it does not hold. Texts are English gettext msgids.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ..answers import ANSWER_TYPES, Choice, Rules
from ..cases.kinds import KINDS
from . import dates

STEP_KINDS = ("say", "ask", "branch", "goto", "summary", "recap", "submit", "end")
INTENTS = (
    "greet", "goodbye", "affirm", "deny", "visa_info", "protection_registration",
    "voluntary_return", "appointment_manage", "case_status", "human_handoff",
    "change_language", "help", "privacy", "urgent_help", "out_of_scope",
)
"""The fixed intent names of DESIGN.md; a flow is started by one of them."""
COMMAND_ONLY = ("official",)
"""Journeys that only their slash command starts (``/official``): no NLU intent."""
_ID = r"^[a-z][a-z0-9_]*$"
_FIELD = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$"
_RELATIVE_DATE = re.compile(r"^today(?:([+-])(\d+)([dwmy]))?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """A test on earlier answers. Exactly one form is used per condition."""

    field: str | None = Field(default=None, pattern=_FIELD)
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gt: float | None = None
    lt: float | None = None
    answered: bool | None = None
    before: str | None = Field(default=None, description="a date answer earlier than this date expression")
    after: str | None = Field(default=None, description="a date answer later than this date expression")
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        combinators = [x is not None for x in (self.all, self.any, self.not_)]
        if sum(combinators) > 1 or (any(combinators) and self.field is not None):
            raise ValueError("use one of field, all, any or not in a condition")
        if not any(combinators):
            if self.field is None:
                raise ValueError("a condition needs a field (or all / any / not)")
            tests = [
                "equals" in self.model_fields_set,
                self.in_ is not None,
                self.not_in is not None,
                self.gt is not None,
                self.lt is not None,
                self.answered is not None,
                self.before is not None,
                self.after is not None,
            ]
            if sum(tests) != 1:
                raise ValueError(
                    f"condition on {self.field!r} needs exactly one of "
                    "equals, in, not_in, gt, lt, answered, before, after"
                )
            for expression in (self.before, self.after):
                if expression is not None:
                    dates.check(expression)
        return self

    def fields(self) -> set[str]:
        found = {self.field} if self.field else set()
        for expression in (self.before, self.after):
            if expression is not None:
                found |= dates.fields_of(expression)
        for sub in (self.all or []) + (self.any or []) + ([self.not_] if self.not_ else []):
            found |= sub.fields()
        return found

    def holds(self, answers: dict[str, Any], today: date) -> bool:
        if self.all is not None:
            return all(c.holds(answers, today) for c in self.all)
        if self.any is not None:
            return any(c.holds(answers, today) for c in self.any)
        if self.not_ is not None:
            return not self.not_.holds(answers, today)
        assert self.field is not None
        present = self.field in answers and answers[self.field] is not None
        value = answers.get(self.field)
        if self.answered is not None:
            return present == self.answered
        if not present:
            return False
        if "equals" in self.model_fields_set:
            return bool(value == self.equals)
        if self.in_ is not None:
            values = value if isinstance(value, list) else [value]
            return any(v in self.in_ for v in values)
        if self.not_in is not None:
            values = value if isinstance(value, list) else [value]
            return all(v not in self.not_in for v in values)
        if self.before is not None or self.after is not None:
            mine = dates.resolve(self.field, answers, today)
            bound = dates.resolve(self.before or self.after or "", answers, today)
            if mine is None or bound is None:
                return False
            return mine < bound if self.before is not None else mine > bound
        if not isinstance(value, int | float):
            return False
        if self.gt is not None:
            return value > self.gt
        return self.lt is not None and value < self.lt


class ChoiceSpec(_Model):
    value: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    title: str = Field(min_length=1)


DateBound = Union[date, str]


def resolve_date_bound(bound: DateBound | None, today: date) -> date | None:
    """``today``, ``today+15d``, ``today-18y``, ``today+6m`` or a fixed date."""
    if bound is None or isinstance(bound, date):
        return bound
    match = _RELATIVE_DATE.match(bound.replace(" ", ""))
    if not match:
        raise ValueError(f"bad date bound {bound!r}")
    sign, amount, unit = match.groups()
    if not sign:
        return today
    return dates.shift(today, int(amount) * (1 if sign == "+" else -1), unit)


class _Step(_Model):
    id: str = Field(pattern=_ID)
    when: Condition | None = None


DateParams = dict[Annotated[str, Field(pattern=_ID)], str]
"""Computed dates a text shows: ``{deadline: refusal_received_on+30d}`` → ``{deadline}``."""


class SayStep(_Step):
    say: str = Field(min_length=1)
    facts: list[str] = []
    dates: DateParams = {}
    keep: bool = Field(default=False, description="said in the recap, in one message the applicant keeps")


class AskStep(_Step):
    ask: str = Field(min_length=1)
    type: Literal[tuple(ANSWER_TYPES)]  # type: ignore[valid-type]
    field: str = Field(pattern=_FIELD)
    label: str = Field(min_length=1)
    optional: bool = False
    help: str | None = None
    facts: list[str] = []
    choices: list[ChoiceSpec] = []
    multiple: bool = False
    min: float | DateBound | None = None
    max: float | DateBound | None = None
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=500, ge=1, le=4000)
    region: str = Field(default="BE", pattern=r"^[A-Z]{2}$")
    on_decline: str | None = Field(default=None, pattern=_ID)
    choices_from: str | None = Field(
        default=None, pattern=_ID, description="choices computed at run time (e.g. free appointment slots)"
    )
    understand: bool = Field(
        default=True,
        description="whether typed text may be read as a wish (urgent help, a person…) rather than "
        "the answer; false where answers are medical or personal by nature",
    )
    on_empty: str | None = Field(
        default=None, pattern=_ID, description="where to go when choices_from has nothing to offer"
    )

    @model_validator(mode="after")
    def _fits_type(self) -> AskStep:
        if self.type == "choice" and len(self.choices) < 2 and not self.choices_from:
            raise ValueError("a choice question needs at least two choices")
        if self.choices_from and (self.type != "choice" or self.choices or self.multiple):
            raise ValueError("choices_from is for single choice questions without fixed choices")
        if bool(self.choices_from) != bool(self.on_empty):
            raise ValueError("choices_from and on_empty go together: say where to go when nothing is free")
        if self.choices and self.type not in ("choice", "country"):
            raise ValueError(f"choices are not used by a {self.type} question")
        if self.multiple and self.type != "choice":
            raise ValueError("multiple is only for choice questions")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError("choice values must be unique")
        if self.on_decline and self.type != "consent":
            raise ValueError("on_decline is only for consent questions")
        for name in ("min", "max"):
            bound = getattr(self, name)
            if bound is None:
                continue
            if self.type == "date":
                if isinstance(bound, float | int) and not isinstance(bound, bool):
                    raise ValueError(f"{name} of a date question must be a date or 'today±N[dwmy]'")
                resolve_date_bound(bound, date.today())
            elif self.type == "number":
                if not isinstance(bound, int | float):
                    raise ValueError(f"{name} of a number question must be a number")
            else:
                raise ValueError(f"{name} is only for number and date questions")
        return self

    def rules(self, today: date) -> Rules:
        number = self.type == "number"
        return Rules(
            type=self.type,
            choices=tuple(Choice(c.value, c.title) for c in self.choices),
            multiple=self.multiple,
            min_length=self.min_length,
            max_length=self.max_length,
            min_value=float(self.min) if number and self.min is not None else None,  # type: ignore[arg-type]
            max_value=float(self.max) if number and self.max is not None else None,  # type: ignore[arg-type]
            min_date=resolve_date_bound(self.min, today) if self.type == "date" else None,  # type: ignore[arg-type]
            max_date=resolve_date_bound(self.max, today) if self.type == "date" else None,  # type: ignore[arg-type]
            default_region=self.region,
        )


class Branch(_Model):
    when: Condition
    goto: str = Field(pattern=_ID)


class BranchStep(_Step):
    branch: list[Branch] = Field(min_length=1)
    otherwise: str | None = Field(default=None, pattern=_ID)


class GotoStep(_Step):
    goto: str = Field(pattern=_ID)


class SummaryStep(_Step):
    summary: str = Field(min_length=1)


class RecapStep(_Step):
    recap: str = Field(min_length=1, description="heads one message with every `keep` text on the path")


class Flag(_Model):
    name: str = Field(pattern=_ID)
    when: Condition
    priority: Literal["normal", "high", "urgent"] | None = None


class SubmitStep(_Step):
    submit: str = Field(min_length=1, description="what the applicant is told; has {reference}")
    flags: list[Flag] = []
    priority: Literal["normal", "high", "urgent"] | None = Field(
        default=None, description="default: the case kind's (bot/cases/kinds.py)"
    )
    facts: list[str] = []
    dates: DateParams = {}
    book: str | None = Field(
        default=None, pattern=_FIELD, description="the slot answer to book, atomically with the case"
    )


class EndStep(_Step):
    end: str = Field(min_length=1)
    facts: list[str] = []
    dates: DateParams = {}


def _step_kind(data: Any) -> str | None:
    if isinstance(data, dict):
        kinds = [k for k in STEP_KINDS if k in data]
        if len(kinds) == 1:
            return kinds[0]
        return None
    for kind in STEP_KINDS:
        if hasattr(data, kind):
            return kind
    return None


Step = Annotated[
    Union[
        Annotated[SayStep, Tag("say")],
        Annotated[AskStep, Tag("ask")],
        Annotated[BranchStep, Tag("branch")],
        Annotated[GotoStep, Tag("goto")],
        Annotated[SummaryStep, Tag("summary")],
        Annotated[RecapStep, Tag("recap")],
        Annotated[SubmitStep, Tag("submit")],
        Annotated[EndStep, Tag("end")],
    ],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(STEP_KINDS),
    ),
]


class Flow(_Model):
    id: str = Field(pattern=_ID)
    intent: Literal[INTENTS + COMMAND_ONLY] = Field(  # type: ignore[valid-type]
        description="the NLU intent / button payload that starts it (or a command-only name)"
    )
    case_kind: str = Field(pattern=_ID, description="a kind registered in bot/cases/kinds.py")
    title: str = Field(min_length=1, description="the journey's button in the menu")
    keywords: str | None = Field(default=None, description="'|'-separated words that start it")
    menu: bool = True
    menu_order: int = Field(default=50, description="place of the journey's button in the menu")
    interrupts: bool = Field(
        default=False, description="may start in the middle of another journey, which resumes after it"
    )
    consent_version: str | None = Field(
        default=None, description="changes whenever the consent texts change in substance"
    )
    content: list[str] = []
    steps: list[Step] = Field(min_length=1)

    @field_validator("case_kind")
    @classmethod
    def _registered_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"case kind {value!r} is not registered (bot/cases/kinds.py has: {', '.join(KINDS)})")
        return value

    @model_validator(mode="after")
    def _references(self) -> Flow:
        ids = [s.id for s in self.steps]
        seen: set[str] = set()
        for step_id in ids:
            if step_id in seen:
                raise ValueError(f"step id {step_id!r} is used twice")
            seen.add(step_id)
        fields: set[str] = set()
        for step in self.steps:
            targets: list[str] = []
            if isinstance(step, BranchStep):
                targets = [b.goto for b in step.branch] + ([step.otherwise] if step.otherwise else [])
            elif isinstance(step, GotoStep):
                targets = [step.goto]
            elif isinstance(step, AskStep):
                targets = [t for t in (step.on_decline, step.on_empty) if t]
            for target in targets:
                if target not in seen:
                    raise ValueError(f"step {step.id!r}: goes to unknown step {target!r}")
            if isinstance(step, AskStep):
                if step.field in fields:
                    raise ValueError(f"step {step.id!r}: field {step.field!r} is asked twice")
                fields.add(step.field)
        for step in self.steps:
            for name, expression in (getattr(step, "dates", None) or {}).items():
                try:
                    unknown_in_date = dates.fields_of(expression) - fields
                except ValueError as exc:
                    raise ValueError(f"step {step.id!r}: dates.{name}: {exc}") from None
                if unknown_in_date:
                    raise ValueError(f"step {step.id!r}: dates.{name} reads unknown field {sorted(unknown_in_date)[0]!r}")
            if isinstance(step, SubmitStep) and step.book and step.book not in fields:
                raise ValueError(f"step {step.id!r}: book names unknown field {step.book!r}")
            for cond in _conditions(step):
                unknown = cond.fields() - fields
                if unknown:
                    raise ValueError(
                        f"step {step.id!r}: condition on unknown field {sorted(unknown)[0]!r}"
                    )
        if any(isinstance(s, SayStep) and s.keep for s in self.steps) and not any(
            isinstance(s, RecapStep) for s in self.steps
        ):
            raise ValueError("texts marked keep need a recap step to be said")
        if not any(isinstance(s, SubmitStep | EndStep) for s in self.steps):
            raise ValueError("a flow needs a submit or an end step")
        return self

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def step(self, step_id: str) -> Any:
        return self.steps[self.index(step_id)]

    def ask_for(self, field: str) -> AskStep:
        return next(a for a in self.asks() if a.field == field)

    def asks(self) -> list[AskStep]:
        return [s for s in self.steps if isinstance(s, AskStep)]

    def facts(self) -> set[str]:
        found: set[str] = set()
        for step in self.steps:
            found.update(getattr(step, "facts", []) or [])
        return found


def _conditions(step: Any) -> list[Condition]:
    found = [step.when] if step.when else []
    if isinstance(step, BranchStep):
        found += [b.when for b in step.branch]
    if isinstance(step, SubmitStep):
        found += [f.when for f in step.flags]
    return found
