"""Finding cases by name, date of birth, phone or reference, and possible duplicates, through
the blind indexes of search_index.py; (re)building those indexes.

As in casework.py, the access condition (policy.visible_cases) is handed in by the caller
and applied in SQL to every query here, so a search finds exactly what the list would show.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    case,
    delete,
    func,
    insert,
    intersect,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from .casework import LIST_COLUMNS, CaseLine
from .database import READ_ONLY
from .models import CaseRow, CaseSearchTerm, KeyCheck, StaffUser
from .search_index import (
    DOB,
    PHONE,
    SOUND,
    Query,
    digest,
    marker,
    terms,
    word_candidates,
)

MARKER = "search_index"
"""The ``key_checks`` row saying which version and lookup key the index was built with."""
REINDEX_LOCK = 0x1D5EA4C4
"""The PostgreSQL advisory lock of whoever builds the index at start."""
MAX_RESULTS = 100
MAX_DUPLICATES = 20


@dataclass(frozen=True, slots=True)
class Found:
    """A case a search found, and how well it matched (``exact``, ``transliterated``,
    ``similar``: the weakest of its name words; ``exact`` without a name)."""

    line: CaseLine
    match: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    line: CaseLine
    reasons: tuple[str, ...]
    """``phone``, ``name_and_date_of_birth``."""


MATCH_NAMES = {3: "exact", 2: "transliterated", 1: "similar"}


def _list_query() -> Any:
    return select(*LIST_COLUMNS, StaffUser.email).outerjoin(StaffUser, StaffUser.id == CaseRow.assignee_id)


def _line(row: Any) -> CaseLine:
    return CaseLine(
        reference=row.reference, kind=row.kind, status=row.status, priority=row.priority, language=row.language,
        flags=list(row.flags or []), created_at=row.created_at, updated_at=row.updated_at,
        first_answer_at=row.first_answer_at, assignee=row.email, outcome=row.outcome,
    )


def _pairs(pairs: Any) -> ColumnElement[bool]:
    """``(field, digest)`` in ``pairs``, as ORs of equalities (the (field, digest) index serves each)."""
    return or_(*(and_(CaseSearchTerm.field == f, CaseSearchTerm.digest == d) for f, d in pairs))


def _scored(words: list[dict[tuple[str, str], int]]) -> Any:
    """(case_id, score, total) of the cases matching every word: ``score`` the strength of
    its weakest word's best match, ``total`` the sum of its words' best."""
    tags: dict[tuple[str, str], tuple[int, int]] = {}
    for index, strengths in enumerate(words):
        for pair, strength in strengths.items():
            tags.setdefault(pair, (index, strength))
    cases = [(and_(CaseSearchTerm.field == f, CaseSearchTerm.digest == d), tag) for (f, d), tag in tags.items()]
    tagged = select(
        CaseSearchTerm.case_id,
        case(*((when, index) for when, (index, _) in cases)).label("word"),
        case(*((when, strength) for when, (_, strength) in cases)).label("strength"),
    ).where(_pairs(tags)).subquery()
    best = (
        select(tagged.c.case_id, tagged.c.word, func.max(tagged.c.strength).label("best"))
        .group_by(tagged.c.case_id, tagged.c.word).subquery()
    )
    return (
        select(best.c.case_id, func.min(best.c.best).label("score"), func.sum(best.c.best).label("total"))
        .group_by(best.c.case_id).having(func.count() == len(words)).subquery()
    )


class CaseSearch:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    async def search(self, visible: ColumnElement[bool], query: Query) -> tuple[list[Found], int]:
        """The visible cases matching every criterion of ``query``, best matches first,
        then newest (at most ``MAX_RESULTS``), and how many matched in all.

        All in SQL, along the covering (field, digest, case_id) index: each index row that
        holds one of a name word's digests is tagged with the word and the strength of the
        match (exact, transliterated, similar); a case matches when every word is matched,
        its score the weakest word's; dates, phones and a reference narrow the cases down;
        the access condition then applies, and only the page shown is read."""
        cipher = self._store.cipher
        words: dict[str, dict[tuple[str, str], int]] = {}
        for word in query.words:  # one word per sound: "Mohammed Muhammad" is one word twice
            words.setdefault(word.sound, word_candidates(cipher, word))
        narrowing: list[Any] = []
        for field, value in ((DOB, query.dob), (PHONE, query.phone)):
            if value is not None:
                narrowing.append(select(CaseSearchTerm.case_id).where(
                    CaseSearchTerm.field == field, CaseSearchTerm.digest == digest(cipher, field, value)))
        if query.reference:
            narrowing.append(select(CaseRow.id).where(CaseRow.reference == query.reference))
        score: Any
        if words:
            scored = _scored(list(words.values()))
            score = (scored.c.score * 100 + scored.c.total).label("score")
            base = select(CaseRow.id).join(scored, scored.c.case_id == CaseRow.id)
        elif narrowing:
            score = literal(300).label("score")
            base = select(CaseRow.id)
        else:
            return [], 0
        where = [visible]
        if narrowing:
            where.append(CaseRow.id.in_(narrowing[0] if len(narrowing) == 1 else intersect(*narrowing)))
        base = base.where(*where)
        page = (
            base.with_only_columns(*LIST_COLUMNS, StaffUser.email, score, func.count().over().label("found"))
            .outerjoin(StaffUser, StaffUser.id == CaseRow.assignee_id)
            .order_by(score.desc(), CaseRow.created_at.desc(), CaseRow.id)
            .limit(MAX_RESULTS)
        )
        async with self._reads() as session:
            rows = (await session.execute(page)).all()
        return [Found(_line(row), MATCH_NAMES[row.score // 100]) for row in rows], rows[0].found if rows else 0

    async def duplicates(self, visible: ColumnElement[bool], case_id: str) -> list[Duplicate]:
        """Other visible cases that share this case's phone, or its date of birth and two
        name words (transliterated or alike in sound; one when its name has one word).

        Read from the rarest values first: the cases of the same phone, and of the same
        date of birth, whose name words are then compared (never every case that shares
        one common name word)."""
        async with self._reads() as session:
            own = (await session.execute(
                select(CaseSearchTerm.field, CaseSearchTerm.digest).where(CaseSearchTerm.case_id == case_id)
            )).all()
            mine = {field: {d for f, d in own if f == field} for field in (PHONE, DOB, SOUND)}
            needed = min(2, len(mine[SOUND]))
            reasons: dict[str, list[str]] = defaultdict(list)
            for field in (PHONE, DOB):
                if not mine[field] or (field == DOB and not needed):
                    continue
                others = set((await session.scalars(
                    select(CaseSearchTerm.case_id).where(
                        CaseSearchTerm.field == field, CaseSearchTerm.digest.in_(mine[field]),
                        CaseSearchTerm.case_id != case_id,
                    )
                )).all())
                if field == PHONE:
                    for other in others:
                        reasons[other].append("phone")
                    continue
                words: dict[str, set[str]] = defaultdict(set)
                for other, word in (await session.execute(
                    select(CaseSearchTerm.case_id, CaseSearchTerm.digest).where(
                        CaseSearchTerm.case_id.in_(others), CaseSearchTerm.field == SOUND,
                        CaseSearchTerm.digest.in_(mine[SOUND]),
                    )
                )).all():
                    words[other].add(word)
                for other, shared in words.items():
                    if len(shared) >= needed:
                        reasons[other].append("name_and_date_of_birth")
            if not reasons:
                return []
            found = (await session.execute(
                _list_query().where(CaseRow.id.in_(list(reasons)), visible)
                .order_by(CaseRow.created_at.desc(), CaseRow.id).limit(MAX_DUPLICATES)
            )).all()
        return [Duplicate(_line(row), tuple(reasons[row.id])) for row in found]


# --- building the index ---------------------------------------------------------------------


async def rewrite_terms(session: Any, reader: Any, writer: Any, case_ids: list[str] | None = None) -> int:
    """Compute the index rows again (``case_ids``, or every case): decrypted with ``reader``,
    keyed with ``writer``'s lookup key, in the caller's transaction. Returns the cases done."""
    query = select(CaseRow.id, CaseRow.data_enc)
    if case_ids is not None:
        query = query.where(CaseRow.id.in_(case_ids))
    cases = (await session.execute(query)).all()
    ids = [case_id for case_id, _ in cases]
    for start in range(0, len(ids), 500):
        await session.execute(
            delete(CaseSearchTerm).where(CaseSearchTerm.case_id.in_(ids[start:start + 500]))
            .execution_options(synchronize_session=False)
        )
    rows = [t for case_id, data_enc in cases for t in terms(writer, case_id, reader.decrypt_json(data_enc).get("applicant"))]
    for start in range(0, len(rows), 5000):
        await session.execute(insert(CaseSearchTerm.__table__), rows[start:start + 5000])
    return len(cases)


async def set_marker(session: Any, dialect: str, cipher: Any) -> None:
    build = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = build(KeyCheck).values(name=MARKER, fingerprint=marker(cipher))
    await session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"fingerprint": statement.excluded.fingerprint})
    )


async def reindex(store: Any, batch: int = 1000) -> int:
    """Every case's index rows computed again, in batches of short transactions (safe while
    the servers run: a case created meanwhile is indexed by its own turn). Returns the
    number of cases indexed."""
    done = 0
    last = ""
    while True:
        async with store.locks.writer(), store._sessions() as session, session.begin():
            ids = list((await session.scalars(
                select(CaseRow.id).where(CaseRow.id > last).order_by(CaseRow.id).limit(batch)
            )).all())
            if ids:
                done += await rewrite_terms(session, store.cipher, store.cipher, ids)
                last = ids[-1]
            if len(ids) < batch:
                await set_marker(session, store.dialect, store.cipher)
                return done


async def ensure_search_index(store: Any) -> int | None:
    """Build the index when it was not built with this version and lookup key (after the
    migration that adds it, or a new normalisation): the number of cases indexed, or None
    when it was up to date."""
    async with store.reading() as session:
        stored = await session.scalar(select(KeyCheck.fingerprint).where(KeyCheck.name == MARKER))
    if stored == marker(store.cipher):
        return None
    if store.dialect != "postgresql":
        return await reindex(store)  # SQLite: one writer at a time anyway
    # Several workers start at once: one builds the index, the others go on without waiting.
    async with store.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        if not await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": REINDEX_LOCK}):
            return None
        try:
            return await reindex(store)
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REINDEX_LOCK})


__all__ = ["CaseSearch", "Duplicate", "Found", "ensure_search_index", "reindex", "rewrite_terms"]
