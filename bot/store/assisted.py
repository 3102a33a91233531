"""Assisted intake in the store: the intakes staff run for applicants, and the one-time
codes with which an applicant later links their own chat to such a case.

An intake is a conversation of its own on the ``assisted`` channel whose sender id is the
intake's random id; its cases are that conversation's. A link code is kept only as a keyed
hash (``Cipher.lookup_hash``), expires, and works once. Redeeming it moves the case to the
applicant's conversation (``cases.conversation_id`` and ``sender_key``): from then on
"my requests" in that chat shows the case, staff messages reach that chat, and erasing
that chat erases the case, as for a case the applicant had sent themselves.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update

from ..cases.draft import AssistedBy
from ..cases.references import new_link_code
from .models import AssistedIntake, CaseLinkCode, CaseRow

CHANNEL = "assisted"
"""The conversations of assisted intakes."""
LINK_TTL = timedelta(days=14)
"""How long a link code works."""
LinkOutcome = Literal["linked", "unknown", "expired", "used"]


@dataclass(frozen=True, slots=True)
class AssistedView:
    id: str
    staff_id: int | None
    submitted_by: str
    organisation: str
    consent_method: str
    language: str
    flow_id: str
    created_at: datetime
    last_message_id: str | None = None

    def by(self) -> AssistedBy:
        return AssistedBy(staff=self.submitted_by, organisation=self.organisation, consent_method=self.consent_method)


@dataclass(frozen=True, slots=True)
class IntakeCase:
    """A case an intake created: plain columns only."""

    id: str
    reference: str
    kind: str
    status: str
    created_at: datetime
    linked: bool
    """Moved to the applicant's own chat with a link code."""


def _view(row: AssistedIntake) -> AssistedView:
    return AssistedView(
        id=row.id, staff_id=row.staff_id, submitted_by=row.submitted_by, organisation=row.organisation,
        consent_method=row.consent_method, language=row.language, flow_id=row.flow_id,
        created_at=row.created_at, last_message_id=row.last_message_id,
    )


def link_hash(cipher: Any, code: str) -> str:
    return str(cipher.lookup_hash("case-link-code", code))


class AssistedRecords:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def start(
        self, *, staff_id: int, submitted_by: str, organisation: str, consent_method: str,
        language: str, flow_id: str, now: datetime,
    ) -> AssistedView:
        view = AssistedView(
            id=secrets.token_urlsafe(18)[:24], staff_id=staff_id, submitted_by=submitted_by[:128],
            organisation=organisation, consent_method=consent_method, language=language, flow_id=flow_id,
            created_at=now,
        )
        async with self.store.locks.writer(), self.store._sessions() as session, session.begin():
            session.add(AssistedIntake(**{f: getattr(view, f) for f in view.__dataclass_fields__}))
        return view

    async def answered(self, intake_id: str, message_id: str) -> None:
        """Remember the latest answer's message id (see ``AssistedIntake.last_message_id``)."""
        async with self.store.locks.writer(), self.store._sessions() as session, session.begin():
            await session.execute(
                update(AssistedIntake).where(AssistedIntake.id == intake_id).values(last_message_id=message_id)
                .execution_options(synchronize_session=False)
            )

    async def get(self, intake_id: str) -> AssistedView | None:
        async with self.store.reading() as session:
            row = await session.get(AssistedIntake, intake_id[:32])
        return None if row is None else _view(row)

    async def recent(self, staff_id: int, limit: int = 20) -> list[AssistedView]:
        """The staff member's latest intakes, newest first (to come back to one)."""
        async with self.store.reading() as session:
            rows = (await session.scalars(
                select(AssistedIntake).where(AssistedIntake.staff_id == staff_id)
                .order_by(AssistedIntake.created_at.desc()).limit(limit)
            )).all()
        return [_view(r) for r in rows]

    async def cases(self, intake_id: str) -> list[IntakeCase]:
        """The cases this intake created, oldest first (also once linked elsewhere)."""
        key = self.store.sender_key(CHANNEL, intake_id)
        async with self.store.reading() as session:
            linked = select(CaseLinkCode.case_id).where(
                CaseLinkCode.intake_id == intake_id, CaseLinkCode.used_at.is_not(None)
            )
            rows = (await session.execute(
                select(CaseRow.id, CaseRow.reference, CaseRow.kind, CaseRow.status, CaseRow.created_at,
                       CaseRow.sender_key)
                .where(or_(CaseRow.sender_key == key, CaseRow.id.in_(linked)))
                .order_by(CaseRow.created_at, CaseRow.reference)
            )).all()
        return [IntakeCase(r.id, r.reference, r.kind, r.status, r.created_at, r.sender_key != key) for r in rows]

    async def issue_link_code(self, case_id: str, *, intake_id: str | None, staff: str, now: datetime,
                              ttl: timedelta = LINK_TTL) -> tuple[str, datetime]:
        """A new code for the case (its earlier unused codes stop working): the code, to
        be shown once, and when it expires. ``intake_id`` ties the code to the intake, so
        that the intake still lists the case after the applicant linked it."""
        code = new_link_code()
        expires = now + ttl
        async with self.store.locks.writer(), self.store._sessions() as session, session.begin():
            await session.execute(
                delete(CaseLinkCode)
                .where(CaseLinkCode.case_id == case_id, CaseLinkCode.used_at.is_(None))
                .execution_options(synchronize_session=False)
            )
            session.add(CaseLinkCode(
                case_id=case_id, code_hash=link_hash(self.store.cipher, code),
                intake_id=intake_id, created_by=staff[:128], created_at=now, expires_at=expires,
            ))
        return code, expires


async def redeem(session: Any, cipher: Any, code: str, conversation_id: int, sender_key: str,
                 now: datetime) -> tuple[LinkOutcome, str | None]:
    """Link the case of ``code`` to this conversation, in the turn's transaction: the
    outcome, and the case's reference when linked. A code is used once, even when two
    chats send it at the same moment (a conditional update decides)."""
    found = (await session.execute(
        select(CaseLinkCode.id, CaseLinkCode.expires_at, CaseLinkCode.used_at, CaseRow.id, CaseRow.reference)
        .join(CaseRow, CaseRow.id == CaseLinkCode.case_id)
        .where(CaseLinkCode.code_hash == link_hash(cipher, code))
    )).one_or_none()
    if found is None:
        return "unknown", None
    code_id, expires_at, used_at, case_id, reference = found
    if used_at is not None:
        return "used", None
    if expires_at <= now:
        return "expired", None
    taken = await session.execute(
        update(CaseLinkCode)
        .where(CaseLinkCode.id == code_id, CaseLinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return "used", None
    await session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id)
        .values(conversation_id=conversation_id, sender_key=sender_key, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return "linked", str(reference)
