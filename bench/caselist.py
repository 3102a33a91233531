"""``python -m bench caselist``: the back office's case list on 100,000 cases, p95.

Seeds a fresh database (SQLite, and PostgreSQL when reachable) with realistic cases in
bulk: rows built through the models (encrypted data, one history event, the blind search
indexes, organisations' sharing and assignees), inserted in batches on one connection,
not one turn each. Then a caseworker of Fedasil (need-to-know rules apply) and an admin
open the case list over HTTP, as a browser does (signed in, the page rendered, the view
audited): the default list (open cases, urgent first) and a filtered one (kind, status,
sorted newest first), page 1 and page 50 each, plus a search by name and a case page
with its possible duplicates. Each line prints p50/p95/max over ``--rounds`` requests;
the target is p95 ≤ 200 ms.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, select

TARGET_MS = 200.0
KIND_WEIGHTS = {"voluntary_return": 25, "protection_appointment": 35, "visa_question": 25, "human_callback": 10,
                "urgent_safety": 5}
FLOW_OF = {"voluntary_return": "voluntary_return", "protection_appointment": "protection_appointment",
           "visa_question": "visa_info", "human_callback": "human_handoff", "urgent_safety": "urgent_help"}
STATUS_WEIGHTS = {"submitted": 30, "in_review": 15, "waiting_for_applicant": 10, "closed": 40, "withdrawn": 5}
LANGUAGES = ("en", "fr", "nl", "de", "ar", "fa", "ps", "ti", "so", "ru", "uk", "tr", "es", "pt", "ro", "sq", "ka", "ku")
FLAGS = ("unaccompanied_minor", "no_shelter_with_children", "urgent_health", "refusal_deadline", "safety")
FIRST = ("Nino", "Mohammed", "Fatima", "Ahmad", "Olena", "Giorgi", "Amina", "Yusuf", "Maryam", "Ali", "Mariam",
         "Abdi", "Hassan", "Khadija", "Omar", "Leila", "Ивана", "Мухаммад", "محمد", "فاطمة", "Aziz", "Samir")
LAST = ("Beridze", "Haidari", "Mohammadi", "Ahmadi", "Shevchenko", "Kapanadze", "Abdullahi", "Hussein", "Nazari",
        "Popescu", "Kovalenko", "Ibrahim", "Yilmaz", "Rahimi", "Safi", "Bekele", "Tesfaye", "Коваленко", "حسين")


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def case_rows(n: int, cipher: Any, now: datetime, assignees: list[int], seed: int = 7) -> tuple[list[dict[str, Any]], ...]:
    """``n`` cases as column dicts of cases, case_events and case_search_terms. The index
    rows are those ``search_index.terms`` makes (checked on the first case), the digests
    of names and dates computed once per value: seeding is not what is measured."""
    from bot.store.search_index import PHONE, applicant_values, digest, terms

    rng = random.Random(seed)
    cases, events, index = [], [], []
    known: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def indexed(case_id: str, applicant: dict[str, str]) -> list[dict[str, str]]:
        pairs = []
        for part in ("name", "date_of_birth"):
            if (part, applicant[part]) not in known:
                known[(part, applicant[part])] = [(f, digest(cipher, f, v))
                                                  for f, v in applicant_values({part: applicant[part]})]
            pairs += known[(part, applicant[part])]
        pairs.append((PHONE, digest(cipher, PHONE, applicant["phone"])))  # already E.164
        return [{"case_id": case_id, "field": f, "digest": d} for f, d in pairs]

    for i in range(n):
        kind = _pick(KIND_WEIGHTS, rng)
        status = _pick(STATUS_WEIGHTS, rng)
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        priority = "urgent" if kind == "urgent_safety" else rng.choices(("normal", "high", "urgent"), (85, 11, 4))[0]
        flags = rng.sample(FLAGS, rng.choice((1, 2))) if rng.random() < 0.12 else []
        applicant = {
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "date_of_birth": (date(1960, 1, 1) + timedelta(days=rng.randrange(45 * 365))).isoformat(),
            "phone": f"+32470{rng.randrange(1_000_000):06d}",
        }
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        cases.append({
            "id": case_id, "reference": f"{_prefix(kind)}-{i:06d}", "kind": kind, "status": status,
            "priority": priority, "flags": flags, "language": rng.choice(LANGUAGES), "channel": "telegram",
            "conversation_id": None, "sender_key": None, "submitted_by": None,
            "data_enc": cipher.encrypt_json({"applicant": applicant, "household": {}, "answers": {},
                                             "consent": None, "flow_id": FLOW_OF[kind]}),
            "created_at": created, "updated_at": created + timedelta(hours=rng.randrange(48)),
            "retention_until": None, "legal_hold_reason": None, "legal_hold_at": None,
            "origin_flow": rng.choice(("voluntary_return", "visa_info", "protection_appointment"))
            if kind == "human_callback" else FLOW_OF[kind],
            "shared_with": ",iom," if kind == "voluntary_return" and rng.random() < 0.3 else "",
            "submitted_org": "ngo" if rng.random() < 0.05 else None,
            "outcome": None, "assignee_id": rng.choice(assignees) if assignees and rng.random() < 0.3 else None,
            "first_answer_at": created + timedelta(hours=6) if status != "submitted" else None,
        })
        events.append({"case_id": case_id, "at": created, "status": "submitted", "actor": "applicant", "note": None})
        index.extend(indexed(case_id, applicant))
        if i == 0:
            assert sorted(map(str, index)) == sorted(map(str, terms(cipher, case_id, applicant)))
    return cases, events, index


def _prefix(kind: str) -> str:
    from bot.cases.kinds import KINDS

    return KINDS[kind].prefix


async def seed(store: Any, n: int, now: datetime) -> dict[str, float]:
    """Bulk-insert ``n`` cases (and staff to assign them to): seconds to build and to insert."""
    from bot.store.models import CaseEvent, CaseRow, CaseSearchTerm, Organisation
    from bot.store.staff import StaffDirectory

    directory = StaffDirectory(store)
    await directory.add_user("admin@bench.example", PASSWORD, "admin", "immigration-office", now)
    await directory.add_user("fedasil@bench.example", PASSWORD, "caseworker", "fedasil", now)
    assignees = [(await directory.add_user(f"cw{i}@bench.example", PASSWORD, "caseworker", "fedasil", now)).id
                 for i in range(10)]
    started = time.perf_counter()
    cases, events, index = case_rows(n, store.cipher, now, assignees)
    built = time.perf_counter() - started
    started = time.perf_counter()
    tables = ((CaseRow.__table__, cases, 2000), (CaseEvent.__table__, events, 5000),
              (CaseSearchTerm.__table__, index, 10000))
    async with store.engine.begin() as conn:
        assert await conn.scalar(select(Organisation.id).limit(1)) is not None
        if store.dialect == "postgresql":
            # COPY, the bulk path of PostgreSQL: the models' tables and columns, asyncpg's binary rows.
            raw = (await conn.get_raw_connection()).driver_connection
            for table, rows, _ in tables:
                columns = [c.name for c in table.columns if c.name in rows[0]]
                records = [tuple(json.dumps(r[c]) if c == "flags" else r[c] for c in columns) for r in rows]
                await raw.copy_records_to_table(table.name, records=records, columns=columns)
        else:
            # The models' INSERT, the driver's executemany on plain tuples (SQLAlchemy's
            # per-value processing would cost more than SQLite's own work).
            raw = (await conn.get_raw_connection()).driver_connection
            for table, rows, _ in tables:
                columns = [c for c in table.columns if c.name in rows[0]]
                sql = str(insert(table).compile(dialect=conn.dialect, column_keys=[c.name for c in columns]))
                await raw.executemany(sql, [
                    tuple(json.dumps(r[c.name]) if c.name == "flags" else
                          _sqlite_time(r[c.name]) if isinstance(r[c.name], datetime) else r[c.name]
                          for c in columns)
                    for r in rows
                ])
    inserted = time.perf_counter() - started
    if store.dialect == "postgresql":
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            # What autovacuum does soon after a bulk load: statistics, and the visibility
            # map that lets index-only scans skip the table.
            await conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    return {"build_s": built, "insert_s": inserted, "index_rows": len(index)}


def _sqlite_time(moment: datetime) -> str:
    """As SQLAlchemy's DateTime writes a UTC time in SQLite (models.UTCDateTime)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


