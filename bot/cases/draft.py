"""What a journey hands over when it ends in a case; the store adds id, reference,
status and times. Below both the engine (which fills it) and the store (which keeps it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CaseDraft:
    kind: str
    """A registered kind (kinds.py)."""
    flow_id: str
    language: str
    channel: str
    applicant: dict[str, Any]
    household: dict[str, Any]
    answers: dict[str, Any]
    flags: list[str]
    priority: str
    consent: dict[str, Any] | None
    content_version: str | None
    submitted_by: str | None = None
    submitted_org: str | None = None
    """The organisation of the staff member who ran an assisted intake (its slug)."""
    appointment: dict[str, Any] | None = None
