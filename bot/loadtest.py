"""A load generator for the REST channel: ``intake bench URL`` and ``make bench``.

Many simulated applicants, each going through the whole voluntary-return journey
(about 22 turns: a button when the question offers one, typed text otherwise, each
message with its own ``metadata.message_id`` as the web chat sends it), as a closed
loop: every applicant sends its next message when the answer to the last one came.
Every journey is a new sender, so a per-sender rate limit (60 a minute, with a burst of
60) is never reached; a per-address limit would be, from one machine: the numbers of
429s are printed, and ``make bench`` runs its server with the limits off.

It runs in a process of its own (``python -m bot.loadtest``, pinned to one core with
``--cpu``) so that it never competes with the server for the interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import aiohttp

ANSWERS = {
    "consent.data_processing": "yes", "destination_country": "Georgia", "applicant.nationality": "GE",
    "admin_status": "asylum_rejected", "in_reception": "yes", "reception_centre": "Petit-Château",
    "unaccompanied_minor": "no", "household.adults": "2", "household.children": "1",
    "travel_document": "valid", "assisted_return_last_5y": "no", "health_needs": "no",
    "reintegration_interest": "2, 3", "departure_from": (date.today() + timedelta(days=60)).strftime("%d/%m/%Y"),
    "applicant.name": "Nino Beridze", "applicant.preferred_contact": "phone", "applicant.phone": "0470 12 34 56",
    "consent.share_fedasil": "yes", "consent.share_iom": "yes", "consent.share_caritas": "no",
}
"""What the scripted applicants answer, by the field each question names in ``expects``."""


class Stuck(RuntimeError):
    """The bot asked again what it was just told: the journey would never end."""


@dataclass
class Result:
    label: str = ""
    concurrency: int = 0
    seconds: float = 0.0
    turns: int = 0
    journeys: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0

    @property
    def journeys_per_s(self) -> float:
        return self.journeys / self.seconds if self.seconds else 0.0


def _expected_field(replies: list[dict[str, Any]]) -> str | None:
    for reply in reversed(replies):
        expects = (reply.get("custom") or {}).get("expects")
        if expects:
            return str(expects["field"])
    return None


class _Run:
    def __init__(self, url: str, deadline: float, floor: bool) -> None:
        self.url = url.rstrip("/") + "/webhooks/rest/webhook"
        self.deadline = deadline
        self.floor = floor
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.turns = self.journeys = self.errors = 0
        self.measuring = False

    async def post(self, http: aiohttp.ClientSession, sender: str, message: str) -> list[dict[str, Any]] | None:
        body = {"sender": sender, "message": message, "metadata": {"message_id": uuid.uuid4().hex}}
        started = time.perf_counter()
        try:
            async with http.post(self.url, json=body) as response:
                replies = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, ValueError, asyncio.TimeoutError) as exc:
            replies, status = None, type(exc).__name__
        if self.measuring:
            self.latencies.append(time.perf_counter() - started)
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            self.turns += 1
            if status != 200:
                self.errors += 1
        if status == 429:
            await asyncio.sleep(0.5)
        return replies if status == 200 and isinstance(replies, list) else None

    async def applicant(self, http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < self.deadline:
            sender = f"bench-{uuid.uuid4().hex}"
            if self.floor:
                for i in range(22):
                    await self.post(http, sender, f"answer {i}")
                self.journeys += self.measuring
                continue
            replies = await self.post(http, sender, "/voluntary_return")
            previous, done = None, False
            while replies is not None and time.perf_counter() < self.deadline:
                wanted = _expected_field(replies)
                if wanted is None:
                    replies = await self.post(http, sender, "/confirm")
                    done = replies is not None
                    break
                if wanted == previous:
                    raise Stuck(f"the answer to {wanted!r} was refused")
                previous = wanted
                replies = await self.post(http, sender, ANSWERS[wanted])
            self.journeys += done and self.measuring


async def run(url: str, *, concurrency: int, seconds: float, warm_up: float = 2.0, floor: bool = False,
              label: str = "") -> Result:
    """``concurrency`` applicants for ``warm_up`` + ``seconds``; only the last ``seconds`` count."""
    started = time.perf_counter()
    job = _Run(url, started + warm_up + seconds, floor)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    cpu = _cpu()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        async def measure() -> float:
            await asyncio.sleep(warm_up)
            job.measuring = True
            return time.perf_counter()

        applicants = [asyncio.create_task(job.applicant(http)) for _ in range(concurrency)]
        began = await measure()
        cpu = _cpu()
        await asyncio.gather(*applicants)
        elapsed = time.perf_counter() - began
    ms = sorted(x * 1000 for x in job.latencies) or [0.0]

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(len(ms) * p))], 2)

    return Result(label=label, concurrency=concurrency, seconds=round(elapsed, 2), turns=job.turns,
                  journeys=job.journeys, errors=job.errors, statuses=job.statuses,
                  p50_ms=pct(0.5), p95_ms=pct(0.95), p99_ms=pct(0.99), client_cpu_s=round(_cpu() - cpu, 2))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def row(result: Result) -> str:
    return (f"{result.label:<44} {result.concurrency:>4} {result.journeys_per_s:>8.1f} {result.turns_per_s:>8.0f} "
            f"{result.p50_ms:>7.1f} {result.p95_ms:>7.1f} {result.p99_ms:>7.1f} {result.errors:>6}")


HEADER = f"{'':<44} {'conc':>4} {'jour/s':>8} {'turns/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.loadtest --url URL``: one run, its result as a JSON line (``--json``)
    or as a table row."""
    parser = argparse.ArgumentParser(prog="intake bench", description=__doc__)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8080")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warm-up", type=float, default=2.0)
    parser.add_argument("--floor", action="store_true", help="22 plain messages a sender, for the bare handler")
    parser.add_argument("--cpu", type=int, help="pin this process to this core")
    parser.add_argument("--label", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    result = asyncio.run(run(args.url, concurrency=args.concurrency, seconds=args.seconds,
                             warm_up=args.warm_up, floor=args.floor, label=args.label or args.url))
    if args.json:
        print(json.dumps({**asdict(result), "turns_per_s": result.turns_per_s,
                          "journeys_per_s": result.journeys_per_s}))
    else:
        print(HEADER)
        print(row(result))
        if result.statuses.get("429"):
            print(f"{result.statuses['429']} answers were 429 (rate-limited): turn the limits off to measure throughput")
        if result.errors:
            print(f"answers other than 200: {result.statuses}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
