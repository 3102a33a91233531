"""Webhook delivery: the worker that publishes the outbox and POSTs its events.

Every ``intake serve`` worker runs one (bot/app.py); they share the database and never
send the same delivery at once (bot/store/outbox.py: leases, ``SKIP LOCKED``). Each cycle:

1. publish the new outbox events (their ``seq`` and body) and fan them out to the
   webhooks whose organisation may see the case, under the back office's one access
   check (``policy.organisation_can_see``); the webhooks are read anew each cycle, so
   one added a moment ago (CLI or back office) is served without a restart;
2. claim due deliveries, POST each (``Intake-Event``, ``Intake-Delivery``: the
   idempotency key, ``Intake-Signature: t=UNIX_SECONDS,v1=HEX`` with HEX the
   HMAC-SHA256 of ``f"{t}.{body}"`` under the webhook's secret), concurrently across
   cases, one at a time within a case;
3. record each outcome: a 2xx answer is delivered; anything else (another status, a
   timeout, no connection) is retried after ``backoff * 2**(attempt-1)`` (at most
   ``max_backoff``) times a random factor between ½ and 1, and parked as failed after
   ``max_attempts``, holding back its case's later deliveries to that webhook until
   staff resend or dismiss it.

At least once on the wire: a worker that dies after the receiver got a delivery and before
it was recorded leaves it to be sent again once its lease has run out, with the same key and
body; receivers de-duplicate on ``Intake-Delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp

from .backoffice.policy import organisation_can_see
from .store import outbox
from .store.models import OutboxEvent
from .store.store import Store

log = logging.getLogger(__name__)
PURGE_EVERY = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def signature(secret: str, timestamp: int, body: str) -> str:
    """The ``Intake-Signature`` header's value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: str, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver checks (and the tests): the signature is ours and fresh."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, fields.get("v1", ""))


def sees(target: outbox.Target, event: OutboxEvent) -> bool:
    return organisation_can_see(target.organisation, target.organisation_id, target.kind_rules, event)


class Deliverer:
    def __init__(
        self,
        store: Store,
        *,
        max_attempts: int = 10,
        backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = timedelta(hours=1),
        timeout: float = 10,
        batch: int = 50,
        keep: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1 or batch < 1 or timeout <= 0:
            raise ValueError("max_attempts, batch and timeout must be positive")
        self.store = store
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.lease = timedelta(seconds=3 * timeout + 5)
        """Longer than an attempt can take: the outcome is recorded while the claim holds."""
        self.batch = batch
        self.keep = keep
        self.clock = clock
        self.jitter = jitter
        self._http: aiohttp.ClientSession | None = None
        self._purged_at: datetime | None = None

    @classmethod
    def from_settings(cls, store: Store, settings: Any) -> Deliverer:
        return cls(
            store,
            max_attempts=settings.webhook_max_attempts,
            backoff=timedelta(seconds=settings.webhook_backoff_seconds),
            max_backoff=timedelta(seconds=settings.webhook_max_backoff_seconds),
            timeout=settings.webhook_timeout_seconds,
            keep=timedelta(days=settings.webhook_keep_days),
        )

    def retry_delay(self, attempt: int) -> timedelta:
        """How long after failed attempt number ``attempt`` (1, 2, …) to try again."""
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base * (0.5 + self.jitter() / 2)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "intake-webhooks/1"},
            )
        return self._http

    async def run_once(self) -> int:
        """Publish, then claim and send what is due; how many deliveries were claimed."""
        now = self.clock()
        await outbox.publish(self.store, now, sees)
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            await outbox.purge_delivered(self.store, now, self.keep)
        claimed = await outbox.claim(self.store, now, self.lease, self.batch)
        if claimed:
            await asyncio.gather(*(self._deliver(c) for c in claimed))
        return len(claimed)

    async def _deliver(self, claimed: outbox.Claimed) -> bool:
        ok, error = await self._post(claimed)
        now = self.clock()
        if ok:
            retry_at = None
        elif claimed.attempts >= self.max_attempts:
            retry_at = None
            log.error("webhook %s: delivery %s (%s) parked after %s attempts: %s",
                      claimed.webhook_id, claimed.id, claimed.event, claimed.attempts, error)
        else:
            retry_at = now + self.retry_delay(claimed.attempts)
            log.warning("webhook %s: delivery %s (%s) attempt %s failed: %s",
                        claimed.webhook_id, claimed.id, claimed.event, claimed.attempts, error)
        if not await outbox.finish(self.store, claimed, now, ok=ok, error=error, retry_at=retry_at):
            log.warning("webhook %s: delivery %s: lease lost before its outcome was recorded",
                        claimed.webhook_id, claimed.id)
        return ok

    async def _post(self, claimed: outbox.Claimed) -> tuple[bool, str | None]:
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "Intake-Event": claimed.event,
            "Intake-Delivery": claimed.key,
            "Intake-Signature": signature(claimed.secret, timestamp, claimed.body),
        }
        try:
            async with self._client().post(
                claimed.url, data=claimed.body.encode(), headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return True, None
                return False, f"HTTP {response.status}"
        except asyncio.CancelledError:
            raise
        except asyncio.TimeoutError:
            return False, "timeout"
        except Exception as exc:  # noqa: BLE001 - the kind of failure is enough (no message: it may hold the URL)
            return False, type(exc).__name__

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Cycle every ``interval`` seconds until ``stop`` is set (at once again while
        there was work: a case's next delivery waits for the one before). Set ``stop``
        and await this: deliveries in flight are finished and recorded, not cut off."""
        try:
            while not stop.is_set():
                try:
                    busy = await self.run_once()
                except Exception:  # the database may be away for a moment: try again next tick
                    log.exception("webhook cycle failed")
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
        finally:
            await self.close()
