"""Faults, with real processes and a real database: a worker killed in the middle of a
turn, PostgreSQL out of reach for a while, SQLite's disk full. No turn is lost, none is
stored twice or by halves, and the server recovers without a restart where it can."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.channels.rest import RestChannel
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.crypto import Cipher, generate_key
from bot.store.database import advisory_key
from bot.store.store import Store

from .conftest import Clock, empty_postgres
from .serving import free_port, serving, services_for
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def post(base: str, sender: str, message: str, message_id: str, timeout: float = 30) -> tuple[int, Any, dict[str, str]]:
    body = json.dumps({"sender": sender, "message": message, "metadata": {"message_id": message_id}}).encode()
    request = urllib.request.Request(f"{base}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), dict(error.headers)


def expects(replies: list[dict[str, Any]]) -> str | None:
    return next((r["custom"]["expects"]["field"] for r in reversed(replies)
                 if r.get("custom", {}).get("expects")), None)


class Server:
    """``intake serve`` in a process of its own."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--no-migrate", "--port", str(self.port)],
                                     env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def pg(postgres_database: str | None) -> str:
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set INTAKE_TEST_POSTGRES_URL)")
    # Each test's servers use keys of their own: no rows or keys another test left.
    return empty_postgres(postgres_database)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def _env(tmp_path: Path, database_url: str, key: str) -> dict[str, str]:
    return {**os.environ, "INTAKE_DATA_DIR": str(tmp_path), "INTAKE_DATABASE_URL": database_url,
            "INTAKE_SECRET_KEYS": key, "INTAKE_LOG_LEVEL": "WARNING",
            "INTAKE_NLU_MODEL_PATH": str(Settings().nlu_model_path)}


