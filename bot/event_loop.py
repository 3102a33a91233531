"""The event loop the server runs on: uvloop where it is installed (Linux, macOS).

uvloop's loop and transports are written in Cython over libuv; under load they take
about a fifth off each HTTP turn's cost and a third off its p99 (``make bench``).
Nothing in the code depends on it: without it, asyncio's own loop is used.
"""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
