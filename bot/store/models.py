"""Tables. Columns ending in ``_enc`` hold Fernet tokens of personal data (see crypto.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


ERASED = "[erased on request]"
"""What an erased conversation's sender became (encrypted) before erasure deleted the row:
such rows of older databases are never written to."""


@dataclass(slots=True)
class StoredConversation:
    """A conversation as a turn sees it: its state decrypted, nothing else loaded."""

    id: int
    channel: str
    language: str | None
    state: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    is_new: bool
    unreachable_since: datetime | None = None


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_enc: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str | None] = mapped_column(String(16))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    state_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when the channel refused to deliver to the applicant (a Telegram user who
    blocked the bot), cleared when they write again: reminders are then not pushed."""
    status_notices_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The applicant asked not to be told when staff change the status of their cases."""
    device_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    """A digest of the web chat's device key (bot/engine/binding.py): the conversations of
    one device, so that ``/forget`` reaches the cases sent before "Start over"."""


class TranscriptEntry(Base):
    """One row per turn rather than per message: a turn is one write, not several."""

    __tablename__ = "transcript"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    """One turn: ``{"in": what the applicant sent, "out": [the replies]}``, encrypted."""


class ProcessedMessage(Base):
    """Replies already given to a channel message id, so a redelivery is not processed again."""

    __tablename__ = "processed_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(128))
    replies_enc: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    flags: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    sender_key: Mapped[str | None] = mapped_column(String(64), index=True)
    submitted_by: Mapped[str | None] = mapped_column(String(128))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    """When the purge erases the case (set when it is closed or withdrawn, see retention.py)."""
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    """Set by staff with a reason (``intake cases hold``): the case is then kept, whole,
    through erasure requests and retention, until the hold is released."""
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Plain columns for the back office, so that its one access check (and its lists)
    # need no decryption; nothing personal (bot/backoffice/policy.py).
    origin_flow: Mapped[str | None] = mapped_column(String(64))
    """The journey the case came from: for a call-back, the one the applicant was stuck in."""
    shared_with: Mapped[str] = mapped_column(String(255), default="")
    """Organisations the applicant agreed to share with, as ``,iom,caritas,`` (empty: none)."""
    submitted_org: Mapped[str | None] = mapped_column(String(64))
    """The organisation of the staff member who ran an assisted intake."""
    outcome: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"), index=True)
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[CaseRow] = relationship(back_populates="events")


Index("ix_cases_kind_status", CaseRow.kind, CaseRow.status)
# The case list's orders (casework.py): urgent first (newest first within each priority),
# recently changed; newest first uses ix_cases_created_at.
Index("ix_cases_priority_created_at", CaseRow.priority, CaseRow.created_at)
Index("ix_cases_updated_at", CaseRow.updated_at)
# The purge's "final cases not yet given a retention date": with retention_until alone
# the planner visited every open case (all undated) to check its status.
Index("ix_cases_status_retention_until", CaseRow.status, CaseRow.retention_until)


class Slot(Base):
    """A registration time with a number of seats. ``booked`` counts active bookings and
    is only changed by conditional updates (see appointments.py), never read-then-written;
    the check constraint is the last line of defence against overbooking."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("place", "starts_at"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place: Mapped[str] = mapped_column(String(64), default="registration_centre")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Booking(Base):
    """One seat taken by one conversation. Nothing personal: the applicant is reached
    through the conversation, the case through its reference."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    case_reference: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16))
    """``active`` or ``cancelled``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance: Mapped[str | None] = mapped_column(String(16))
    """Marked by staff on the day: ``attended`` or ``no_show`` (None: not yet)."""


class Job(Base):
    """A unit of work due at a time (a reminder to send), run by bot/scheduler.py.

    ``status``: pending → running (claimed, with a lease until ``locked_until``) → done, or
    back to pending with a later ``due_at`` after a failure, or failed after too many
    attempts; cancelled when its booking is. ``attempts`` counts the claims, and doubles
    as the fencing token of the current claim. ``done_at`` is when it reached a final
    state (done, cancelled or failed), for purging.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_jobs_status_due_at", Job.status, Job.due_at)


# --- the back office: organisations, staff, sessions, audit, notes, steps -----------------


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class KindAccess(Base):
    """Which organisation sees which case kind, and on what condition (configuration).

    ``rule``: ``always``; ``shared`` (only where the applicant agreed to share with it);
    ``vulnerable`` (only where a vulnerability flag is set); ``on_duty`` (only its staff
    who are on duty). A call-back is seen as the kind of the journey it came from.
    """

    __tablename__ = "kind_access"
    __table_args__ = (UniqueConstraint("kind", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(16))


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Lower-cased."""
    password_hash: Mapped[str] = mapped_column(String(255))
    """argon2id, with its parameters (argon2-cffi's encoded form)."""
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The TOTP secret (encrypted); while ``totp_enabled_at`` is empty, an enrolment not
    yet confirmed with a code."""
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    """The time step of the last TOTP code accepted: a code of that step or an earlier one
    is refused, so a code seen over a shoulder cannot be used again."""


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is kept."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only: who did what to which case, when; never the personal values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """A staff user id (kept as a number, not a foreign key: the log outlives nothing)."""
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(16), index=True)
    detail: Mapped[str | None] = mapped_column(String(255))
    """What changed, as ids (``in_review``, ``closed:departed``), never free text."""


class CaseNote(Base):
    """An internal note on a case; its text may be personal, so it is encrypted."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)