PASSWORD = "bench password, long enough"


def back_office_app(store: Any) -> web.Application:
    from bot.backoffice.web import mount
    from bot.config import Settings

    app = web.Application()
    services = SimpleNamespace(settings=Settings(), store=store,
                               engine=SimpleNamespace(clock=lambda: datetime.now(timezone.utc)))
    mount(app, services)
    return app


async def _signed_in(base: str, email: str) -> aiohttp.ClientSession:
    import re

    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get("/backoffice/login") as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())[1]  # type: ignore[index]
    async with session.post("/backoffice/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False) as response:
        assert response.status == 303, response.status
    return session


async def _timed(session: aiohttp.ClientSession, method: str, path: str, rounds: int,
                 data: Any = None) -> tuple[list[float], float]:
    """Wall times of ``rounds`` requests (after two that warm the caches), and the CPU
    time of this process (server and client both) per request."""
    times = []
    cpu = 0.0
    for i in range(rounds + 2):
        started, started_cpu = time.perf_counter(), time.process_time()
        async with session.request(method, path, data=data) as response:
            body = await response.read()
            assert response.status == 200, (path, response.status, body[:300])
        if i >= 2:
            times.append((time.perf_counter() - started) * 1000)
            cpu += (time.process_time() - started_cpu) * 1000
    return times, cpu / rounds


def _line(label: str, measured: tuple[list[float], float]) -> str:
    times, cpu = measured
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) >= 2 else times[0]
    verdict = "ok" if p95 <= TARGET_MS else "SLOW"
    return (f"  {label:<62} p50 {statistics.median(times):6.1f}  p95 {p95:6.1f}  max {max(times):6.1f} ms"
            f"  CPU {cpu:5.1f} ms  {verdict}")


