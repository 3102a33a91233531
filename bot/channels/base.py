"""What a channel adapter is: routes on the one aiohttp app, plus a start and a stop.

A channel turns platform updates into ``Inbound``, calls ``engine.handle``, and renders
the ``Outbound`` replies. It never decides anything; platform types never leave it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from aiohttp import web

from ..engine.binding import NotYourConversation

log = logging.getLogger(__name__)
T = TypeVar("T")

UNAVAILABLE_RETRY_AFTER = 10
"""Seconds a client is asked to wait when the database cannot be reached or written."""


class NotDeliverable(Exception):
    """A push that retrying will not deliver (WhatsApp, outside its 24-hour window, to an
    applicant who did not agree to templates, or with no template for the message): the
    caller keeps the message for the applicant's next message and records it as not
    delivered, rather than retrying."""


def unavailable(error: BaseException) -> str | None:
    """Why a turn failed for a reason outside the message (the database is unreachable,
    its connection was cut, its disk is full), as the client is told; None for a fault
    of ours. Waiting and sending the same message again (same message id) then works,
    since a failed turn stored nothing."""
    from sqlalchemy import exc as sql

    seen: BaseException | None = error
    while seen is not None:
        text = str(seen).lower()
        if "disk is full" in text or "database or disk is full" in text or "no space left" in text:
            return "the service cannot store messages now (its storage is full); try again later"
        if isinstance(seen, (OSError, ConnectionError, asyncio.TimeoutError)) or (
            isinstance(seen, sql.DBAPIError) and seen.connection_invalidated
        ) or type(seen).__name__ in ("ConnectionDoesNotExistError", "CannotConnectNowError",
                                     "InterfaceError", "ConnectionFailureError", "InternalClientError",
                                     "TooManyConnectionsError", "AdminShutdownError"):
            return "the service cannot reach its database now; try again shortly"
        seen = seen.__cause__ or seen.__context__
    return None


class Channel(Protocol):
    name: str

    def mount(self, app: web.Application) -> None:
        """Add this channel's routes (called before the app starts)."""

    async def start(self) -> None:
        """Begin receiving (polling, webhook registration…), once the server runs."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in flight."""


class TurnsInFlight:
    """Engine turns run as tasks of their own, awaited through a shield: a client that
    hangs up mid-turn does not cut the turn short, and ``drain`` lets shutdown wait."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, turn: Coroutine[Any, Any, T]) -> T:
        task = asyncio.create_task(turn, name=f"{self._label}-turn")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return await asyncio.shield(task)

    async def drain(self, timeout: float = 30.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending:
                log.warning("%s: %d turns still in flight at shutdown", self._label, len(pending))

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None or isinstance(error, NotYourConversation):  # a refusal, not a failure
            return
        reason = unavailable(error)
        if reason is not None:  # an outage: one line a turn, not a traceback each
            log.warning("%s: a turn failed: %s (%s)", self._label, reason, type(error).__name__)
        else:
            log.error("%s: a turn failed", self._label, exc_info=error)


class BoundedMap(OrderedDict[str, Any]):
    """A small LRU map (recent update ids, long button payloads): the oldest entries go once ``size`` is reached."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
