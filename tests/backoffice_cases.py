"""Cases and staff for the back-office tests, made through the store as the bot makes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cases.draft import CaseDraft
from bot.cases.model import Case
from bot.store.staff import Staff, StaffDirectory
from bot.store.store import Store

PASSWORD = "correct horse battery staple"


async def make_case(
    store: Store,
    now: datetime,
    kind: str,
    flow_id: str,
    *,
    sender: str | None = None,
    flags: tuple[str, ...] = (),
    share: tuple[str, ...] = (),
    answers: dict[str, Any] | None = None,
    applicant: dict[str, Any] | None = None,
    priority: str = "normal",
    submitted_org: str | None = None,
) -> Case:
    scopes = {"data_processing": True, **{f"share_{org}": True for org in share}, "share_caritas": False}
    draft = CaseDraft(
        kind=kind, flow_id=flow_id, language="fr", channel="rest",
        applicant=applicant or {"name": "Nino Beridze"}, household={}, answers=answers or {},
        flags=list(flags), priority=priority,
        consent={"version": "v1", "given_at": now.isoformat(), "scopes": scopes},
        content_version="test", submitted_by="someone" if submitted_org else None, submitted_org=submitted_org,
    )
    async with store.turn("rest", sender or f"{kind}-{flow_id}-{flags}-{share}-{submitted_org}", now) as turn:
        return await turn.create_case(draft, now)


async def make_user(
    directory: StaffDirectory, email: str, role: str, org: str, now: datetime, on_duty: bool = False
) -> Staff:
    user = await directory.add_user(email, PASSWORD, role, org, now)
    if on_duty:
        await directory.set_profile(user.id, on_duty=True, language=None)
        user = await directory.user_by_id(user.id)  # type: ignore[assignment]
    assert user is not None
    return user
