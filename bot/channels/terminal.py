"""``intake chat``: the engine in a terminal, for trying the bot with no network.

Interactive mode numbers the buttons (type the number or the title to click). ``--json``
is the scriptable form: one message per stdin line in, one JSON list per stdout line out,
in the REST channel's shape.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from ..engine import Engine, Inbound, Outbound

CHANNEL = "terminal"


async def _read_line(stream: TextIO) -> str | None:
    line = await asyncio.to_thread(stream.readline)
    return line if line else None


async def run_json(engine: Engine, sender: str, language: str | None, stdin: TextIO, stdout: TextIO) -> None:
    while (line := await _read_line(stdin)) is not None:
        text = line.rstrip("\r\n")
        replies = await engine.handle(Inbound(channel=CHANNEL, sender_id=sender, text=text, language_hint=language))
        stdout.write(json.dumps([r.to_rest(sender) for r in replies], ensure_ascii=False) + "\n")
        stdout.flush()


async def run_interactive(engine: Engine, sender: str, language: str | None, stdin: TextIO, stdout: TextIO) -> None:
    buttons: list[tuple[str, str]] = []

    async def send(text: str) -> None:
        nonlocal buttons
        replies = await engine.handle(Inbound(channel=CHANNEL, sender_id=sender, text=text, language_hint=language))
        buttons = _show(replies, stdout) or buttons

    await send("/start")
    while True:
        stdout.write("> ")
        stdout.flush()
        line = await _read_line(stdin)
        if line is None:
            stdout.write("\n")
            return
        text = line.strip()
        if not text:
            continue
        await send(_clicked(text, buttons))


def _clicked(text: str, buttons: list[tuple[str, str]]) -> str:
    """A typed number or button title becomes that button's payload."""
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return buttons[int(text) - 1][1]
    for title, payload in buttons:
        if text.casefold() == title.casefold():
            return payload
    return text


def _show(replies: list[Outbound], out: TextIO) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for reply in replies:
        out.write(f"\nbot: {reply.text}\n")
        for button in reply.buttons:
            shown.append((button.title, button.payload))
            out.write(f"  {len(shown)}) {button.title}\n")
        if reply.expects and reply.expects.type not in ("choice", "yes_no", "consent"):
            out.write(f"  [{reply.expects.type}]\n")
    out.flush()
    return shown


def run(
    engine: Engine, *, sender: str, language: str | None, as_json: bool, close: Callable[[], Awaitable[None]]
) -> None:
    """Chat until stdin ends, then ``close`` what the engine was built on (store, NLU)."""
    runner = run_json if as_json else run_interactive
    asyncio.run(_then(runner(engine, sender, language, sys.stdin, sys.stdout), close))


async def _then(job: Awaitable[None], close: Callable[[], Awaitable[None]]) -> None:
    try:
        await job
    finally:
        await close()
