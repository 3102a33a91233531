"""The case record as a typed model (exported as JSON Schema by the API later on)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from .kinds import KIND_NAMES, Priority

CaseKindName = Literal[KIND_NAMES]  # type: ignore[valid-type]
"""The registered kinds (kinds.py), an enum in the JSON Schema."""
CaseStatus = Literal["submitted", "in_review", "waiting_for_applicant", "closed", "withdrawn"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Applicant(_Model):
    name: str | None = None
    date_of_birth: date | None = None
    nationality: str | None = Field(default=None, description="ISO 3166-1 alpha-2, or stateless/unknown")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164")
    email: EmailStr | None = None
    preferred_contact: str | None = None


class Household(_Model):
    adults: int | None = Field(default=None, ge=0)
    children: int | None = Field(default=None, ge=0)


class Consent(_Model):
    version: str
    given_at: datetime
    scopes: dict[str, Any] = Field(default_factory=dict, description="what was agreed to, per purpose or recipient")


class StatusChange(_Model):
    status: CaseStatus
    at: datetime
    actor: str
    note: str | None = None


class Case(_Model):
    id: str
    reference: str
    kind: CaseKindName
    status: CaseStatus
    priority: Priority = "normal"
    status_history: list[StatusChange] = []
    language: str
    channel: str
    flow_id: str
    applicant: Applicant = Applicant()
    household: Household = Household()
    answers: dict[str, Any] = Field(default_factory=dict, description="the flow's other typed answers")
    flags: list[str] = []
    consent: Consent | None = None
    appointment: dict[str, Any] | None = None
    submitted_by: str | None = Field(default=None, description="staff member, in assisted mode")
    submitted_org: str | None = Field(default=None, description="the staff member's organisation, in assisted mode")
    consent_method: Literal["read_aloud", "signed_form"] | None = Field(
        default=None, description="in assisted mode: how the applicant gave consent to the staff member"
    )
    content_version: str | None = None
    transcript: str | None = Field(default=None, description="link to the conversation's transcript")
    created_at: datetime
    updated_at: datetime
    retention_until: datetime | None = Field(default=None, description="when the purge erases it (docs/PRIVACY.md)")
    legal_hold: str | None = Field(default=None, description="why staff keep it through erasure and retention")
