"""``intake serve --workers N``: N server processes sharing one port.

Each worker is a whole ``intake serve`` of its own (``--worker``), listening with
``SO_REUSEPORT`` so that the kernel spreads connections over them; this parent only
starts them, starts again one that dies, and on SIGTERM or SIGINT asks each to stop (a
worker finishes its turns in flight, as a single ``intake serve`` does) and waits.

Several workers need a database several processes can write at once: PostgreSQL (a turn
takes an advisory lock on its conversation, reminders are claimed with SKIP LOCKED), and
Telegram by webhook (long polling lets only one process fetch updates).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .config import Settings

log = logging.getLogger(__name__)

STOP_TIMEOUT = 40.0
"""Seconds a worker has to finish its turns after SIGTERM before it is killed."""
RESTART_DELAY = 1.0
"""Seconds before a worker that died is started again (more if it keeps dying)."""


def several_workers_problem(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` processes cannot serve with these settings, or None."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        return (
            f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time. "
            "Set INTAKE_DATABASE_URL=postgresql+asyncpg://user@host/db, or serve with one worker."
        )
    if settings.telegram_bot_token is not None and not settings.public_url.strip():
        return (
            f"--workers {workers} cannot poll Telegram: only one process may fetch its updates. "
            "Set INTAKE_PUBLIC_URL so that Telegram calls the webhook, or serve with one worker."
        )
    return None


def metrics_directory() -> tuple[Path, bool]:
    """Where the workers' Prometheus samples go (``PROMETHEUS_MULTIPROC_DIR``): the given
    folder, emptied, or a new temporary one (True: ours to delete at the end)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # samples of an earlier run would add up
            stale.unlink()
        return folder, False
    return Path(tempfile.mkdtemp(prefix="intake-metrics-")), True


class Supervisor:
    """The parent of the workers."""

    def __init__(self, workers: int, host: str, port: int, command: list[str] | None = None) -> None:
        self.count = workers
        self.host = host
        self.port = port
        self.command = command
        """What a worker runs (default: ``intake serve --worker``); it must listen with
        SO_REUSEPORT on ``host:port``."""
        self._stopping = False
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._failures: dict[int, int] = {}

    def _command(self) -> list[str]:
        if self.command is not None:
            return self.command
        return [sys.executable, "-m", "bot.cli", "serve", "--worker", "--no-migrate",
                "--host", self.host, "--port", str(self.port)]

    def _start(self, slot: int, env: dict[str, str]) -> None:
        self._procs[slot] = subprocess.Popen(self._command(), env={**env, "INTAKE_WORKER": str(slot)})
        log.info("worker %d started (pid %d)", slot, self._procs[slot].pid)

    def _stop(self, signum: int, _frame: object) -> None:
        if not self._stopping:
            log.info("stopping %d workers", len(self._procs))
        self._stopping = True

    def run(self) -> int:
        folder, ours = metrics_directory()
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.count):
                self._start(slot, env)
            log.info("serving on http://%s:%s/ with %d workers", self.host, self.port, self.count)
            while not self._stopping:
                time.sleep(0.2)
                for slot, proc in list(self._procs.items()):
                    if proc.poll() is None or self._stopping:
                        continue
                    self._died(slot, proc, folder)
                    self._failures[slot] = self._failures.get(slot, 0) + 1
                    time.sleep(min(30.0, RESTART_DELAY * self._failures[slot]))
                    if not self._stopping:
                        self._start(slot, env)
            return self._stop_all(folder)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if ours:
                shutil.rmtree(folder, ignore_errors=True)

    def _died(self, slot: int, proc: subprocess.Popen[bytes], folder: Path) -> None:
        log.error("worker %d (pid %d) exited with %s: starting it again", slot, proc.pid, proc.returncode)
        _forget_samples(proc.pid, folder)

    def _stop_all(self, folder: Path) -> int:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        code = 0
        for slot, proc in self._procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %d did not stop in %.0f s: killed", slot, STOP_TIMEOUT)
                proc.kill()
                proc.wait()
                code = 1
            _forget_samples(proc.pid, folder)
        log.info("all workers stopped")
        return code


def _forget_samples(pid: int, folder: Path) -> None:
    """A dead worker's live gauges must not count any more (prometheus-client's rule)."""
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(folder))
    multiprocess.mark_process_dead(pid, str(folder))


def serve_workers(workers: int, host: str, port: int) -> int:
    return Supervisor(workers, host, port).run()
