"""What operators look at: ``/readyz``, ``/metrics`` and the log format.

``/healthz`` (bot/app.py) says the process answers; ``/readyz`` says it can serve turns:
the database answers, its schema is at the migrations' head, and the NLU model is
loaded. A load balancer sends traffic only to ready workers (503 otherwise).

``/metrics`` is Prometheus' text format (bot/metrics.py). With ``INTAKE_METRICS_TOKEN``
set it needs ``Authorization: Bearer <token>``; without, it answers only on loopback,
and never to a request that came through a reverse proxy (``X-Forwarded-For``), since a
proxy on the same machine also connects from loopback.

``INTAKE_LOG_FORMAT=json`` writes one JSON object per log line (time, level, logger,
message, worker): no request bodies, sender ids or texts, as everywhere in the code.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from typing import Any

from aiohttp import web
from sqlalchemy import text

log = logging.getLogger(__name__)


def mount(app: web.Application, services: Any) -> None:
    """``services``: bot.app.Services (settings, store, nlu)."""

    async def readyz(request: web.Request) -> web.Response:
        return await _readyz(services)

    async def metrics(request: web.Request) -> web.Response:
        return await _metrics(request, services)

    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def _readyz(services: Any) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with services.store.reading() as session:
            version = await session.scalar(text("SELECT version_num FROM alembic_version"))
        checks["database"] = "ok"
        head = migrations_head()
        checks["migrations"] = "ok" if version == head else f"at {version}, head is {head}: run intake db upgrade"
    except Exception as exc:  # noqa: BLE001 - any failure means: not ready
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    checks["nlu"] = "ok" if services.nlu is not None else "not loaded"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks,
            "worker": {"pid": os.getpid(), "slot": os.environ.get("INTAKE_WORKER")}}
    return web.json_response(body, status=200 if ready else 503)


_HEAD: list[str] = []


def migrations_head() -> str:
    """The newest migration's revision (read once: the code does not change while it runs)."""
    if not _HEAD:
        from alembic.script import ScriptDirectory

        from .store.migrate import alembic_config

        _HEAD.append(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or "")
    return _HEAD[0]


async def _metrics(request: web.Request, services: Any) -> web.Response:
    from . import metrics

    refusal = _metrics_refusal(request, services.settings)
    if refusal is not None:
        return refusal
    body, content_type = await metrics.exposition(services.store)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def _metrics_refusal(request: web.Request, settings: Any) -> web.Response | None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return web.json_response({"error": "a bearer token is needed"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if _loopback(request.remote) and "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers:
        return None
    return web.json_response({"error": "metrics are served on loopback only; set INTAKE_METRICS_TOKEN"}, status=403)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