async def _pg(url: str, sql: str, *args: Any) -> Any:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                 password=parsed.password, database=parsed.database)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.mark.postgres
def test_a_worker_killed_mid_turn_leaves_nothing_and_the_retry_is_answered_once(
    pg: str, tmp_path: Path, servers: list[Server]
) -> None:
    key, sender = generate_key(), f"killed-{uuid.uuid4().hex}"
    env = _env(tmp_path, pg, key)
    servers.append(server := Server(env))
    status, replies, _ = post(server.base, sender, "/voluntary_return", "m1")
    assert status == 200 and expects(replies) == "consent.data_processing"

    # Hold the conversation's lock from outside: the worker's next turn begins its
    # transaction, then waits in the middle, where it is killed.
    sender_key = Cipher([key]).lookup_hash("rest", sender)
    holder_ready, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        async def hold() -> None:
            import asyncpg

            parsed = make_url(pg)
            conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                         database=parsed.database)
            await conn.execute("SELECT pg_advisory_lock($1)", advisory_key(sender_key))
            holder_ready.set()
            while not release.is_set():
                await asyncio.sleep(0.05)
            await conn.close()

        asyncio.run(hold())

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holder_ready.wait(10)
    cut_off: list[BaseException] = []

    def answer() -> None:
        try:
            post(server.base, sender, "yes", "m2", timeout=20)
        except OSError as error:  # the worker died with the request in flight
            cut_off.append(error)

    answering = threading.Thread(target=answer)
    answering.start()
    deadline = time.monotonic() + 20
    while asyncio.run(_pg(pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")) == 0:
        assert time.monotonic() < deadline, "the turn never reached the lock"
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    release.set()
    holder.join(10)
    answering.join(30)
    assert cut_off, "the request should have been cut off by the kill"

    count = "SELECT count(*) FROM {} t JOIN conversations c ON c.id = t.conversation_id WHERE c.sender_key = $1"
    assert asyncio.run(_pg(pg, count.format("transcript"), sender_key)) == 1  # the killed turn left nothing
    servers.append(again := Server(env))
    first = post(again.base, sender, "yes", "m2")
    second = post(again.base, sender, "yes", "m2")
    assert first[0] == 200 and expects(first[1]) == "destination_country"
    assert second[1] == first[1]  # the retry is answered from what was said, not handled twice
    assert asyncio.run(_pg(pg, count.format("transcript"), sender_key)) == 2
    assert asyncio.run(_pg(pg, count.format("processed_messages"), sender_key)) == 2


@pytest.mark.postgres
def test_postgresql_out_of_reach_is_a_503_then_the_server_recovers_by_itself(
    pg: str, tmp_path: Path, servers: list[Server]
) -> None:
    parsed = make_url(pg)
    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
        through = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        servers.append(server := Server(_env(tmp_path, through, generate_key())))
        sender = f"outage-{uuid.uuid4().hex}"
        assert post(server.base, sender, "/voluntary_return", "o1")[0] == 200

        proxy.cut()
        started = time.monotonic()
        status, body, headers = post(server.base, sender, "yes", "o2")
        assert status == 503, body
        assert body == {"error": "the service cannot reach its database now; try again shortly"}
        assert int(headers["Retry-After"]) > 0
        assert time.monotonic() - started < 15, "a refusal must not wait for long timeouts"
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"{server.base}/readyz", timeout=15)
        assert not_ready.value.code == 503
        not_ready.value.close()

        proxy.restore()
        deadline, status = time.monotonic() + 20, 0
        while status != 200 and time.monotonic() < deadline:
            status, replies, _ = post(server.base, sender, "yes", "o2")
            time.sleep(0.2 if status != 200 else 0)
        assert status == 200 and expects(replies) == "destination_country"  # the same process, no restart
        assert server.proc.poll() is None


async def test_a_full_disk_on_sqlite_is_a_clear_503_and_nothing_half_written(
    sqlite_store: Store, flows: FlowSet, clock: Clock
) -> None:
    engine = Engine(sqlite_store, flows, clock=clock)
    inline = sqlite_store._inline
    assert inline is not None
    async with serving(create_app(services_for(engine, flows), [RestChannel(engine)])) as base, \
            aiohttp.ClientSession() as http:
        async def say(message: str, message_id: str) -> tuple[int, Any, Any]:
            body = {"sender": "disk-full-sender-5b7e2c91", "message": message, "metadata": {"message_id": message_id}}
            async with http.post(f"{base}/webhooks/rest/webhook", json=body) as response:
                return response.status, await response.json(), response.headers.get("Retry-After")

        assert (await say("/voluntary_return", "f1"))[0] == 200
        raw = inline._connection()
        rows = "SELECT (SELECT count(*) FROM transcript), (SELECT count(*) FROM processed_messages), " \
               "(SELECT state_enc FROM conversations)"
        before = raw.execute(rows).fetchone()
        raw.execute(f"PRAGMA max_page_count = {raw.execute('PRAGMA page_count').fetchone()[0]}")
        long_text = "x" * 1900  # an entry that needs a page of its own
        status, body, retry_after = await say(long_text, "f2")
        assert (status, body) == (503, {"error": "the service cannot store messages now (its storage is full); "
                                                  "try again later"})
        assert retry_after is not None
        assert raw.execute(rows).fetchone() == before  # nothing of the turn was kept

        raw.execute("PRAGMA max_page_count = 1073741823")
        first = await say(long_text, "f2")
        assert first[0] == 200
        assert await say(long_text, "f2") == first  # answered once, then from what was said
        after = raw.execute(rows).fetchone()
        assert (after[0], after[1]) == (before[0] + 1, before[1] + 1)


@pytest.mark.postgres
def test_a_dump_restored_into_a_fresh_database_continues_the_journey(pg: str, tmp_path: Path) -> None:
    """docs/OPERATIONS.md's backup and restore, as written there: pg_dump -Fc, then
    pg_restore into an empty database, with the same keys."""
    from .conftest import _admin

    key, sender = generate_key(), f"restored-{uuid.uuid4().hex}"
    flows_engine = Engine(Store.connect(pg, Cipher([key])), _flows())

    async def say(engine: Engine, text: str) -> str | None:
        from bot.engine import Inbound

        replies = await engine.handle(Inbound(channel="rest", sender_id=sender, text=text))
        return next((r.expects.field for r in reversed(replies) if r.expects), None)

    async def before() -> None:
        assert await say(flows_engine, "/voluntary_return") == "consent.data_processing"
        assert await say(flows_engine, "yes") == "destination_country"
        await flows_engine.store.close()

    asyncio.run(before())
    parsed = make_url(pg)
    dump = tmp_path / "intake.dump"
    connection = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    subprocess.run(["pg_dump", "-Fc", *connection, "-f", str(dump), parsed.database or ""], check=True, timeout=60)
    fresh = f"intake_restored_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg, f'CREATE DATABASE "{fresh}"'))
    try:
        subprocess.run(["pg_restore", "--no-owner", *connection, "-d", fresh, str(dump)], check=True, timeout=60)
        restored = Engine(Store.connect(parsed.set(database=fresh).render_as_string(hide_password=False),
                                        Cipher([key])), _flows())

        async def after() -> None:
            assert await say(restored, "Georgia") == "applicant.nationality"  # where it was, answers kept
            await restored.store.close()

        asyncio.run(after())
    finally:
        asyncio.run(_admin(pg, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))


def _flows() -> FlowSet:
    from bot.engine.loader import load_flows
    from bot.resources import FLOWS_DIR

    return load_flows(FLOWS_DIR)
