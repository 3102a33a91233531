"""The REST channel over loopback HTTP, against the floor of a bare handler.

Each simulated applicant runs the whole voluntary-return journey, clicking the button
when the question offers one (a "button turn") and typing otherwise; the server runs in
its own process so the load client does not share its core.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp

from .answers import answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("benchmark server exited")
            try:
                async with session.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                        json={"sender": "warm-up-5c9e1f3a7b", "message": "/start"}) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("benchmark server did not start")


def _expected_field(replies: list[dict[str, Any]]) -> str | None:
    expects = next((r["custom"]["expects"] for r in reversed(replies) if r.get("custom", {}).get("expects")), None)
    return None if expects is None else str(expects["field"])


async def _journey(session: aiohttp.ClientSession, url: str, sender: str, latencies: list[float], floor: bool) -> int:
    async def post(message: str) -> list[dict[str, Any]]:
        start = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": message}) as response:
            body = await response.json()
            assert response.status == 200, body
        latencies.append(time.perf_counter() - start)
        return body  # type: ignore[no-any-return]

    if floor:
        for i in range(27):
            await post(f"answer {i}")
        return 27
    turns = 1
    field = _expected_field(await post("/voluntary_return"))
    previous = None
    while field is not None:
        previous, field = field, _expected_field(await post(answer(field, previous)))
        turns += 1
    await post("/confirm")
    return turns + 1


async def _load(port: int, concurrency: int, conversations: int, floor: bool) -> tuple[int, float, list[float]]:
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    latencies: list[float] = []
    queue = list(range(conversations))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> int:
            done = 0
            while queue:
                done += await _journey(session, url, f"load-{queue.pop()}-5c9e1f3a7b2d", latencies, floor)
            return done

        start = time.perf_counter()
        turns = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
        return turns, time.perf_counter() - start, latencies


def run(label: str, mode: str, db_url: str, concurrency: int, conversations: int) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--mode", mode, "--url", db_url, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        asyncio.run(_wait_ready(port, proc))
        turns, elapsed, latencies = asyncio.run(_load(port, concurrency, conversations, mode.startswith("floor")))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{label:<34} {turns:>6} turns {turns / elapsed:>8.0f} turns/s   "
        f"p50 {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   ({concurrency} concurrent)"
    )
