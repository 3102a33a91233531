"""The webhooks page (admins): the organisations' webhooks, added and removed here or
with ``intake webhooks``, and their deliveries, the parked ones first, to resend or
dismiss. The secret is asked once, stored encrypted and never shown again."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from ..i18n import S_
from ..store.outbox import EVENTS, WebhookError, Webhooks
from ..store.staff import Staff
from .framework import BACKOFFICE, FORM, PREFIX, STAFF, Route, guarded, render

PAGE = f"{PREFIX}/webhooks"
ERRORS = {
    "url": S_("A webhook address starts with https:// (or http://) and holds no user name or password."),
    "events": S_("Choose at least one event."),
    "secret": S_("The secret needs at least 16 characters."),
    "organisation": S_("Choose an organisation."),
    "gone": S_("That delivery cannot be changed any more: see its status below."),
    "missing": S_("No such webhook."),
}
DONE = {
    "added": S_("The webhook was added. Running servers send to it within seconds."),
    "removed": S_("The webhook was removed."),
    "resent": S_("The delivery will be sent again, with the same key and body."),
    "dismissed": S_("The delivery was dismissed; the case's later deliveries go on."),
}
STATUS_TITLES = {
    "pending": S_("Pending"),
    "running": S_("Being sent"),
    "delivered": S_("Delivered"),
    "parked": S_("Failed (parked)"),
    "dismissed": S_("Dismissed"),
}


def _back(**query: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(PAGE + ("?" + urlencode(query) if query else ""))


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such thing") from None


@guarded("manage_webhooks")
async def webhooks_page(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    hooks = Webhooks(bo.store)
    return render(request, "webhooks.html", {
        "webhooks": await hooks.list(),
        "parked": await hooks.deliveries(failed_only=True, limit=200),
        "recent": await hooks.deliveries(limit=50),
        "organisations": [slug for slug, _name, _rules in await bo.staff.organisations()],
        "events": EVENTS,
        "error": ERRORS.get(request.query.get("error", "")),
        "done": DONE.get(request.query.get("done", "")),
        "delivery_titles": STATUS_TITLES,
    })


@guarded("manage_webhooks")
async def add_webhook(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    form = request[FORM]
    events = [e for e in form.getall("events", []) if isinstance(e, str)]
    try:
        hook = await Webhooks(bo.store).add(
            str(form.get("organisation", "")), str(form.get("url", "")), events, str(form.get("secret", "")),
            actor=user.email, now=bo.clock(),
        )
    except WebhookError as error:
        raise _back(error=error.code) from None
    await bo.staff.audit(user, "webhook_add", bo.clock(), detail=f"webhook={hook.id}:{hook.organisation}")
    raise _back(done="added")


@guarded("manage_webhooks")
async def remove_webhook(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    webhook_id = _id(request)
    if not await Webhooks(bo.store).remove(webhook_id):
        raise _back(error="missing")
    await bo.staff.audit(request[STAFF], "webhook_remove", bo.clock(), detail=f"webhook={webhook_id}")
    raise _back(done="removed")


@guarded("manage_webhooks")
async def resend_delivery(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    delivery_id = _id(request)
    if not await Webhooks(bo.store).resend(delivery_id, bo.clock()):
        raise _back(error="gone")
    await bo.staff.audit(request[STAFF], "webhook_resend", bo.clock(), detail=f"delivery={delivery_id}")
    raise _back(done="resent")


@guarded("manage_webhooks")
async def dismiss_delivery(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    delivery_id = _id(request)
    if not await Webhooks(bo.store).dismiss(delivery_id):
        raise _back(error="gone")
    await bo.staff.audit(request[STAFF], "webhook_dismiss", bo.clock(), detail=f"delivery={delivery_id}")
    raise _back(done="dismissed")


ROUTES: tuple[Route, ...] = (
    ("GET", PAGE, webhooks_page),
    ("POST", PAGE, add_webhook),
    ("POST", f"{PAGE}/{{id}}/remove", remove_webhook),
    ("POST", f"{PAGE}/deliveries/{{id}}/resend", resend_delivery),
    ("POST", f"{PAGE}/deliveries/{{id}}/dismiss", dismiss_delivery),
)
