"""Several ``intake serve`` processes on one PostgreSQL database (``--workers N``).

Real processes: one conversation's turns never interleave, each reminder is claimed by
one worker, migrations run once when workers start together; and what cannot work with
several workers (SQLite, Telegram polling) is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.store.crypto import Cipher, generate_key
from bot.store.models import Job
from bot.store.store import Store

from .conftest import _admin, _postgres_url, empty_postgres
from .serving import free_port

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


def _run_together(*commands: list[str]) -> list[object]:
    """Start every command at once; what each printed (one JSON value)."""
    procs = [subprocess.Popen([sys.executable, "-m", "tests.processes", *c], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve", *args], env=env, text=True,
                          capture_output=True, timeout=60, cwd=ROOT)


def test_several_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "INTAKE_DATA_DIR": str(tmp_path), "INTAKE_DATABASE_URL": ""}
    done = _serve(env, "--workers", "2")
    assert done.returncode == 2
    assert "--workers 2 needs PostgreSQL" in done.stderr


def test_several_workers_are_refused_with_telegram_polling(tmp_path: Path, postgres_database: str | None) -> None:
    env = {**os.environ, "INTAKE_DATA_DIR": str(tmp_path), "TELEGRAM_BOT_TOKEN": "123:abc", "INTAKE_PUBLIC_URL": "",
           "INTAKE_DATABASE_URL": postgres_database or "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    done = _serve(env, "--workers", "3")
    assert done.returncode == 2
    assert "cannot poll Telegram" in done.stderr


@pytest.fixture
def pg(postgres_database: str | None) -> str:
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set INTAKE_TEST_POSTGRES_URL)")
    # Each test's servers use keys of their own: no rows or keys another test left.
    return empty_postgres(postgres_database)


@pytest.mark.postgres
def test_one_conversation_takes_one_turn_at_a_time_across_processes(pg: str) -> None:
    key, sender = generate_key(), f"shared-{uuid.uuid4().hex}"
    first, second = _run_together(["turns", pg, key, sender, "40"], ["turns", pg, key, sender, "40"])
    assert isinstance(first, list) and isinstance(second, list)
    # Every increment is kept: each process saw the other's turns, never in the middle of one.
    assert sorted(first + second) == list(range(1, 81))


@pytest.mark.postgres
def test_each_reminder_is_claimed_by_one_of_two_workers(pg: str) -> None:
    key = generate_key()

    async def add_jobs() -> list[int]:
        store = Store.connect(pg, Cipher([key]))
        now = datetime.now(timezone.utc)
        async with store.turn("test", f"reminded-{uuid.uuid4().hex[:8]}", now) as turn:
            conversation_id = turn.conversation.id
            turn.save_state({}, "en", now)
        async with store._sessions() as session, session.begin():
            jobs = [Job(kind="test", due_at=now - timedelta(seconds=1), status="pending", attempts=0,
                        conversation_id=conversation_id, payload_enc=store.cipher.encrypt_json({}), created_at=now)
                    for _ in range(60)]
            session.add_all(jobs)
            await session.flush()
            ids = [job.id for job in jobs]
        await store.close()
        return ids

    ids = asyncio.run(add_jobs())
    first, second = _run_together(["reminders", pg, key], ["reminders", pg, key])
    assert isinstance(first, list) and isinstance(second, list)
    assert not set(first) & set(second), "a reminder was delivered by both workers"
    assert sorted(first + second) == sorted(ids)
    assert first and second, "one worker did all the work: the test proved nothing"


@pytest.mark.postgres
def test_workers_starting_together_migrate_once() -> None:
    base = _postgres_url()
    if base is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"intake_migrate_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        assert _run_together(*(["upgrade", url, "-"] for _ in range(3))) == ["ok", "ok", "ok"]
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_two_workers_share_the_port_and_stop_together(pg: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "INTAKE_DATA_DIR": str(tmp_path), "INTAKE_DATABASE_URL": pg, "INTAKE_LOG_LEVEL": "INFO",
           "INTAKE_NLU_MODEL_PATH": str(Settings().nlu_model_path)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--workers", "2", "--port", str(port)],
                            env=env, cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids: set[int] = set()
    try:
        pids = _answering_pids(port)
        if len(pids) == 2:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        log = proc.stderr.read()
        proc.stderr.close()
    assert len(pids) == 2, f"one worker answered everything: {pids}\n{log[-3000:]}"
    assert "all workers stopped" in log


def _answering_pids(port: int) -> set[int]:
    """The worker processes that answered, from the socket of each new connection."""
    deadline = time.monotonic() + 60
    pids: set[int] = set()
    while time.monotonic() < deadline and len(pids) < 2:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                pids.add(int(json.loads(response.read())["worker"]["pid"]))
        except OSError:
            time.sleep(0.3)
    return pids
