"""The back office's reads and writes of cases: lists with filters, one case with its
notes and steps, status changes, assignment. The access condition (policy.visible_cases)
is passed in by the caller and applied to every query, so nothing here decides who sees
what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, asc, case, cast, desc, func, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from ..cases.kinds import KINDS
from ..cases.model import Case
from . import outbox
from .database import READ_ONLY
from .models import CaseEvent, CaseNote, CaseRow, CaseStep, Organisation, StaffUser
from .retention import RetentionPolicy, retention_until

OPEN = ("submitted", "in_review", "waiting_for_applicant")
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"in_review", "waiting_for_applicant", "closed"}),
    "in_review": frozenset({"waiting_for_applicant", "closed"}),
    "waiting_for_applicant": frozenset({"in_review", "closed"}),
    "closed": frozenset({"in_review"}),  # reopened, with a reason
    "withdrawn": frozenset(),  # the applicant's; final
}
SORTS = {
    "newest": (desc(CaseRow.created_at),),
    "oldest": (asc(CaseRow.created_at),),
    "priority": (
        case((CaseRow.priority == "urgent", 0), (CaseRow.priority == "high", 1), else_=2),
        desc(CaseRow.created_at),
    ),
    "updated": (desc(CaseRow.updated_at),),
}


async def set_status(
    session: Any, row: CaseRow, status: str, now: datetime, *, actor: str, note: str | None,
    retention: RetentionPolicy, outcome: str | None = None,
) -> None:
    """The one way a case's status changes (the back office, the API, the CLI): its
    history, its outcome (kept only while closed), its retention period (a final status
    starts it, an open one clears it: retention.py) and its outbox event, all in the
    caller's transaction. ``row.events`` must be loaded."""
    previous = row.status
    if status == "closed":
        row.outcome = outcome
    elif previous == "closed":
        row.outcome = None
    row.status = status
    row.retention_until = retention_until(retention, row.kind, status, now)
    row.updated_at = now
    row.events.append(CaseEvent(at=now, status=status, actor=actor, note=note))
    change: dict[str, Any] = {"status": {"from": previous, "to": status}}
    if status == "closed":
        change["outcome"] = outcome
    await outbox.record(session, "case.withdrawn" if status == "withdrawn" else "case.updated", row, now, change)


COUNT_LIMIT = 1000
PRIORITY_BUCKETS = (("urgent",), ("high",), None)
"""The "urgent first" order as three runs of newest first: urgent, high, the rest. Each run
is read along the (priority, created_at) index and stops at the page, instead of sorting
every visible case by a CASE expression that no index serves."""
LIST_COLUMNS = (
    CaseRow.id, CaseRow.reference, CaseRow.kind, CaseRow.status, CaseRow.priority, CaseRow.language, CaseRow.flags,
    CaseRow.created_at, CaseRow.updated_at, CaseRow.first_answer_at, CaseRow.outcome,
)


class WorkflowError(ValueError):
    """A change the workflow does not allow (said in English; the pages translate it)."""


@dataclass
class CaseFilter:
    kind: str | None = None
    status: str | None = None
    """A status, or ``open`` for the three open ones."""
    priority: str | None = None
    language: str | None = None
    flag: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    reference: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    organisation: str | None = None
    """An organisation's slug: the cases it submitted (assisted intake) or that the
    applicant agreed to share with it."""
    sort: str = "priority"
    page: int = 1
    per_page: int = 50
    count_limit: int | None = COUNT_LIMIT
    """Stop counting there (the page then says "1000+"): counting every visible case of
    a large database costs more than the page itself. Always counted past the end of the
    page asked for, so whether there is a next page is known. None counts them all."""


@dataclass(frozen=True, slots=True)
class CaseLine:
    """One row of the case list: plain columns only (nothing decrypted)."""

    reference: str
    kind: str
    status: str
    priority: str
    language: str
    flags: list[str]
    created_at: datetime
    updated_at: datetime
    first_answer_at: datetime | None
    assignee: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class Note:
    at: datetime
    author: str | None
    organisation: str
    text: str


