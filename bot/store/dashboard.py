"""The back office's dashboard figures, each one SQL query with GROUP BY over the cases the
caller's access condition (policy.visible_cases) lets through: no case is loaded.

Days are the staff's local days: cases are counted per UTC hour in SQL and the hours are
put into local days here (Belgium's offsets are whole hours), so a case received at
00:30 in Brussels counts for that day, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Text, and_, cast, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from .database import READ_ONLY
from .models import CaseRow

OPEN = ("submitted", "in_review", "waiting_for_applicant")
WAITING_LIST = "waiting_list"


@dataclass(frozen=True, slots=True)
class MedianAnswer:
    kind: str
    answered: int
    """Cases of the period with a first answer (the median is over these)."""
    median_seconds: float


class Dashboard:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    def _hour(self) -> ColumnElement[str]:
        """``YYYY-MM-DD HH`` of ``created_at`` in UTC."""
        if self._store.dialect == "postgresql":
            return func.to_char(func.timezone("UTC", CaseRow.created_at), "YYYY-MM-DD HH24")
        # SQLite keeps the UTC time as text, ``2026-11-23 10:00:00.000000``: its first 13
        # characters are the hour, and cheaper than strftime on every row.
        return func.substr(CaseRow.created_at, 1, 13)

    def _seconds_to_answer(self) -> ColumnElement[float]:
        if self._store.dialect == "postgresql":
            return cast(func.extract("epoch", CaseRow.first_answer_at - CaseRow.created_at), Float)
        return (func.julianday(CaseRow.first_answer_at) - func.julianday(CaseRow.created_at)) * 86400.0

    async def per_kind_per_day(
        self, visible: ColumnElement[bool], since: datetime, zone: str
    ) -> dict[str, dict[date, int]]:
        """{kind: {local day: cases received}} from ``since`` on."""
        hour = self._hour().label("hour")
        query = (
            select(CaseRow.kind, hour, func.count())
            .where(visible, CaseRow.created_at >= since)
            .group_by(hour, CaseRow.kind)  # hour first: SQLite then reads the created_at index only
        )
        local = ZoneInfo(zone)
        counts: dict[str, dict[date, int]] = {}
        async with self._reads() as session:
            for kind, bucket, n in (await session.execute(query)).all():
                at = datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
                day = at.astimezone(local).date()
                per_day = counts.setdefault(kind, {})
                per_day[day] = per_day.get(day, 0) + int(n)
        return counts

    async def per_language(self, visible: ColumnElement[bool], since: datetime) -> list[tuple[str, int]]:
        """(language, cases received from ``since`` on), most first."""
        n = func.count().label("n")
        query = (
            select(CaseRow.language, n)
            .where(visible, CaseRow.created_at >= since)
            .group_by(CaseRow.language)
            .order_by(n.desc(), CaseRow.language)
        )
        async with self._reads() as session:
            return [(language, int(count)) for language, count in (await session.execute(query)).all()]

    async def open_with_flag(self, visible: ColumnElement[bool], flag: str = WAITING_LIST) -> int:
        """Open cases carrying ``flag`` (the waiting list by default)."""
        query = select(func.count()).select_from(CaseRow).where(
            visible, CaseRow.status.in_(OPEN), cast(CaseRow.flags, Text).like(f'%"{flag}"%')
        )
        async with self._reads() as session:
            return int(await session.scalar(query) or 0)

    async def median_first_answer(self, visible: ColumnElement[bool], since: datetime) -> list[MedianAnswer]:
        """Per kind, the median time from receipt to the first answer of the cases received
        from ``since`` on that were answered (window functions: SQLite and PostgreSQL)."""
        # The cases of the period first, apart (MATERIALIZED): with the window straight on
        # the table, SQLite walked the kind index over every case to save a sort, and read
        # each row to check its date (70 ms on 100,000 cases, 7 ms this way).
        recent = (
            select(CaseRow.kind.label("kind"), self._seconds_to_answer().label("seconds"))
            .where(visible, CaseRow.created_at >= since, CaseRow.first_answer_at.is_not(None))
            .cte("recent")
            .prefix_with("MATERIALIZED")
        )
        ranked = (
            select(
                recent.c.kind,
                recent.c.seconds,
                func.row_number().over(partition_by=recent.c.kind, order_by=recent.c.seconds).label("rn"),
                func.count().over(partition_by=recent.c.kind).label("n"),
            )
            .subquery()
        )
        # The middle row, or the two middle rows' mean (``//``: integer division on both
        # backends; SQLAlchemy's ``/`` is true division).
        lower = (ranked.c.n + 1) // 2
        upper = (ranked.c.n + 2) // 2
        query = (
            select(ranked.c.kind, func.max(ranked.c.n), func.avg(ranked.c.seconds))
            .where(and_(ranked.c.rn >= lower, ranked.c.rn <= upper))
            .group_by(ranked.c.kind)
            .order_by(ranked.c.kind)
        )
        async with self._reads() as session:
            return [
                MedianAnswer(kind, int(n), float(median))
                for kind, n, median in (await session.execute(query)).all()
            ]


def last_days(today: date, days: int) -> list[date]:
    """The ``days`` local days up to and including ``today``, oldest first."""
    return [today - timedelta(days=days - 1 - i) for i in range(days)]

