"""When a case should have had its first answer (kinds.py's targets), and whether it is late."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..cases.kinds import KINDS
from ..engine.dates import shift

OPEN = ("submitted", "in_review", "waiting_for_applicant")


def first_answer_due(kind: str, created_at: datetime, zone: str, appointment_at: datetime | None = None) -> datetime | None:
    spec = KINDS.get(kind)
    if spec is None:
        return None
    target = spec.first_answer
    if target.hours is not None:
        due = created_at + timedelta(hours=target.hours)
    else:
        local = created_at.astimezone(ZoneInfo(zone))
        day = shift(local.date(), target.working_days or 0, "b")
        due = datetime.combine(day, local.timetz())
    if target.before_appointment and appointment_at is not None:
        due = min(due, appointment_at)
    return due


def overdue(
    kind: str, status: str, created_at: datetime, first_answer_at: datetime | None, now: datetime, zone: str,
    appointment_at: datetime | None = None,
) -> bool:
    """Open, not answered yet, and past its kind's first-answer target."""
    if status not in OPEN or first_answer_at is not None:
        return False
    due = first_answer_due(kind, created_at, zone, appointment_at)
    return due is not None and now > due
