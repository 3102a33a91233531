"""What every staff API route shares: the bearer token, the permission (the back office's
actions and its one access check, bot/backoffice/policy.py), the request's validation
with the route's pydantic models, RFC 9457 problem details for every error, and a line
in the audit log for every call.

A route is declared once, with ``endpoint(method, path, permission, ...)``; the handler
gets a ``Call`` and answers a model (sent as JSON) or a response of its own (an export).
The same declaration feeds ``/api/v1/openapi.json`` (openapi.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..backoffice import policy
from ..backoffice.framework import BACKOFFICE, PUBLIC, STAFF, BackOffice, route_allowed
from ..backoffice.i18n import staff_language, staff_translations
from ..i18n import S_
from ..store.staff import Staff
from ..store.tokens import TokenStore
from .models import FieldError, Problem

log = logging.getLogger(__name__)

API = "/api/v1"
PROBLEM = "application/problem+json"
PROBLEM_BASE = "tag:intake-bot,2026:problem:"
"""``type`` of each problem: this base and a short name (README, "Staff API"). A tag URI
(RFC 4151), as RFC 9457 suggests for types that are not pages to fetch."""
TOKENS: web.AppKey[TokenStore] = web.AppKey("api_tokens", TokenStore)
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
TITLES = {
    400: S_("Bad request"),
    401: S_("Not signed in"),
    403: S_("Not allowed"),
    404: S_("Not found"),
    405: S_("Method not allowed"),
    409: S_("Conflict"),
    413: S_("Request too large"),
    415: S_("Unsupported media type"),
    422: S_("Invalid request"),
}


class ApiProblem(Exception):
    """Answer with a problem: ``status``, a short ``kind`` (the type's last part) and a
    ``detail`` in English that is translated for the caller (a backoffice message id)."""

    def __init__(self, status: int, kind: str, detail: str, **params: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.params = status, kind, detail, params
        self.errors: list[FieldError] | None = None


@dataclass
class Call:
    """One call: who makes it, what it asked, and the back office's state."""

    request: web.Request
    principal: Staff | None
    bo: BackOffice
    body: Any = None
    query: Any = None
    audit_detail: str | None = None
    """Set by the handler: what the audit line says beyond the route (ids, never text)."""
    public: bool = False
    """The route needs no token (the OpenAPI description)."""

    @property
    def user(self) -> Staff:
        assert self.principal is not None
        return self.principal


ApiHandler = Callable[[Call], Awaitable[BaseModel | web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    """A route's declaration, for serving and for the OpenAPI description."""

    method: str
    path: str
    permission: str
    summary: str
    body: Any = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    content: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Other answers than JSON (an export's media types → their schema)."""
    errors: tuple[int, ...] = ()
    handler_name: str = ""


def endpoint(
    method: str,
    path: str,
    permission: str,
    summary: str,
    *,
    body: Any = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    content: dict[str, dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[ApiHandler], Any]:
    if permission != PUBLIC and permission not in policy.ACTIONS:
        raise ValueError(f"unknown permission {permission!r}")
    body_adapter = TypeAdapter(body) if body is not None else None

    def wrap(handler: ApiHandler) -> Any:
        spec = Endpoint(
            method, path, permission, summary, body, query, response, status, content or {}, errors, handler.__name__
        )

        async def api_handler(request: web.Request) -> web.StreamResponse:
            bo = request.app[BACKOFFICE]
            call = Call(request, None, bo, public=permission == PUBLIC)
            reference = request.match_info.get("reference", "").upper()[:16] or None
            status = 500
            try:
                if permission != PUBLIC:
                    call.principal = await _principal(request)
                    request[STAFF] = call.principal
                    if not route_allowed(call.principal, permission):
                        raise ApiProblem(403, "forbidden", S_("This token may not do this."))
                if query is not None:
                    call.query = _validated(query, dict(request.query))
                if body_adapter is not None:
                    call.body = await _body(request, body_adapter)
                answer = await handler(call)
                if isinstance(answer, BaseModel):
                    response: web.StreamResponse = web.json_response(
                        text=answer.model_dump_json(), status=spec.status, headers=HEADERS
                    )
                else:
                    response = answer
                status = response.status
                return response
            except ApiProblem as problem:
                status = problem.status
                return problem_response(request, problem)
            except web.HTTPException as error:  # case_or_404's 404 and 403, aiohttp's 413…
                status = error.status
                kind = {404: "not-found", 403: "forbidden", 413: "too-large"}.get(error.status, "http")
                detail = {
                    404: S_("There is no such case, or it is out of your reach."),
                    403: S_("This token may not do this to this case."),
                }.get(error.status, error.reason)
                return problem_response(request, ApiProblem(error.status, kind, detail))
            finally:
                await _audit(bo, call, request, handler.__name__, status, reference)

        api_handler.permission = permission  # type: ignore[attr-defined]
        api_handler.endpoint = spec  # type: ignore[attr-defined]
        api_handler.__name__ = handler.__name__
        api_handler.__doc__ = handler.__doc__
        return api_handler

    return wrap


async def _principal(request: web.Request) -> Staff:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        bo = request.app[BACKOFFICE]
        principal = await request.app[TOKENS].principal(token.strip(), bo.clock())
    if principal is None:
        raise ApiProblem(401, "unauthorized", S_("Give a valid API token: Authorization: Bearer <token>."))
    return principal


def _validated(model: Any, data: Any) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as error:
        problem = ApiProblem(422, "invalid", S_("The request is not valid: see errors."))
        problem.errors = [
            FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"])
            for e in error.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise problem from None


async def _body(request: web.Request, adapter: TypeAdapter[Any]) -> Any:
    if request.content_type != "application/json":
        raise ApiProblem(415, "media-type", S_("Send the body as application/json."))
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiProblem(400, "bad-json", S_("The body is not JSON.")) from None
    return _validated(adapter, data)


def translator(request: web.Request) -> Callable[[str], str]:
    principal: Staff | None = request.get(STAFF)
    language = staff_language(principal.language if principal else None, request.headers.get("Accept-Language"))
    return staff_translations(language).gettext


def problem_response(request: web.Request, problem: ApiProblem) -> web.Response:
    _ = translator(request)
    detail = _(problem.detail)
    if problem.params:
        detail = detail.format(**problem.params)
    body = Problem(
        type=PROBLEM_BASE + problem.kind,
        title=_(TITLES.get(problem.status, "Error")),
        status=problem.status,
        detail=detail,
        instance=request.path,
        errors=problem.errors,
    )
    headers = dict(HEADERS)
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="intake"'
    return web.Response(
        text=body.model_dump_json(exclude_none=True), status=problem.status, content_type=PROBLEM, headers=headers
    )


async def _audit(
    bo: BackOffice, call: Call, request: web.Request, name: str, status: int, reference: str | None
) -> None:
    """One line per call: the token (or ``-``), the route, its answer; never a value."""
    detail = f"{request.method} {name} {status}"
    if call.audit_detail:
        detail += f" {call.audit_detail}"
    try:
        await bo.staff.audit(
            call.principal, "api" if call.principal or call.public else "api_refused", bo.clock(),
            case_reference=reference, detail=detail[:255],
        )
    except Exception:  # the answer is already decided; the failure is logged, not hidden
        log.exception("api: could not write the audit line of %s", name)
