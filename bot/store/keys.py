"""Key rotation: re-encrypting every personal column, re-computing every keyed hash, and
refusing to run with a lookup key the database was not written with.

Re-encryption (``intake keys rotate``) is online: it walks each table in batches, each in
its own short transaction, and writes a row back only if it is unchanged since it was read
(a turn that wrote meanwhile already used the new first key). A new lookup key
(``--new-lookup-key``) changes every sender's hash at once, in one transaction: the
servers must be stopped for it, since until they restart with the new key they would not
find anyone (see docs/PRIVACY.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .case_search import rewrite_terms, set_marker
from .crypto import Cipher
from .models import (
    ERASED,
    CaseNote,
    CaseRow,
    Conversation,
    Job,
    KeyCheck,
    ProcessedMessage,
    StaffUser,
    TranscriptEntry,
    Webhook,
)

if TYPE_CHECKING:
    from .store import Store

ENCRYPTED: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (Conversation, ("sender_enc", "state_enc")),
    (TranscriptEntry, ("body_enc",)),
    (ProcessedMessage, ("replies_enc",)),
    (CaseRow, ("data_enc",)),
    (Job, ("payload_enc",)),
    (CaseNote, ("body_enc",)),
    (StaffUser, ("totp_secret_enc",)),
    (Webhook, ("secret_enc",)),
)
"""Every encrypted column (``*_enc`` in models.py; a test checks none is missing)."""
LOOKUP = "lookup"


class LookupKeyChanged(RuntimeError):
    """The database was written with another lookup key."""


async def verify_lookup_key(store: Store) -> None:
    """Record the lookup key's fingerprint on first use; refuse a different key later
    (every applicant would silently get a new, empty conversation)."""
    fingerprint = store.cipher.lookup_fingerprint()
    insert = pg_insert if store.dialect == "postgresql" else sqlite_insert
    async with store.locks.writer(), store._sessions() as session, session.begin():
        await session.execute(
            insert(KeyCheck).values(name=LOOKUP, fingerprint=fingerprint).on_conflict_do_nothing(index_elements=["name"])
        )
        stored = await session.scalar(select(KeyCheck.fingerprint).where(KeyCheck.name == LOOKUP))
    if stored != fingerprint:
        raise LookupKeyChanged(
            "this database was written with another lookup key: set INTAKE_LOOKUP_KEY to the one it "
            "was written with (`intake keys show-lookup-key` with the old settings prints it), or, to "
            "change it, stop the servers and run `intake keys rotate --new-lookup-key` (see docs/PRIVACY.md)"
        )


async def reencrypt(store: Store, batch: int = 500) -> dict[str, int]:
    """Every encrypted value re-encrypted under the first key of ``store.cipher``, in
    short transactions. Returns the number of values rewritten per table."""
    counts: dict[str, int] = {}
    for model, columns in ENCRYPTED:
        key = model.__mapper__.primary_key[0]
        last: Any = None
        rewritten = 0
        while True:
            async with store.locks.writer(), store._sessions() as session, session.begin():
                query = select(key, *(getattr(model, c) for c in columns)).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                rows = (await session.execute(query)).all()
                for row in rows:
                    for column, value in zip(columns, row[1:]):
                        if value is None:
                            continue
                        result = await session.execute(
                            update(model)
                            .where(key == row[0], getattr(model, column) == value)
                            .values({column: store.cipher.rotate(value)})
                            .execution_options(synchronize_session=False)
                        )
                        rewritten += result.rowcount or 0
            if len(rows) < batch:
                break
            last = rows[-1][0]
        counts[model.__tablename__] = rewritten
    return counts


async def rehash(store: Store, new: Cipher) -> dict[str, int]:
    """Every keyed hash re-computed with ``new``'s lookup key, in one transaction (stop
    the servers first): senders' hashes and the cases' search indexes. A case whose sender cannot be known any more (its conversation
    was purged) loses its link to the sender."""
    async with store.locks.writer(), store._sessions() as session, session.begin():
        mapping: dict[str, str] = {}
        conversations = (
            await session.execute(select(Conversation.id, Conversation.sender_key, Conversation.channel, Conversation.sender_enc))
        ).all()
        for conversation_id, old, channel, sender_enc in conversations:
            sender = store.cipher.decrypt(sender_enc).decode()
            # A conversation erased before erasure deleted rows has no sender left.
            mapping[old] = f"erased:{conversation_id}" if sender == ERASED else new.lookup_hash(channel, sender)
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(sender_key=mapping[old])
                .execution_options(synchronize_session=False)
            )
        cases = (await session.execute(select(CaseRow.id, CaseRow.sender_key).where(CaseRow.sender_key.is_not(None)))).all()
        unlinked = 0
        for case_id, old in cases:
            unlinked += old not in mapping
            await session.execute(
                update(CaseRow).where(CaseRow.id == case_id).values(sender_key=mapping.get(old))
                .execution_options(synchronize_session=False)
            )
        # The blind indexes of names, dates of birth and phones (case_search.py), keyed anew.
        indexed = await rewrite_terms(session, store.cipher, new)
        await set_marker(session, store.dialect, new)
        await session.execute(
            update(KeyCheck).where(KeyCheck.name == LOOKUP).values(fingerprint=new.lookup_fingerprint())
            .execution_options(synchronize_session=False)
        )
    return {"conversations": len(conversations), "cases": len(cases) - unlinked, "cases_unlinked": unlinked,
            "cases_indexed": indexed}
