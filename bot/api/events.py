"""The events feed: what the webhooks deliver, for a receiver that was down past the
retry limit or prefers to poll. The same bodies, in publication order, under the token's
access (the back office's one check, applied to the access columns each event keeps)."""

from __future__ import annotations

from ..backoffice import policy
from ..i18n import S_
from ..store.outbox import events_after
from .framework import API, ApiProblem, Call, endpoint
from .models import EventPage, EventsQuery


@endpoint("GET", f"{API}/events", "list_cases",
          "Case events after a cursor, oldest first: the webhooks' bodies, as a feed",
          query=EventsQuery, response=EventPage, errors=(400, 401, 403, 422))
async def list_events(call: Call) -> EventPage:
    q: EventsQuery = call.query
    try:
        items, following = await events_after(call.bo.store, policy.visible_cases(call.user), q.after, q.limit)
    except ValueError:
        raise ApiProblem(400, "bad-cursor", S_("This cursor is not one this feed gave.")) from None
    call.audit_detail = f"n={len(items)}"
    return EventPage.model_validate({"items": items, "next": following})


ROUTES = (list_events,)