class CaseStep(Base):
    """A step of the case kind's workflow recorded by a caseworker (kinds.py)."""

    __tablename__ = "case_steps"
    __table_args__ = (UniqueConstraint("case_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

class WhatsAppContact(Base):
    """What WhatsApp's rules need about a conversation: when the applicant last wrote
    (free-form messages only within 24 hours of it) and whether they agreed to be written
    to outside that window (by an approved template). No personal data."""

    __tablename__ = "whatsapp_contacts"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    last_inbound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opted_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when the applicant agreed to templates, cleared when they declined."""
    opt_in_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the channel asked (once, after the first request sent); /updates asks again."""
    language: Mapped[str | None] = mapped_column(String(16))
    """The language the question was asked in (the channel's own answers use it)."""
    template_language: Mapped[str | None] = mapped_column(String(16))
    """The template language the applicant chose when theirs has no approved template."""


class WhatsAppMessage(Base):
    """One message we sent on WhatsApp and its latest status (accepted → sent → delivered
    → read, or failed), by WhatsApp's message id. No personal data: no text, no number."""

    __tablename__ = "whatsapp_messages"

    wa_message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """``session`` (within the window) or ``template``."""
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ErasedCase(Base):
    """What is left of an erased case: nothing personal. Anonymous counts come from here
    (kind, month created, outcome), and staff can see that a reference was erased, when,
    by whom (``applicant``, ``retention``, or the staff member) and why."""

    __tablename__ = "erased_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reference: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_month: Mapped[str] = mapped_column(String(7))
    """``2026-11``: the month it was created, never the day."""
    outcome: Mapped[str] = mapped_column(String(32))
    """Its status when it was erased (``closed``, ``withdrawn``, ``submitted``…)."""
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class KeyCheck(Base):
    """Fingerprints of the keys a database was written with (``lookup``: the lookup key),
    so a server started with another key refuses to run instead of losing every
    conversation (see ``Store.verify_lookup_key``)."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))


class ApiToken(Base):
    """A machine's key to the staff API (bot/api): acts as a staff member of ``role`` in
    the organisation. Only the SHA-256 of the token is kept (the token is 256 random bits,
    so no slow or keyed hash is needed, and key rotation leaves tokens alone)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- delivery to other systems: the outbox and webhooks (outbox.py, bot/webhooks.py) -----


class OutboxEvent(Base):
    """A change of a case, written in the same transaction as the change (outbox.py).

    Nothing personal: the case's plain columns and ids only. ``seq`` is given when the
    event is published (in commit order, one publisher at a time), and ``body`` with it:
    the JSON every webhook and the feed get, never changed afterwards. The access columns
    are the case's at the time of the event, so that the one access check also decides
    for the events of a case that was erased since."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    event: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    """Not a foreign key: ``case.erased`` outlives its case."""
    reference: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    origin_flow: Mapped[str | None] = mapped_column(String(64))
    shared_with: Mapped[str] = mapped_column(String(255), default="")
    submitted_org: Mapped[str | None] = mapped_column(String(64))
    flags: Mapped[list[str]] = mapped_column(JSON)


class Webhook(Base):
    """A receiver of an organisation: the events it wants, its URL, its signing secret
    (encrypted). It receives only the events of cases its organisation may see."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(String(255))
    """``,case.created,case.updated,``."""
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254))


class WebhookDelivery(Base):
    """One event for one webhook. ``key`` is the ``Intake-Delivery`` header (the same key
    always goes with the event's one body). ``status``: pending → running (claimed, with
    a lease until ``locked_until``; ``attempts`` is the fencing token) → delivered, or
    back to pending with a later ``next_at``, or parked after too many attempts, until
    staff resend (pending again) or dismiss it. A pending, running or parked delivery
    holds back the later ones of the same case to the same webhook."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(36), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))
    """``HTTP 500``, ``timeout``, ``ClientConnectorError``: never a body."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_webhook_deliveries_status_next_at", WebhookDelivery.status, WebhookDelivery.next_at)
