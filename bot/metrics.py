"""Prometheus metrics (prometheus-client), for ``GET /metrics`` (bot/operations.py).

Counted as they happen, in each process: turns and their latency per channel, turns that
failed, NLU latency. Read from the database at each scrape: open cases per status, cases
waiting for a first look, reminders due and not yet sent (the outbox backlog).

With several workers (``intake serve --workers N``) every process writes its samples
to files in ``PROMETHEUS_MULTIPROC_DIR`` (the parent sets it up) and a scrape, whichever
worker gets it, adds them all up (prometheus-client's multiprocess mode). No label ever
holds personal data: channels, statuses and kinds only.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from .store.models import CaseRow, Job, OutboxEvent, WebhookDelivery
from .store.store import Store

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's own metrics; a scrape in multiprocess mode reads the files instead."""

TURNS = Counter("intake_turns", "Turns handled (one applicant message each)", ["channel"], registry=REGISTRY)
TURN_ERRORS = Counter("intake_turn_errors", "Turns that failed with an error", ["channel"], registry=REGISTRY)
TURN_SECONDS = Histogram("intake_turn_seconds", "Time to handle one turn, lock to commit", ["channel"],
                         buckets=LATENCY_BUCKETS, registry=REGISTRY)
NLU_SECONDS = Histogram("intake_nlu_seconds", "Time the NLU took to read one message", ["call"],
                        buckets=LATENCY_BUCKETS, registry=REGISTRY)

OPEN_STATUSES = ("submitted", "in_review", "waiting_for_applicant")


@functools.lru_cache(maxsize=64)
def _per_channel(channel: str) -> tuple[Any, Any, Any]:
    """The channel's turn metrics (looking labels up costs more than counting)."""
    return TURNS.labels(channel), TURN_SECONDS.labels(channel), TURN_ERRORS.labels(channel)


def observe_turn(channel: str, seconds: float, ok: bool) -> None:
    """The engine's ``on_turn`` hook."""
    turns, latency, errors = _per_channel(channel)
    turns.inc()
    latency.observe(seconds)
    if not ok:
        errors.inc()


class TimedNLU:
    """The NLU the engine is given, timing each call."""

    def __init__(self, nlu: Any) -> None:
        self._nlu = nlu

    async def parse(self, text: str, language_hint: str | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await self._nlu.parse(text, language_hint)
        finally:
            NLU_SECONDS.labels("parse").observe(time.perf_counter() - started)

    async def intent(self, text: str, language_hint: str | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await self._nlu.intent(text, language_hint)
        finally:
            NLU_SECONDS.labels("intent").observe(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:  # close, language_identifier, model…
        return getattr(self._nlu, name)


class _Snapshot(Collector):
    """Gauges read from the database just before the scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def database_gauges(store: Store) -> list[Metric]:
    now = datetime.now(timezone.utc)
    async with store.reading() as session:
        by_status = (await session.execute(
            select(CaseRow.status, CaseRow.kind, func.count()).where(CaseRow.status.in_(OPEN_STATUSES))
            .group_by(CaseRow.status, CaseRow.kind)
        )).all()
        backlog = await session.scalar(
            select(func.count()).select_from(Job).where(Job.status == "pending", Job.due_at <= now)
        )
        deliveries = (await session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_(("pending", "running", "parked")))
            .group_by(WebhookDelivery.status)
        )).all()
        unpublished = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.seq.is_(None))
        )
    open_cases = GaugeMetricFamily("intake_cases_open", "Cases not closed nor withdrawn", labels=["status", "kind"])
    waiting = GaugeMetricFamily("intake_cases_waiting", "Cases submitted that no one has looked at yet",
                                labels=["kind"])
    for status, kind, count in by_status:
        open_cases.add_metric([status, kind], count)
        if status == "submitted":
            waiting.add_metric([kind], count)
    outbox = GaugeMetricFamily("intake_reminders_due", "Reminders due and not yet sent (the outbox backlog)",
                               value=backlog or 0)
    hooks = GaugeMetricFamily("intake_webhook_deliveries", "Webhook deliveries not yet made (parked: failed, "
                              "waiting for staff)", labels=["status"])
    counted = dict(deliveries)
    for status in ("pending", "running", "parked"):
        hooks.add_metric([status], counted.get(status, 0))
    events = GaugeMetricFamily("intake_case_events_unpublished", "Case events written but not yet published",
                               value=unpublished or 0)
    return [open_cases, waiting, outbox, hooks, events]


async def exposition(store: Store) -> tuple[bytes, str]:
    """The text of a scrape and its content type."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry = CollectorRegistry()
        registry.register(_Registered(REGISTRY))
    registry.register(_Snapshot(await database_gauges(store)))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Registered(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()
