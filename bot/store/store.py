"""The store: conversations, transcripts and cases behind a small async interface.

Everything a turn reads and writes happens in one transaction taken under the
conversation's lock (see database.py), so a crash loses at most the turn in flight and two
deliveries of one conversation never interleave.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from dataclasses import dataclass, field
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from ..cases.draft import CaseDraft
from ..cases.model import Case, StatusChange
from ..cases.references import new_reference
from .alerts import needs_alert, queue_alert
from .appointments import FINAL_JOB, BookingView, JobView, SlotView, StoreAppointments, TurnAppointments
from . import outbox
from .assisted import redeem as redeem_link_code
from .case_access import access_columns
from .casework import set_status
from .crypto import Cipher
from .database import READ_ONLY, ConversationLocks, advisory_key, create_engine
from .erasure import delete_conversation_rows, drop_bookings, erase_case_row, erase_conversation
from .retention import RetentionPolicy, purge_expired
from .search_index import terms as search_terms
from .inline import InlineSqlite
from .models import (
    ERASED,
    Booking,
    ErasedCase,
    CaseEvent,
    CaseRow,
    CaseSearchTerm,
    Conversation,
    Job,
    ProcessedMessage,
    StoredConversation,
    TranscriptEntry,
)
from .turn_rows import AsyncpgRows, SessionRows, TurnRows
from .whatsapp import WhatsAppRecords

__all__ = [
    "ERASED", "BookingView", "CaseDraft", "JobView", "SlotView", "Store", "StoredConversation", "TranscriptLine", "Turn",
]

OPEN_STATUSES = ("submitted", "in_review", "waiting_for_applicant")


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One message of a conversation, as the applicant saw it."""

    entry: int
    """The transcript entry (one turn) it belongs to: a page asks for what came after."""
    at: datetime
    direction: str
    """``in`` (the applicant), ``out`` (the bot) or ``staff``."""
    text: str
    case: str | None = None
    """For the applicant's words: the case they answer (after a staff message)."""
    source: dict[str, Any] | None = None
    """For the bot's: its message id and parameters (``bot.i18n.retranslate``)."""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    """For the bot's: ``{"title", "source"}`` of each button shown."""

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
        sender_id: str,
    ) -> None:
        self._store = store
        self._cipher = store.cipher
        self._rows = rows
        self._open_session = session
        self._sender_key = sender_key
        self._sender_id = sender_id
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

    def log(
        self,
        incoming: str | None,
        replies: list[str],
        now: datetime,
        *,
        staff: list[str] | None = None,
        sources: list[dict[str, Any] | None] | None = None,
        case: str | None = None,
        staff_sources: list[dict[str, Any] | None] | None = None,
    ) -> None:
        """Add to the transcript what the applicant said (None: nothing), what the bot
        answered, and what staff wrote to them; ``sources``: each reply's message id,
        parameters and buttons (staff read it in their language); ``case``: the case the
        applicant's words answer."""
        entry: dict[str, Any] = {"in": incoming, "out": replies}
        if staff:
            entry["staff"] = staff
        if sources and any(sources):
            entry["src"] = sources
        if case:
            entry["case"] = case
        if staff_sources and any(staff_sources):
            entry["staff_src"] = staff_sources
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

    async def link_device(self, device_hash: str) -> None:
        """Record the device this conversation is written from (a digest of the web chat's
        device key): erasure then reaches every conversation of that device."""
        await self._rows.link_device(self.conversation.id, device_hash)

    async def _same_device(self) -> list[int]:
        """This conversation and the others written from its device, if it has one."""
        device = await self._session.scalar(
            select(Conversation.device_hash).where(Conversation.id == self.conversation.id)
        )
        if device is None:
            return [self.conversation.id]
        ids = (await self._session.scalars(select(Conversation.id).where(Conversation.device_hash == device))).all()
        return sorted({self.conversation.id, *ids})

    async def cases(self) -> list[Case]:
        """The cases sent from this conversation or by this sender, newest first (for
        "where is my case?" and "what do you hold about me?")."""
        query = (
            select(CaseRow)
            .where(or_(CaseRow.conversation_id == self.conversation.id, CaseRow.sender_key == self._sender_key))
            .order_by(CaseRow.created_at.desc())
            .options(_with_events())
        )
        return [self._store.to_case(r) for r in (await self._session.scalars(query)).all()]

    async def status_notices(self) -> bool:
        """Whether this applicant wants to hear of status changes."""
        off = await self._session.scalar(
            select(Conversation.status_notices_off).where(Conversation.id == self.conversation.id)
        )
        return not off

    async def set_status_notices(self, wanted: bool) -> None:
        await self._session.execute(
            update(Conversation)
            .where(Conversation.id == self.conversation.id)
            .values(status_notices_off=not wanted)
            .execution_options(synchronize_session=False)
        )

    async def withdraw_case(self, reference: str, now: datetime) -> Case | None:
        """The applicant withdraws one of their own open cases (final; their data stays
        until its retention ends); its upcoming appointment is cancelled and the seat freed.
        None when it is not theirs or no longer open."""
        mine = or_(CaseRow.conversation_id == self.conversation.id, CaseRow.sender_key == self._sender_key)
        open_and_mine = await self._session.scalar(
            select(CaseRow.id).where(CaseRow.reference == reference, CaseRow.status.in_(OPEN_STATUSES), mine)
        )
        if open_and_mine is None:
            return None
        for booking in await self.bookings(now):
            if booking.case_reference == reference:
                await self.cancel_booking(booking.id, now)
        row = await self._session.scalar(
            select(CaseRow)
            .where(
                CaseRow.reference == reference,
                CaseRow.status.in_(OPEN_STATUSES),
                or_(CaseRow.conversation_id == self.conversation.id, CaseRow.sender_key == self._sender_key),
            )
            .options(_with_events())
            .with_for_update()
        )
        if row is None:
            return None
        await set_status(
            self._session, row, "withdrawn", now, actor="applicant", note="withdrawn by the applicant in the chat",
            retention=self._store.retention,
        )
        await self._session.flush()
        return self._store.to_case(row)

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
            "consent_method": draft.consent_method,
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
            **access_columns(draft),
        )
        event = CaseEvent(case_id=row.id, at=now, status="submitted", actor="applicant", note=None)
        await self._session.execute(insert(CaseRow.__table__), [_columns(row, CaseRow)])
        await self._session.execute(insert(CaseEvent.__table__), [_columns(event, CaseEvent)])
        await outbox.record(self._session, "case.created", row, now)
        if needs_alert(draft.kind, draft.priority):
            await queue_alert(self._session, row.id, reference, "created", now)
        index = search_terms(cipher, row.id, draft.applicant)
        if index:  # the blind indexes of its name, date of birth and phone (search_index.py)
            await self._session.execute(insert(CaseSearchTerm.__table__), index)
        row.events = [event]
        return self._store.to_case(row)

    async def case_message(self, reference: str, now: datetime) -> bool:
        """The applicant's message of this turn answers the case ``reference`` (a staff
        member wrote to them about it): ``case.message`` in the outbox, without the text
        (receivers read it through the API). False if the case is not this sender's."""
        row = (
            await self._session.execute(
                select(CaseRow).where(
                    CaseRow.reference == reference,
                    or_(CaseRow.conversation_id == self.conversation.id, CaseRow.sender_key == self._sender_key),
                )
            )
        ).scalar_one_or_none()
        if row is None:
            return False
        await outbox.record(self._session, "case.message", row, now)
        return True

    async def redeem_link_code(self, code: str, now: datetime) -> tuple[str, str | None]:
        """Link the case of a one-time code (an assisted intake's) to this conversation:
        ``("linked", reference)``, or ``("unknown" | "expired" | "used", None)``."""
        return await redeem_link_code(
            self._session, self._cipher, code, self.conversation.id, self._sender_key, now
        )

    async def erase(self, now: datetime) -> tuple[int, int]:
        """The applicant's right to erasure (see erasure.py): this conversation and all it
        holds, their bookings (seats freed at once, reminders gone) and their cases, except
        those under a legal hold. The turn goes on in a new, empty conversation of the same
        sender, so what they do next (a new booking and its reminders) works as for anyone.
        Returns (cases erased, cases kept under a legal hold)."""
        session = self._session
        old_id = self.conversation.id
        # The device's other conversations (before "Start over" in the same web chat) too.
        others = [
            (other_id, key)
            for other_id, key in (
                await session.execute(
                    select(Conversation.id, Conversation.sender_key).where(Conversation.id.in_(await self._same_device()))
                )
            ).all()
            if other_id != old_id
        ]
        # The new row first (under a freed key), so that its id is new on SQLite too, which
        # would otherwise hand the deleted row's id out again: nothing meant for the erased
        # conversation (a staff message sent from a page opened before) may reach this one.
        await session.execute(
            update(Conversation).where(Conversation.id == old_id).values(sender_key=f"erasing:{old_id}")
            .execution_options(synchronize_session=False)
        )
        new_id = await self._rows.insert_conversation(
            self._sender_key, self.conversation.channel, self._cipher.encrypt(self._sender_id.encode()), now
        )
        counts = await erase_conversation(session, old_id, self._sender_key, now)
        for other_id, other_key in others:
            erased, kept = await erase_conversation(session, other_id, other_key, now)
            counts = (counts[0] + erased, counts[1] + kept)
        self.conversation = StoredConversation(new_id, self.conversation.channel, None, None, now, now, is_new=False)
        self._transcript.clear()
        self._replies.clear()
        return counts


