"""Every case kind, in one registry: what it is called, how its references start, which
journeys create it, and how staff work on it (steps, closing outcomes, first-answer target).

Everything else derives from here: the case record's ``kind`` values and their JSON Schema
enum, human references (``VR-7K3M9Q``), the reference pattern the bot recognises, the
titles an applicant sees in "my requests", ``intake flows check`` (a flow whose
``case_kind`` is not registered is refused), and the back office's workflow.

Titles for applicants are gettext message ids of the applicants' catalogs (``N_``); the
names of steps and outcomes are staff-facing and belong to the ``backoffice`` catalogs
(``S_``), so that adding one never makes the 18 applicant catalogs incomplete.
The workflow defaults follow ``shared/docs/DOMAIN.md`` section 7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..i18n import N_, S_

Priority = Literal["normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("normal", "high", "urgent")
"""Lowest first."""


@dataclass(frozen=True, slots=True)
class Named:
    """A step or an outcome: a stable id (stored) and its staff-facing title."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class FirstAnswerTarget:
    """How soon staff should first answer (a message to the applicant or a status change).

    ``hours`` counts clock hours, ``working_days`` Belgian working days; with
    ``before_appointment`` the appointment's start is the target when it comes sooner.
    """

    hours: int | None = None
    working_days: int | None = None
    before_appointment: bool = False


@dataclass(frozen=True, slots=True)
class CaseKind:
    name: str
    prefix: str
    """The two letters that start its references (``VR`` in ``VR-7K3M9Q``)."""
    title: str
    """What the applicant calls it (an ``N_`` message id of the applicant catalogs)."""
    staff_title: str
    """What staff call it (an ``S_`` message id of the ``backoffice`` catalogs)."""
    flows: tuple[str, ...]
    """The journeys that create it (their ``case_kind``)."""
    default_priority: Priority
    first_answer: FirstAnswerTarget
    steps: tuple[Named, ...] = field(default=())
    """What a caseworker records on the way (any order, each at most once per value)."""
    outcomes: tuple[Named, ...] = field(default=())
    """How a closed case ended; closing requires one of these."""

    def outcome(self, outcome_id: str) -> Named | None:
        return next((o for o in self.outcomes if o.id == outcome_id), None)

    def step(self, step_id: str) -> Named | None:
        return next((s for s in self.steps if s.id == step_id), None)


def _named(*pairs: tuple[str, str]) -> tuple[Named, ...]:
    return tuple(Named(i, t) for i, t in pairs)


_ALL = (
    CaseKind(
        name="voluntary_return",
        prefix="VR",
        title=N_("Return to my country"),
        staff_title=S_("Voluntary return"),
        flows=("voluntary_return",),
        default_priority="normal",
        first_answer=FirstAnswerTarget(working_days=3),
        steps=_named(
            ("eligibility_checked", S_("Eligibility checked by a person")),
            ("travel_document", S_("Travel document in order")),
            ("medical_fitness", S_("Medical fitness to travel")),
            ("guardian_agreed", S_("Guardian agreed (minor)")),
            ("social_report", S_("Social report (minor)")),
            ("family_assessment", S_("Family assessment (minor)")),
            ("reintegration_plan", S_("Reintegration plan")),
            ("ticket_booked", S_("Ticket booked")),
            ("departure_date_set", S_("Departure date set")),
        ),
        outcomes=_named(
            ("departed", S_("Departed")),
            ("withdrawn_by_applicant", S_("Withdrawn by the applicant")),
            ("not_eligible", S_("Not eligible")),
            ("no_contact", S_("No contact")),
        ),
    ),
    CaseKind(
        name="protection_appointment",
        prefix="PA",
        title=N_("Registration appointment"),
        staff_title=S_("Protection registration"),
        flows=("protection_appointment",),
        default_priority="normal",
        first_answer=FirstAnswerTarget(working_days=2, before_appointment=True),
        steps=_named(
            ("confirmed", S_("Appointment confirmed")),
            ("attended", S_("Attended")),
            ("no_show", S_("Did not come")),
            ("rescheduled", S_("Rescheduled")),
            ("vulnerability_to_fedasil", S_("Vulnerability passed to Fedasil dispatching")),
        ),
        outcomes=_named(
            ("registered", S_("Registered")),
            ("no_show_twice", S_("Did not come twice")),
            ("withdrawn", S_("Withdrawn")),
        ),
    ),
    CaseKind(
        name="visa_question",
        prefix="VQ",
        title=N_("Visa question"),
        staff_title=S_("Visa question"),
        flows=("visa_info",),
        default_priority="normal",
        first_answer=FirstAnswerTarget(working_days=5),
        steps=_named(("answer_sent", S_("Answer sent")),),
        outcomes=_named(
            ("answered", S_("Answered")),
            ("redirected", S_("Redirected (embassy, municipality)")),
        ),
    ),
    CaseKind(
        name="human_callback",
        prefix="HC",
        title=N_("Call back by a person"),
        staff_title=S_("Call back"),
        flows=("human_handoff", "official_service"),
        default_priority="normal",
        first_answer=FirstAnswerTarget(working_days=1),
        steps=_named(("called", S_("Called")), ("written_back", S_("Written back"))),
        outcomes=_named(
            ("answered", S_("Answered")),
            ("no_answer", S_("No answer")),
            ("duplicate", S_("Duplicate")),
        ),
    ),
    CaseKind(
        name="urgent_safety",
        prefix="US",
        title=N_("Emergency help"),
        staff_title=S_("Urgent safety"),
        flows=("urgent_help",),
        default_priority="urgent",
        first_answer=FirstAnswerTarget(hours=1),
        steps=_named(("contacted", S_("Contacted")), ("referred", S_("Referred (112, PAG-ASA, Payoke, Sürya, 103, CAW…)"))),
        outcomes=_named(
            ("contacted_and_referred", S_("Contacted and referred")),
            ("no_answer_after_3_tries", S_("No answer after 3 tries")),
            ("not_urgent", S_("Not urgent")),
        ),
    ),
)

KINDS: Mapping[str, CaseKind] = MappingProxyType({kind.name: kind for kind in _ALL})
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
BY_PREFIX: Mapping[str, CaseKind] = MappingProxyType({kind.prefix: kind for kind in _ALL})


def get(name: str) -> CaseKind:
    """The registered kind, or KeyError naming the registered ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown case kind {name!r}; registered: {', '.join(KIND_NAMES)}") from None


def _check() -> None:
    prefixes = [k.prefix for k in _ALL]
    if len(set(prefixes)) != len(prefixes) or not all(len(p) == 2 and p.isalpha() and p.isupper() for p in prefixes):
        raise ValueError("case kind prefixes must be two distinct capital letters")
    if len(KINDS) != len(_ALL):
        raise ValueError("case kind names must be distinct")
    for kind in _ALL:
        if not kind.outcomes:
            raise ValueError(f"case kind {kind.name}: a kind needs closing outcomes")
        target = kind.first_answer
        if target.hours is None and target.working_days is None:
            raise ValueError(f"case kind {kind.name}: a first-answer target needs hours or working days")


_check()
