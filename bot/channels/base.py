"""What a channel adapter is: routes on the one aiohttp app, plus a start and a stop.

A channel turns platform updates into ``Inbound``, calls ``engine.handle``, and renders
the ``Outbound`` replies. It never decides anything; platform types never leave it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from aiohttp import web

from ..engine.binding import NotYourConversation

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        if error is not None and not isinstance(error, NotYourConversation):  # a refusal, not a failure
            log.error("%s: a turn failed", self._label, exc_info=error)
