"""What a channel adapter is: routes on the one aiohttp app, plus a start and a stop.

A channel turns platform updates into ``Inbound``, calls ``engine.handle``, and renders
the ``Outbound`` replies. It never decides anything; platform types never leave it.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web


class Channel(Protocol):
    name: str

    def mount(self, app: web.Application) -> None:
        """Add this channel's routes (called before the app starts)."""

    async def start(self) -> None:
        """Begin receiving (polling, webhook registration…), once the server runs."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in flight."""
