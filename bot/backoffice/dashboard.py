"""The dashboard: cases per kind per day (an SVG bar chart drawn here, with its figures as
a table), cases per language, open urgent cases, the waiting list, the median time to a
first answer per kind, and the urgent alerts nobody acknowledged yet; and acknowledging
an alert.

Every figure counts only the cases the signed-in user may see (``policy.visible_cases``):
a partner's dashboard is about its own cases. Figures come from GROUP BY queries
(bot/store/dashboard.py); no case is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..cases.kinds import KINDS
from ..i18n import S_
from ..store.casework import CaseFilter
from ..store.dashboard import Dashboard, last_days
from ..store.staff import Staff
from . import policy
from .i18n import staff_translations
from .framework import ALERTS, BACKOFFICE, FORM, LANGUAGE, PREFIX, STAFF, Route, back_to_case, case_or_404, guarded, render

DAYS = 30
KIND_COLOURS = {
    "voluntary_return": "#1f6fb2",
    "protection_appointment": "#2e8540",
    "visa_question": "#7a4fb0",
    "human_callback": "#b36b00",
    "urgent_safety": "#b00020",
}
"""One colour a kind, told apart also by the legend's order and the table (not by colour alone)."""
OTHER_COLOUR = "#555555"
BANNER = S_("Urgent alerts nobody has acknowledged: {n}")
SEE_ALERTS = S_("See the alerts")
UNITS = {"d": S_("{n} d"), "h": S_("{n} h"), "min": S_("{n} min")}


@dataclass(frozen=True, slots=True)
class Bar:
    kind: str
    x: float
    y: float
    width: float
    height: float
    colour: str
    count: int
    day: date


@dataclass
class Chart:
    """The geometry of the per-day chart, in the SVG's own units (it scales to the screen)."""

    width: int
    height: int
    top: int
    bottom: int
    left: int
    bars: list[Bar]
    peak: int
    ticks: list[tuple[float, str, str]]
    """(x, label, text-anchor)."""
    kinds: list[str]


def chart(counts: dict[str, dict[date, int]], days: list[date]) -> Chart:
    """A stacked bar a day, one segment a kind (kinds in registry order)."""
    width, height, top, bottom, left = 600, 240, 14, 30, 48
    kinds = [k for k in KINDS if k in counts] + sorted(k for k in counts if k not in KINDS)
    totals = [sum(counts[k].get(day, 0) for k in kinds) for day in days]
    peak = max(totals, default=0)
    scale = (height - top - bottom) / peak if peak else 0.0
    slot = (width - left) / max(len(days), 1)
    bars: list[Bar] = []
    for i, day in enumerate(days):
        base = float(height - bottom)
        for kind in kinds:
            n = counts[kind].get(day, 0)
            if not n:
                continue
            h = n * scale
            base -= h
            bars.append(Bar(kind, left + i * slot + slot * 0.15, base, slot * 0.7, h,
                            KIND_COLOURS.get(kind, OTHER_COLOUR), n, day))
    # First, middle and last day; the outer ones anchored inwards so that they stay inside.
    ticks = [
        (left + i * slot + slot / 2, days[i].strftime("%d/%m"), anchor)
        for i, anchor in ((0, "start"), (len(days) // 2, "middle"), (len(days) - 1, "end"))
    ] if days else []
    if ticks:
        ticks[0] = (left + slot * 0.15, ticks[0][1], "start")
        ticks[-1] = (width - slot * 0.15, ticks[-1][1], "end")
    return Chart(width, height, top, bottom, left, bars, peak, ticks, kinds)


def duration(seconds: float, gettext: Any) -> str:
    """``2 h 5 min``, ``3 d 4 h``: two units at most, in the staff member's language."""
    minutes = max(0, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    shown = [gettext(UNITS[unit]).format(n=n) for n, unit in parts if n][:2]
    return " ".join(shown) or gettext(UNITS["min"]).format(n=0)


@guarded("dashboard")
async def dashboard(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    visible = policy.visible_cases(user)
    zone = ZoneInfo(bo.timezone)
    now = bo.clock()
    today = now.astimezone(zone).date()
    days = last_days(today, DAYS)
    since = datetime.combine(days[0], time(), zone)
    figures = Dashboard(bo.store)
    counts = await figures.per_kind_per_day(visible, since, bo.timezone)
    urgent, urgent_total = await bo.work.cases(visible, CaseFilter(status="open", priority="urgent", per_page=10))
    alerts, alerts_total = await bo.alerts.unacknowledged(visible, limit=20)
    totals = {kind: sum(per_day.values()) for kind, per_day in counts.items()}
    await bo.staff.audit(user, "dashboard", now)
    return render(
        request,
        "dashboard.html",
        {
            "days": days,
            "counts": counts,
            "totals": totals,
            "chart": chart(counts, days),
            "colours": KIND_COLOURS,
            "other_colour": OTHER_COLOUR,
            "languages": await figures.per_language(visible, since),
            "urgent": urgent,
            "urgent_total": urgent_total,
            "waiting_list": await figures.open_with_flag(visible),
            "medians": await figures.median_first_answer(visible, since),
            "duration": duration,
            "dashboard_alerts": alerts,
            "dashboard_alerts_total": alerts_total,
            "since": days[0],
            # The alerts listed are of visible cases already; acknowledging is the role's.
            "may_acknowledge": "acknowledge" in policy.ROLE_ACTIONS.get(user.role, frozenset()),
        },
    )


@guarded("acknowledge")
async def acknowledge(request: web.Request) -> web.StreamResponse:
    """Say that one is on an urgent case: its alerts leave every on-duty colleague's banner."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "acknowledge")
    count = await bo.alerts.acknowledge(found.case.reference, user.id, bo.clock())
    await bo.staff.audit(user, "acknowledge", bo.clock(), case_reference=found.case.reference, detail=f"alerts={count}")
    back = str(request[FORM].get("back", ""))
    raise web.HTTPSeeOther(back if back.startswith(PREFIX + "/") and "//" not in back else f"{PREFIX}/dashboard")


@guarded("dashboard")
async def alert_banner(request: web.Request) -> web.StreamResponse:
    """The banner's content as JSON, for the page's script to refresh it without a reload
    (static/alerts.js): references only, of the cases the user may see; empty off duty."""
    user: Staff = request[STAFF]
    lines, total = request.get(ALERTS) or ([], 0)
    _ = staff_translations(request[LANGUAGE]).gettext
    response = web.json_response({
        "count": total if user.on_duty else 0,
        "text": _(BANNER).format(n=total),
        "references": [line.reference for line in lines],
        "see": _(SEE_ALERTS),
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@guarded("change_status")
async def escalate(request: web.Request) -> web.StreamResponse:
    """Make an open case urgent: its alert reaches the on-duty staff as a new urgent case's
    does. A case urgent already is left as it is (no second alert)."""
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    found = await case_or_404(request, "change_status")
    if await bo.alerts.escalate(found.case.reference, bo.clock(), actor=user.email):
        await bo.staff.audit(user, "escalate", bo.clock(), case_reference=found.case.reference, detail="urgent")
    raise back_to_case(found.case.reference)


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/dashboard", dashboard),
    ("POST", f"{PREFIX}/cases/{{reference}}/acknowledge", acknowledge),
    ("POST", f"{PREFIX}/cases/{{reference}}/escalate", escalate),
    ("GET", f"{PREFIX}/alerts.json", alert_banner),
)
