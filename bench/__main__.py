"""``make bench``: turns per second and latency through the engine, the store and HTTP.

Scripted voluntary-return conversations (the whole journey, ~22 turns each) run
concurrently against a fresh database: in-process through the engine, next to a bare
store turn (lock, read and write the encrypted state, commit), and over loopback HTTP
through the REST channel, next to the floor: a bare aiohttp handler that parses the body
and commits one SQLite row (and the same through SQLAlchemy's async engine and aiosqlite,
which is what every statement of a SQLite turn would pay without bot/store/inline.py).
The load client runs in this process, the server in another. Compare the ratios within
one run; absolute times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.engine import Engine, Inbound
from bot.engine.loader import load_flows
from bot.resources import FLOWS_DIR
from bot.store.crypto import Cipher, generate_key
from bot.store.migrate import upgrade
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from . import http
from .answers import answer


async def journey(engine: Engine, sender: str, latencies: list[float]) -> int:
    async def say(text: str) -> str | None:
        start = time.perf_counter()
        replies = await engine.handle(Inbound(channel="bench", sender_id=sender, text=text))
        latencies.append(time.perf_counter() - start)
        expects = next((r.expects for r in reversed(replies) if r.expects), None)
        return expects.field if expects else None

    turns = 1
    field = await say("/voluntary_return")
    previous = None
    while field:
        previous, field = field, await say(answer(field, previous))
        turns += 1
    await say("/confirm")
    return turns + 1


async def bare_turn(store: Store, sender: str, latencies: list[float], turns: int) -> int:
    for i in range(turns):
        start = time.perf_counter()
        async with store.turn("bench", sender, _now()) as turn:
            state = turn.conversation.state or {"answers": {}}
            state["answers"][f"q{i}"] = "some answer"
            turn.save_state(state, "en", _now())
        latencies.append(time.perf_counter() - start)
    return turns


def _now():  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


async def measure(label: str, concurrency: int, conversations: int, job: Callable[[str, list[float]], Awaitable[int]]) -> None:
    latencies: list[float] = []
    queue = list(range(conversations))

    async def worker() -> int:
        done = 0
        while queue:
            n = queue.pop()
            done += await job(f"{label}-{n}", latencies)
        return done

    start = time.perf_counter()
    turns = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
    elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{label:<34} {turns:>6} turns {turns / elapsed:>8.0f} turns/s   "
        f"p50 {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   ({concurrency} concurrent)"
    )


async def run_backend(name: str, url: str, args: argparse.Namespace) -> None:
    cipher = Cipher([generate_key()])
    flows = load_flows(FLOWS_DIR)
    store = Store.connect(url, cipher)
    engine = Engine(store, flows, language_id=LanguageIdentifier())
    try:
        await journey(engine, "warm-up", [])  # imports, caches, first connections
        await measure(f"{name}: bare store turn", args.concurrency, args.conversations,
                      lambda sender, lat: bare_turn(store, sender, lat, 27))
        await measure(f"{name}: engine, whole journey", args.concurrency, args.conversations,
                      lambda sender, lat: journey(engine, sender, lat))
        await measure(f"{name}: engine, one at a time", 1, max(4, args.conversations // 10),
                      lambda sender, lat: journey(engine, "serial-" + sender, lat))
    finally:
        await store.close()


def postgres_url() -> str | None:
    url = os.environ.get("INTAKE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return url
    except OSError:
        return None


async def _admin(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432,
                                 user=parsed.username or "postgres", password=parsed.password,
                                 database=parsed.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--http-concurrency", type=int, default=50)
    args = parser.parse_args()
    print(f"intake bench: {args.conversations} voluntary-return journeys, {os.cpu_count()} cores")
    from . import nlu

    nlu.run()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        asyncio.run(run_backend("sqlite", url, args))
        http.run("sqlite: bare aiohttp + 1 row (floor)", "floor", f"sqlite+aiosqlite:///{Path(tmp) / 'floor.db'}",
                 20, args.conversations)
        http.run("sqlite: floor through aiosqlite", "floor-aiosqlite",
                 f"sqlite+aiosqlite:///{Path(tmp) / 'floor-aiosqlite.db'}", 20, args.conversations)
        for concurrency in (20, args.http_concurrency):
            fresh = f"sqlite+aiosqlite:///{Path(tmp) / f'http{concurrency}.db'}"
            upgrade(fresh)
            http.run("sqlite: REST channel over HTTP", "rest", fresh, concurrency, args.conversations)
    pg = postgres_url()
    if pg is None:
        print("postgresql: not reachable, skipped")
        return
    from sqlalchemy.engine import make_url

    name = f"intake_bench_{os.getpid()}"
    asyncio.run(_admin(pg, f'CREATE DATABASE "{name}"'))
    try:
        bench_url = make_url(pg).set(database=name).render_as_string(hide_password=False)
        upgrade(bench_url)
        asyncio.run(run_backend("postgresql", bench_url, args))
        http.run("postgresql: REST channel over HTTP", "rest", bench_url, args.http_concurrency, args.conversations)
    finally:
        asyncio.run(_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

if __name__ == "__main__":
    main()
