"""Real processes: a conversation survives SIGKILL, and the server starts and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Settings

from .chat import VOLUNTARY_RETURN
from .serving import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A data folder of its own, with the NLU model of this folder's (``make model``) rather
    than one trained again in the new data folder."""
    return {**os.environ, "INTAKE_DATA_DIR": str(tmp_path / "var"), "INTAKE_LOG_LEVEL": "WARNING",
            "INTAKE_NLU_MODEL_PATH": str(Settings().nlu_model_path)}


@pytest.fixture
def intake(env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``intake ARGS`` with pipes; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def turn(proc: subprocess.Popen[str], message: str) -> list[dict]:
    assert proc.stdin and proc.stdout
    proc.stdin.write(message + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "no output"
    return json.loads(line)


def field(replies: list[dict]) -> str | None:
    for reply in reversed(replies):
        expects = reply.get("custom", {}).get("expects")
        if expects:
            return expects["field"]
    return None


def test_a_killed_process_resumes_at_the_same_question(intake: Callable[..., subprocess.Popen[str]]) -> None:
    first = intake("chat", "--json", "--sender", "resume-test")
    replies = turn(first, "/voluntary_return")
    for _ in range(8):
        replies = turn(first, VOLUNTARY_RETURN[field(replies)])  # type: ignore[index]
    waiting_at = field(replies)
    assert waiting_at == "household.children"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    second = intake("chat", "--json", "--sender", "resume-test")
    replies = turn(second, "/back")  # where were we? one step back shows the answer kept
    assert field(replies) == "household.adults"
    assert any(b["payload"] == "/keep" and "2" in b["title"] for r in replies for b in r.get("buttons", []))
    replies = turn(second, "/keep")
    assert field(replies) == waiting_at
    replies = turn(second, "1")
    assert field(replies) == "travel_document"
    assert second.stdin
    second.stdin.close()
    assert second.wait(timeout=20) == 0, second.stderr.read() if second.stderr else ""


def test_json_chat_answers_each_line_with_exactly_one_line(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--json", "--lang", "en"],
        input="/start\nhello\n\n/voluntary_return\n", env=env, text=True, capture_output=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first[0]["recipient_id"] == "local"
    assert {"title", "payload"} <= set(first[0]["buttons"][0])
    assert field(json.loads(lines[3])) == "consent.data_processing"


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(intake: Callable[..., subprocess.Popen[str]]) -> None:
    port = free_port()
    server = intake("serve", "--port", str(port))
    deadline = time.monotonic() + 30
    body = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                body = json.loads(response.read())
                break
        except OSError:
            if server.poll() is not None:
                pytest.fail(server.stderr.read() if server.stderr else "server exited")
            time.sleep(0.2)
    assert body["status"] == "ok" and "voluntary_return" in body["flows"] and "urgent_help" in body["flows"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert b"<html" in response.read()  # the web chat is served
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook",
        data=json.dumps({"sender": "process-test-5f1c9e2a", "message": "/voluntary_return"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert field(json.loads(response.read())) == "consent.data_processing"
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0, server.stderr.read() if server.stderr else ""


def test_cases_commands_print_what_the_chat_created(intake: Callable[..., subprocess.Popen[str]], env: dict[str, str]) -> None:
    chat = intake("chat", "--json")
    replies = turn(chat, "/voluntary_return")
    while field(replies):
        value = VOLUNTARY_RETURN[field(replies)]  # type: ignore[index]
        for message in (value + ["/done"]) if isinstance(value, list) else [value]:
            replies = turn(chat, message)
    replies = turn(chat, "/confirm")
    reference = replies[0]["text"].split("Your reference is ")[1][:9]
    assert chat.stdin
    chat.stdin.close()
    chat.wait(timeout=20)

    listing = subprocess.run([sys.executable, "-m", "bot.cli", "cases", "list"], env=env, text=True, capture_output=True, timeout=60)
    assert listing.returncode == 0 and reference in listing.stdout and "voluntary_return" in listing.stdout
    assert "Nino" not in listing.stdout  # the list shows no personal data
    shown = subprocess.run([sys.executable, "-m", "bot.cli", "cases", "show", reference.lower()], env=env, text=True, capture_output=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["applicant"]["name"] == "Nino Beridze"
