"""Serving an aiohttp app on 127.0.0.1 for a test, the way ``intake serve`` builds it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from bot.app import Services
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet


def free_port() -> int:
    """A port nobody listens on now (for apps that must know their address beforehand)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def services_for(engine: Engine, flows: FlowSet) -> Services:
    return Services(settings=Settings(), store=engine.store, flows=flows, engine=engine)


@contextlib.asynccontextmanager
async def serving(app: web.Application, port: int = 0, *, shutdown_timeout: float = 2.0) -> AsyncIterator[str]:
    """``app`` on 127.0.0.1 (on ``port``, or a free one): its base URL, until the block ends.

    Ending it runs the app's cleanup: channels stop and the store is closed (the engine
    fixture closing it again is harmless)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
