"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.engine import Engine
from bot.engine.loader import FlowSet, load_flows
from bot.resources import FLOWS_DIR
from bot.store.crypto import Cipher, generate_key
from bot.store.migrate import upgrade
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

TABLES = (
    "alert_deliveries", "alerts", "case_link_codes", "assisted_intakes", "webhook_deliveries", "webhooks", "outbox_events",
    "api_tokens", "key_checks", "erased_cases", "whatsapp_messages", "whatsapp_contacts", "login_failures", "login_challenges",
    "audit_log", "staff_sessions", "case_search_terms", "case_notes", "case_steps", "jobs", "bookings", "slots", "case_events", "cases",
    "staff_users", "processed_messages", "transcript", "conversations",
)
"""Every table, children first (what a PostgreSQL test database is emptied of)."""
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _postgres_url() -> str | None:
    url = os.environ.get("INTAKE_TEST_POSTGRES_URL", DEFAULT_PG)
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return url
    except OSError:
        if os.environ.get("INTAKE_REQUIRE_POSTGRES"):
            raise RuntimeError(f"PostgreSQL is required but not reachable at {url}") from None
        return None


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password, database=parsed.database or "postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _seeds() -> str:
    """SQL that puts the organisations and need-to-know rules back as a fresh database has
    them (the admin tests change them)."""
    import importlib.util

    from bot.store.migrate import MIGRATIONS

    spec = importlib.util.spec_from_file_location("seeds_0004", MIGRATIONS / "versions" / "0004_back_office.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ids = ", ".join(str(i) for i, _, _ in module.ORGANISATIONS)
    rules = ", ".join(f"('{k}', {o}, '{r}')" for k, o, r in module.KIND_ACCESS)
    return (
        f"DELETE FROM kind_access; DELETE FROM organisations WHERE id NOT IN ({ids}); "
        f"INSERT INTO kind_access (kind, organisation_id, rule) VALUES {rules}"
    )


_SEEDS = _seeds()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh database for this test session, migrated; dropped at the end."""
    base = _postgres_url()
    if base is None:
        yield None
        return
    name = f"intake_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "intake.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database; the test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "intake.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    if url is None:
        pytest.skip("PostgreSQL is not reachable (set INTAKE_TEST_POSTGRES_URL)")
    return empty_postgres(url)


def empty_postgres(url: str) -> str:
    """Empty the shared test database (what every PostgreSQL test starts from): no rows,
    the seeded organisations and rules, and no key recorded (each test's servers may use
    keys of their own)."""
    # DELETE, children first: on these few rows about ten times faster than TRUNCATE. The
    # audit log refuses DELETE (a trigger): only a superuser's replica mode passes it by.
    asyncio.run(_admin(url, "SET session_replication_role = replica; "
                       + "; ".join(f"DELETE FROM {table}" for table in TABLES)
                       + "; SET session_replication_role = DEFAULT; " + _SEEDS))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "intake.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def flows() -> FlowSet:
    return load_flows(FLOWS_DIR)


@pytest.fixture(scope="session")
def cipher() -> Cipher:
    return Cipher([generate_key()])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_url: str, cipher: Cipher) -> AsyncIterator[Store]:
    store = Store.connect(db_url, cipher)
    yield store
    await store.close()


@pytest.fixture
async def sqlite_store(sqlite_url: str, cipher: Cipher) -> AsyncIterator[Store]:
    store = Store.connect(sqlite_url, cipher)
    yield store
    await store.close()


@pytest.fixture
def engine(sqlite_store: Store, flows: FlowSet, clock: Clock) -> Engine:
    """The engine on SQLite; tests that must run on both backends use ``store``."""
    return Engine(sqlite_store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples", type=int, default=None,
        help="examples per conversation fuzzer test (tests/test_fuzz.py); default: a short, "
        "derandomized run; given: that many random examples",
    )
