"""Serving the staff API: every module's ``ROUTES``, the OpenAPI description, and
problem details for what no route answers (an unknown path, a wrong method)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aiohttp import web

from ..backoffice.framework import PUBLIC
from ..i18n import S_
from ..store.tokens import TokenStore
from . import cases, events, slots
from .framework import (
    API,
    HEADERS,
    TOKENS,
    ApiProblem,
    Call,
    Endpoint,
    endpoint,
    problem_response,
)
from .openapi import describe

PUBLIC_ROUTES = frozenset({f"{API}/openapi.json"})
"""The only API routes that need no token (tests check the list)."""


@endpoint("GET", f"{API}/openapi.json", PUBLIC, "This description (OpenAPI 3.1)")
async def openapi_json(call: Call) -> web.StreamResponse:
    return web.json_response(openapi(), headers=HEADERS)


ROUTES: tuple[Any, ...] = (*cases.ROUTES, *slots.ROUTES, *events.ROUTES, openapi_json)
"""Every API route, each declared with ``endpoint`` (its permission and models)."""


def endpoints() -> list[Endpoint]:
    return [handler.endpoint for handler in ROUTES]


@lru_cache(maxsize=1)
def openapi() -> dict[str, Any]:
    return describe(endpoints())


@web.middleware
async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """Under /api, what the router refuses (404, 405) is a problem too, as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if not request.path.startswith("/api/") or error.status < 400:
            raise
        kind = {404: "not-found", 405: "method"}.get(error.status, "http")
        detail = {404: S_("There is no such route."), 405: S_("This route does not take this method.")}.get(
            error.status, error.reason
        )
        response = problem_response(request, ApiProblem(error.status, kind, detail))
        if error.status == 405 and "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response


def mount(app: web.Application, services: Any) -> None:
    """Serve /api/v1 from ``app`` (after the back office: they share its state)."""
    app[TOKENS] = TokenStore(services.store)
    app.middlewares.append(problems)
    for handler in ROUTES:
        spec: Endpoint = handler.endpoint
        app.router.add_route(spec.method, spec.path, handler)
