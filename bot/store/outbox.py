"""The outbox: what other systems hear of a case, and the webhooks that hear it.

1. **Recorded with the change.** Each new case (``case.created``), status, outcome,
   assignment or step change (``case.updated``), applicant reply to a case
   (``case.message``), withdrawal (``case.withdrawn``) and erasure (``case.erased``) adds
   one ``outbox_events`` row in the same transaction as the change (:func:`record`): the
   change and its event are committed together or not at all. Nothing personal goes in:
   the case's plain columns and ids only; a receiver fetches the rest through the API.
   An erasure deletes the case's earlier events and their deliveries
   (:func:`purge_case`) and leaves ``case.erased`` with the reference alone.
2. **Published in commit order.** :func:`publish` (one publisher at a time: an advisory
   lock on PostgreSQL, the single writer on SQLite) gives each new event the next
   ``seq`` and its JSON body, never changed afterwards, and fans it out: one
   ``webhook_deliveries`` row per webhook that wants the event and whose organisation
   may see the case (the caller passes that check in: the store knows no policy). A
   ``seq`` is given at publication, not at insertion, so a reader of the feed
   (:func:`events_after`) that saw ``seq`` N never misses a later-committed event with
   a smaller number: the cursor is safe.
3. **Delivered** by bot/webhooks.py: :func:`claim` leases due deliveries (``FOR UPDATE
   SKIP LOCKED`` on PostgreSQL, so several workers never take the same one), except one
   whose case has an earlier delivery to the same webhook still pending, running or
   parked (order per case); :func:`finish` records the outcome, fenced by the attempt
   number like the reminder jobs (bot/scheduler.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Column, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement

from .models import CaseRow, KindAccess, Organisation, OutboxEvent, Webhook, WebhookDelivery

EVENTS = ("case.created", "case.updated", "case.message", "case.withdrawn", "case.erased")
PENDING, RUNNING, DELIVERED, PARKED, DISMISSED = "pending", "running", "delivered", "parked", "dismissed"
HOLDING = (PENDING, RUNNING, PARKED)
"""A delivery in one of these holds back the later ones of its case to its webhook."""
ACCESS_COLUMNS = ("kind", "origin_flow", "shared_with", "submitted_org", "flags")
"""The case's columns the one access check reads, copied onto each event."""
PUBLISH_LOCK = 0x1A7A_5E_0002
MIN_SECRET = 16
_PUBLISH_BATCH = 500


class WebhookError(ValueError):
    """A refused webhook change (bad URL, unknown event…), said plainly; ``code`` names
    the field (``url``, ``events``, ``secret``, ``organisation``) for a translated answer."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def summary(row: Any) -> dict[str, Any]:
    """The case as a webhook body shows it: plain columns and ids, nothing personal."""
    return {
        "id": row.id,
        "reference": row.reference,
        "kind": row.kind,
        "status": row.status,
        "priority": row.priority,
        "language": row.language,
        "flags": list(row.flags or []),
        "outcome": row.outcome,
        "assignee_id": row.assignee_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


async def record(
    session: Any, event: str, row: Any, now: datetime, change: dict[str, Any] | None = None
) -> None:
    """Add ``event`` about the case ``row`` to the outbox, in the caller's transaction.
    ``change``: what changed, as ids (``{"status": {"from": …, "to": …}}``)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if event == "case.erased":
        payload: dict[str, Any] = {"case": {"reference": row.reference}}
    else:
        payload = {"case": summary(row)}
        if change:
            payload["change"] = change
    await session.execute(
        insert(OutboxEvent.__table__),
        [{
            "event": event, "case_id": row.id, "reference": row.reference, "occurred_at": now,
            "payload": payload, "kind": row.kind, "origin_flow": row.origin_flow,
            "shared_with": row.shared_with or "", "submitted_org": row.submitted_org,
            "flags": list(row.flags or []),
        }],
    )


async def purge_case(session: Any, case_id: str) -> None:
    """An erased case's events and their deliveries, gone (in the caller's transaction)."""
    for model in (WebhookDelivery, OutboxEvent):
        await session.execute(
            delete(model).where(model.case_id == case_id).execution_options(synchronize_session=False)
        )


# --- publication and fan-out --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook as the fan-out sees it: whose it is and what it wants."""

    id: int
    organisation: str
    organisation_id: int
    events: frozenset[str]
    kind_rules: tuple[tuple[str, str], ...]