@dataclass
class CaseFile:
    """One case as a caseworker opens it."""

    case: Case
    row: CaseRow
    assignee: str | None
    notes: list[Note] = field(default_factory=list)
    steps: dict[str, tuple[datetime, str]] = field(default_factory=dict)


class Casework:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    async def cases(self, visible: ColumnElement[bool], f: CaseFilter) -> tuple[list[CaseLine], int]:
        """A page of the cases ``visible`` lets through, filtered, and how many in all (at
        most ``f.count_limit``, but always past the end of this page: see CaseFilter)."""
        where = _where(visible, f)
        offset = max(f.page - 1, 0) * f.per_page
        async with self._reads() as session:
            total = await _count(session, where, _count_cap(f, offset))
            if f.sort in SORTS and f.sort != "priority":
                rows = (await session.execute(
                    _page_query(where).order_by(*SORTS[f.sort], CaseRow.id).limit(f.per_page).offset(offset)
                )).all()
            else:
                rows = await _by_priority(session, where, offset, f.per_page)
        return [_line(r, r.email) for r in rows], int(total or 0)

    async def after(
        self, visible: ColumnElement[bool], f: CaseFilter, key: CaseKey | None, limit: int, *, newest_first: bool = True,
        with_events: bool = True,
    ) -> list[tuple[CaseRow, str | None]]:
        """Up to ``limit`` cases after ``key`` in (created_at, id) order, newest first or
        oldest first: a keyset page, so that cases added meanwhile neither repeat nor
        shift the pages (the staff API's cursor, and exports in batches). Rows with the
        assignee's e-mail address (and the status history unless ``with_events`` is
        false); the caller decrypts only what it needs."""
        where = _where(visible, f)
        order: tuple[Any, ...]
        if newest_first:
            order = (desc(CaseRow.created_at), desc(CaseRow.id))
            if key is not None:
                where.append(or_(
                    CaseRow.created_at < key.created_at,
                    and_(CaseRow.created_at == key.created_at, CaseRow.id < key.id),
                ))
        else:
            order = (asc(CaseRow.created_at), asc(CaseRow.id))
            if key is not None:
                where.append(or_(
                    CaseRow.created_at > key.created_at,
                    and_(CaseRow.created_at == key.created_at, CaseRow.id > key.id),
                ))
        query = (
            select(CaseRow, StaffUser.email)
            .outerjoin(StaffUser, StaffUser.id == CaseRow.assignee_id)
            .where(*where)
            .order_by(*order)
            .limit(limit)
        )
        if with_events:
            query = query.options(selectinload(CaseRow.events))
        async with self._reads() as session:
            return [(row, email) for row, email in (await session.execute(query)).all()]

    def line(self, row: CaseRow, assignee: str | None) -> CaseLine:
        return _line(row, assignee)

    async def case_file(
        self, visible: ColumnElement[bool], reference: str, notes_of: int | None = None
    ) -> CaseFile | None:
        """The case if ``visible`` lets it through (else None, as for no case at all);
        ``notes_of`` keeps only the notes of one organisation (partners)."""
        async with self._reads() as session:
            found = (
                await session.execute(
                    select(CaseRow, StaffUser.email)
                    .outerjoin(StaffUser, StaffUser.id == CaseRow.assignee_id)
                    .where(CaseRow.reference == reference, visible)
                    .options(selectinload(CaseRow.events))
                )
            ).first()
            if found is None:
                return None
            row, assignee = found
            notes_query = (
                select(CaseNote, StaffUser.email, Organisation.slug)
                .outerjoin(StaffUser, StaffUser.id == CaseNote.author_id)
                .join(Organisation, Organisation.id == CaseNote.organisation_id)
                .where(CaseNote.case_id == row.id)
                .order_by(CaseNote.id)
            )
            if notes_of is not None:
                notes_query = notes_query.where(CaseNote.organisation_id == notes_of)
            notes = [
                Note(n.at, email, slug, self._store.cipher.decrypt(n.body_enc).decode())
                for n, email, slug in (await session.execute(notes_query)).all()
            ]
            steps = {
                s.step: (s.at, s.actor)
                for s in (await session.scalars(select(CaseStep).where(CaseStep.case_id == row.id))).all()
            }
        return CaseFile(self._store.to_case(row), row, assignee, notes, steps)

    async def change_status(
        self, reference: str, status: str, reason: str, outcome: str | None, actor: str, now: datetime
    ) -> None:
        """Move the case along the workflow; closing needs one of its kind's outcomes."""
        reason = reason.strip()
        if not reason:
            raise WorkflowError("a reason is required")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(
                select(CaseRow).where(CaseRow.reference == reference)
                .options(selectinload(CaseRow.events)).with_for_update()
            )
            if row is None:
                raise WorkflowError("no such case")
            if status not in TRANSITIONS.get(row.status, frozenset()):
                raise WorkflowError(f"a {row.status} case cannot become {status}")
            if status == "closed":
                kind = KINDS.get(row.kind)
                if not outcome or kind is None or kind.outcome(outcome) is None:
                    raise WorkflowError("closing needs one of the case kind's outcomes")
            if row.first_answer_at is None:
                row.first_answer_at = now
            await set_status(
                session, row, status, now, actor=actor, note=reason[:2000], retention=self._store.retention,
                outcome=outcome if status == "closed" else None,
            )

    async def first_answer(self, reference: str, now: datetime) -> None:
        """Staff answered the applicant (a message): the first time counts for the case's
        first-answer target, as a first status change does."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(select(CaseRow).where(CaseRow.reference == reference))
            if row is not None and row.first_answer_at is None:
                row.first_answer_at = now
                row.updated_at = now

    async def assign(self, reference: str, assignee_id: int | None, now: datetime) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(select(CaseRow).where(CaseRow.reference == reference).with_for_update())
            if row is None:
                raise WorkflowError("no such case")
            if row.assignee_id == assignee_id:
                return
            previous = row.assignee_id
            row.assignee_id = assignee_id
            row.updated_at = now
            await outbox.record(
                session, "case.updated", row, now, {"assignee_id": {"from": previous, "to": assignee_id}}
            )

    async def add_note(self, reference: str, author_id: int | None, organisation_id: int, text: str, now: datetime) -> None:
        text = text.strip()
        if not text:
            raise WorkflowError("a note cannot be empty")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            case_id = await session.scalar(select(CaseRow.id).where(CaseRow.reference == reference))
            if case_id is None:
                raise WorkflowError("no such case")
            session.add(CaseNote(
                case_id=case_id, author_id=author_id, organisation_id=organisation_id, at=now,
                body_enc=self._store.cipher.encrypt(text[:5000].encode()),
            ))

    async def record_step(self, reference: str, step: str, actor: str, now: datetime) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(select(CaseRow).where(CaseRow.reference == reference).with_for_update())
            kind = KINDS.get(row.kind) if row is not None else None
            if row is None or kind is None or kind.step(step) is None:
                raise WorkflowError("not a step of this case kind")
            if await session.scalar(select(CaseStep.id).where(CaseStep.case_id == row.id, CaseStep.step == step)):
                return
            session.add(CaseStep(case_id=row.id, step=step, actor=actor, at=now))
            row.updated_at = now
            await outbox.record(session, "case.updated", row, now, {"step": step})

    async def colleagues(self, organisation_id: int) -> list[tuple[int, str]]:
        """Enabled caseworkers and admins of an organisation (whom a case may be assigned to)."""
        async with self._reads() as session:
            rows = await session.execute(
                select(StaffUser.id, StaffUser.email)
                .where(
                    StaffUser.organisation_id == organisation_id,
                    StaffUser.disabled_at.is_(None),
                    StaffUser.role.in_(("caseworker", "admin")),
                )
                .order_by(StaffUser.email)
            )
            return [(i, e) for i, e in rows.all()]


def _conditions(f: CaseFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.kind:
        where.append(CaseRow.kind == f.kind)
    if f.status == "open":
        where.append(CaseRow.status.in_(OPEN))
    elif f.status:
        where.append(CaseRow.status == f.status)
    if f.priority:
        where.append(CaseRow.priority == f.priority)
    if f.language:
        where.append(CaseRow.language == f.language)
    if f.flag:
        where.append(cast(CaseRow.flags, Text).like(f'%"{_like_safe(f.flag)}"%'))
    if f.created_from:
        where.append(CaseRow.created_at >= f.created_from)
    if f.created_to:
        where.append(CaseRow.created_at < f.created_to)
    if f.reference:
        where.append(CaseRow.reference.like(f"%{_like_safe(f.reference.upper())}%"))
    if f.unassigned:
        where.append(CaseRow.assignee_id.is_(None))
    elif f.assignee_id is not None:
        where.append(CaseRow.assignee_id == f.assignee_id)
    if f.organisation:
        where.append(or_(
            CaseRow.submitted_org == f.organisation,
            CaseRow.shared_with.like(f"%,{_like_safe(f.organisation)},%"),
        ))
    return where


def count_stopped(f: CaseFilter, total: int) -> bool:
    """Whether ``total`` from ``Casework.cases`` is where counting stopped ("1000+")."""
    cap = _count_cap(f, max(f.page - 1, 0) * f.per_page)
    return cap is not None and total >= cap


def _count_cap(f: CaseFilter, offset: int) -> int | None:
    return None if f.count_limit is None else max(f.count_limit, offset + f.per_page + 1)


async def _count(session: Any, where: list[ColumnElement[bool]], cap: int | None) -> int:
    """How many rows ``where`` selects, counting no further than ``cap``."""
    if cap is None:
        return int(await session.scalar(select(func.count()).select_from(CaseRow).where(*where)) or 0)
    capped = select(CaseRow.id).where(*where).limit(cap).subquery()
    return int(await session.scalar(select(func.count()).select_from(capped)) or 0)


def _page_query(where: list[ColumnElement[bool]]) -> Any:
    """The list's columns (no encrypted data) and the assignee's e-mail, in one query."""
    return (
        select(*LIST_COLUMNS, StaffUser.email)
        .outerjoin(StaffUser, StaffUser.id == CaseRow.assignee_id)
        .where(*where)
    )


async def _by_priority(session: Any, where: list[ColumnElement[bool]], offset: int, limit: int) -> list[Any]:
    """Urgent first, then high, then the rest, newest first in each: the runs one after the
    other, skipping those that end before the page starts (the sizes of the urgent and high
    runs, counted together in one statement, tell which)."""
    sizes: dict[str, int] = {}
    if offset:
        counted = (await session.execute(
            select(CaseRow.priority, func.count()).where(*where, CaseRow.priority.in_(("urgent", "high")))
            .group_by(CaseRow.priority)
        )).all()
        sizes = {priority: int(n) for priority, n in counted}
    rows: list[Any] = []
    for bucket in PRIORITY_BUCKETS:
        if limit <= 0:
            break
        run = CaseRow.priority.in_(bucket) if bucket else CaseRow.priority.not_in(("urgent", "high"))
        if offset and bucket:
            size = sizes.get(bucket[0], 0)
            if size <= offset:
                offset -= size
                continue
        found = (await session.execute(
            _page_query([*where, run]).order_by(desc(CaseRow.created_at), CaseRow.id).limit(limit).offset(offset)
        )).all()
        rows.extend(found)
        limit -= len(found)
        offset = 0
    return rows


def _like_safe(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in "-_")


@dataclass(frozen=True, slots=True)
class CaseKey:
    """Where a keyset page ends: the last case's creation time and id."""

    created_at: datetime
    id: str


def _line(r: CaseRow, email: str | None) -> CaseLine:
    return CaseLine(
        reference=r.reference, kind=r.kind, status=r.status, priority=r.priority, language=r.language,
        flags=list(r.flags or []), created_at=r.created_at, updated_at=r.updated_at,
        first_answer_at=r.first_answer_at, assignee=email, outcome=r.outcome,
    )


def _where(visible: ColumnElement[bool], f: CaseFilter) -> list[ColumnElement[bool]]:
    """The access condition and the filter, as WHERE conditions."""
    return [visible, *_conditions(f)]
