"""JSON on the turn's path, with orjson: a turn serialises its state, transcript entry and
stored replies and parses the request, and ``json``'s encoder was about a twentieth of a
turn's CPU (``make bench``); orjson does the same in a fraction.

The output is what ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``
gives, as UTF-8 bytes. :func:`loads` accepts what ``json.loads`` accepts, lone surrogate
escapes included (orjson refuses them; the channels replace them later, see
``turn.plain_text``), by falling back to ``json`` for such rare bodies only.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    """``data`` parsed; bytes must be UTF-8 (``UnicodeDecodeError`` otherwise)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
