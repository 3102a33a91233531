"""Alerts: a new or escalated urgent case reaches the on-duty staff who may see it.

An ``alerts`` row is written in the transaction that creates (``queue_alert`` from
``Turn.create_case``) or escalates (``Alerts.escalate``) the case: it exists if and only if
that change was committed, whatever happens to the process afterwards. The back office
shows unacknowledged alerts at once; the alert sender (bot/backoffice/alerts.py) e-mails
them:

1. ``expand`` claims alerts whose recipients are not worked out yet, asks the caller's
   ``choose`` (the back office's one access check) which on-duty staff may see each case,
   and writes one ``alert_deliveries`` row per recipient, in one transaction. Rows another
   worker is claiming are skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has a
   single writer), and a (alert, staff member) pair is unique, so nobody is chosen twice.
2. ``claim_deliveries`` leases due deliveries as the reminder jobs are leased
   (bot/scheduler.py explains the guarantees): sent once in practice, at least once if a
   worker dies between sending and recording it; ``finish_delivery`` is fenced by the
   attempt number.

Nothing personal is read or written here: the case's reference, kind and plain access
columns, and staff members' own e-mail addresses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from .database import READ_ONLY
from .models import Alert, AlertDelivery, CaseEvent, CaseRow, KindAccess, Organisation, StaffUser
from .staff import Staff

OPEN = ("submitted", "in_review", "waiting_for_applicant")
URGENT_KIND = "urgent_safety"
PENDING, RUNNING, SENT, FAILED = "pending", "running", "sent", "failed"
STALE_AFTER = timedelta(hours=12)
"""An alert not yet worked out after this long (e-mail was off, or every worker was down)
is not e-mailed any more: it still shows in the back office."""

Choose = Callable[[Sequence[Staff], CaseRow], Sequence[Staff]]
"""Which of the on-duty staff get an e-mail about a case (the back office's access check)."""


def needs_alert(kind: str, priority: str) -> bool:
    return priority == "urgent" or kind == URGENT_KIND


async def queue_alert(session: Any, case_id: str, reference: str, reason: str, now: datetime) -> None:
    """Write an alert in the caller's transaction (a turn's session, or a staff change's)."""
    await session.execute(
        insert(Alert.__table__),
        [{"case_id": case_id, "case_reference": reference, "reason": reason, "created_at": now}],
    )


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One e-mail to send: whom to (their own address and language), about which case."""

    id: int
    attempt: int
    email: str
    language: str | None
    reference: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class AlertLine:
    """An unacknowledged alert as the back office lists it."""

    id: int
    reference: str
    kind: str
    reason: str
    created_at: datetime


class Alerts:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    # --- raising an alert outside a turn --------------------------------------------------

    async def escalate(self, reference: str, now: datetime, *, actor: str) -> bool:
        """Make an open case urgent and alert the on-duty staff; False if there is no such
        open case or it is urgent already (nothing changed, no second alert)."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(select(CaseRow).where(CaseRow.reference == reference).with_for_update())
            if row is None or row.status not in OPEN or row.priority == "urgent":
                return False
            row.priority = "urgent"
            row.updated_at = now
            session.add(CaseEvent(case_id=row.id, at=now, status=row.status, actor=actor, note="escalated: urgent"))
            await queue_alert(session, row.id, row.reference, "escalated", now)
        return True

    # --- the sender ---------------------------------------------------------------------

    async def expand(self, now: datetime, choose: Choose, *, limit: int = 50) -> int:
        """Work out the recipients of up to ``limit`` new alerts and write their deliveries;
        returns how many alerts were worked out."""
        query = (
            select(Alert, CaseRow)
            .join(CaseRow, CaseRow.id == Alert.case_id)
            .where(Alert.recipients_at.is_(None))
            .order_by(Alert.id)
            .limit(limit)
            .with_for_update(of=Alert, skip_locked=True)
        )
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            found = (await session.execute(query)).all()
            if not found:
                return 0
            staff = await _on_duty(session)
            rows = []
            for alert, case in found:
                alert.recipients_at = now
                if now - alert.created_at > STALE_AFTER or case.status not in OPEN:
                    continue
                rows += [
                    {"alert_id": alert.id, "staff_id": user.id, "status": PENDING, "attempts": 0, "due_at": now}
                    for user in choose(staff, case)
                ]
            if rows:
                await session.execute(insert(AlertDelivery.__table__), rows)
        return len(found)

    async def claim_deliveries(
        self, now: datetime, *, lease: timedelta, limit: int, max_attempts: int
    ) -> list[DeliveryView]:
        """Lease up to ``limit`` due deliveries (pending and due, or running with an expired
        lease) until ``now + lease``, counting the attempt. One whose lease expired after
        ``max_attempts`` claims is failed rather than tried again."""
        due = ((AlertDelivery.status == PENDING) & (AlertDelivery.due_at <= now)) | (
            (AlertDelivery.status == RUNNING) & (AlertDelivery.locked_until <= now)
        )
        query = (
            select(AlertDelivery)
            .where(due)
            .order_by(AlertDelivery.due_at, AlertDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed: list[tuple[int, int]] = []
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            for row in (await session.scalars(query)).all():
                if row.status == RUNNING and row.attempts >= max_attempts:
                    row.status, row.locked_until = FAILED, None
                    continue
                row.status, row.locked_until, row.attempts = RUNNING, now + lease, row.attempts + 1
                claimed.append((row.id, row.attempts))
            if not claimed:
                return []
            details = (
                await session.execute(
                    select(AlertDelivery.id, StaffUser.email, StaffUser.language, StaffUser.disabled_at,
                           Alert.case_reference, CaseRow.kind, Alert.reason)
                    .join(StaffUser, StaffUser.id == AlertDelivery.staff_id)
                    .join(Alert, Alert.id == AlertDelivery.alert_id)
                    .join(CaseRow, CaseRow.id == Alert.case_id)
                    .where(AlertDelivery.id.in_([i for i, _ in claimed]))
                )
            ).all()
            # A recipient disabled since the alert was worked out gets nothing.
            disabled = [d.id for d in details if d.disabled_at is not None]
            if disabled:
                await session.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.id.in_(disabled))
                    .values(status=FAILED, locked_until=None)
                    .execution_options(synchronize_session=False)
                )
        by_id = {d.id: d for d in details}
        return [
            DeliveryView(i, attempt, by_id[i].email, by_id[i].language, by_id[i].case_reference, by_id[i].kind,
                         by_id[i].reason)
            for i, attempt in claimed
            if i in by_id and by_id[i].disabled_at is None
        ]

    async def finish_delivery(
        self, delivery_id: int, attempt: int, now: datetime, status: str, *, retry_at: datetime | None = None
    ) -> bool:
        """Record claim number ``attempt``'s outcome: ``sent``, ``failed``, or ``pending``
        again from ``retry_at``. False when that claim is no longer the delivery's."""
        if status == PENDING:
            if retry_at is None:
                raise ValueError("retry_at is needed to put a delivery back")
            values: dict[str, Any] = {"status": PENDING, "due_at": retry_at, "locked_until": None}
        elif status == SENT:
            values = {"status": SENT, "sent_at": now, "locked_until": None}
        elif status == FAILED:
            values = {"status": FAILED, "locked_until": None}
        else:
            raise ValueError(f"cannot finish a delivery as {status!r}")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            result = await session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == delivery_id, AlertDelivery.status == RUNNING,
                       AlertDelivery.attempts == attempt)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def deliveries(self, reference: str | None = None) -> list[tuple[str, str, str, int]]:
        """(case reference, staff e-mail, status, attempts) of every delivery, for staff and tests."""
        query = (
            select(Alert.case_reference, StaffUser.email, AlertDelivery.status, AlertDelivery.attempts)
            .join(Alert, Alert.id == AlertDelivery.alert_id)
            .join(StaffUser, StaffUser.id == AlertDelivery.staff_id)
            .order_by(AlertDelivery.id)
        )
        if reference:
            query = query.where(Alert.case_reference == reference)
        async with self._reads() as session:
            return [tuple(r) for r in (await session.execute(query)).all()]  # type: ignore[misc]

    # --- the back office's view -----------------------------------------------------------

    async def unacknowledged(self, visible: ColumnElement[bool], limit: int = 10) -> tuple[list[AlertLine], int]:
        """The alerts of open cases ``visible`` lets through that nobody acknowledged yet,
        newest first (at most ``limit``), and how many in all."""
        where = (Alert.acknowledged_at.is_(None), CaseRow.status.in_(OPEN), visible)
        async with self._reads() as session:
            total = await session.scalar(
                select(func.count()).select_from(Alert).join(CaseRow, CaseRow.id == Alert.case_id).where(*where)
            )
            rows = (
                await session.execute(
                    select(Alert.id, Alert.case_reference, CaseRow.kind, Alert.reason, Alert.created_at)
                    .join(CaseRow, CaseRow.id == Alert.case_id)
                    .where(*where)
                    .order_by(Alert.id.desc())
                    .limit(limit)
                )
            ).all()
        return [AlertLine(*r) for r in rows], int(total or 0)

    async def acknowledge(self, reference: str, staff_id: int, now: datetime) -> int:
        """Acknowledge every open alert of a case; returns how many."""
        case_ids = select(CaseRow.id).where(CaseRow.reference == reference).scalar_subquery()
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            result = await session.execute(
                update(Alert)
                .where(Alert.case_id == case_ids, Alert.acknowledged_at.is_(None))
                .values(acknowledged_at=now, acknowledged_by=staff_id)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _on_duty(session: Any) -> list[Staff]:
    """Every enabled staff member on duty, with their organisation's access rules (two
    queries, however many there are)."""
    users = (
        await session.execute(
            select(StaffUser, Organisation.slug)
            .join(Organisation, Organisation.id == StaffUser.organisation_id)
            .where(StaffUser.on_duty.is_(True), StaffUser.disabled_at.is_(None))
            .order_by(StaffUser.id)
        )
    ).all()
    rules: dict[int, list[tuple[str, str]]] = {}
    for org_id, kind, rule in (
        await session.execute(select(KindAccess.organisation_id, KindAccess.kind, KindAccess.rule))
    ).all():
        rules.setdefault(org_id, []).append((kind, rule))
    return [
        Staff(
            id=u.id, email=u.email, role=u.role, organisation=slug, organisation_id=u.organisation_id,
            on_duty=True, language=u.language, disabled=False,
            kind_rules=tuple(sorted(rules.get(u.organisation_id, []))),
        )
        for u, slug in users
    ]