Sees = Callable[[Target, OutboxEvent], bool]
"""May the webhook's organisation see the case of this event (the one access check)?"""


async def _targets(session: Any) -> list[Target]:
    rows = (
        await session.execute(
            select(Webhook.id, Webhook.events, Organisation.slug, Organisation.id)
            .join(Organisation, Organisation.id == Webhook.organisation_id)
            .order_by(Webhook.id)
        )
    ).all()
    rules = (await session.execute(select(KindAccess.organisation_id, KindAccess.kind, KindAccess.rule))).all()
    return [
        Target(
            id=hook_id, organisation=slug, organisation_id=org_id,
            events=frozenset(e for e in events.split(",") if e),
            kind_rules=tuple(sorted((kind, rule) for oid, kind, rule in rules if oid == org_id)),
        )
        for hook_id, events, slug, org_id in rows
    ]


def body_of(event: OutboxEvent, seq: int) -> str:
    document = {
        "event": event.event,
        "sequence": seq,
        "cursor": str(seq),
        "occurred_at": _iso(event.occurred_at),
        **event.payload,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


async def publish(store: Any, now: datetime, sees: Sees, limit: int = _PUBLISH_BATCH) -> int:
    """Give the new events their ``seq`` and body and fan them out to the webhooks (read
    anew each time: a webhook added a moment ago is served). Returns how many were
    published; 0 also when another worker is publishing right now."""
    async with store.locks.writer(), store._sessions() as session, session.begin():
        if store.dialect == "postgresql":
            got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PUBLISH_LOCK})
            if not got:
                return 0
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.seq.is_(None)).order_by(OutboxEvent.id).limit(limit)
            )
        ).all()
        if not events:
            return 0
        last = int(await session.scalar(select(func.max(OutboxEvent.seq))) or 0)
        targets = await _targets(session)
        deliveries = []
        for event in events:
            last += 1
            event.seq, event.body, event.published_at = last, body_of(event, last), now
            for target in targets:
                if event.event in target.events and sees(target, event):
                    deliveries.append({
                        "key": str(uuid.uuid4()), "webhook_id": target.id, "event_id": event.id, "seq": last,
                        "case_id": event.case_id, "status": PENDING, "attempts": 0, "next_at": now,
                        "created_at": now,
                    })
        await session.flush()
        if deliveries:
            await session.execute(insert(WebhookDelivery.__table__), deliveries)
        return len(events)


# --- delivery -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to one worker: what to send, where, signed with what."""

    id: int
    key: str
    attempts: int
    url: str
    secret: str
    event: str
    body: str
    case_id: str
    webhook_id: int
    seq: int


