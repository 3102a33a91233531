"""The staff API's requests and answers, as pydantic models: the handlers validate and
shape with these, and ``/api/v1/openapi.json`` is generated from the same models, so the
description cannot drift from what the server does."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ..cases.kinds import PRIORITIES, Priority
from ..cases.model import Case, CaseKindName, CaseStatus
from ..messaging import TEMPLATES

REFERENCE = r"^[A-Za-z0-9-]{1,16}$"
ListStatus = Literal["submitted", "in_review", "waiting_for_applicant", "closed", "withdrawn", "open", "all"]
PriorityName = Literal[PRIORITIES]  # type: ignore[valid-type]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- problems (RFC 9457) ----------------------------------------------------------------


class FieldError(_Out):
    loc: list[str | int]
    msg: str
    type: str


class Problem(_Out):
    """An error, as ``application/problem+json`` (RFC 9457)."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="what is wrong with the request, per field")


# --- cases ------------------------------------------------------------------------------


class CaseFilters(_In):
    """The back office's list filters (bot/store/casework.py CaseFilter)."""

    kind: CaseKindName | None = None
    status: ListStatus = Field(default="open", description="a status, `open` (the three open ones) or `all`")
    priority: PriorityName | None = None
    language: str | None = Field(default=None, max_length=16)
    flag: str | None = Field(default=None, max_length=64)
    reference: str | None = Field(default=None, max_length=16, description="part of a reference")
    created_from: date | None = Field(default=None, alias="from", description="created on or after (local day)")
    created_to: date | None = Field(default=None, alias="to", description="created on or before (local day)")
    unassigned: bool | None = Field(default=None, description="only cases assigned to no one")
    organisation: str | None = Field(
        default=None, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="an organisation's slug: the cases it submitted or that the applicant shared with it",
    )


class CaseListQuery(CaseFilters):
    order: Literal["newest", "oldest"] = "newest"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200, description="`next` of the previous page (opaque)")


class ExportQuery(CaseFilters):
    format: Literal["csv", "ndjson"] = "ndjson"
    order: Literal["newest", "oldest"] = "newest"


class CaseItem(_Out):
    reference: str
    kind: CaseKindName
    status: CaseStatus
    priority: Priority
    language: str
    created_at: datetime
    updated_at: datetime
    flags: list[str]
    outcome: str | None
    assignee: str | None = Field(description="the assigned staff member's e-mail address")


class CasePage(_Out):
    items: list[CaseItem]
    next: str | None = Field(description="the cursor of the next page; null on the last page")


class NoteOut(_Out):
    at: datetime
    author: str | None
    organisation: str
    text: str


class StepOut(_Out):
    step: str
    at: datetime
    actor: str


class CaseDetail(Case):
    """The typed case record (bot/cases/model.py) and how staff work on it."""

    outcome: str | None = None
    assignee: str | None = None
    steps: list[StepOut] = []
    notes: list[NoteOut] = Field(default=[], description="the notes the caller may read")


class StatusIn(_In):
    status: CaseStatus
    reason: str = Field(min_length=1, max_length=2000)
    outcome: str | None = Field(default=None, max_length=64, description="required when closing: one of the kind's outcomes")


class StepIn(_In):
    step: str = Field(min_length=1, max_length=64, description="one of the case kind's steps")


class AssignIn(_In):
    assignee: str | None = Field(max_length=254, description="a colleague's e-mail address, or null for no one")


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=5000)


class MessageText(_In):
    text: str = Field(min_length=1, max_length=2000)


class MessageTemplate(_In):
    template: str = Field(
        min_length=1, max_length=64,
        description="one of bot/messaging.py TEMPLATES (" + ", ".join(sorted(TEMPLATES)) + "), sent in the "
        "applicant's language; the case reference is filled in",
    )
    params: dict[str, str] = Field(default={}, description="none of the templates takes other parameters yet")


class MessageIn(RootModel[MessageText | MessageTemplate]):
    """A message to the applicant: free text, or a template with its parameters."""


class MessageOut(_Out):
    delivery: Literal["pushed", "kept", "erased", "no_chat"] = Field(
        description="pushed: sent now; kept: shown at the applicant's next visit; erased: no one to write to; "
        "no_chat: the case has no conversation"
    )


class StatusOut(CaseDetail):
    """The case after the change, and what became of the notice to the applicant."""

    notice: Literal["pushed", "kept", "erased", "opted_out", "no_chat"] = Field(
        description="the status notice to the applicant (opted_out: they asked for none)"
    )


# --- slots and bookings --------------------------------------------------------------------


class SlotQuery(_In):
    all: bool = Field(default=False, description="full slots too")
    place: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=1, le=1000)


class SlotOut(_Out):
    id: int
    place: str
    starts_at: datetime
    capacity: int
    booked: int
    free: int


class SlotList(_Out):
    items: list[SlotOut]


class SlotsIn(_In):
    """Slots every ``every`` from ``from`` to ``to`` (exclusive), as ``intake slots add``."""

    start: str = Field(alias="from", max_length=40, description="local date and time: 2026-12-01T09:00")
    end: str = Field(alias="to", max_length=40, description="local: 2026-12-01T12:00, or 12:00 on the same day")
    every: str = Field(max_length=16, description="15m, 1h, 90m, 1h30m")
    capacity: int = Field(ge=1, le=1000)
    place: str = Field(default="registration_centre", min_length=1, max_length=64)


class SlotsCreated(_Out):
    created: int


class BookingQuery(_In):
    reference: str | None = Field(default=None, pattern=REFERENCE)
    slot_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    past: bool = Field(default=False, description="past bookings too")
    limit: int = Field(default=500, ge=1, le=1000)


class BookingOut(_Out):
    id: int
    slot_id: int
    place: str
    starts_at: datetime
    status: str
    case_reference: str | None


class BookingList(_Out):
    items: list[BookingOut]


class BookingIn(_In):
    slot_id: int = Field(ge=1, le=2**31 - 1)


# --- the events feed --------------------------------------------------------------------


class EventsQuery(_In):
    after: str | None = Field(
        default=None, max_length=20, pattern=r"^[0-9]*$",
        description="`next` of the previous answer (opaque); nothing: from the oldest event kept",
    )
    limit: int = Field(default=100, ge=1, le=1000)


class EventCase(BaseModel):
    """The case as events show it: plain columns and ids, nothing personal (an erased
    case's event carries its reference alone)."""

    model_config = ConfigDict(extra="allow")
    reference: str


class Event(_Out):
    """What a webhook receives: the same body, the same cursor."""

    event: Literal["case.created", "case.updated", "case.message", "case.withdrawn", "case.erased"]
    sequence: int
    cursor: str
    occurred_at: datetime
    case: EventCase
    change: dict[str, object] | None = None


class EventPage(_Out):
    items: list[Event]
    next: str = Field(description="ask with `after=` this next time (the same when nothing was new)")
