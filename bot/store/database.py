"""Engine creation and the per-conversation lock, for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def create_engine(url: str, *, pool_size: int = 5, **kwargs: Any) -> AsyncEngine:
    """An async engine with the settings this app relies on for each backend;
    ``pool_size``: PostgreSQL connections kept open (``INTAKE_DB_POOL_SIZE`` in the server)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No ping before each checkout (a round trip a turn): a connection that died fails at
    # its first statement, which invalidates the pool, and the turn is refused with a 503.
    # Statement parameters never go into error messages (nor so into the logs).
    # No overflow: SQLAlchemy closes an overflow connection as soon as it is handed back,
    # so under steady load beyond the pool every fifth turn or so opened a new PostgreSQL
    # connection (a server process, authentication, type introspection), which cost more
    # than the turn; a turn beyond the pool waits for a connection instead.
    return create_async_engine(url, pool_pre_ping=False, hide_parameters=True, pool_size=pool_size, max_overflow=0,
                               connect_args={"timeout": 10, "command_timeout": 30}, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling would delay BEGIN until the first write; we
    # want BEGIN IMMEDIATE so that a turn holds the write lock from the moment it reads
    # the state (this is what serializes turns across processes on SQLite).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Reads of large lists (the back office's case list on 100,000 cases) go through
        # memory-mapped pages and a larger page cache instead of a read() per 4 KB page.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    # Reads (``READ_ONLY`` below) begin deferred instead: in WAL mode they see a snapshot
    # and wait for nobody, so a turn that holds the write lock can still call a read-only
    # store method (a case lookup, the free slots) on another connection.
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SQLITE_CACHE_KIB = 32 * 1024
READ_ONLY = "intake_read_only"
"""Execution option of connections that only read (see ``Store._reads``)."""


class ConversationLocks:
    """One turn at a time per conversation, within this process and across processes.

    In-process, an asyncio lock per key keeps waiting turns from holding database
    connections. Across processes, PostgreSQL takes a transaction-scoped advisory lock on
    the key; SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time, and a
    process-wide lock keeps this process's turns from contending for it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._dialect = engine.dialect.name
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._sqlite_writer = asyncio.Lock() if self._dialect == "sqlite" else None

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            if self._sqlite_writer is not None:
                async with self._sqlite_writer:
                    yield
            else:
                yield

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[None]:
        """For writes that are not a turn (purges, staff changes) on SQLite."""
        if self._sqlite_writer is not None:
            async with self._sqlite_writer:
                yield
        else:
            yield

    async def lock_in_transaction(self, conn: AsyncConnection, key: str) -> None:
        if self._dialect == "postgresql":
            # A driver-level statement: no SQL compilation, half the cost of text().
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({advisory_key(key)})")


def advisory_key(key: str) -> int:
    """A signed 64-bit lock id from a hex digest."""
    value = int(key[:16], 16)
    return value - (1 << 64) if value >= (1 << 63) else value
