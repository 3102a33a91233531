"""Counting limits over time windows, shared across workers when Redis is configured.

``hit(key, limit, window)`` counts one event for ``key`` and says how long to wait when
the count in the current window is over ``limit``; ``used`` reads the count without adding
to it. Windows are fixed (``key`` + the window's number), which is enough for generous
abuse limits and takes one round trip on Redis.

:class:`MemoryLimits` counts in the process (each worker on its own; the least recently
used keys go first). :class:`RedisLimits` counts in Redis (``INTAKE_REDIS_URL``), so that
every worker sees the same counts; when Redis cannot be reached, it lets the request
through and logs a warning: an applicant is never refused because a counter is down.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)
MAX_KEYS = 50_000


class Limits(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float:
        """Count one event: 0 when it is within ``limit`` per ``window`` seconds, else
        the seconds until the window ends."""

    async def used(self, key: str, window: float) -> int:
        """The events counted for ``key`` in the current window."""


class MemoryLimits:
    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, float], tuple[int, int]] = OrderedDict()

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self.clock()
        number = int(now // window)
        seen, count = self._counts.pop((key, window), (number, 0))
        count = count + 1 if seen == number else 1
        self._counts[(key, window)] = (number, count)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return 0.0 if count <= limit else (number + 1) * window - now

    async def used(self, key: str, window: float) -> int:
        seen, count = self._counts.get((key, window), (-1, 0))
        return count if seen == int(self.clock() // window) else 0


class RedisLimits:
    """Counts in Redis: ``INCR`` and ``EXPIRE`` of ``intake:limit:<key>:<window number>``."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        import redis.asyncio as redis  # only where Redis is configured

        self.client: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.clock = clock
        self._warned = False

    def _name(self, key: str, window: float, number: int) -> str:
        return f"intake:limit:{key}:{int(window)}:{number}"

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self.clock()
        number = int(now // window)
        name = self._name(key, window, number)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, math.ceil(window) + 1)
                count, _ = await pipe.execute()
        except Exception:
            self._unreachable()
            return 0.0
        return 0.0 if int(count) <= limit else (number + 1) * window - now

    async def used(self, key: str, window: float) -> int:
        try:
            value = await self.client.get(self._name(key, window, int(self.clock() // window)))
        except Exception:
            self._unreachable()
            return 0
        return int(value or 0)

    def _unreachable(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning("rate limits: Redis unreachable; letting requests through")

    async def close(self) -> None:
        await self.client.aclose()


def limits_for(redis_url: str | None) -> Limits:
    """Redis when a URL is given, else counts in this process."""
    return RedisLimits(redis_url) if redis_url else MemoryLimits()


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
