"""The store's contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.cases.references import ALPHABET, normalise
from bot.engine import Engine, Inbound
from bot.engine.loader import FlowSet
from bot.store import inline
from bot.store.crypto import Cipher
from bot.cases.draft import CaseDraft
from bot.store.store import Store

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import START, Clock


def draft(**changes: object) -> CaseDraft:
    fields = dict(
        kind="voluntary_return", flow_id="voluntary_return", language="en", channel="test",
        applicant={"name": "Amina Haddad", "phone": "+32470123456"}, household={"adults": 1},
        answers={"destination_country": "MA"}, flags=["health_needs"], priority="high",
        consent={"version": "v1", "given_at": START.isoformat(), "scopes": {"data_processing": True}},
        content_version="2026-11-01",
    )
    fields.update(changes)
    return CaseDraft(**fields)  # type: ignore[arg-type]


async def test_state_survives_a_new_store_on_the_same_database(db_url: str, cipher: Cipher) -> None:
    first = Store.connect(db_url, cipher)
    async with first.turn("test", "s1", START) as turn:
        assert turn.conversation.is_new
        turn.save_state({"flow_id": "voluntary_return", "answers": {"x": 1}}, "fr", START)
    await first.close()
    second = Store.connect(db_url, cipher)
    async with second.turn("test", "s1", START) as turn:
        assert not turn.conversation.is_new
        assert turn.conversation.state == {"flow_id": "voluntary_return", "answers": {"x": 1}}
        assert turn.conversation.language == "fr"
        assert turn.conversation.updated_at == START
    await second.close()


async def test_personal_data_is_encrypted_at_rest(store: Store) -> None:
    async with store.turn("telegram", "123456789", START) as turn:
        turn.save_state({"answers": {"applicant.name": "Amina Haddad"}}, "en", START)
        turn.log("Amina Haddad", ["Thank you"], START)
        turn.remember("m1", [{"text": "Thank you Amina Haddad"}], START)
        await turn.create_case(draft(), START)
    async with store.engine.connect() as conn:
        dump = []
        for table in ("conversations", "transcript", "processed_messages", "cases"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            dump += [repr(tuple(r)) for r in rows]
    everything = "\n".join(dump)
    assert "Amina" not in everything and "Haddad" not in everything
    assert "123456789" not in everything and "32470123456" not in everything


async def test_cases_are_listed_shown_and_carry_history(store: Store) -> None:
    async with store.turn("test", "s1", START) as turn:
        created = await turn.create_case(draft(), START)
    assert re.fullmatch(rf"VR-[{ALPHABET}]{{6}}", created.reference)
    assert normalise(created.reference.lower().replace("-", " ")) == created.reference
    listed = await store.cases(kind="voluntary_return")
    assert [c.reference for c in listed] == [created.reference]
    shown = await store.case(created.reference)
    assert shown is not None
    assert shown.applicant.name == "Amina Haddad" and shown.applicant.phone == "+32470123456"
    assert shown.flags == ["health_needs"] and shown.priority == "high"
    assert [h.status for h in shown.status_history] == ["submitted"]
    assert shown.transcript and shown.transcript.startswith("conversation:")
    assert await store.case("VR-2222222") is None


async def test_references_are_unique(store: Store) -> None:
    references = set()
    async with store.turn("test", "s1", START) as turn:
        for _ in range(30):
            references.add((await turn.create_case(draft(), START)).reference)
    assert len(references) == 30


async def test_a_failed_turn_leaves_nothing_behind(store: Store) -> None:
    async with store.turn("test", "s2", START) as turn:
        turn.save_state({"answers": {"x": 1}}, "en", START)
    for sender in ("s1", "s2"):
        try:
            async with store.turn("test", sender, START) as turn:
                turn.save_state({"answers": {"a": 1}}, "en", START)
                await turn.create_case(draft(), START)
                raise RuntimeError("crash in the middle of a turn")
        except RuntimeError:
            pass
    assert await store.cases() == []
    async with store.turn("test", "s1", START) as turn:
        assert turn.conversation.state is None
    async with store.turn("test", "s2", START) as turn:
        assert turn.conversation.state == {"answers": {"x": 1}}  # the earlier turn's, intact


async def test_turns_of_one_conversation_are_serialized_across_store_instances(db_url: str, cipher: Cipher) -> None:
    """Two Store objects stand for two worker processes sharing the database."""
    workers = [Store.connect(db_url, cipher), Store.connect(db_url, cipher)]
    async with workers[0].turn("test", "shared", START) as turn:
        turn.save_state({"count": 0}, "en", START)

    async def increment(store: Store) -> None:
        async with store.turn("test", "shared", START) as turn:
            count = (turn.conversation.state or {})["count"]
            await asyncio.sleep(0.01)  # widen the window a lost update would need
            turn.save_state({"count": count + 1}, "en", START)

    await asyncio.gather(*(increment(workers[i % 2]) for i in range(10)))
    async with workers[1].turn("test", "shared", START) as turn:
        assert turn.conversation.state == {"count": 10}
    for store in workers:
        await store.close()


async def test_engine_journey_and_duplicates_on_every_backend(store: Store, flows: FlowSet, clock: Clock) -> None:
    engine = Engine(store, flows, clock=clock)
    chat = Chat(engine)
    await chat.say("/voluntary_return", message_id="1")
    replay = await chat.say("/voluntary_return", message_id="1")
    assert chat.field == "consent.data_processing" and replay
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    cases = await store.cases()
    assert len(cases) == 1 and cases[0].applicant.name == "Nino Beridze"


async def test_concurrent_turns_through_two_engines(store: Store, db_url: str, cipher: Cipher, flows: FlowSet, clock: Clock) -> None:
    other = Store.connect(db_url, cipher)
    one, two = Engine(store, flows, clock=clock), Engine(other, flows, clock=clock)
    chat = Chat(one)
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
    first, second = await asyncio.gather(
        one.handle(Inbound(channel="test", sender_id=chat.sender, text="2", message_id="x1")),
        two.handle(Inbound(channel="test", sender_id=chat.sender, text="1", message_id="x2")),
    )
    fields = sorted(r[-1].expects.field for r in (first, second) if r[-1].expects)
    assert fields == ["household.children", "travel_document"]
    await other.close()


async def test_purge_keeps_transcripts_that_a_case_refers_to(store: Store) -> None:
    async with store.turn("test", "with-case", START) as turn:
        turn.save_state({"flow_id": "x"}, "en", START)
        turn.log("hello", ["Hello"], START)
        await turn.create_case(draft(), START)
    async with store.turn("test", "no-case", START) as turn:
        turn.save_state({"flow_id": "x"}, "en", START)
        turn.log("hello", ["Hello"], START)
        turn.remember("m1", [], START)
    counts = await store.purge(START + timedelta(days=2), idle=timedelta(hours=24))
    assert counts == {
        "conversations": 2, "transcript_entries": 1, "processed_messages": 1, "jobs": 0,
        "cases_dated": 0, "cases_erased": 0, "conversations_erased": 0,
    }


async def test_on_sqlite_a_turn_waits_for_another_process_without_blocking_the_loop(
    sqlite_url: str, sqlite_store: Store
) -> None:
    """SQLite turns run on the loop's thread (bot/store/inline.py): while another process
    holds the write lock, the turn must wait by sleeping, so other work goes on."""
    other_process = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def loop_alive() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def a_turn() -> None:
        async with sqlite_store.turn("test", "waiting", START) as turn:
            turn.save_state({"answers": {"x": 1}}, "en", START)

    ticker = asyncio.create_task(loop_alive())
    waiting = asyncio.create_task(a_turn())
    await asyncio.sleep(0.2)
    assert not waiting.done() and ticks >= 10
    other_process.execute("COMMIT")
    other_process.close()
    await asyncio.wait_for(waiting, 5)
    ticker.cancel()
    async with sqlite_store.turn("test", "waiting", START) as turn:
        assert turn.conversation.state == {"answers": {"x": 1}}


async def test_on_sqlite_the_wal_is_checkpointed_off_the_loop(
    sqlite_url: str, cipher: Cipher, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(inline, "CHECKPOINT_EVERY", 3)
    store = Store.connect(sqlite_url, cipher)
    checkpoints = []
    original = inline.InlineSqlite._checkpoint
    def counted(self: inline.InlineSqlite) -> tuple[int, int, int]:
        checkpoints.append(result := original(self))
        return result

    monkeypatch.setattr(inline.InlineSqlite, "_checkpoint", counted)
    for i in range(10):
        async with store.turn("test", f"s{i}", START) as turn:
            turn.save_state({"n": i}, "en", START)
        await asyncio.sleep(0.01)
    await store.close()
    assert len(checkpoints) == 3
    assert "checkpoint failed" not in caplog.text
    database = sqlite3.connect(make_url(sqlite_url).database)
    assert database.execute("SELECT count(*) FROM conversations").fetchone() == (10,)
    database.close()


async def test_on_sqlite_the_wal_is_started_over_under_steady_load(
    sqlite_url: str, cipher: Cipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Turns that never pause would leave every checkpoint behind the end of the log, and
    SQLite starts the log over only after one catches up: it would grow without end."""
    monkeypatch.setattr(inline, "CHECKPOINT_EVERY", 20)
    monkeypatch.setattr(inline, "WAL_RESTART_FRAMES", 50)
    store = Store.connect(sqlite_url, cipher)
    big = {"answers": {f"q{i}": "x" * 200 for i in range(40)}}  # a few pages a turn

    async def talk(sender: str) -> None:
        for _ in range(150):
            async with store.turn("test", sender, START) as turn:
                turn.save_state(big, "en", START)
            await asyncio.sleep(0)  # as a server between two requests

    await asyncio.gather(*(talk(f"s{i}") for i in range(4)))
    wal = Path(make_url(sqlite_url).database + "-wal")
    pages = wal.stat().st_size // 4096
    await store.close()
    assert pages < 600 * 3 // 2, f"the WAL grew to {pages} pages for 600 turns"


async def test_the_generic_session_path_keeps_the_same_contract(sqlite_url: str, cipher: Cipher, flows: FlowSet, clock: Clock) -> None:
    """Drivers other than SQLite's file and asyncpg run a turn's statements through the
    AsyncSession (turn_rows.SessionRows): here forced on SQLite through aiosqlite."""
    store = Store.connect(sqlite_url, cipher)
    store._inline = None
    engine = Engine(store, flows, clock=clock)
    chat = Chat(engine)
    await chat.say("/voluntary_return", message_id="1")
    assert await chat.say("/voluntary_return", message_id="1") == chat.replies
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    (case,) = await store.cases()
    assert case.applicant.name == "Nino Beridze"
    assert len(await store.transcript(int(case.transcript.split(":")[1]))) > 20  # type: ignore[union-attr]
    await chat.say("/forget")
    await chat.say("yes")
    assert await store.cases() == []
    assert [e.reference for e in await store.erasures()] == [case.reference]
    await store.close()


async def test_the_migrations_build_exactly_the_models_tables(store: Store) -> None:
    """A column added to models.py without its Alembic migration (or the reverse) fails
    here, on SQLite and on PostgreSQL, before it fails in a deployment."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store.models import Base

    async with store.engine.connect() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert differences == []
