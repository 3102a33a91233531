"""Erasure: what goes when an applicant, staff or the retention purge erase, and what stays.

What stays of an erased case is one ``erased_cases`` row: its reference, kind, month of
creation, outcome, who erased it and why; nothing personal. A case under a legal hold
(``cases.legal_hold_reason``, set by staff with a reason) is kept whole: an erasure
request on it is recorded and its retention ends at once, so the purge erases it as soon
as the hold is released. Every function here runs in its caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import selectinload

from . import outbox
from .appointments import ACTIVE
from .models import Booking, CaseEvent, CaseRow, CaseSearchTerm, Conversation, ErasedCase, Job, ProcessedMessage, Slot, TranscriptEntry

ERASURE_HELD_NOTE = "erasure requested; kept under legal hold"


def held(row: CaseRow) -> bool:
    return row.legal_hold_reason is not None


async def drop_bookings(session: Any, now: datetime, which: Any) -> int:
    """Delete the bookings ``which`` selects and their jobs; upcoming active ones give
    their seat back first (in slot order, like every turn holding two slot rows)."""
    found = (
        await session.execute(
            select(Booking.id, Booking.slot_id, Booking.status, Slot.starts_at)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(which)
            .order_by(Booking.slot_id, Booking.id)
        )
    ).all()
    for booking in found:
        if booking.status == ACTIVE and booking.starts_at > now:
            await session.execute(
                update(Slot)
                .where(Slot.id == booking.slot_id, Slot.booked > 0)
                .values(booked=Slot.booked - 1)
                .execution_options(synchronize_session=False)
            )
    ids = [b.id for b in found]
    if ids:
        await session.execute(delete(Job).where(Job.booking_id.in_(ids)).execution_options(synchronize_session=False))
        await session.execute(delete(Booking).where(Booking.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)


async def erase_case_row(session: Any, row: CaseRow, now: datetime, actor: str, reason: str | None) -> None:
    """Delete a case (its history and bookings too), leaving its anonymous trace; its
    outbox events and their deliveries go too, and ``case.erased`` (its reference alone)
    tells the receivers."""
    await outbox.purge_case(session, row.id)
    await outbox.record(session, "case.erased", row, now)
    session.add(ErasedCase(
        erased_at=now, reference=row.reference, kind=row.kind,
        created_month=row.created_at.strftime("%Y-%m"), outcome=row.status, actor=actor, reason=reason,
    ))
    await drop_bookings(session, now, Booking.case_reference == row.reference)
    await session.execute(delete(CaseEvent).where(CaseEvent.case_id == row.id).execution_options(synchronize_session=False))
    await session.execute(
        delete(CaseSearchTerm).where(CaseSearchTerm.case_id == row.id).execution_options(synchronize_session=False)
    )
    await session.execute(delete(CaseRow).where(CaseRow.id == row.id).execution_options(synchronize_session=False))
    await session.flush()


async def keep_under_hold(row: CaseRow, now: datetime, actor: str) -> None:
    """An erasure request reached a held case: say so in its history, and end its
    retention, so the purge erases it once the hold is released."""
    row.events.append(CaseEvent(at=now, status=row.status, actor=actor, note=ERASURE_HELD_NOTE))
    row.retention_until = now
    row.updated_at = now


async def erase_conversation(
    session: Any, conversation_id: int, sender_key: str, now: datetime, actor: str = "applicant"
) -> tuple[int, int]:
    """The applicant's erasure: the conversation row and everything under it (state,
    transcript, redelivery records, bookings, reminders) and every case of this sender or
    conversation. Returns (cases erased, cases kept under a legal hold)."""
    rows = (
        await session.scalars(
            select(CaseRow)
            .where(or_(CaseRow.sender_key == sender_key, CaseRow.conversation_id == conversation_id))
            .options(selectinload(CaseRow.events))
        )
    ).all()
    erased = kept = 0
    for row in rows:
        if held(row):
            await keep_under_hold(row, now, actor)
            row.conversation_id = None
            kept += 1
        else:
            await erase_case_row(session, row, now, actor, reason=None)
            erased += 1
    await session.flush()
    await drop_bookings(session, now, Booking.conversation_id == conversation_id)
    await delete_conversation_rows(session, conversation_id)
    return erased, kept


async def delete_conversation_rows(session: Any, conversation_id: int) -> None:
    """The conversation and what hangs from it (explicitly, not trusting SQLite's
    foreign-key pragma to cascade)."""
    for model in (Job, Booking, ProcessedMessage, TranscriptEntry):
        await session.execute(
            delete(model).where(model.conversation_id == conversation_id).execution_options(synchronize_session=False)
        )
    await session.execute(
        update(CaseRow).where(CaseRow.conversation_id == conversation_id).values(conversation_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(Conversation).where(Conversation.id == conversation_id).execution_options(synchronize_session=False)
    )
