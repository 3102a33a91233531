"""A server process for the HTTP benchmark: the real REST channel, or the bare floor.

``python -m bench.server --mode rest|floor|floor-aiosqlite --url DB --port P`` serves
until killed. The floor is what any handler must pay: parse the JSON body and commit one
SQLite row, with no engine in between, on the loop's thread with the standard library's
sqlite3 (as the store does on SQLite, see bot/store/inline.py). ``floor-aiosqlite`` commits
the row through SQLAlchemy's async engine and aiosqlite instead, to show what the thread
hops of an async driver cost.
"""

from __future__ import annotations

import argparse
import sqlite3
import time

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import Services, create_app, prepare_process
from bot.channels.abuse import AddressLimits
from bot.channels.rest import RestChannel
from bot.config import Settings
from bot.limits import MemoryLimits
from bot.engine import Engine
from bot.engine.loader import load_flows
from bot.event_loop import new_event_loop
from bot.resources import FLOWS_DIR
from bot.store.crypto import Cipher, generate_key
from bot.store.database import create_engine
from bot.store.store import Store
from nlu.langid import LanguageIdentifier


def rest_app(url: str) -> web.Application:
    store = Store.connect(url, Cipher([generate_key()]))
    flows = load_flows(FLOWS_DIR)
    engine = Engine(store, flows, language_id=LanguageIdentifier())
    services = Services(settings=Settings(), store=store, flows=flows, engine=engine)
    prepare_process(services)
    # One client (the load generator) sends everything: no per-sender or per-address limits.
    unlimited = AddressLimits(MemoryLimits(), messages_per_minute=10**9, new_conversations_per_hour=10**9)
    return create_app(services, [RestChannel(engine, rate_limit_per_minute=1_000_000, address_limits=unlimited)])


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


def floor_aiosqlite_app(url: str) -> web.Application:
    db = create_engine(url)

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        async with db.begin() as conn:
            await conn.execute(
                text("INSERT INTO floor (sender, message, at) VALUES (:s, :m, :t)"),
                {"s": body["sender"], "m": body["message"], "t": time.time()},
            )
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    async def setup(app: web.Application):  # type: ignore[no-untyped-def]
        async with db.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, sender TEXT, message TEXT, at REAL)"))
        yield
        await db.dispose()

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", handler)
    app.cleanup_ctx.append(setup)
    return app


APPS = {"rest": rest_app, "floor": floor_app, "floor-aiosqlite": floor_aiosqlite_app}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=list(APPS), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = APPS[args.mode](args.url)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=new_event_loop())


if __name__ == "__main__":
    main()
