"""A server process for the benchmark: the real application, or the bare floor.

``python -m bench.server --mode MODE --url DB --port P [--workers N]`` serves until
SIGTERM:

- ``rest``: what ``intake serve`` serves (bot.app.build_services and its channels, the
  NLU included), except that the REST channel's rate limits are off, so that one load
  client can send as much as it wants; with ``--workers N`` as ``intake serve --workers``.
- ``floor``: what any handler must pay: parse the JSON body and commit one SQLite row
  (WAL, on the loop's thread, as the store does), answer a JSON list.
- ``floor-postgres``: the same with one PostgreSQL row through an asyncpg pool.
- ``floor-turn`` and ``floor-turn-postgres``: the storage floor, what every turn must
  store with the store's own statements, encrypted, but no dialogue (:class:`_StorageFloor`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from sqlalchemy.engine import make_url

from bot.event_loop import new_event_loop

RATE_LIMITS_OFF = 1_000_000_000
"""Messages a minute per sender in the benchmark's server: no limit in practice."""


def rest_app(url: str) -> web.Application:
    from bot.app import build_services, create_app, default_channels, prepare_process
    from bot.channels.abuse import AddressLimits
    from bot.channels.rest import RestChannel
    from bot.config import Settings
    from bot.limits import MemoryLimits

    os.environ["INTAKE_DATABASE_URL"] = url
    services = build_services(Settings())
    # One load client sends everything: no per-sender or per-address limits.
    unlimited = AddressLimits(MemoryLimits(), messages_per_minute=RATE_LIMITS_OFF, new_conversations_per_hour=RATE_LIMITS_OFF)
    channels = [c if c.name != "rest" else RestChannel(services.engine, rate_limit_per_minute=RATE_LIMITS_OFF,
                                                       address_limits=unlimited)
                for c in default_channels(services)]
    prepare_process(services)
    return create_app(services, channels)


def floor_app(url: str) -> web.Application:
    database = make_url(url).database or ""
    db = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    db.execute("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, sender TEXT, message TEXT, at REAL)")

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO floor (sender, message, at) VALUES (?, ?, ?)", (body["sender"], body["message"], time.time()))
        db.execute("COMMIT")
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", handler)
    return app


def floor_postgres_app(url: str) -> web.Application:
    import asyncpg

    parsed = make_url(url)
    pool: list[asyncpg.Pool] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        async with pool[0].acquire() as conn:
            await conn.execute("INSERT INTO floor (sender, message, at) VALUES ($1, $2, $3)",
                               body["sender"], body["message"], time.time())
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    async def setup(app: web.Application):  # type: ignore[no-untyped-def]
        pool.append(await asyncpg.create_pool(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                              password=parsed.password, database=parsed.database,
                                              min_size=5, max_size=20))
        async with pool[0].acquire() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS floor "
                               "(id SERIAL PRIMARY KEY, sender TEXT, message TEXT, at DOUBLE PRECISION)")
        yield
        await pool[0].close()

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", handler)
    app.cleanup_ctx.append(setup)
    return app


class _StorageFloor:
    """What every turn must store, without the dialogue: the sender's lookup hash, the
    conversation loaded (or created) and its state decrypted, then the new state, one
    transcript entry and the replies for a redelivery encrypted and written, with the
    store's own statements (bot/store/turn_rows.py) in one transaction."""

    def __init__(self) -> None:
        from bot.store.crypto import Cipher, generate_key

        self.cipher = Cipher([generate_key()])

    async def turn(self, request: web.Request, transaction: Callable[[str], Any]) -> web.Response:
        """One turn; ``transaction(sender_key)``: an async context manager that locks the
        conversation, begins, commits (or rolls back) and gives the turn's rows."""
        from bot import json_codec

        body = json_codec.loads(await request.read())
        sender, message = body["sender"], body["message"]
        message_id = (body.get("metadata") or {}).get("message_id")
        key = self.cipher.lookup_hash("rest", sender)
        now = datetime.now(timezone.utc)
        async with transaction(key) as rows:
            found = await rows.load_conversation(key, message_id)
            conversation = found[0] if found else await rows.insert_conversation(
                key, "rest", self.cipher.encrypt(sender.encode()), now)
            state = self.cipher.decrypt_json(found[3]) if found and found[3] else {"answers": {}, "path": []}
            state["answers"][f"q{len(state['path'])}"] = message
            state["path"].append(f"q{len(state['path'])}")
            replies = [{"recipient_id": sender, "text": f"Question {len(state['path'])}: what is your answer?",
                        "buttons": [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}]}]
            entry = self.cipher.encrypt_json({"in": message, "out": [r["text"] for r in replies]})
            stored = [(message_id, self.cipher.encrypt_json(replies), now)] if message_id else []
            await rows.write_all(conversation, (self.cipher.encrypt_json(state), "floor", "en", now),
                                 [(now, entry)], stored)
        return web.Response(body=json_codec.dumps(replies), content_type="application/json")


def floor_turn_app(url: str) -> web.Application:
    """``floor-turn``: the storage floor (:class:`_StorageFloor`) on SQLite, through the
    store's own SQLite turn connection (bot/store/inline.py)."""
    from bot.store.inline import InlineSqlite

    rows = InlineSqlite(make_url(url).database or "")
    floor = _StorageFloor()

    @contextlib.asynccontextmanager
    async def transaction(_key: str) -> AsyncIterator[InlineSqlite]:
        await rows.begin()
        try:
            yield rows
            rows.commit()
        except BaseException:
            rows.rollback()
            raise

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", lambda request: floor.turn(request, transaction))
    return app


def floor_turn_postgres_app(url: str) -> web.Application:
    """``floor-turn-postgres``: the storage floor on PostgreSQL, as the store's turn runs
    it there: BEGIN and the conversation's advisory lock, the load, one statement for
    every write, COMMIT (bot/store/store.py, turn_rows.AsyncpgRows)."""
    import asyncpg

    from bot.store.database import advisory_key
    from bot.store.turn_rows import AsyncpgRows

    parsed = make_url(url)
    pool: list[asyncpg.Pool] = []
    floor = _StorageFloor()

    @contextlib.asynccontextmanager
    async def transaction(key: str) -> AsyncIterator[AsyncpgRows]:
        async with pool[0].acquire() as conn:
            await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({advisory_key(key)})")
            try:
                yield AsyncpgRows(conn)
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise

    async def setup(app: web.Application):  # type: ignore[no-untyped-def]
        pool.append(await asyncpg.create_pool(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                              password=parsed.password, database=parsed.database,
                                              min_size=20, max_size=20))
        yield
        await pool[0].close()

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", lambda request: floor.turn(request, transaction))
    app.cleanup_ctx.append(setup)
    return app


APPS = {"rest": rest_app, "floor": floor_app, "floor-postgres": floor_postgres_app,
        "floor-turn": floor_turn_app, "floor-turn-postgres": floor_turn_postgres_app}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=list(APPS), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers > 1:
        from bot.workers import Supervisor

        command = [sys.executable, "-m", "bench.server", "--mode", args.mode, "--url", args.url,
                   "--port", str(args.port), "--worker"]
        raise SystemExit(Supervisor(args.workers, "127.0.0.1", args.port, command).run())
    app = APPS[args.mode](args.url)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=new_event_loop(),
                reuse_port=args.worker or None)


if __name__ == "__main__":
    main()
