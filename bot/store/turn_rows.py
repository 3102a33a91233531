"""The statements every turn runs, behind one interface (:class:`TurnRows`).

They are the same few statements on every backend; what differs is what it costs to
send them. Through SQLAlchemy's async layer each costs ~0.2 ms of CPU before the driver
sees it, several times the statement's own cost on a local database, so:

- on SQLite, ``inline.InlineSqlite`` runs them as plain SQL on the event loop's thread;
- on PostgreSQL, :class:`AsyncpgRows` sends the same SQL with asyncpg directly, on the
  connection and in the transaction of the turn's ``AsyncSession``;
- with any other driver, :class:`SessionRows` runs them through the ``AsyncSession``.

``Turn`` (store.py) only sees :class:`TurnRows`; what is rare in a turn (cases,
bookings) goes through the ORM session in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Conversation, ProcessedMessage, TranscriptEntry


class TurnRows(Protocol):
    async def load_conversation(self, sender_key: str, message_id: str | None = None) -> tuple[Any, ...] | None:
        """``(id, channel, language, state_enc, created_at, updated_at, unreachable_since,
        replies_enc)`` or None; ``replies_enc``: what was answered to ``message_id``
        before (a redelivery), or None."""

    async def insert_conversation(self, sender_key: str, channel: str, sender_enc: bytes, now: datetime) -> int: ...

    async def previous_replies(self, conversation_id: int, message_id: str) -> bytes | None: ...

    async def save_state(
        self, conversation_id: int, state_enc: bytes | None, flow_id: str | None, language: str | None, now: datetime
    ) -> None: ...

    async def log(self, conversation_id: int, at: datetime, body_enc: bytes) -> None: ...

    async def link_device(self, conversation_id: int, device_hash: str) -> None: ...

    async def has_conversation(self, sender_key: str) -> bool: ...

    async def remember(self, conversation_id: int, message_id: str, replies_enc: bytes, at: datetime) -> None: ...

    async def write_all(self, conversation_id: int, state: StateRow | None, transcript: list[tuple[datetime, bytes]],
                        replies: list[tuple[str, bytes, datetime]]) -> None:
        """What the turn writes at its end: :meth:`save_state`, then :meth:`log` and
        :meth:`remember` for each entry."""


StateRow = tuple[bytes | None, str | None, str | None, datetime]
"""``(state_enc, flow_id, language, updated_at)``."""


class _OneByOne:
    """``write_all`` as one statement after the other."""

    async def write_all(self, conversation_id: int, state: StateRow | None, transcript: list[tuple[datetime, bytes]],
                        replies: list[tuple[str, bytes, datetime]]) -> None:
        rows: Any = self
        if state is not None:
            await rows.save_state(conversation_id, *state)
        for at, body in transcript:
            await rows.log(conversation_id, at, body)
        for message_id, replies_enc, at in replies:
            await rows.remember(conversation_id, message_id, replies_enc, at)


# The plain SQL, with sqlite3's ``?`` placeholders (numbered for asyncpg by AsyncpgRows).
LOAD = (
    "SELECT id, channel, language, state_enc, created_at, updated_at, unreachable_since"
    " FROM conversations WHERE sender_key = ?"
)
INSERT = (
    "INSERT INTO conversations (sender_key, channel, sender_enc, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?) RETURNING id"
)
PREVIOUS = "SELECT replies_enc FROM processed_messages WHERE conversation_id = ? AND message_id = ?"
LOAD_WITH_PREVIOUS = (
    "SELECT c.id, c.channel, c.language, c.state_enc, c.created_at, c.updated_at, c.unreachable_since,"
    " (SELECT p.replies_enc FROM processed_messages p WHERE p.conversation_id = c.id AND p.message_id = ?)"
    " FROM conversations c WHERE c.sender_key = ?"
)
SAVE = "UPDATE conversations SET state_enc = ?, flow_id = ?, language = ?, updated_at = ? WHERE id = ?"
LOG = "INSERT INTO transcript (conversation_id, at, body_enc) VALUES (?, ?, ?)"
REMEMBER = "INSERT INTO processed_messages (conversation_id, message_id, replies_enc, at) VALUES (?, ?, ?, ?)"
LINK_DEVICE = "UPDATE conversations SET device_hash = ? WHERE id = ?"
EXISTS = "SELECT 1 FROM conversations WHERE sender_key = ?"


class PlainSqlRows(_OneByOne):
    """:class:`TurnRows` as the plain SQL above; a subclass says how to run a statement
    and how its driver takes and gives times."""

    async def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def _run(self, sql: str, *args: Any) -> None:
        raise NotImplementedError

    def _to_db(self, value: datetime) -> Any:
        return value

    def _from_db(self, value: Any) -> datetime | None:
        return value  # type: ignore[no-any-return]

    async def load_conversation(self, sender_key: str, message_id: str | None = None) -> tuple[Any, ...] | None:
        if message_id is None:
            row = await self._one(LOAD, sender_key)
            previous = None
        else:  # one round trip for both
            row = await self._one(LOAD_WITH_PREVIOUS, message_id, sender_key)
            previous = None if row is None or row[7] is None else bytes(row[7])
        if row is None:
            return None
        return (*row[:4], *map(self._from_db, row[4:7]), previous)  # columns 4 to 6 are times

    async def insert_conversation(self, sender_key: str, channel: str, sender_enc: bytes, now: datetime) -> int:
        stamp = self._to_db(now)
        row = await self._one(INSERT, sender_key, channel, sender_enc, stamp, stamp)
        assert row is not None
        return int(row[0])

    async def previous_replies(self, conversation_id: int, message_id: str) -> bytes | None:
        row = await self._one(PREVIOUS, conversation_id, message_id)
        return None if row is None else bytes(row[0])

    async def save_state(
        self, conversation_id: int, state_enc: bytes | None, flow_id: str | None, language: str | None, now: datetime
    ) -> None:
        await self._run(SAVE, state_enc, flow_id, language, self._to_db(now), conversation_id)

    async def log(self, conversation_id: int, at: datetime, body_enc: bytes) -> None:
        await self._run(LOG, conversation_id, self._to_db(at), body_enc)

    async def remember(self, conversation_id: int, message_id: str, replies_enc: bytes, at: datetime) -> None:
        await self._run(REMEMBER, conversation_id, message_id, replies_enc, self._to_db(at))

    async def link_device(self, conversation_id: int, device_hash: str) -> None:
        await self._run(LINK_DEVICE, device_hash, conversation_id)

    async def has_conversation(self, sender_key: str) -> bool:
        return await self._one(EXISTS, sender_key) is not None


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1``, ``$2``, …"""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class AsyncpgRows(PlainSqlRows):
    """The plain SQL on the asyncpg connection of a transaction that SQLAlchemy has
    already begun (the turn's advisory lock is its first statement). asyncpg takes and
    gives aware datetimes as they are."""

    _NUMBERED = {
        sql: numbered(sql) for sql in (LOAD, LOAD_WITH_PREVIOUS, INSERT, PREVIOUS, SAVE, LOG, REMEMBER, LINK_DEVICE, EXISTS)
    }

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row = await self.connection.fetchrow(self._NUMBERED[sql], *args)
        return None if row is None else tuple(row)

    async def _run(self, sql: str, *args: Any) -> None:
        await self.connection.execute(self._NUMBERED[sql], *args)

    async def write_all(self, conversation_id: int, state: StateRow | None, transcript: list[tuple[datetime, bytes]],
                        replies: list[tuple[str, bytes, datetime]]) -> None:
        """Everything in one statement (data-modifying ``WITH`` clauses all run): one
        round trip to the server instead of one a row."""
        args: list[Any] = [conversation_id]

        def p(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        parts = []
        if state is not None:
            state_enc, flow_id, language, now = state
            parts.append(f"s AS (UPDATE conversations SET state_enc = {p(state_enc)}, flow_id = {p(flow_id)}, "
                         f"language = {p(language)}, updated_at = {p(now)} WHERE id = $1)")
        for i, (at, body) in enumerate(transcript):
            parts.append(f"t{i} AS (INSERT INTO transcript (conversation_id, at, body_enc) "
                         f"VALUES ($1, {p(at)}, {p(body)}))")
        for i, (message_id, replies_enc, at) in enumerate(replies):
            parts.append(f"r{i} AS (INSERT INTO processed_messages (conversation_id, message_id, replies_enc, at) "
                         f"VALUES ($1, {p(message_id)}, {p(replies_enc)}, {p(at)}))")
        if parts:
            await self.connection.execute("WITH " + ", ".join(parts) + " SELECT 1", *args)


class SessionRows(_OneByOne):
    """:class:`TurnRows` in an ``AsyncSession``'s transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load_conversation(self, sender_key: str, message_id: str | None = None) -> tuple[Any, ...] | None:
        row = (
            await self.session.execute(
                select(
                    Conversation.id, Conversation.channel, Conversation.language,
                    Conversation.state_enc, Conversation.created_at, Conversation.updated_at,
                    Conversation.unreachable_since,
                ).where(Conversation.sender_key == sender_key)
            )
        ).first()
        if row is None:
            return None
        previous = None if message_id is None else await self.previous_replies(row[0], message_id)
        return (*row, previous)

    async def insert_conversation(self, sender_key: str, channel: str, sender_enc: bytes, now: datetime) -> int:
        return int(
            await self.session.scalar(
                insert(Conversation)
                .values(sender_key=sender_key, channel=channel, sender_enc=sender_enc, created_at=now, updated_at=now)
                .returning(Conversation.id)
            )
        )

    async def previous_replies(self, conversation_id: int, message_id: str) -> bytes | None:
        return await self.session.scalar(
            select(ProcessedMessage.replies_enc).where(
                ProcessedMessage.conversation_id == conversation_id,
                ProcessedMessage.message_id == message_id,
            )
        )

    async def save_state(
        self, conversation_id: int, state_enc: bytes | None, flow_id: str | None, language: str | None, now: datetime
    ) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(state_enc=state_enc, flow_id=flow_id, language=language, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def log(self, conversation_id: int, at: datetime, body_enc: bytes) -> None:
        await self.session.execute(
            insert(TranscriptEntry).values(conversation_id=conversation_id, at=at, body_enc=body_enc)
        )

    async def remember(self, conversation_id: int, message_id: str, replies_enc: bytes, at: datetime) -> None:
        await self.session.execute(
            insert(ProcessedMessage).values(
                conversation_id=conversation_id, message_id=message_id, replies_enc=replies_enc, at=at
            )
        )

    async def link_device(self, conversation_id: int, device_hash: str) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(device_hash=device_hash)
            .execution_options(synchronize_session=False)
        )

    async def has_conversation(self, sender_key: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Conversation.sender_key == sender_key))))
