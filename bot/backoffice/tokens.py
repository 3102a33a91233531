"""API tokens for admins: list them (never the token: only its hash is kept), make one
(shown once, on the page that made it), revoke one (refused at once). The same as
``intake tokens create/list/revoke``; every change is in the audit log."""

from __future__ import annotations

from aiohttp import web

from ..i18n import S_
from ..store.staff import ROLES, Staff, StaffError
from ..store.tokens import TokenStore
from .framework import BACKOFFICE, FORM, PREFIX, STAFF, Route, guarded, render


async def _page(request: web.Request, *, made: str | None = None, made_name: str | None = None,
                message: str | None = None, status: int = 200) -> web.Response:
    bo = request.app[BACKOFFICE]
    tokens = await TokenStore(bo.store).list()
    organisations = [slug for slug, _, _ in await bo.staff.organisations()]
    return render(request, "tokens.html", {
        "tokens": tokens, "now": bo.clock(), "roles": ROLES, "organisations": organisations,
        "made": made, "made_name": made_name, "message": message,
    }, status=status)


@guarded("manage_tokens")
async def token_list(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@guarded("manage_tokens")
async def create_token(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    days_text = str(form.get("expires", "")).strip()
    try:
        days = int(days_text) if days_text else None
    except ValueError:
        return await _page(request, message=S_("The expiry is a number of days."), status=400)
    try:
        info, token = await TokenStore(bo.store).create(
            str(form.get("name", ""))[:64], str(form.get("role", "")), str(form.get("organisation", ""))[:64],
            bo.clock(), created_by=user.email, days=days,
        )
    except StaffError:
        return await _page(
            request,
            message=S_("The token was not made: check the name (lower-case letters, digits, . _ -, not taken), "
                       "the role, the organisation and the expiry (1 to 3650 days)."),
            status=400,
        )
    await bo.staff.audit(user, "token_create", bo.clock(), detail=f"token={info.id} role={info.role} org={info.organisation}")
    return await _page(request, made=token, made_name=info.name)


@guarded("manage_tokens")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    try:
        info = await TokenStore(bo.store).revoke(request.match_info["token_id"][:9], bo.clock())
    except StaffError:
        raise web.HTTPNotFound(text="no such token") from None
    await bo.staff.audit(user, "token_revoke", bo.clock(), detail=f"token={info.id}")
    raise web.HTTPSeeOther(f"{PREFIX}/tokens")


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/tokens", token_list),
    ("POST", f"{PREFIX}/tokens", create_token),
    ("POST", f"{PREFIX}/tokens/{{token_id:[0-9]+}}/revoke", revoke_token),
)
