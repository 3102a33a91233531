"""Webhook delivery with real processes on one PostgreSQL database: two delivery workers
share the outbox without losing or doubling an event, and an ``intake serve`` killed in
the middle of a delivery loses nothing (the delivery it was making arrives again, with the
same key and body, after its lease)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.casework import Casework
from bot.store.crypto import Cipher, generate_key
from bot.store.models import WebhookDelivery
from bot.store.outbox import EVENTS, Webhooks
from bot.store.store import Store
from bot.webhooks import verify

from .backoffice_cases import make_case
from .conftest import START, empty_postgres
from .serving import free_port
from .test_faults import Server, _env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parent.parent
SECRET = "a-long-enough-webhook-secret"


@pytest.fixture
def pg(postgres_database: str | None) -> str:
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set INTAKE_TEST_POSTGRES_URL)")
    return empty_postgres(postgres_database)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A receiver in a process of its own: each request a JSON line in a file, answered
    after a short wait (so that deliveries overlap, and a kill finds one in flight)."""
    port, log = free_port(), tmp_path / "received.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.webhook_receiver", str(port), str(log), "--delay", "0.3"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    assert proc.poll() is None
    yield f"http://127.0.0.1:{port}/hook", log
    proc.kill()
    proc.wait(timeout=10)


def received(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def _cases(url: str, key: str, count: int, hook_url: str | None) -> list[str]:
    """``count`` voluntary-return cases, each with one status change: two events each."""
    store = Store.connect(url, Cipher([key]))
    try:
        if hook_url:
            await Webhooks(store).add("fedasil", hook_url, ",".join(EVENTS), SECRET, actor="test", now=START)
        references = []
        for n in range(count):
            case = await make_case(store, START, "voluntary_return", "voluntary_return", sender=f"p-{n}")
            await Casework(store).change_status(case.reference, "in_review", "looking", None, "ana", START)
            references.append(case.reference)
        return references
    finally:
        await store.close()


async def _keys(url: str, key: str) -> dict[str, str]:
    store = Store.connect(url, Cipher([key]))
    try:
        async with store.reading() as session:
            return {k: s for k, s in (await session.execute(select(WebhookDelivery.key, WebhookDelivery.status))).all()}
    finally:
        await store.close()


async def _statuses(url: str, key: str) -> list[str]:
    store = Store.connect(url, Cipher([key]))
    try:
        async with store.reading() as session:
            return list((await session.scalars(select(WebhookDelivery.status))).all())
    finally:
        await store.close()


def check(lines: list[dict[str, Any]], references: list[str]) -> dict[str, dict[str, Any]]:
    """Every event at least once, one body per key, valid signatures, order per case kept."""
    by_key: dict[str, dict[str, Any]] = {}
    for line in lines:
        assert verify(SECRET, line["signature"], line["body"], now=time.time())
        assert by_key.setdefault(line["key"], line)["body"] == line["body"]
    documents = [json.loads(line["body"]) for line in by_key.values()]
    for reference in references:
        mine = [d for d in documents if d["case"]["reference"] == reference]
        assert [d["event"] for d in mine] == ["case.created", "case.updated"], reference
    assert len(by_key) == 2 * len(references)
    return by_key


def test_two_delivery_workers_deliver_each_event_once(pg: str, receiver: tuple[str, Path]) -> None:
    key = generate_key()
    hook_url, log = receiver
    references = asyncio.run(_cases(pg, key, 12, hook_url))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.processes", "webhooks", pg, key], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    claimed = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        claimed.append(json.loads(out.strip().splitlines()[-1]))
    lines = received(log)
    check(lines, references)
    assert len(lines) == 24, "no worker died: each delivery went out once"
    assert sum(claimed) == 24 and all(n > 0 for n in claimed), claimed  # both took a share
    assert asyncio.run(_statuses(pg, key)) == ["delivered"] * 24


def test_a_server_killed_mid_delivery_loses_nothing(
    pg: str, tmp_path: Path, receiver: tuple[str, Path]
) -> None:
    key = generate_key()
    hook_url, log = receiver
    env = {**_env(tmp_path, pg, key), "INTAKE_WEBHOOK_INTERVAL_SECONDS": "0.2", "INTAKE_WEBHOOK_TIMEOUT_SECONDS": "1",
           "INTAKE_WEBHOOK_BACKOFF_SECONDS": "0.5"}
    # The webhook through the CLI, as an operator adds it.
    added = subprocess.run([sys.executable, "-m", "bot.cli", "webhooks", "add", hook_url, "--org", "fedasil",
                            "--events", ",".join(EVENTS), "--secret-stdin"], input=SECRET + "\n", env=env, cwd=ROOT,
                           text=True, capture_output=True, timeout=120, check=False)
    assert added.returncode == 0, added.stderr
    references = asyncio.run(_cases(pg, key, 8, None))
    first = Server(env)
    try:
        deadline = time.monotonic() + 60
        while len(received(log)) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15)  # in the middle of the next deliveries (each takes 0.3 s to answer)
    finally:
        first.stop(signal.SIGKILL)
    time.sleep(0.5)  # what the receiver was answering when the server died is written now
    at_kill = asyncio.run(_keys(pg, key))
    assert len(at_kill) == 16 and set(at_kill.values()) != {"delivered"}, at_kill
    got_unrecorded = {line["key"] for line in received(log)} - {k for k, s in at_kill.items() if s == "delivered"}
    again = Server(env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if set(asyncio.run(_keys(pg, key)).values()) == {"delivered"}:
                break
            time.sleep(0.3)
    finally:
        again.stop()
    lines = received(log)
    check(lines, references)
    assert set(asyncio.run(_keys(pg, key)).values()) == {"delivered"}
    # Nothing lost; what the receiver had got but the server had not recorded came again,
    # with the same key and body (checked above): at least once, never more than that.
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["key"]] = counts.get(line["key"], 0) + 1
    assert {k for k, n in counts.items() if n > 1} == got_unrecorded
    assert set(counts.values()) <= {1, 2}
