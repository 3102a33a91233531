"""The statements every turn runs, behind one interface with two implementations.

:class:`SessionRows` runs them through SQLAlchemy's ``AsyncSession`` (PostgreSQL, where
the round trip to the server dominates anyway); ``inline.InlineSqlite`` runs the same
statements as plain SQL on the event loop's thread (SQLite, where the thread hops of an
async driver would dominate). ``Turn`` (store.py) only sees :class:`TurnRows`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Conversation, ProcessedMessage, TranscriptEntry


class TurnRows(Protocol):
    async def load_conversation(self, sender_key: str) -> tuple[Any, ...] | None:
        """``(id, channel, language, state_enc, created_at, updated_at, unreachable_since)``
        or None."""

    async def insert_conversation(self, sender_key: str, channel: str, sender_enc: bytes, now: datetime) -> int: ...

    async def previous_replies(self, conversation_id: int, message_id: str) -> bytes | None: ...

    async def save_state(
        self, conversation_id: int, state_enc: bytes | None, flow_id: str | None, language: str | None, now: datetime
    ) -> None: ...

    async def log(self, conversation_id: int, at: datetime, body_enc: bytes) -> None: ...

    async def remember(self, conversation_id: int, message_id: str, replies_enc: bytes, at: datetime) -> None: ...


class AsyncpgRows:
    """:class:`TurnRows` as plain SQL on the asyncpg connection of a transaction that
    SQLAlchemy has already begun (the turn's advisory lock is its first statement)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def load_conversation(self, sender_key: str) -> tuple[Any, ...] | None:
        row = await self.connection.fetchrow(
            "SELECT id, channel, language, state_enc, created_at, updated_at, unreachable_since"
            " FROM conversations WHERE sender_key = $1",
            sender_key,
        )
        return None if row is None else tuple(row)

    async def insert_conversation(self, sender_key: str, channel: str, sender_enc: bytes, now: datetime) -> int:
        return int(
            await self.connection.fetchval(
                "INSERT INTO conversations (sender_key, channel, sender_enc, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $4) RETURNING id",
                sender_key, channel, sender_enc, now,
            )
        )

    async def previous_replies(self, conversation_id: int, message_id: str) -> bytes | None:
        return await self.connection.fetchval(  # type: ignore[no-any-return]
            "SELECT replies_enc FROM processed_messages WHERE conversation_id = $1 AND message_id = $2",
            conversation_id, message_id,
        )

    async def save_state(
        self, conversation_id: int, state_enc: bytes | None, flow_id: str | None, language: str | None, now: datetime
    ) -> None:
        await self.connection.execute(
            "UPDATE conversations SET state_enc = $2, flow_id = $3, language = $4, updated_at = $5 WHERE id = $1",
            conversation_id, state_enc, flow_id, language, now,
        )

    async def log(self, conversation_id: int, at: datetime, body_enc: bytes) -> None:
        await self.connection.execute(
            "INSERT INTO transcript (conversation_id, at, body_enc) VALUES ($1, $2, $3)",
            conversation_id, at, body_enc,
        )

    async def remember(self, conversation_id: int, message_id: str, replies_enc: bytes, at: datetime) -> None:
        await self.connection.execute(
            "INSERT INTO processed_messages (conversation_id, message_id, replies_enc, at) VALUES ($1, $2, $3, $4)",
            conversation_id, message_id, replies_enc, at,
        )


class SessionRows:
    """:class:`TurnRows` in an ``AsyncSession``'s transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load_conversation(self, sender_key: str) -> tuple[Any, ...] | None:
        row = (
            await self.session.execute(
                select(
                    Conversation.id, Conversation.channel, Conversation.language,
                    Conversation.state_enc, Conversation.created_at, Conversation.updated_at,
                    Conversation.unreachable_since,
                ).where(Conversation.sender_key == sender_key)
            )
        ).first()
        return None if row is None else tuple(row)

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
