"""How long personal data is kept, and the purge that erases what is past it.

Defaults (INTAKE_RETENTION_* to change them): the transcript and sender of a conversation
that sent no case go 30 days after its last message; a closed case 12 months after it was
closed; a withdrawn case 30 days after. Other statuses are open work and are kept. A rule
may name a kind (``voluntary_return:closed=730``) to override the status's rule for it.

A case's ``retention_until`` is set when it reaches a final status (``Store.change_status``,
or by the purge for a status set elsewhere, counted from its last change) and cleared if it
is reopened. A case under a legal hold is never purged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.orm import selectinload

from .appointments import ACTIVE, OPEN_JOB
from .database import advisory_key
from .erasure import delete_conversation_rows, erase_case_row
from .models import Booking, CaseRow, Conversation, Job, Slot

DEFAULT_CASE_RULES = {"closed": 365, "withdrawn": 30}
"""Days a case is kept after it reached this status."""
PURGE_LOCK = 0x1A7A_5E_0001
"""The PostgreSQL advisory lock one purge holds, so that several workers never purge at once."""
BATCH = 500


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    transcript: timedelta = timedelta(days=30)
    """A conversation without a case, counted from its last message."""
    cases: Mapping[str, timedelta] = field(
        default_factory=lambda: {status: timedelta(days=days) for status, days in DEFAULT_CASE_RULES.items()}
    )
    """``status`` or ``kind:status`` → how long after reaching it."""

    def for_case(self, kind: str, status: str) -> timedelta | None:
        """How long a case of ``kind`` is kept once in ``status``; None: kept (open work)."""
        return self.cases.get(f"{kind}:{status}", self.cases.get(status))

    @classmethod
    def parse(cls, transcript_days: int, rules: str) -> RetentionPolicy:
        """``closed=365,withdrawn=30,voluntary_return:closed=730`` over the defaults."""
        days: dict[str, int] = dict(DEFAULT_CASE_RULES)
        for part in filter(None, (p.strip() for p in rules.split(","))):
            name, sep, value = part.partition("=")
            if not sep or not value.strip().isdigit() or not name.strip():
                raise ValueError(f"not a retention rule: {part!r} (try closed=365 or voluntary_return:closed=730)")
            days[name.strip()] = int(value)
        return cls(timedelta(days=transcript_days), {k: timedelta(days=v) for k, v in days.items()})


def retention_until(policy: RetentionPolicy, kind: str, status: str, since: datetime) -> datetime | None:
    kept = policy.for_case(kind, status)
    return None if kept is None else since + kept


async def purge_expired(session: Any, dialect: str, policy: RetentionPolicy, now: datetime) -> dict[str, int] | None:
    """In the caller's transaction: give final cases without a retention date one, erase
    the cases past it (not held), and delete conversations without a case whose last
    message is older than the transcript rule. None when another worker is purging
    (PostgreSQL); SQLite's single writer already keeps purges apart."""
    if dialect == "postgresql":
        got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PURGE_LOCK})
        if not got:
            return None
    dated = 0
    undated = (
        await session.scalars(
            select(CaseRow).where(CaseRow.retention_until.is_(None), CaseRow.status.in_(_final_statuses(policy)))
        )
    ).all()
    for row in undated:
        until = retention_until(policy, row.kind, row.status, row.updated_at)
        if until is not None:
            row.retention_until = until
            dated += 1
    await session.flush()

    erased = 0
    while True:
        rows = (
            await session.scalars(
                select(CaseRow)
                .where(CaseRow.retention_until <= now, CaseRow.legal_hold_reason.is_(None))
                .order_by(CaseRow.retention_until, CaseRow.id)
                .limit(BATCH)
                .options(selectinload(CaseRow.events))
            )
        ).all()
        for row in rows:
            await erase_case_row(session, row, now, actor="retention", reason=None)
        erased += len(rows)
        if len(rows) < BATCH:
            break

    has_case = exists().where(CaseRow.conversation_id == Conversation.id)
    upcoming = exists().where(
        Booking.conversation_id == Conversation.id, Booking.status == ACTIVE,
        Booking.slot_id == Slot.id, Slot.starts_at > now,
    )
    waiting_job = exists().where(Job.conversation_id == Conversation.id, Job.status.in_(OPEN_JOB))
    stale = (
        await session.execute(
            select(Conversation.id, Conversation.sender_key)
            .where(Conversation.updated_at < now - policy.transcript, ~has_case, ~upcoming, ~waiting_job)
            # Oldest first, by the index on updated_at: ordered by id, SQLite read the whole
            # table (every conversation's state) at every purge to find the few stale ones.
            .order_by(Conversation.updated_at, Conversation.id)
        )
    ).all()
    conversations = 0
    for conversation_id, sender_key in stale:
        if dialect == "postgresql":
            # A turn of this conversation holds this lock: leave it to the next purge.
            free = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_key(sender_key)}
            )
            if not free:
                continue
        await delete_conversation_rows(session, conversation_id)
        conversations += 1
    return {"cases_dated": dated, "cases_erased": erased, "conversations_erased": conversations}


def _final_statuses(policy: RetentionPolicy) -> list[str]:
    return sorted({rule.rpartition(":")[2] for rule in policy.cases})

