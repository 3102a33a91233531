"""``make profile``: where a turn's time goes, under the benchmark's load.

Starts the benchmark's server (``intake serve``'s wiring on SQLite, or PostgreSQL with
``--postgres``), loads it with whole journeys from the load generator's process, and
samples the server with py-spy (installed by ``make profile``; it reads the process from
outside, so the server runs unchanged). Writes a flame graph (``var/profile/turns.svg``,
open it in a browser) and the raw samples beside it, and prints the event loop's time
top-down: each part of a turn as a share of the loop's busy time, as in the issue notes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .__main__ import LOAD_CORE, ROOT, postgres_database, postgres_url, server, sqlite_database, two_cores

PARTS = (
    ("the turn (Engine.handle)", "Engine.handle"),
    ("  the dialogue (commands, answers, flows, texts)", "Dialogue.respond"),
    ("    the NLU (typed answers that are no choice)", "nlu/"),
    ("    a case submitted (end of a journey)", "Turn.create_case"),
    ("  the store's transaction (lock, begin, load, write, commit)", "Store.turn"),
    ("    the SQLite commit", "InlineSqlite.commit"),
    ("  the turn's records made (state, transcript, replies)", "Engine._finish"),
    ("  encryption and its JSON, wherever in the turn", "Cipher."),
)
"""(what, a frame that marks it): shares are of the samples holding such a frame. The
rest of the loop's time is the HTTP request (aiohttp, the middlewares, the REST channel's
checks) and the loop itself."""


def _frames(stack: str) -> list[str]:
    return [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]


def top_down(raw: Path) -> list[tuple[str, float]]:
    """The share of the event loop's samples in each of :data:`PARTS`."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "run_app" not in stack:  # another thread (a checkpoint, the NLU's pool)
            continue
        frames = _frames(stack)
        total += int(n)
        for label, marker in PARTS:
            if any(marker in frame for frame in frames):
                counts[label] += int(n)
    shares = [(label, 100 * counts[label] / max(total, 1)) for label, _ in PARTS]
    return shares + [("the HTTP request and the event loop (all the rest)", 100 - shares[0][1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="sampled seconds (default 10)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="the server on PostgreSQL")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "profile")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is missing: pip install py-spy (make profile does)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            base = postgres_url()
            if base is None:
                print("PostgreSQL is not reachable (INTAKE_TEST_POSTGRES_URL)", file=sys.stderr)
                return 2
            database = postgres_database(base)
        else:
            database = contextlib.nullcontext(sqlite_database(Path(tmp), "profile.db"))
        with database as url, server("rest", url, pin=two_cores()) as (base_url, pid):
            load = subprocess.Popen(
                [sys.executable, "-m", "bot.loadtest", base_url, "--concurrency", str(args.concurrency),
                 "--seconds", str(args.seconds + 4), "--label", "profile"]
                + (["--cpu", str(LOAD_CORE)] if two_cores() else []),
                cwd=ROOT,
            )
            asyncio.run(asyncio.sleep(3))  # the load's warm-up
            svg, raw = args.out / "turns.svg", args.out / "turns.txt"
            for output, fmt in ((raw, "raw"), (svg, "flamegraph")):
                subprocess.run([spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds / 2)),
                                "--rate", "200", "--format", fmt, "--output", str(output), "--nonblocking"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load.wait()
    print(f"flame graph: {svg}\nsamples: {raw}\n\nthe event loop's busy time, top-down:")
    for label, share in top_down(raw):
        print(f"  {share:5.1f} %  {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
