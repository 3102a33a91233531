"""Logs without personal data.

A failed turn is logged with its traceback, and an exception's message often quotes what
it was given: a name that did not validate, the parameters of an SQL statement, the repr
of a state full of answers. The formatter installed by :func:`configure` (the CLI's
logging setup) therefore writes, for every exception in a chain, the frames (file, line,
function and our source line, never local variables) and the exception's type, with its
message only when the exception class is one of ours (``bot.*``, ``nlu.*``), whose
messages we write to be safe. Every message then has what looks like personal data
masked: e-mail addresses, phone numbers and dates.
"""

from __future__ import annotations

import logging
import re
import json
import os
import sys
import time
import traceback
from types import TracebackType
from typing import IO, Any

OWN_MODULES = ("bot.", "nlu.")
_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?<![\w.:])\+?\d(?:[ \-()/]{0,2}\d){7,}(?![\w.])"), "[number]"),
    (re.compile(r"(?<![\w.])\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?![\w.])"), "[date]"),
)


def scrub(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and dates masked."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


def _own(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(OWN_MODULES)


def _chain(exc: BaseException) -> list[BaseException]:
    """Oldest first, as Python prints it (the cause or context, then what it led to)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain[::-1]


def format_exception(exc: BaseException) -> str:
    """A traceback with the frames and the types, and no value an exception carried."""
    parts: list[str] = []
    for index, link in enumerate(_chain(exc)):
        if index:
            parts.append("\nThe above exception led to the following one:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts += traceback.format_list(traceback.extract_tb(link.__traceback__))
        name = f"{type(link).__module__}.{type(link).__qualname__}"
        shown = f": {scrub(str(link))}" if _own(link) and str(link) else " (message withheld: it may hold personal data)"
        parts.append(name + shown + "\n")
    return "".join(parts).rstrip("\n")


class RedactingFormatter(logging.Formatter):
    def formatException(self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]) -> str:  # type: ignore[override]
        return format_exception(ei[1]) if ei[1] is not None else ""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = scrub(record.message)
        return super().formatMessage(record)

    def formatStack(self, stack_info: str) -> str:
        return scrub(stack_info)


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str = "INFO", stream: IO[str] | None = None, log_format: str = "text") -> logging.Handler | None:
    """Like ``logging.basicConfig``, with the redacting formatter: the root logger gets one
    handler, unless it already has some (a test runner's), which are then left alone."""
    root = logging.getLogger()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if root.handlers:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime  # type: ignore[assignment]
    else:
        formatter = RedactingFormatter(FORMAT)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    return handler


class JsonFormatter(RedactingFormatter):
    """One JSON object a line, redacted like the text format (bot/logs.py): the message
    scrubbed, exception messages withheld unless they are our own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        worker = os.environ.get("INTAKE_WORKER")
        if worker is not None:
            entry["worker"] = int(worker)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
