"""The store: conversations, transcripts and cases behind a small async interface.

Everything a turn reads and writes happens in one transaction taken under the
conversation's lock (see database.py), so a crash loses at most the turn in flight and two
deliveries of one conversation never interleave.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from ..cases.draft import CaseDraft
from ..cases.model import Case, StatusChange
from ..cases.references import new_reference
from .appointments import FINAL_JOB, BookingView, JobView, SlotView, StoreAppointments, TurnAppointments
from .crypto import Cipher
from .database import READ_ONLY, ConversationLocks, advisory_key, create_engine
from .inline import InlineSqlite
from .models import (
    ERASED,
    CaseEvent,
    CaseRow,
    Conversation,
    Job,
    ProcessedMessage,
    StoredConversation,
    TranscriptEntry,
)
from .turn_rows import AsyncpgRows, SessionRows, TurnRows

__all__ = ["ERASED", "BookingView", "CaseDraft", "JobView", "SlotView", "Store", "StoredConversation", "Turn"]

class Turn(TurnAppointments):
    """The open transaction of one turn of one conversation (appointments: see
    appointments.py).

    What every turn writes (state, transcript, replies for redelivery) is kept until the
    turn ends and written then, in the same transaction as anything else it did.
    """

    def __init__(
        self,
        store: Store,
        rows: TurnRows,
        session: Callable[[], Any],
        conversation: StoredConversation,
        sender_key: str,
    ) -> None:
        self._store = store
        self._cipher = store.cipher
        self._rows = rows
        self._open_session = session
        self._sender_key = sender_key
        self.conversation = conversation
        self._state: tuple[bytes | None, str | None, str | None, datetime] | None = None
        self._transcript: list[tuple[datetime, bytes]] = []
        self._replies: list[tuple[str, bytes, datetime]] = []
        self._read_with: tuple[str, bytes | None] | None = None
        """(message id, its earlier replies), read with the conversation."""

    @property
    def _session(self) -> Any:
        """The ORM session of this turn's transaction (an ``AsyncSession``, or on SQLite
        an ``inline.InlineSession``), for what is rare in a turn."""
        return self._open_session()

    async def previous_replies(self, message_id: str) -> list[dict[str, Any]] | None:
        if self._read_with is not None and self._read_with[0] == message_id:
            token = self._read_with[1]
        elif self.conversation.is_new:
            token = None
        else:
            token = await self._rows.previous_replies(self.conversation.id, message_id)
        return None if token is None else self._store.cipher.decrypt_json(token)

    def save_state(self, state: dict[str, Any] | None, language: str | None, now: datetime) -> None:
        token = self._store.cipher.encrypt_json(state) if state is not None else None
        self._state = (token, (state or {}).get("flow_id"), language, now)

    def log(self, incoming: str | None, replies: list[str], now: datetime, *, staff: list[str] | None = None) -> None:
        """Add to the transcript what the applicant said (None: nothing), what the bot
        answered, and what staff wrote to them."""
        entry: dict[str, Any] = {"in": incoming, "out": replies}
        if staff:
            entry["staff"] = staff
        self._transcript.append((now, self._store.cipher.encrypt_json(entry)))

    def remember(self, message_id: str, replies: list[dict[str, Any]], now: datetime) -> None:
        self._replies.append((message_id, self._store.cipher.encrypt_json(replies), now))

    async def _write(self) -> None:
        await self._rows.write_all(self.conversation.id, self._state, self._transcript, self._replies)

    async def reached(self) -> None:
        """The applicant wrote: their channel delivers again (see ``Store.mark_unreachable``)."""
        if self.conversation.unreachable_since is not None:
            await self._session.execute(
                update(Conversation)
                .where(Conversation.id == self.conversation.id)
                .values(unreachable_since=None)
                .execution_options(synchronize_session=False)
            )
            self.conversation.unreachable_since = None

    async def cases(self) -> list[Case]:
        """The cases sent from this conversation, newest first (for "where is my case?")."""
        query = (
            select(CaseRow)
            .where(CaseRow.conversation_id == self.conversation.id)
            .order_by(CaseRow.created_at.desc())
            .options(_with_events())
        )
        return [self._store.to_case(r) for r in (await self._session.scalars(query)).all()]

    async def create_case(self, draft: CaseDraft, now: datetime) -> Case:
        cipher = self._store.cipher
        while True:
            reference = new_reference(draft.kind)
            taken = await self._session.scalar(select(exists().where(CaseRow.reference == reference)))
            if not taken:
                break
        data = {
            "applicant": draft.applicant,
            "household": draft.household,
            "answers": draft.answers,
            "consent": draft.consent,
            "content_version": draft.content_version,
            "flow_id": draft.flow_id,
            "appointment": draft.appointment,
        }
        # Written as two plain INSERTs (the unit of work cost a millisecond and more a
        # case); the row object is only what to_case reads.
        row = CaseRow(
            id=str(uuid.uuid4()),
            reference=reference,
            kind=draft.kind,
            status="submitted",
            priority=draft.priority,
            flags=list(draft.flags),
            language=draft.language,
            channel=draft.channel,
            conversation_id=self.conversation.id,
            sender_key=self._sender_key,
            submitted_by=draft.submitted_by,
            data_enc=cipher.encrypt_json(data),
            created_at=now,
            updated_at=now,
            retention_until=None,
        )
        event = CaseEvent(case_id=row.id, at=now, status="submitted", actor="applicant", note=None)
        await self._session.execute(insert(CaseRow.__table__), [_columns(row, CaseRow)])
        await self._session.execute(insert(CaseEvent.__table__), [_columns(event, CaseEvent)])
        row.events = [event]
        return self._store.to_case(row)

    async def erase(self, now: datetime) -> int:
        """The applicant's right to erasure: their conversation data and cases' personal data.

        Cases are kept as withdrawn, with nothing personal left, so that staff who were
        already working on one see why it disappeared. Upcoming appointments are
        cancelled (their seats freed at once) and no reminder will be sent.
        """
        session = self._session
        await self._erase_appointments(now)
        conversation_id = self.conversation.id
        await session.execute(delete(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation_id))
        await session.execute(delete(ProcessedMessage).where(ProcessedMessage.conversation_id == conversation_id))
        rows = (
            await session.scalars(
                select(CaseRow).where(CaseRow.sender_key == self._sender_key).options(_with_events())
            )
        ).all()
        for row in rows:
            await self._store._redact(session, row, now, actor="applicant")
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(
                state_enc=None, flow_id=None, updated_at=now,
                sender_enc=self._store.cipher.encrypt(ERASED.encode()),
            )
            .execution_options(synchronize_session=False)
        )
        self._transcript.clear()
        self._replies.clear()
        self.conversation.state = None
        return len(rows)


class Store(StoreAppointments):
    def __init__(self, engine: AsyncEngine, cipher: Cipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.locks = ConversationLocks(engine)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # For methods that only read: on SQLite they do not take the write lock, so they
        # also work inside a turn, which holds it (see database.py).
        self._reads = async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        database = engine.url.database or ""
        self._inline = InlineSqlite(database) if self.dialect == "sqlite" and database not in ("", ":memory:") else None

    @classmethod
    def connect(cls, url: str, cipher: Cipher, **engine_kwargs: Any) -> Store:
        return cls(create_engine(url, **engine_kwargs), cipher)

    async def close(self) -> None:
        if self._inline is not None:
            await self._inline.close()
        await self.engine.dispose()

    def reading(self) -> AsyncSession:
        """A session for reads outside any turn (on SQLite it takes no write lock)."""
        return self._reads()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def sender_key(self, channel: str, sender_id: str) -> str:
        return self.cipher.lookup_hash(channel, sender_id)

    @contextlib.asynccontextmanager
    async def turn(
        self, channel: str, sender_id: str, now: datetime, *, message_id: str | None = None
    ) -> AsyncIterator[Turn]:
        """Lock the conversation, open its transaction, and commit when the block ends."""
        key = self.sender_key(channel, sender_id)
        async with self.locks.hold(key):
            inline = self._inline
            if inline is not None:
                await inline.begin()
                try:
                    turn = await self._open_turn(inline, inline.session, key, channel, sender_id, now, message_id)
                    yield turn
                    await turn._write()
                    inline.commit()
                except BaseException:
                    inline.rollback()
                    raise
                return
            if self.engine.dialect.driver != "asyncpg":
                async with self._sessions() as session, session.begin():
                    await self.locks.lock_in_transaction(await session.connection(), key)
                    turn = await self._open_turn(SessionRows(session), lambda: session, key, channel, sender_id, now, message_id)
                    yield turn
                    await turn._write()
                return
            # PostgreSQL: the turn's transaction is ours, on the driver's connection: BEGIN
            # and the conversation's lock in one round trip, the turn's statements sent to
            # asyncpg directly, COMMIT. SQLAlchemy keeps the connection in autocommit mode
            # so that it never begins nor ends a transaction of its own on it; an ORM
            # session, when the turn needs one (a case, a booking), runs its statements in
            # ours. Creating, beginning and committing a session cost more than the rest
            # of the turn's database work.
            async with self.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                raw = (await connection.get_raw_connection()).driver_connection
                joined: list[AsyncSession] = []

                def session() -> AsyncSession:
                    if not joined:
                        joined.append(AsyncSession(bind=connection, expire_on_commit=False))
                    return joined[0]

                try:
                    await raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({advisory_key(key)})")
                    turn = await self._open_turn(AsyncpgRows(raw), session, key, channel, sender_id, now, message_id)
                    yield turn
                    if joined:
                        await joined[0].flush()
                    await turn._write()
                    await raw.execute("COMMIT")
                except BaseException:
                    await self._abandon(connection, raw)
                    raise
                finally:
                    if joined:
                        await joined[0].close()

    async def _abandon(self, connection: Any, raw: Any) -> None:
        """After a failed turn: roll its transaction back; if the connection is gone, drop
        it and the pool's other connections, which went with the same server (SQLAlchemy
        does the same when it sees the error itself), so that the next turn connects anew."""
        try:
            if not raw.is_closed():
                if raw.is_in_transaction():
                    await raw.execute("ROLLBACK")
                return
        except Exception:  # noqa: BLE001 - the connection broke while rolling back
            pass
        await connection.invalidate()
        await self.engine.dispose()

    async def _open_turn(
        self, rows: TurnRows, session: Callable[[], Any], key: str, channel: str, sender_id: str, now: datetime,
        message_id: str | None = None,
    ) -> Turn:
        found = await rows.load_conversation(key, message_id)
        previous = None
        if found is None:
            # No race to catch here: the conversation lock is already held.
            new_id = await rows.insert_conversation(key, channel, self.cipher.encrypt(sender_id.encode()), now)
            conversation = StoredConversation(new_id, channel, None, None, now, now, is_new=True)
        else:
            conversation_id, stored_channel, language, state_enc, created_at, updated_at, unreachable, previous = found
            conversation = StoredConversation(
                id=conversation_id,
                channel=stored_channel,
                language=language,
                state=self.cipher.decrypt_json(state_enc) if state_enc else None,
                created_at=created_at,
                updated_at=updated_at,
                is_new=False,
                unreachable_since=unreachable,
            )
        turn = Turn(self, rows, session, conversation, key)
        if message_id is not None:
            turn._read_with = (message_id, previous)
        return turn

    async def has_conversation(self, channel: str, sender_id: str) -> bool:
        """Whether this sender ever wrote (read only: never creates one)."""
        async with self._reads() as session:
            found = await session.scalar(
                select(exists().where(Conversation.sender_key == self.sender_key(channel, sender_id)))
            )
            return bool(found)

    async def mark_unreachable(self, channel: str, sender_id: str, now: datetime) -> None:
        """The channel refused to deliver to this applicant (they blocked the bot): kept
        until they write again, so that reminders are not pushed in vain, also after a
        restart."""
        async with self.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                update(Conversation)
                .where(Conversation.sender_key == self.sender_key(channel, sender_id))
                .values(unreachable_since=now)
                .execution_options(synchronize_session=False)
            )

    async def cases(self, kind: str | None = None, status: str | None = None, limit: int = 100) -> list[Case]:
        query = select(CaseRow).order_by(CaseRow.created_at.desc()).limit(limit)
        if kind:
            query = query.where(CaseRow.kind == kind)
        if status:
            query = query.where(CaseRow.status == status)
        async with self._reads() as session:
            rows = (await session.scalars(query.options(_with_events()))).all()
            return [self.to_case(r) for r in rows]

    async def case(self, reference: str) -> Case | None:
        async with self._reads() as session:
            row = await session.scalar(
                select(CaseRow).where(CaseRow.reference == reference).options(_with_events())
            )
            return self.to_case(row) if row else None

    async def transcript(self, conversation_id: int) -> list[tuple[datetime, str, str]]:
        """The conversation as (time, "in" | "out" | "staff", text) lines, oldest first."""
        async with self._reads() as session:
            rows = (
                await session.scalars(
                    select(TranscriptEntry)
                    .where(TranscriptEntry.conversation_id == conversation_id)
                    .order_by(TranscriptEntry.id)
                )
            ).all()
            lines: list[tuple[datetime, str, str]] = []
            for row in rows:
                turn = self.cipher.decrypt_json(row.body_enc)
                if turn.get("in") is not None:
                    lines.append((row.at, "in", turn["in"]))
                lines += [(row.at, "staff", text) for text in turn.get("staff", [])]
                lines += [(row.at, "out", text) for text in turn["out"]]
            return lines

    async def purge(
        self,
        now: datetime,
        idle: timedelta,
        replies_kept: timedelta = timedelta(days=1),
        jobs_kept: timedelta = timedelta(days=30),
    ) -> dict[str, int]:
        """Drop what is no longer needed: unfinished answers of idle conversations, their
        transcripts when no case refers to them, old redelivery records, and jobs that
        ended (done, cancelled or failed) more than ``jobs_kept`` ago."""
        cutoff = now - idle
        async with self.locks.writer(), self._sessions() as session, session.begin():
            idle_ids = select(Conversation.id).where(
                Conversation.updated_at < cutoff, Conversation.state_enc.is_not(None)
            )
            has_case = exists().where(CaseRow.conversation_id == TranscriptEntry.conversation_id)
            transcripts = await session.execute(
                delete(TranscriptEntry).where(
                    TranscriptEntry.conversation_id.in_(idle_ids), ~has_case
                )
            )
            states = await session.execute(
                update(Conversation)
                .where(Conversation.updated_at < cutoff, Conversation.state_enc.is_not(None))
                .values(state_enc=None, flow_id=None)
            )
            replies = await session.execute(
                delete(ProcessedMessage).where(ProcessedMessage.at < now - replies_kept)
            )
            jobs = await session.execute(
                delete(Job).where(Job.status.in_(FINAL_JOB), Job.done_at < now - jobs_kept)
            )
        return {
            "conversations": states.rowcount or 0,
            "transcript_entries": transcripts.rowcount or 0,
            "processed_messages": replies.rowcount or 0,
            "jobs": jobs.rowcount or 0,
        }

    async def _redact(self, session: AsyncSession, row: CaseRow, now: datetime, actor: str) -> None:
        row.data_enc = self.cipher.encrypt_json({"erased": True, "flow_id": None})
        row.sender_key = None
        row.conversation_id = None
        if row.status != "withdrawn":
            row.status = "withdrawn"
            row.events.append(CaseEvent(at=now, status="withdrawn", actor=actor, note="personal data erased on request"))
        row.updated_at = now

    def to_case(self, row: CaseRow) -> Case:
        data = self.cipher.decrypt_json(row.data_enc)
        return Case(
            id=row.id,
            reference=row.reference,
            kind=row.kind,  # type: ignore[arg-type]
            status=row.status,  # type: ignore[arg-type]
            priority=row.priority,  # type: ignore[arg-type]
            status_history=[
                StatusChange(status=e.status, at=e.at, actor=e.actor, note=e.note)  # type: ignore[arg-type]
                for e in row.events
            ],
            language=row.language,
            channel=row.channel,
            flow_id=data.get("flow_id") or "",
            applicant=data.get("applicant") or {},
            household=data.get("household") or {},
            answers=data.get("answers") or {},
            flags=list(row.flags or []),
            consent=data.get("consent"),
            appointment=data.get("appointment"),
            submitted_by=row.submitted_by,
            content_version=data.get("content_version"),
            transcript=f"conversation:{row.conversation_id}" if row.conversation_id else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            retention_until=row.retention_until,
        )


def _columns(obj: Any, model: Any) -> dict[str, Any]:
    """The column values set on a new ORM object, for a Core insert (unset ones left to
    their defaults, such as an autoincrement id)."""
    given = obj.__dict__
    return {c.key: given[c.key] for c in model.__table__.columns if c.key in given}


def _with_events() -> Any:
    return selectinload(CaseRow.events)
