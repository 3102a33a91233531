"""What the WhatsApp channel keeps: the customer-service window and opt-in of each
conversation, and the status of each message sent. No text, no phone number: rows are
keyed by conversation id and WhatsApp's message id (the sender is found by its keyed hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from .models import Conversation, WhatsAppContact, WhatsAppMessage

CHANNEL = "whatsapp"
STATUS_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
"""A status only moves forward: WhatsApp may deliver ``delivered`` after ``read``."""


@dataclass(frozen=True, slots=True)
class ContactWindow:
    last_inbound_at: datetime | None
    opted_in_at: datetime | None
    opt_in_asked_at: datetime | None = None
    language: str | None = None
    template_language: str | None = None


@dataclass(frozen=True, slots=True)
class MessageStatus:
    wa_message_id: str
    conversation_id: int | None
    kind: str
    status: str
    error_code: int | None
    updated_at: datetime


class WhatsAppRecords:
    def __init__(self, store: Any) -> None:
        """``store``: the ``Store`` this belongs to (its sessions, locks and sender hash)."""
        self._store = store

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._store.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    async def _conversation_id(self, session: Any, sender_id: str) -> int | None:
        key = self._store.sender_key(CHANNEL, sender_id)
        found = await session.scalar(select(Conversation.id).where(Conversation.sender_key == key))
        return int(found) if found is not None else None

    async def inbound(self, sender_id: str, at: datetime) -> None:
        """The applicant wrote at ``at``: the 24-hour window starts again (after the turn,
        which created the conversation if it was new)."""
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            conversation_id = await self._conversation_id(session, sender_id)
            if conversation_id is None:
                return
            statement = self._insert(WhatsAppContact).values(conversation_id=conversation_id, last_inbound_at=at)
            await session.execute(statement.on_conflict_do_update(
                index_elements=[WhatsAppContact.conversation_id], set_={"last_inbound_at": at}
            ))

    async def opt_in(self, sender_id: str, at: datetime | None, template_language: str | None = None) -> bool:
        """Record the applicant's agreement to templates (``at``, with the template
        language they chose when theirs has none) or its withdrawal (None)."""
        return await self._update(sender_id, opted_in_at=at, template_language=template_language if at else None)

    async def asked(self, sender_id: str, at: datetime, language: str | None) -> bool:
        """The channel asked the applicant whether templates may be sent, in ``language``."""
        return await self._update(sender_id, opt_in_asked_at=at, language=language)

    async def _update(self, sender_id: str, **values: Any) -> bool:
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            conversation_id = await self._conversation_id(session, sender_id)
            if conversation_id is None:
                return False
            result = await session.execute(
                update(WhatsAppContact)
                .where(WhatsAppContact.conversation_id == conversation_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)

    async def window(self, sender_id: str) -> ContactWindow:
        async with self._store._reads() as session:
            key = self._store.sender_key(CHANNEL, sender_id)
            row = (await session.execute(
                select(WhatsAppContact.last_inbound_at, WhatsAppContact.opted_in_at, WhatsAppContact.opt_in_asked_at,
                       WhatsAppContact.language, WhatsAppContact.template_language)
                .join(Conversation, Conversation.id == WhatsAppContact.conversation_id)
                .where(Conversation.sender_key == key)
            )).first()
        return ContactWindow(*row) if row else ContactWindow(None, None)

    async def sent(self, sender_id: str, wa_message_id: str, kind: str, at: datetime) -> None:
        """A message WhatsApp accepted for delivery (its statuses follow by webhook)."""
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            conversation_id = await self._conversation_id(session, sender_id)
            statement = self._insert(WhatsAppMessage).values(
                wa_message_id=wa_message_id, conversation_id=conversation_id, kind=kind,
                status="accepted", sent_at=at, updated_at=at,
            )
            await session.execute(statement.on_conflict_do_nothing(index_elements=[WhatsAppMessage.wa_message_id]))

    async def status(self, wa_message_id: str, status: str, at: datetime, error_code: int | None = None) -> bool:
        """Move a sent message to ``status`` (never backwards); False for an unknown
        message or status (one sent by another tool on the same number)."""
        rank = STATUS_ORDER.get(status)
        if rank is None:
            return False
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            row = await session.get(WhatsAppMessage, wa_message_id)
            if row is None:
                return False
            if rank >= STATUS_ORDER.get(row.status, 0):
                row.status = status
                row.error_code = error_code
                row.updated_at = at
            return True

    async def statuses(self, conversation_id: int | None = None) -> list[MessageStatus]:
        query = select(WhatsAppMessage).order_by(WhatsAppMessage.sent_at, WhatsAppMessage.wa_message_id)
        if conversation_id is not None:
            query = query.where(WhatsAppMessage.conversation_id == conversation_id)
        async with self._store._reads() as session:
            rows = (await session.scalars(query)).all()
        return [MessageStatus(r.wa_message_id, r.conversation_id, r.kind, r.status, r.error_code, r.updated_at)
                for r in rows]
