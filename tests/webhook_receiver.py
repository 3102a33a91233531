"""A webhook receiver on 127.0.0.1 for the tests: it records every request it gets, and
answers as told (``ok``, ``fail``: 500, ``slow``: later than the sender waits), per case
reference if need be. Run alone (``python -m tests.webhook_receiver PORT FILE``) it
appends each request as a JSON line to FILE and answers 200 after ``--delay`` seconds."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    key: str
    event: str
    signature: str
    body: str
    answered: int

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def reference(self) -> str:
        return str(self.document["case"]["reference"])


@dataclass
class Receiver:
    port: int
    mode: str = "ok"
    modes: dict[str, str] = field(default_factory=dict)
    """Per case reference, overriding ``mode``."""
    slow_seconds: float = 2.0
    got: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        reference = json.loads(body)["case"]["reference"]
        mode = self.modes.get(reference, self.mode)
        status = 500 if mode == "fail" else 200
        self.got.append(Received(request.headers.get("Intake-Delivery", ""), request.headers.get("Intake-Event", ""),
                                 request.headers.get("Intake-Signature", ""), body, status))
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        return web.Response(status=status, text="no" if status == 500 else "ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def delivered(self) -> list[Received]:
        """What was answered 200, in the order received."""
        return [r for r in self.got if r.answered == 200]


async def _serve_to_file(port: int, path: str, delay: float) -> None:
    async def handle(request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        await asyncio.sleep(delay)
        with open(path, "a", encoding="utf-8") as out:  # noqa: ASYNC230 - one short line, in a test
            out.write(json.dumps({"key": request.headers.get("Intake-Delivery"), "event": request.headers.get("Intake-Event"),
                                  "signature": request.headers.get("Intake-Signature"), "body": body}) + "\n")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    delay = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--delay" else 0.0
    asyncio.run(_serve_to_file(int(sys.argv[1]), sys.argv[2], delay))