SENDER_KEYS_KEPT = 4096


class Store(StoreAppointments):
    def __init__(self, engine: AsyncEngine, cipher: Cipher, retention: RetentionPolicy | None = None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.retention = retention or RetentionPolicy()
        self.locks = ConversationLocks(engine)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # For methods that only read: on SQLite they do not take the write lock, so they
        # also work inside a turn, which holds it (see database.py).
        self._reads = async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        database = engine.url.database or ""
        self._inline = InlineSqlite(database) if self.dialect == "sqlite" and database not in ("", ":memory:") else None
        self.whatsapp = WhatsAppRecords(self)
        """The WhatsApp channel's window, opt-in and statuses (whatsapp.py)."""
        self._sender_keys: dict[tuple[str, str], str] = {}

    @classmethod
    def connect(cls, url: str, cipher: Cipher, *, retention: RetentionPolicy | None = None, **engine_kwargs: Any) -> Store:
        return cls(create_engine(url, **engine_kwargs), cipher, retention)

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
        """The keyed hash a sender is looked up by. The last few thousand are remembered
        (as the engine remembers known senders): every turn needs its sender's, and an
        HMAC through OpenSSL costs more in a busy server than its size suggests."""
        key = (channel, sender_id)
        found = self._sender_keys.get(key)
        if found is None:
            found = self._sender_keys[key] = self.cipher.lookup_hash(channel, sender_id)
            if len(self._sender_keys) > SENDER_KEYS_KEPT:
                del self._sender_keys[next(iter(self._sender_keys))]  # the oldest
        return found

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
        turn = Turn(self, rows, session, conversation, key, sender_id)
        if message_id is not None:
            turn._read_with = (message_id, previous)
        return turn

    async def has_conversation(self, channel: str, sender_id: str) -> bool:
        """Whether this sender ever wrote (read only: never creates one). One statement,
        outside any transaction: the channels ask before a message of a new sender."""
        key = self.sender_key(channel, sender_id)
        if self._inline is not None:  # a read on the turns' connection (WAL: it never waits)
            with contextlib.suppress(sqlite3.OperationalError):  # rare (a log being recovered): below
                return await self._inline.has_conversation(key)
        if self.engine.dialect.driver == "asyncpg":
            async with self.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                raw = (await connection.get_raw_connection()).driver_connection
                return await AsyncpgRows(raw).has_conversation(key)
        async with self._reads() as session:
            return await SessionRows(session).has_conversation(key)

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
        return [(line.at, line.direction, line.text) for line in await self.transcript_lines(conversation_id)]

    async def transcript_lines(self, conversation_id: int, *, after: int = 0) -> list[TranscriptLine]:
        """The conversation as the applicant saw it, with what staff need to read it in
        their own language (each bot message's id, parameters and buttons) and the case
        each applicant message answered; ``after``: only entries after that entry id."""
        async with self._reads() as session:
            rows = (
                await session.scalars(
                    select(TranscriptEntry)
                    .where(TranscriptEntry.conversation_id == conversation_id, TranscriptEntry.id > after)
                    .order_by(TranscriptEntry.id)
                )
            ).all()
        lines: list[TranscriptLine] = []
        for row in rows:
            turn = self.cipher.decrypt_json(row.body_enc)
            case = turn.get("case")
            if turn.get("in") is not None:
                lines.append(TranscriptLine(row.id, row.at, "in", turn["in"], case=case))
            staff_sources = turn.get("staff_src") or []
            lines += [
                TranscriptLine(
                    row.id, row.at, "staff", text,
                    source=staff_sources[i] if i < len(staff_sources) and isinstance(staff_sources[i], dict) else None,
                )
                for i, text in enumerate(turn.get("staff", []))
            ]
            sources = turn.get("src") or []
            for i, text in enumerate(turn["out"]):
                source = sources[i] if i < len(sources) and isinstance(sources[i], dict) else {}
                lines.append(TranscriptLine(
                    row.id, row.at, "out", text, source=source.get("text"), buttons=source.get("buttons") or [],
                ))
        return lines

    async def takeover(self, conversation_id: int) -> dict[str, Any] | None:
        """Who has taken the conversation over and until when (the conversation state's
        ``takeover``: ``{"case", "until", "by"}``), or None."""
        async with self._reads() as session:
            token = await session.scalar(select(Conversation.state_enc).where(Conversation.id == conversation_id))
        if token is None:
            return None
        taken = (self.cipher.decrypt_json(token) or {}).get("takeover")
        return taken if isinstance(taken, dict) else None

    async def purge(
        self,
        now: datetime,
        idle: timedelta,
        replies_kept: timedelta = timedelta(days=1),
        jobs_kept: timedelta = timedelta(days=30),
    ) -> dict[str, int]:
        """Drop what is no longer needed: unfinished answers of idle conversations, their
        transcripts when no case refers to them, old redelivery records, jobs that
        ended (done, cancelled or failed) more than ``jobs_kept`` ago, and what is past
        its retention (retention.py). One transaction; safe with several workers."""
        cutoff = now - idle
        async with self.locks.writer(), self._sessions() as session, session.begin():
            expired = await purge_expired(session, self.dialect, self.retention, now)
            if expired is None:  # another worker is purging right now
                return {}
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
            **expired,
        }

    # --- staff: status, legal hold, erasure by reference ------------------------------

    async def change_status(
        self, reference: str, status: str, now: datetime, *, actor: str, note: str | None = None
    ) -> Case | None:
        """Move a case to ``status``, in its history; a final status starts its retention
        period (retention.py), an open one clears it. None if there is no such case."""
        async with self.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(
                select(CaseRow).where(CaseRow.reference == reference).options(_with_events()).with_for_update()
            )
            if row is None:
                return None
            await set_status(session, row, status, now, actor=actor, note=note, retention=self.retention,
                             outcome=row.outcome if status == "closed" else None)
            await session.flush()
            return self.to_case(row)

    async def set_legal_hold(self, reference: str, reason: str | None, now: datetime, *, actor: str) -> Case | None:
        """Put a case under a legal hold (``reason``: why it must be kept; required) or
        release it (None). Recorded in its history. None if there is no such case."""
        if reason is not None and not reason.strip():
            raise ValueError("a legal hold needs a reason")
        async with self.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(
                select(CaseRow).where(CaseRow.reference == reference).options(_with_events()).with_for_update()
            )
            if row is None:
                return None
            if reason is None:
                note = "legal hold released"
                row.legal_hold_reason, row.legal_hold_at = None, None
            else:
                note = f"legal hold: {reason.strip()}"
                row.legal_hold_reason, row.legal_hold_at = reason.strip(), now
            row.events.append(CaseEvent(at=now, status=row.status, actor=actor, note=note))
            row.updated_at = now
            await session.flush()
            return self.to_case(row)

    async def erase_case(self, reference: str, now: datetime, *, actor: str, reason: str) -> str:
        """Staff erase a case on request: the case, its bookings (seats freed), and the
        transcript of its conversation; the conversation itself too when no other case
        comes from it. ``erased``, ``held`` (under a legal hold: nothing done) or ``missing``."""
        if not reason.strip():
            raise ValueError("an erasure needs a reason")
        async with self._reads() as session:
            found = (
                await session.execute(
                    select(CaseRow.conversation_id, Conversation.sender_key)
                    .outerjoin(Conversation, Conversation.id == CaseRow.conversation_id)
                    .where(CaseRow.reference == reference)
                )
            ).one_or_none()
        if found is None:
            return "missing"
        # The conversation's lock: none of its turns runs while its rows go.
        lock_key = found.sender_key or self.sender_key("case", reference)  # a hex digest, as locks need
        async with self.locks.hold(lock_key), self._sessions() as session, session.begin():
            await self.locks.lock_in_transaction(await session.connection(), lock_key)
            row = await session.scalar(
                select(CaseRow).where(CaseRow.reference == reference).options(_with_events())
            )
            if row is None:
                return "missing"
            if row.legal_hold_reason is not None:
                return "held"
            conversation_id = row.conversation_id
            await erase_case_row(session, row, now, actor=actor, reason=reason.strip())
            if conversation_id is not None:
                others = await session.scalar(select(exists().where(CaseRow.conversation_id == conversation_id)))
                if others:
                    await session.execute(
                        delete(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation_id)
                    )
                else:
                    await drop_bookings(session, now, Booking.conversation_id == conversation_id)
                    await delete_conversation_rows(session, conversation_id)
        return "erased"

    async def erasures(self) -> list[ErasedCase]:
        """What is left of erased cases, oldest first (anonymous counts, and the audit of
        who erased which reference and why)."""
        async with self._reads() as session:
            return list((await session.scalars(select(ErasedCase).order_by(ErasedCase.id))).all())

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
            submitted_org=row.submitted_org,
            consent_method=data.get("consent_method"),
            content_version=data.get("content_version"),
            transcript=f"conversation:{row.conversation_id}" if row.conversation_id else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            retention_until=row.retention_until,
            legal_hold=row.legal_hold_reason,
        )


def _columns(obj: Any, model: Any) -> dict[str, Any]:
    """The column values set on a new ORM object, for a Core insert (unset ones left to
    their defaults, such as an autoincrement id)."""
    given = obj.__dict__
    return {c.key: given[c.key] for c in model.__table__.columns if c.key in given}


def _with_events() -> Any:
    return selectinload(CaseRow.events)