async def claim(store: Any, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, oldest first, none held back by an earlier
    one of its case to its webhook; a lease that ran out (its worker died) is taken again."""
    d = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    held_back = exists().where(
        earlier.webhook_id == d.webhook_id, earlier.case_id == d.case_id, earlier.seq < d.seq,
        earlier.status.in_(HOLDING),
    )
    due = or_(and_(d.status == PENDING, d.next_at <= now), and_(d.status == RUNNING, d.locked_until < now))
    async with store.locks.writer(), store._sessions() as session, session.begin():
        query = select(d.id).where(due, ~held_back).order_by(d.seq, d.id).limit(limit)
        if store.dialect == "postgresql":
            query = query.with_for_update(of=d, skip_locked=True)
        ids = list((await session.scalars(query)).all())
        if not ids:
            return []
        await session.execute(
            update(d).where(d.id.in_(ids))
            .values(status=RUNNING, attempts=d.attempts + 1, locked_until=now + lease, last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(d.id, d.key, d.attempts, Webhook.url, Webhook.secret_enc, OutboxEvent.event, OutboxEvent.body,
                       d.case_id, d.webhook_id, d.seq)
                .join(Webhook, Webhook.id == d.webhook_id)
                .join(OutboxEvent, OutboxEvent.id == d.event_id)
                .where(d.id.in_(ids))
                .order_by(d.seq, d.id)
            )
        ).all()
    return [
        Claimed(id=r[0], key=r[1], attempts=r[2], url=r[3], secret=store.cipher.decrypt(r[4]).decode(),
                event=r[5], body=r[6], case_id=r[7], webhook_id=r[8], seq=r[9])
        for r in rows
    ]


async def finish(
    store: Any, claimed: Claimed, now: datetime, *, ok: bool, error: str | None, retry_at: datetime | None
) -> bool:
    """Record an attempt's outcome: delivered; or pending again at ``retry_at``; or
    parked (``retry_at`` None). False when the lease was lost meanwhile (another worker
    took the delivery, or staff removed it): the outcome is then not recorded."""
    d = WebhookDelivery
    if ok:
        values: dict[str, Any] = {"status": DELIVERED, "delivered_at": now, "locked_until": None, "last_error": None}
    elif retry_at is not None:
        values = {"status": PENDING, "next_at": retry_at, "locked_until": None, "last_error": error}
    else:
        values = {"status": PARKED, "locked_until": None, "last_error": error}
    async with store.locks.writer(), store._sessions() as session, session.begin():
        result = await session.execute(
            update(d).where(d.id == claimed.id, d.attempts == claimed.attempts, d.status == RUNNING)
            .values(**values).execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)


async def purge_delivered(store: Any, now: datetime, kept: timedelta) -> int:
    """Events older than ``kept`` whose every delivery ended (delivered or dismissed) go,
    with their deliveries; the feed then starts after them."""
    open_delivery = exists().where(
        WebhookDelivery.event_id == OutboxEvent.id, WebhookDelivery.status.in_(HOLDING)
    )
    async with store.locks.writer(), store._sessions() as session, session.begin():
        old = select(OutboxEvent.id).where(
            OutboxEvent.seq.is_not(None), OutboxEvent.occurred_at < now - kept, ~open_delivery
        )
        ids = list((await session.scalars(old.limit(5000))).all())
        if not ids:
            return 0
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return len(ids)


# --- webhooks: added, listed, removed; deliveries seen, resent, dismissed by staff --------


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    organisation: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    created_by: str
    pending: int
    parked: int


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    key: str
    webhook_id: int
    organisation: str
    url: str
    event: str
    reference: str
    seq: int
    status: str
    attempts: int
    next_at: datetime
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None


def parse_events(events: Iterable[str] | str) -> tuple[str, ...]:
    """``case.created,case.updated`` (or a list) → the events, checked and in order."""
    names = [e.strip() for e in (events.split(",") if isinstance(events, str) else events)]
    names = [e for e in names if e]
    unknown = [e for e in names if e not in EVENTS]
    if unknown:
        raise WebhookError(f"unknown event {unknown[0]!r}; one of {', '.join(EVENTS)}", "events")
    if not names:
        raise WebhookError(f"name at least one event: {', '.join(EVENTS)}", "events")
    return tuple(e for e in EVENTS if e in names)


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000 or re.search(r"\s", url):
        raise WebhookError("a webhook URL is an http:// or https:// address", "url")
    if parts.username or parts.password:
        raise WebhookError("a webhook URL must not hold a user name or password; the secret signs the requests", "url")
    return url


class Webhooks:
    """The webhooks of the organisations and their deliveries, as staff and the CLI see them."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def add(self, organisation: str, url: str, events: Iterable[str] | str, secret: str, *,
                  actor: str, now: datetime) -> WebhookView:
        url, names = check_url(url), parse_events(events)
        if len(secret) < MIN_SECRET:
            raise WebhookError(f"a webhook secret has at least {MIN_SECRET} characters", "secret")
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == organisation))
            if org_id is None:
                raise WebhookError(f"no organisation {organisation!r} (see `intake orgs list`)", "organisation")
            row = Webhook(
                organisation_id=org_id, url=url, events="," + ",".join(names) + ",",
                secret_enc=store.cipher.encrypt(secret.encode()), created_at=now, created_by=actor,
            )
            session.add(row)
            await session.flush()
            return WebhookView(row.id, organisation, url, names, now, actor, 0, 0)

    async def list(self, organisation: str | None = None) -> list[WebhookView]:
        d = WebhookDelivery
        counts = (
            select(d.webhook_id, d.status, func.count()).where(d.status.in_((PENDING, RUNNING, PARKED)))
            .group_by(d.webhook_id, d.status)
        )
        query = (
            select(Webhook, Organisation.slug).join(Organisation, Organisation.id == Webhook.organisation_id)
            .order_by(Webhook.id)
        )
        if organisation:
            query = query.where(Organisation.slug == organisation)
        async with self._store.reading() as session:
            rows = (await session.execute(query)).all()
            by_status: dict[tuple[int, str], int] = {(w, s): n for w, s, n in (await session.execute(counts)).all()}
        return [
            WebhookView(
                w.id, slug, w.url, tuple(e for e in w.events.split(",") if e), w.created_at, w.created_by,
                by_status.get((w.id, PENDING), 0) + by_status.get((w.id, RUNNING), 0), by_status.get((w.id, PARKED), 0),
            )
            for w, slug in rows
        ]

    async def remove(self, webhook_id: int) -> bool:
        """The webhook and its deliveries (also those not yet made) go."""
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
            result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            return bool(result.rowcount)

    async def deliveries(self, *, failed_only: bool = False, webhook_id: int | None = None,
                         limit: int = 100) -> list[DeliveryView]:
        d = WebhookDelivery
        query = (
            select(d, Webhook.url, Organisation.slug, OutboxEvent.event, OutboxEvent.reference)
            .join(Webhook, Webhook.id == d.webhook_id)
            .join(Organisation, Organisation.id == Webhook.organisation_id)
            .join(OutboxEvent, OutboxEvent.id == d.event_id)
            .order_by(d.id.desc())
            .limit(limit)
        )
        if failed_only:
            query = query.where(d.status == PARKED)
        if webhook_id is not None:
            query = query.where(d.webhook_id == webhook_id)
        async with self._store.reading() as session:
            rows = (await session.execute(query)).all()
        return [
            DeliveryView(
                r.id, r.key, r.webhook_id, slug, url, event, reference, r.seq, r.status, r.attempts, r.next_at,
                r.last_error, r.last_attempt_at, r.delivered_at,
            )
            for r, url, slug, event, reference in rows
        ]

    async def resend(self, delivery_id: int, now: datetime) -> bool:
        """A parked (or dismissed) delivery is tried again at once, with the same key and
        body; the later ones of its case wait for it again. False if it is not parked
        nor dismissed (nothing done)."""
        return await self._move(delivery_id, (PARKED, DISMISSED),
                                {"status": PENDING, "attempts": 0, "next_at": now, "locked_until": None})

    async def dismiss(self, delivery_id: int) -> bool:
        """A parked delivery is given up: the later ones of its case go on."""
        return await self._move(delivery_id, (PARKED,), {"status": DISMISSED, "locked_until": None})

    async def _move(self, delivery_id: int, from_: tuple[str, ...], values: dict[str, Any]) -> bool:
        d = WebhookDelivery
        store = self._store
        async with store.locks.writer(), store._sessions() as session, session.begin():
            result = await session.execute(
                update(d).where(d.id == delivery_id, d.status.in_(from_)).values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)


