"""``make bench``: throughput and latency of whole journeys over the REST channel.

Simulated applicants go through the voluntary-return journey over HTTP
(bot/loadtest.py), the load generator in a process of its own, against:

- the floor: a bare aiohttp handler that parses the body and commits one row (SQLite,
  and PostgreSQL), the least any handler costs, with the same load;
- the storage floor: a bare handler that does what every turn must store, with the
  store's own statements and encryption (the lookup hash, the conversation loaded and
  its state decrypted, state, transcript entry and replies encrypted and written in one
  transaction), but no dialogue: what is left of a turn's cost is the dialogue's;
- the real server (bench/server.py: ``intake serve``'s wiring, NLU included, with the
  REST channel's rate limits off) on SQLite and PostgreSQL, with 1 and 2 workers.

On a machine with two cores or more, the server is pinned to core 0 and the load to core
1 (``os.sched_setaffinity``), as in issue 16; the comparison of 1 and 2 workers leaves
everything unpinned, since two workers need two cores. Each line prints journeys and
turns a second, p50/p95/p99, errors, and the RSS and CPU of each server process; the
ratio is to the floor of the same database at the same concurrency. The default run
takes about four minutes (``--seconds`` per line). ``--soak 600`` instead runs one
server for that long and reports how its memory grew.

``python -m bench caselist`` runs the back office's case list on 100,000 cases instead
(bench/caselist.py: seeded in bulk, then page 1 and page 50 over HTTP, p95; about four
minutes, ``make bench-caselist``); ``python -m bench all`` runs both.

``python -m bench --url http://host:8080`` (or ``intake bench URL``) measures a running
server instead: no floor, whatever limits it has.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.loadtest import HEADER, Result, row

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = 0, 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_cores() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@dataclass
class Process:
    pid: int
    rss_mb: float
    cpu: float
    """CPU seconds so far, or (in a result) the share of one core used during the run, in %."""


def _processes(root: int) -> list[Process]:
    """The server: the process itself, or its workers when it is a supervisor."""
    pids = [root]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
        if children:
            pids = [int(c) for c in children]
    found = []
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            status = Path(f"/proc/{pid}/status").read_text()
            rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            found.append(Process(pid, rss_kb / 1024, (int(stat[11]) + int(stat[12])) / ticks))
    return found


@contextlib.contextmanager
def server(mode: str, db_url: str, *, workers: int = 1, pin: bool) -> Iterator[tuple[str, int]]:
    port = free_port()
    pinned = (lambda: os.sched_setaffinity(0, {SERVER_CORE})) if pin else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--mode", mode, "--url", db_url, "--port", str(port),
         "--workers", str(workers)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=pinned,
        env={**os.environ, "INTAKE_LOG_LEVEL": "WARNING"},
    )
    try:
        _wait_ready(port, proc, workers)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], workers: int) -> None:
    deadline = time.monotonic() + 120
    # A sender id as long as the REST channel asks of a client that keeps no token.
    body = json.dumps({"sender": f"bench-warm-up-{uuid.uuid4().hex}", "message": "/start"}).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"the benchmark server exited:\n{error[-2000:]}")
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200 and (workers == 1 or len(_processes(proc.pid)) >= workers):
                    time.sleep(1.0 if workers > 1 else 0.0)  # the last worker may still be loading
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the benchmark server did not start")


def load(url: str, *, concurrency: int, seconds: float, floor: bool, pin: bool, label: str) -> Result:
    command = [sys.executable, "-m", "bot.loadtest", url, "--concurrency", str(concurrency),
               "--seconds", str(seconds), "--json", "--label", label]
    if floor:
        command.append("--floor")
    if pin:
        command += ["--cpu", str(LOAD_CORE)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    data.pop("turns_per_s", None), data.pop("journeys_per_s", None)
    return Result(**data)


@dataclass
class Line:
    result: Result
    processes: list[Process]
    floor: Result | None = None

    def text(self) -> str:
        out = row(self.result)
        if self.floor is not None and self.floor.turns:
            out += f"  {self.result.turns_per_s / self.floor.turns_per_s:5.2f}×"
            out += f" p99 {self.result.p99_ms / max(self.floor.p99_ms, 0.01):4.1f}×"
        else:
            out += " " * 17
        out += "  " + ", ".join(f"{p.rss_mb:.0f} MB {p.cpu:.0f}%" for p in self.processes)
        return out


def measure(mode: str, db_url: str, label: str, concurrency: int, seconds: float, *, workers: int = 1,
            pin: bool, floor: Result | None = None) -> Line:
    with server(mode, db_url, workers=workers, pin=pin) as (url, pid):
        before = {p.pid: p.cpu for p in _processes(pid)}
        started = time.perf_counter()
        result = load(url, concurrency=concurrency, seconds=seconds, floor=mode.startswith("floor"),
                      pin=pin, label=label)
        elapsed = time.perf_counter() - started
        processes = [Process(p.pid, p.rss_mb, 100 * (p.cpu - before.get(p.pid, 0.0)) / elapsed)
                     for p in _processes(pid)]
    line = Line(result, processes, floor)
    print(line.text(), flush=True)
    return line


def postgres_url() -> str | None:
    url = os.environ.get("INTAKE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return url
    except OSError:
        return None


async def _admin(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username or "postgres",
                                 password=parsed.password, database=parsed.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def postgres_database(base: str) -> Iterator[str]:
    from sqlalchemy.engine import make_url

    from bot.store.migrate import upgrade

    name = f"intake_bench_{os.getpid()}_{int(time.time())}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_database(folder: Path, name: str) -> str:
    from bot.store.migrate import upgrade

    url = f"sqlite+aiosqlite:///{folder / name}"
    upgrade(url)
    return url


def full_run(args: argparse.Namespace) -> None:
    pin = two_cores()
    seconds = args.seconds
    print(f"intake bench: whole voluntary-return journeys (~22 turns each) over the REST channel, "
          f"{seconds:.0f} s a line after 2 s of warm-up; {os.cpu_count()} cores; "
          + ("server pinned to core 0, load generator to core 1" if pin else "nothing pinned (one core)"))
    print("rate limits: OFF in the benchmark's server (one client sends for everyone)")
    print(HEADER + "  vs floor          server processes (RSS, CPU of one core)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floors = {c: measure("floor", f"sqlite+aiosqlite:///{folder / f'floor{c}.db'}",
                             f"floor: bare handler + 1 SQLite row", c, seconds, pin=pin).result
                  for c in (20, 50)}
        for c in (20, 50):
            measure("floor-turn", sqlite_database(folder, f"storage{c}.db"), "storage floor: a turn's rows, SQLite",
                    c, seconds, pin=pin, floor=floors[c])
        for c in (20, 50):
            measure("rest", sqlite_database(folder, f"rest{c}.db"), "intake, SQLite, 1 worker", c, seconds,
                    pin=pin, floor=floors[c])
    base = postgres_url()
    if base is None:
        print("PostgreSQL: not reachable (INTAKE_TEST_POSTGRES_URL), skipped")
        return
    with postgres_database(base) as url:
        floors = {c: measure("floor-postgres", url, "floor: bare handler + 1 PostgreSQL row", c, seconds,
                             pin=pin).result for c in (20, 50)}
        for c in (20, 50):
            measure("floor-turn-postgres", url, "storage floor: a turn's rows, PostgreSQL", c, seconds, pin=pin,
                    floor=floors[c])
        for c in (20, 50):
            measure("rest", url, "intake, PostgreSQL, 1 worker", c, seconds, pin=pin, floor=floors[c])
    if not pin:
        return
    print("1 and 2 workers, nothing pinned (the load generator and PostgreSQL share the two cores; "
          "the floor with 2 workers shows what the machine itself gains):")
    with postgres_database(base) as url:
        floors = {}
        for workers in (1, 2):
            floors[workers] = measure("floor-postgres", url, f"floor: PostgreSQL row, {_workers(workers)}", 50,
                                      seconds, workers=workers, pin=False).result
        for workers in (1, 2):
            measure("rest", url, f"intake, PostgreSQL, {_workers(workers)}", 50, seconds, workers=workers,
                    pin=False, floor=floors[workers])


def _workers(count: int) -> str:
    return f"{count} worker{'s' * (count > 1)}, unpinned"


def _anonymous_mb(pid: int) -> float:
    """The process's own memory (heap and stacks), without the files it maps."""
    with contextlib.suppress(OSError, StopIteration):
        status = Path(f"/proc/{pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("RssAnon:")) / 1024
    return 0.0


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1024 / 1024


def soak(args: argparse.Namespace) -> None:
    """One server under steady load for ``--soak`` seconds: its memory every tenth."""
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_database(Path(tmp), "soak.db")
        with server("rest", url, pin=two_cores()) as (base, pid):
            loader = subprocess.Popen([sys.executable, "-m", "bot.loadtest", base, "--concurrency", "20",
                                       "--seconds", str(args.soak), "--json", "--label", "soak"]
                                      + (["--cpu", str(LOAD_CORE)] if two_cores() else []),
                                      cwd=ROOT, stdout=subprocess.PIPE, text=True)
            samples: list[tuple[float, float]] = []
            started = time.monotonic()
            while loader.poll() is None:
                time.sleep(max(1.0, args.soak / 20))
                processes = _processes(pid)
                rss = sum(p.rss_mb for p in processes)
                heap = sum(_anonymous_mb(p.pid) for p in processes)
                samples.append((time.monotonic() - started, rss))
                print(f"  {samples[-1][0]:6.0f} s  RSS {rss:7.1f} MB (heap {heap:.1f} MB, the rest mapped files); "
                      f"database {_size_mb(Path(tmp)):.0f} MB", flush=True)
            out, _ = loader.communicate()
    result = Result(**{k: v for k, v in json.loads(out.strip().splitlines()[-1]).items()
                       if k not in ("turns_per_s", "journeys_per_s")})
    print(HEADER)
    print(row(result))
    settled = [rss for at, rss in samples if at >= min(60.0, args.soak / 5)] or [s[1] for s in samples]
    growth = 100 * (settled[-1] - settled[0]) / settled[0]
    verdict = "flat" if abs(growth) <= 10 else "GROWING"
    print(f"memory after warm-up {settled[0]:.1f} MB, at the end {settled[-1]:.1f} MB: {growth:+.1f} % ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("section", nargs="?", choices=("all", "journeys", "caselist"), default="journeys",
                        help="what to run (default: the journeys, about four minutes)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds a line (default 8)")
    parser.add_argument("--cases", type=int, default=100_000, help="caselist: cases seeded (default 100,000)")
    parser.add_argument("--rounds", type=int, default=20, help="caselist: requests a line (default 20)")
    parser.add_argument("--soak", type=float, help="run one server this many seconds and report memory growth")
    parser.add_argument("--url", help="measure this running server (no floor)")
    parser.add_argument("--concurrency", type=int, default=50, help="with --url")
    parser.add_argument("--nlu", action="store_true", help="also the NLU's own benchmark (bench/nlu.py)")
    args = parser.parse_args()
    if args.url:
        from bot.loadtest import main as run_load

        raise SystemExit(run_load([args.url, "--concurrency", str(args.concurrency), "--seconds", str(args.seconds)]))
    if args.soak:
        soak(args)
        return
    started = time.monotonic()
    if args.section in ("all", "journeys"):
        full_run(args)
    if args.section in ("all", "caselist"):
        from . import caselist

        caselist.run(args.cases, args.rounds)
    if args.nlu:
        from . import nlu

        nlu.run()
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
