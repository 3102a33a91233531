"""A server process for the HTTP benchmark: the real REST channel, or the bare floor.

``python -m bench.server --mode rest|floor --url DB --port P`` serves until killed. The
floor is what any handler must pay: parse the JSON body and commit one SQLite row through
the same async driver, with no engine in between.
"""

from __future__ import annotations

import argparse
import time

from aiohttp import web
from sqlalchemy import text

from bot.app import Services, create_app
from bot.channels.rest import RestChannel
from bot.config import PROJECT_ROOT, Settings
from bot.engine import Engine
from bot.engine.loader import load_flows
from bot.store.crypto import Cipher, generate_key
from bot.store.database import create_engine
from bot.store.store import Store


def rest_app(url: str) -> web.Application:
    store = Store.connect(url, Cipher([generate_key()]))
    flows = load_flows(PROJECT_ROOT / "flows")
    engine = Engine(store, flows)
    services = Services(settings=Settings(), store=store, flows=flows, engine=engine)
    return create_app(services, [RestChannel(engine, rate_limit_per_minute=1_000_000)])


def floor_app(url: str) -> web.Application:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["rest", "floor"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = rest_app(args.url) if args.mode == "rest" else floor_app(args.url)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