Index("ix_webhook_deliveries_order", WebhookDelivery.webhook_id, WebhookDelivery.case_id, WebhookDelivery.seq)


class AssistedIntake(Base):
    """A journey a staff member runs on behalf of an applicant from the back office
    (bot/backoffice/assisted.py). Its id is random and is the sender id of its own
    conversation on the ``assisted`` channel, so two intakes by the same staff member are
    two applicants, never one. Nothing personal: who ran it, for which organisation, how
    the applicant gave consent, in which language and journey."""

    __tablename__ = "assisted_intakes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"), index=True)
    submitted_by: Mapped[str] = mapped_column(String(128))
    """The staff member's e-mail address (staff data), copied to the cases it creates."""
    organisation: Mapped[str] = mapped_column(String(64))
    """The staff member's organisation (slug), copied to ``cases.submitted_org``."""
    consent_method: Mapped[str] = mapped_column(String(16))
    """How the applicant gave consent: ``read_aloud`` or ``signed_form``."""
    language: Mapped[str] = mapped_column(String(16))
    flow_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_message_id: Mapped[str | None] = mapped_column(String(64))
    """The message id of the latest answer: reopening the intake shows the bot's replies
    to it (the engine answers a known id from what it said) instead of a new turn."""


class CaseLinkCode(Base):
    """A one-time code with which an applicant links their own chat to a case staff
    submitted for them (``/link CODE``). Only its keyed hash is kept; it expires, and it
    works once (``used_at``)."""

    __tablename__ = "case_link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    intake_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The assisted intake that submitted the case (it still lists the case once linked)."""
    created_by: Mapped[str] = mapped_column(String(128))
    """The staff member who issued the code (e-mail address)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- sign-in: failures shared by every worker, the second-factor step ------------------


class LoginFailure(Base):
    """One failed sign-in, under the keyed hash of the account or of the address (never
    the e-mail address or IP itself); read by the throttle, aged out after its window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


Index("ix_login_failures_key_hash_at", LoginFailure.key_hash, LoginFailure.at)


class LoginChallenge(Base):
    """A password accepted, the TOTP code still to come: bound to the browser's
    pre-session cookie (only its keyed hash is kept), short-lived, used once."""

    __tablename__ = "login_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pre_session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- alerts: urgent cases reach the on-duty staff (bot/store/alerts.py) --------------------


class Alert(Base):
    """A new or escalated urgent case that the on-duty staff must hear of. Written in the
    transaction that creates (or escalates) the case, so an alert exists if and only if
    its case does. ``recipients_at`` is set when the sender has worked out who gets an
    e-mail (one ``AlertDelivery`` each); ``acknowledged_at`` when staff said they are on it.
    Nothing personal: the case's reference and kind only."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_reference: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))
    """``created`` or ``escalated``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class AlertDelivery(Base):
    """One alert e-mail to one staff member: pending → running (claimed, leased until
    ``locked_until``) → sent, or back to pending with a later ``due_at`` after a failure,
    or failed. ``attempts`` counts the claims and fences a lost lease (as ``Job`` does)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "staff_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_alert_deliveries_status_due_at", AlertDelivery.status, AlertDelivery.due_at)
Index(
    "ix_cases_created_at_kind_language", CaseRow.created_at, CaseRow.kind, CaseRow.language, CaseRow.first_answer_at
)
"""The dashboard's figures over a period (bot/store/dashboard.py) read this index alone."""


class CaseSearchTerm(Base):
    """A blind index of one personal value of a case (search_index.py): an HMAC under the
    lookup key of a normalised name word, date of birth or phone number, never the value.
    Written with the case, deleted with it, re-keyed with the lookup key."""

    __tablename__ = "case_search_terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(16))
    """``name``, ``name_latin``, ``name_sound``, ``dob`` or ``phone``."""
    digest: Mapped[str] = mapped_column(String(64))


# Both cover every column a search reads, so that it never visits the table: the cases
# holding a value, and the values of some cases.
Index("ix_case_search_terms_field_digest", CaseSearchTerm.field, CaseSearchTerm.digest, CaseSearchTerm.case_id)
Index("ix_case_search_terms_case_id", CaseSearchTerm.case_id, CaseSearchTerm.field, CaseSearchTerm.digest)
