"""SQLite turns on the event loop's own thread.

A turn on SQLite is a handful of statements on a local file, each a few microseconds of
work. Through aiosqlite and the async ORM every one of them is a hop to a worker thread
and back, which cost ~20 times the work itself (``make bench`` shows the difference). So
on SQLite a turn runs its statements directly, on one connection that only the event
loop's thread uses:

- The connection never waits inside SQLite (``busy_timeout`` 0). ``BEGIN IMMEDIATE``
  that finds another process writing fails at once and is retried after an asyncio
  sleep, so the loop is never blocked by someone else's transaction. Once the write lock
  is held nothing else can make a statement wait.
- The hot path (load the conversation, check a redelivery, save state, transcript and
  replies) is plain SQL, with the columns' own SQLAlchemy type processors so values are
  stored exactly as the ORM stores them.
- SQLite's automatic WAL checkpoint would run inside a commit, on the loop's thread,
  with a disk sync: it is off on this connection, and every ``CHECKPOINT_EVERY`` commits
  a passive checkpoint runs on a worker thread instead (it never waits for, nor blocks,
  the writer). Under steady load new commits land while it copies, so it never catches
  up with the end of the log, and SQLite starts the log over only at a ``BEGIN`` that
  finds it all copied: the WAL would grow without end (gigabytes in a minute of load).
  So when a checkpoint finds more than ``WAL_RESTART_FRAMES`` in the log (or is still
  running after four times ``CHECKPOINT_EVERY`` commits: a slow disk), the next turn
  first waits for one more checkpoint, which has only the last few commits to copy and
  catches up; that turn's ``BEGIN`` starts the log over.
- What is rare in a turn (a case, a booking, an erasure) uses the ORM through a
  synchronous session bound to the same connection and transaction, behind
  :class:`InlineSession`, which offers the awaitable methods of ``AsyncSession`` that
  the store's code uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from .models import UTCDateTime
from .turn_rows import PlainSqlRows

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 30.0
"""How long a turn keeps trying to get SQLite's write lock from another process."""
CHECKPOINT_EVERY = 256
"""Commits between two WAL checkpoints (SQLite's own default is ~1,000 pages, ~250 turns)."""
WAL_RESTART_FRAMES = 16000
"""A log longer than this (pages of 4 KiB: 64 MiB) is started over at the next turn (which
waits a few milliseconds for it: rarely, under steady load about every 2,000 turns)."""


class InlineSession:
    """The part of ``AsyncSession``'s interface the store uses, over a sync ``Session``.

    Each call runs at once on the loop's thread; awaiting it never suspends.
    """

    def __init__(self, session: Session) -> None:
        self.sync_session = session

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalars(*args, **kwargs)

    async def flush(self) -> None:
        self.sync_session.flush()

    def add(self, instance: object) -> None:
        self.sync_session.add(instance)


class InlineSqlite(PlainSqlRows):
    """One SQLite connection for turns, used only from the event loop's thread; it runs
    the turn's statements (:class:`~bot.store.turn_rows.PlainSqlRows`) itself."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._raw: sqlite3.Connection | None = None
        self._orm: Engine | None = None
        self._session: Session | None = None
        self._commits = 0
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Future[tuple[int, int, int]] | None = None
        self._restart_log = False
        # Times are stored as the ORM stores them: the column type's own processors.
        dialect = SQLiteDialect_pysqlite()
        processor = UTCDateTime().dialect_impl(dialect)
        self._to_db = processor.bind_processor(dialect) or (lambda v: v)  # type: ignore[method-assign]
        self._from_db = processor.result_processor(dialect, None) or (lambda v: v)  # type: ignore[method-assign]

    # --- the connection -------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._raw is None:
            if self._database not in ("", ":memory:"):
                Path(self._database).parent.mkdir(parents=True, exist_ok=True)
            raw = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0", "wal_autocheckpoint=0"):
                raw.execute(f"PRAGMA {pragma}")
            self._raw = raw
            self._orm = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
            # SQLAlchemy's first connect initializes its dialect and then rolls back: let
            # that happen now, outside any turn's transaction.
            self._orm.connect().close()
        return self._raw

    async def begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting (without blocking the loop) while another
        connection holds the write lock."""
        raw = self._connection()
        if self._restart_log:
            await self._catch_up()
        delay, deadline = 0.001, time.monotonic() + BUSY_RETRY_SECONDS
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def commit(self) -> None:
        try:
            if self._session is not None:
                self._session.flush()
            self._connection().execute("COMMIT")
        finally:
            self._end_session()
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._commits = 0
            self._start_checkpoint()
        elif self._commits >= 4 * CHECKPOINT_EVERY:  # the checkpoint is slow (a busy disk)
            self._commits = 0
            self._restart_log = True

    def _start_checkpoint(self) -> asyncio.Future[tuple[int, int, int]]:
        self._checkpointing = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        self._checkpointing.add_done_callback(self._checkpointed)
        return self._checkpointing

    async def _catch_up(self) -> None:
        """Between two turns (nothing of ours is writing): checkpoint until the log is all
        copied, so that the next ``BEGIN`` starts it over."""
        self._restart_log = False
        with contextlib.suppress(Exception):  # logged by _checkpointed; the turn goes on
            if self._checkpointing is not None:
                await asyncio.wait([self._checkpointing])
            await self._start_checkpoint()

    def _checkpoint(self) -> tuple[int, int, int]:
        """On a worker thread: copy the WAL's committed pages into the database file.
        (busy, frames in the log, frames copied), as SQLite returns them."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False)
        busy, frames, copied = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, frames, copied

    def _checkpointed(self, future: asyncio.Future[tuple[int, int, int]]) -> None:
        self._checkpointing = None
        if future.cancelled():
            return
        if future.exception() is not None:
            log.warning("WAL checkpoint failed: %s", future.exception())
            return
        _, frames, _ = future.result()
        if frames > WAL_RESTART_FRAMES:  # commits went on meanwhile: it is behind again
            self._restart_log = True

    def rollback(self) -> None:
        try:
            raw = self._connection()
            if raw.in_transaction:
                raw.execute("ROLLBACK")
        finally:
            self._end_session()

    def session(self) -> InlineSession:
        """An ORM session in the open transaction, created when a turn first needs one."""
        if self._session is None:
            self._connection()
            assert self._orm is not None
            self._session = Session(bind=self._orm.connect(), expire_on_commit=False, autoflush=True)
        return InlineSession(self._session)

    def _end_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            bind = session.get_bind()
            session.close()
            bind.close()  # type: ignore[union-attr]  # back to the static pool; its rollback is a no-op

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self._end_session()
        if self._orm is not None:
            self._orm.dispose()
            self._orm = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    # --- the hot path (turn_rows.PlainSqlRows) ---------------------------------------------

    async def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        return self._connection().execute(sql, args).fetchone()  # type: ignore[no-any-return]

    async def _run(self, sql: str, *args: Any) -> None:
        self._connection().execute(sql, args)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)
