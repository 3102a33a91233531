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
    consent_method: str | None = None
    """In an assisted intake: how the applicant gave consent (``CONSENT_METHODS``)."""


CONSENT_METHODS = ("read_aloud", "signed_form")
"""How an applicant gives consent when a staff member runs the journey for them: the
questions and the privacy notice read aloud in their language, or a signed paper form."""


@dataclass(frozen=True, slots=True)
class AssistedBy:
    """A staff member running a journey on behalf of an applicant (the back office's
    assisted intake): handed to the engine with each turn, copied to the case."""

    staff: str
    """The staff member (e-mail address): the case's ``submitted_by``."""
    organisation: str
    """Their organisation's slug: the case's ``submitted_org``."""
    consent_method: str
    """One of ``CONSENT_METHODS``."""
