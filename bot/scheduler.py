"""A scheduler whose jobs live in the database (appointment reminders, for now).

Jobs are rows of the ``jobs`` table (see bot/store/appointments.py). Any number of
schedulers (one per ``intake serve`` worker) can run on the same database; each
``run_due`` claims a batch of due jobs in one short transaction, delivers them outside any
transaction, and records each outcome as soon as it is known.

What "delivered once" means here
--------------------------------
Delivery is **at least once, with a lease**; in practice once:

* A job is handed to ``deliver`` by one scheduler at a time. Claiming marks it
  ``running`` until ``now + lease`` in the same transaction that selects it (PostgreSQL
  skips rows another worker is claiming with ``FOR UPDATE SKIP LOCKED``; SQLite has a
  single writer), so two workers, or two processes, never both get it while the lease
  holds.
* A job that ``deliver`` reported delivered (returned True) is marked ``done`` at once
  and is never delivered again, by this worker, another one, or after a restart: the
  state is in the database, not in memory.
* A failure (``deliver`` returned False, raised, or took longer than half the lease)
  puts the job back to ``pending`` with a backoff (``backoff * 2**(attempt-1)``, at most
  ``max_backoff``); after ``max_attempts`` attempts it is ``failed`` and left for staff.
* If a worker dies while holding a job (between claiming and recording the outcome),
  the job is claimed again once its lease has expired, by any worker. So the one case of
  a **duplicate** is a worker that dies (or loses the database) after ``deliver`` sent the
  message and before ``done`` was recorded; and a delivery that fails after the message
  actually left (e.g. a timeout on the answer) is retried, and may arrive twice. A lease
  lost that way is fenced: the late worker's outcome is ignored (``finish_job`` matches
  the attempt number), so it cannot undo the other worker's result.
* A job cancelled (appointment cancelled or moved, data erased) before its delivery
  starts is not delivered (the claim is checked again just before ``deliver``); one
  cancelled while ``deliver`` runs is not retried.

``deliver`` gets a :class:`~bot.store.appointments.JobView` with the payload decrypted; it
finds the applicant with ``store.conversation_address(job.conversation_id)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from .store.appointments import DONE, FAILED, PENDING, JobView
from .store.store import Store

log = logging.getLogger(__name__)

Deliver = Callable[[JobView], Awaitable[bool]]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Scheduler:
    def __init__(
        self,
        store: Store,
        deliver: Deliver,
        *,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 20,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        kinds: tuple[str, ...] | None = None,
    ) -> None:
        if lease <= timedelta(0) or batch < 1 or max_attempts < 1:
            raise ValueError("lease, batch and max_attempts must be positive")
        self.store = store
        self.deliver = deliver
        self.lease = lease
        self.batch = batch
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.kinds = kinds
        self._last_claimed = 0

    def retry_delay(self, attempt: int) -> timedelta:
        """How long after failed attempt number ``attempt`` (1, 2, …) to try again."""
        return min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)

    async def run_due(self) -> int:
        """Claim the jobs due now (at most ``batch``), deliver them concurrently, record
        each outcome; returns how many were delivered (marked done)."""
        jobs = await self.store.claim_jobs(
            self.clock(), lease=self.lease, limit=self.batch, max_attempts=self.max_attempts, kinds=self.kinds
        )
        self._last_claimed = len(jobs)
        if not jobs:
            return 0
        outcomes = await asyncio.gather(*(self._run_one(job) for job in jobs))
        return sum(outcomes)

    async def _run_one(self, job: JobView) -> bool:
        if not await self.store.job_claimed(job.id, job.attempts):
            return False  # cancelled since the claim (the appointment was cancelled or moved)
        try:
            # Half the lease: an outcome must be recorded while the claim is still ours.
            ok = bool(await asyncio.wait_for(self.deliver(job), timeout=self.lease.total_seconds() / 2))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the reason is logged without its message (it may be personal)
            log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempts, type(exc).__name__)
            ok = False
        now = self.clock()
        if ok:
            status, retry_at = DONE, None
        elif job.attempts >= self.max_attempts:
            status, retry_at = FAILED, None
            log.error("job %s (%s) failed after %s attempts", job.id, job.kind, job.attempts)
        else:
            status, retry_at = PENDING, now + self.retry_delay(job.attempts)
        if not await self.store.finish_job(job.id, job.attempts, now, status, retry_at=retry_at):
            log.warning("job %s (%s): lease lost or cancelled before its outcome was recorded", job.id, job.kind)
        return ok

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Run due jobs every ``interval`` seconds until ``stop`` is set (at once again while
        a full batch was claimed). Set ``stop`` and await this to shut down: the batch in
        flight is finished, not cut off."""
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception:  # the database may be away for a moment: try again next tick
                log.exception("scheduler tick failed")
                self._last_claimed = 0
            if self._last_claimed >= self.batch:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