async def measure(url: str, n: int, rounds: int, label: str) -> None:
    from bot.store.crypto import Cipher, generate_key
    from bot.store.store import Store

    store = Store.connect(url, Cipher([generate_key()]))
    try:
        now = datetime.now(timezone.utc)
        took = await seed(store, n, now)
        print(f"{label}: {n:,} cases seeded in {took['build_s'] + took['insert_s']:.1f} s "
              f"(built {took['build_s']:.1f} s, inserted {took['insert_s']:.1f} s; {took['index_rows']:,} index rows)",
              flush=True)
        runner = web.AppRunner(back_office_app(store), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            for email, who in (("fedasil@bench.example", "caseworker (fedasil)"), ("admin@bench.example", "admin")):
                session = await _signed_in(base, email)
                try:
                    for title, query in (
                        ("open, urgent first", "status=open&sort=priority"),
                        ("voluntary return, in review, newest", "kind=voluntary_return&status=in_review&sort=newest"),
                        ("all statuses, recently changed", "status=all&sort=updated"),
                    ):
                        for page in (1, 50):
                            times = await _timed(session, "GET", f"/backoffice/cases?{query}&page={page}", rounds)
                            print(_line(f"{who}: {title}, page {page}", times), flush=True)
                    async with session.get("/backoffice/search") as page_:
                        import re

                        token = re.search(r'name="csrf_token" value="([^"]+)"', await page_.text())[1]  # type: ignore[index]
                    times = await _timed(session, "POST", "/backoffice/search", rounds,
                                         data={"q": "Mohammed Hussein", "csrf_token": token})
                    print(_line(f"{who}: search by name (two words)", times), flush=True)
                    async with store.reading() as s:
                        from bot.store.models import CaseRow

                        reference = await s.scalar(select(CaseRow.reference).where(CaseRow.kind == "voluntary_return")
                                                   .order_by(CaseRow.created_at.desc()).limit(1))
                    times = await _timed(session, "GET", f"/backoffice/cases/{reference}", rounds)
                    print(_line(f"{who}: a case page with its possible duplicates", times), flush=True)
                finally:
                    await session.close()
        finally:
            await runner.cleanup()
    finally:
        await store.close()


def run(n: int = 100_000, rounds: int = 20) -> None:
    from . import __main__ as bench

    print(f"case list over HTTP on {n:,} cases, {rounds} requests a line (target p95 ≤ {TARGET_MS:.0f} ms); "
          f"CPU: of the process serving and requesting, a request (less than the wall time on a busy machine)")
    with tempfile.TemporaryDirectory() as tmp:
        url = bench.sqlite_database(Path(tmp), "caselist.db")
        asyncio.run(measure(url, n, rounds, "SQLite"))
    base = bench.postgres_url()
    if base is None:
        print("PostgreSQL: not reachable (INTAKE_TEST_POSTGRES_URL), skipped")
        return
    with bench.postgres_database(base) as url:
        asyncio.run(measure(url, n, rounds, "PostgreSQL"))
