"""/readyz, /metrics and JSON logs (bot/operations.py, bot/metrics.py)."""

from __future__ import annotations

import json
import logging
import aiohttp
from pydantic import SecretStr

from bot import metrics
from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.logs import JsonFormatter
from bot.operations import migrations_head
from bot.store.store import Store

from .conftest import Clock
from .serving import serving, services_for


class LoadedModel:
    async def close(self) -> None:
        return None


def _services(engine: Engine, flows: FlowSet, **settings: object):  # type: ignore[no-untyped-def]
    services = services_for(engine, flows)
    services.settings = Settings(**settings)  # type: ignore[arg-type]
    return services


async def test_readyz_says_what_is_missing(sqlite_store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = Engine(sqlite_store, flows, clock=clock)
    services = _services(engine, flows)
    async with serving(create_app(services)) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/readyz") as response:
            body = await response.json()
            assert response.status == 503
            assert body["checks"] == {"database": "ok", "migrations": "ok", "nlu": "not loaded"}
        services.nlu = LoadedModel()
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["status"] == "ready"


async def test_readyz_fails_on_a_database_behind_the_code(sqlite_store: Store, flows: FlowSet, clock: Clock) -> None:
    async with sqlite_store.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    services = _services(Engine(sqlite_store, flows, clock=clock), flows)
    services.nlu = LoadedModel()
    async with serving(create_app(services)) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["checks"]["migrations"] == (
                f"at 0001, head is {migrations_head()}: run intake db upgrade")


async def test_metrics_count_turns_per_channel(sqlite_store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = Engine(sqlite_store, flows, clock=clock, on_turn=metrics.observe_turn)
    before = metrics.TURNS.labels("rest")._value.get()
    async with serving(create_app(_services(engine, flows), [RestChannel(engine)])) as base, \
            aiohttp.ClientSession() as http:
        for message in ("/start", "/voluntary_return"):
            async with http.post(f"{base}/webhooks/rest/webhook", json={"sender": "metrics-sender-3f9a61c2d", "message": message}) as r:
                assert r.status == 200
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            text = await response.text()
    assert metrics.TURNS.labels("rest")._value.get() == before + 2
    assert f'intake_turns_total{{channel="rest"}} {before + 2}' in text
    assert 'intake_turn_seconds_bucket{channel="rest",le="0.5"}' in text
    assert "intake_reminders_due 0.0" in text
    assert 'intake_webhook_deliveries{status="parked"} 0.0' in text and "intake_case_events_unpublished" in text


async def test_metrics_need_loopback_or_the_token(sqlite_store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = Engine(sqlite_store, flows, clock=clock)
    async with serving(create_app(_services(engine, flows))) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
            assert response.status == 403  # through a reverse proxy on this machine
    secured = _services(engine, flows, metrics_token=SecretStr("s3cret"))
    async with serving(create_app(secured)) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 401
        async with http.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with http.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret"}) as response:
            assert response.status == 200


def test_json_logs_are_one_object_a_line() -> None:
    record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "purged %s", ({"cases": 2},), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.x"
    assert entry["message"] == "purged {'cases': 2}"
    assert entry["time"].endswith("Z")


async def test_the_load_generator_goes_through_whole_journeys(sqlite_store: Store, flows: FlowSet, clock: Clock) -> None:
    """What ``intake bench URL`` and ``make bench`` measure: journeys that end in a case."""
    from bot.loadtest import run

    from bot.channels.abuse import AddressLimits
    from bot.limits import MemoryLimits

    engine = Engine(sqlite_store, flows)
    # One load client is every applicant: no per-address limits (as bench/server.py).
    unlimited = AddressLimits(MemoryLimits(), messages_per_minute=10**9, new_conversations_per_hour=10**9)
    channel = RestChannel(engine, rate_limit_per_minute=10_000, address_limits=unlimited)
    async with serving(create_app(_services(engine, flows), [channel])) as base:
        result = await run(base, concurrency=3, seconds=5, warm_up=0.2)
    assert result.errors == 0 and result.statuses == {"200": result.turns}
    # Journeys are counted when they end inside the measured window, turns as they happen
    # there: a journey begun in the warm-up brings fewer than its turns, so no fixed ratio.
    assert result.journeys >= 1 and result.turns > result.journeys
    assert 0 < result.p50_ms <= result.p99_ms
    assert len(await sqlite_store.cases(limit=100_000)) >= result.journeys


def test_the_benchmark_starts_its_server_and_drives_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``make bench``'s own harness: the server it starts answers its warm-up (a sender id
    the REST channel accepts) and the load generator goes through journeys on it."""
    import asyncio

    from bench.__main__ import server, sqlite_database
    from bot.loadtest import run

    with server("rest", sqlite_database(tmp_path, "bench.db"), pin=False) as (url, _pid):
        result = asyncio.run(run(url, concurrency=2, seconds=2, warm_up=0.2))
    assert result.errors == 0 and result.turns > 0


def test_the_benchmarks_storage_floor_stores_what_a_turn_stores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The storage floor's server keeps, per message, one transcript entry and one stored
    reply, and one conversation per sender, in the store's own schema."""
    import asyncio
    import sqlite3

    from bench.__main__ import server, sqlite_database
    from bot.loadtest import run

    url = sqlite_database(tmp_path, "storage.db")
    with server("floor-turn", url, pin=False) as (base, _pid):
        result = asyncio.run(run(base, concurrency=2, seconds=1, warm_up=0.1, floor=True))
    assert result.errors == 0 and result.turns > 0
    db = sqlite3.connect(tmp_path / "storage.db")
    conversations, entries, replies = (db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                       for t in ("conversations", "transcript", "processed_messages"))
    assert entries >= result.turns and replies == entries - 1  # the warm-up message has no id
    assert entries / conversations <= 22


def test_the_profiles_table_shares_the_event_loops_samples(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``make profile``'s top-down table: shares of the event loop's samples only (not of
    other threads'), a part counted once however deep its frame sits."""
    from bench.profile import top_down

    raw = tmp_path / "turns.txt"
    raw.write_text(
        "main;run_app (aiohttp/web.py:502);Engine.handle (bot/engine/engine.py:74);"
        "Dialogue.respond (bot/engine/dialogue.py:75);Cipher.encrypt (bot/store/crypto.py:77) 3\n"
        "main;run_app (aiohttp/web.py:502);Engine.handle (bot/engine/engine.py:74);"
        "Store.turn (bot/store/store.py:400);Store.turn (bot/store/store.py:410) 1\n"
        "main;run_app (aiohttp/web.py:502);RequestHandler.start (aiohttp/web_protocol.py:600) 4\n"
        "Thread-1;InlineSqlite._checkpoint (bot/store/inline.py:170) 50\n"
    )
    shares = dict(top_down(raw))
    assert shares["the turn (Engine.handle)"] == 50.0
    assert shares["  the dialogue (commands, answers, flows, texts)"] == 37.5
    assert shares["  the store's transaction (lock, begin, load, write, commit)"] == 12.5
    assert shares["  encryption and its JSON, wherever in the turn"] == 37.5
    assert shares["the HTTP request and the event loop (all the rest)"] == 50.0
