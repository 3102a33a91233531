"""What one process does in a test of several processes on one database.

``python -m tests.processes ACTION URL KEY ...``; each action prints one JSON line. The
tests (test_workers.py) start several at once and compare what they printed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone

from bot.scheduler import Scheduler
from bot.store.crypto import Cipher
from bot.store.migrate import upgrade
from bot.store.store import Store


async def count_turns(url: str, key: str, sender: str, turns: int) -> None:
    """``turns`` turns on one conversation, each reading the counter in its state and
    writing it back plus one: a turn that overlapped another would lose an increment."""
    store = Store.connect(url, Cipher([key]))
    mine = []
    try:
        for _ in range(turns):
            now = datetime.now(timezone.utc)
            async with store.turn("test", sender, now) as turn:
                state = turn.conversation.state or {"count": 0}
                await asyncio.sleep(0.002)  # widen the window another process would need
                state["count"] += 1
                mine.append(state["count"])
                turn.save_state(state, "en", now)
    finally:
        await store.close()
    print(json.dumps(mine))


async def deliver_reminders(url: str, key: str) -> None:
    """Run a scheduler until nothing is due; print the ids of the jobs it delivered."""
    store = Store.connect(url, Cipher([key]))
    delivered: list[int] = []

    async def deliver(job) -> bool:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.005)
        delivered.append(job.id)
        return True

    scheduler = Scheduler(store, deliver, batch=3)
    try:
        idle = 0
        while idle < 5:
            idle = idle + 1 if await scheduler.run_due() == 0 else 0
            await asyncio.sleep(0.01)
    finally:
        await store.close()
    print(json.dumps(delivered))


async def deliver_webhooks(url: str, key: str) -> None:
    """Run a webhook deliverer until nothing has been due for a second; print how many
    deliveries it claimed."""
    from bot.webhooks import Deliverer

    store = Store.connect(url, Cipher([key]))
    worker = Deliverer(store, batch=4, timeout=5)
    claimed = idle = 0
    try:
        while idle < 20:
            done = await worker.run_once()
            claimed += done
            idle = idle + 1 if done == 0 else 0
            await asyncio.sleep(0.05)
    finally:
        await worker.close()
        await store.close()
    print(json.dumps(claimed))


def main() -> None:
    action, url, key, *rest = sys.argv[1:]
    if action == "turns":
        asyncio.run(count_turns(url, key, rest[0], int(rest[1])))
    elif action == "reminders":
        asyncio.run(deliver_reminders(url, key))
    elif action == "webhooks":
        asyncio.run(deliver_webhooks(url, key))
    elif action == "upgrade":
        upgrade(url)
        print(json.dumps("ok"))
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main()