# --- the feed (GET /api/v1/events) -------------------------------------------------------


def on_events(visible: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition on ``cases`` (``policy.visible_cases``) as the same condition on the
    events' copies of the case's access columns: the one access check decides for the
    feed too, also for the events of cases erased since."""
    cases = CaseRow.__table__
    copies = OutboxEvent.__table__.c

    def swap(element: Any) -> Any:
        if isinstance(element, Column) and element.table is cases:
            if element.key not in ACCESS_COLUMNS:
                raise ValueError(f"the access condition reads cases.{element.key}, which events do not copy")
            return copies[element.key]
        return None

    return visitors.replacement_traverse(visible, {}, swap)  # type: ignore[no-any-return]


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not re.fullmatch(r"[0-9]{1,18}", after):
        raise ValueError("not a cursor: give the `next` of the previous answer, or nothing to start")
    return int(after)


async def events_after(
    source: Any, visible: ColumnElement[bool], after: str | None, limit: int = 100
) -> tuple[list[dict[str, Any]], str]:
    """The published events after the cursor ``after`` (None: from the oldest kept) that
    ``visible`` lets through, oldest first, at most ``limit`` (1–1000); and the cursor to
    ask with next (the same one when there is nothing new). The items are the webhook
    bodies, parsed. ``source``: a Store or an open session. ValueError for a bad cursor."""
    start = parse_cursor(after)
    limit = max(1, min(int(limit), 1000))
    query = (
        select(OutboxEvent.seq, OutboxEvent.body)
        .where(OutboxEvent.seq > start, on_events(visible))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    if isinstance(source, AsyncSession):
        rows = (await source.execute(query)).all()
    else:
        async with source.reading() as session:
            rows = (await session.execute(query)).all()
    items = [json.loads(body) for _, body in rows]
    return items, str(rows[-1][0] if rows else start)
