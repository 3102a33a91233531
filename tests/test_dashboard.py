"""The dashboard's figures match the seeded cases and count only what each user may see;
alerts show on an on-duty user's pages until someone acknowledges them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.backoffice import policy
from bot.engine.loader import FlowSet
from bot.store.casework import Casework
from bot.store.dashboard import Dashboard
from bot.store.models import CaseRow
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_case, make_user
from .backoffice_http import backoffice, client, page_csrf, sign_in
from .conftest import START, Clock

ZONE = "Europe/Brussels"
SINCE = datetime.combine(date(2026, 10, 25), time(), ZoneInfo(ZONE))  # 30 local days up to 23/11


async def _case(store: Store, at: datetime, kind: str, flow: str, language: str, **more: Any) -> str:
    case = await make_case(store, at, kind, flow, sender=f"{kind}-{at.isoformat()}-{language}", **more)
    async with store.engine.begin() as conn:  # the helper writes French; the figures need several
        await conn.execute(update(CaseRow).where(CaseRow.reference == case.reference).values(language=language))
    return case.reference


async def _answer(store: Store, reference: str, at: datetime, status: str = "in_review", outcome: str | None = None) -> None:
    await Casework(store).change_status(reference, status, "first answer", outcome, "staff@example.org", at)


async def seed(store: Store) -> dict[str, str]:
    day = timedelta(days=1)
    refs = {
        "vr1": await _case(store, START - 2 * day, "voluntary_return", "voluntary_return", "fr"),
        "vr2": await _case(store, START - 2 * day + timedelta(hours=1), "voluntary_return", "voluntary_return", "ar"),
        # 23:30 UTC on the 21st is 00:30 on the 22nd in Brussels: the 22nd's.
        "vr3": await _case(store, datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc), "voluntary_return",
                           "voluntary_return", "fr"),
        "vr_ngo": await _case(store, START - day, "voluntary_return", "voluntary_return", "uk", submitted_org="ngo"),
        "pa1": await _case(store, START - 3 * day, "protection_appointment", "protection_appointment", "ps",
                           flags=("waiting_list",)),
        "pa2": await _case(store, START - 3 * day, "protection_appointment", "protection_appointment", "ps",
                           flags=("waiting_list",)),
        "vq_old": await _case(store, START - 40 * day, "visa_question", "visa_info", "en"),
        "vq2": await _case(store, START - timedelta(hours=1), "visa_question", "visa_info", "en"),
        "us1": await _case(store, START - timedelta(hours=1), "urgent_safety", "urgent_help", "fr", priority="urgent"),
    }
    await _answer(store, refs["vr1"], START - 2 * day + timedelta(hours=2))
    await _answer(store, refs["vr2"], START - 2 * day + timedelta(hours=5))
    await _answer(store, refs["pa2"], START - 3 * day + timedelta(hours=6), "closed", "withdrawn")
    await _answer(store, refs["vq2"], START - timedelta(minutes=30))
    directory = StaffDirectory(store)
    await make_user(directory, "fedasil@example.org", "caseworker", "fedasil", START)
    await make_user(directory, "io@example.org", "caseworker", "immigration-office", START, on_duty=True)
    await make_user(directory, "ngo@example.org", "partner", "ngo", START, on_duty=True)
    await make_user(directory, "audit@example.org", "auditor", "immigration-office", START)
    return refs


async def test_the_figures_count_only_what_each_user_may_see(store: Store) -> None:
    await seed(store)
    directory = StaffDirectory(store)
    figures = Dashboard(store)
    fedasil, io, ngo = [await directory.user(f"{name}@example.org") for name in ("fedasil", "io", "ngo")]
    assert fedasil and io and ngo

    seen = policy.visible_cases(fedasil)
    assert await figures.per_kind_per_day(seen, SINCE, ZONE) == {
        "voluntary_return": {date(2026, 11, 21): 2, date(2026, 11, 22): 2}
    }
    assert await figures.per_language(seen, SINCE) == [("fr", 2), ("ar", 1), ("uk", 1)]
    assert await figures.open_with_flag(seen) == 0
    medians = await figures.median_first_answer(seen, SINCE)
    assert [(m.kind, m.answered, round(m.median_seconds)) for m in medians] == [("voluntary_return", 2, 3 * 3600)]

    seen = policy.visible_cases(io)  # on duty: the urgent safety case too; no voluntary return
    assert await figures.per_kind_per_day(seen, SINCE, ZONE) == {
        "protection_appointment": {date(2026, 11, 20): 2},
        "visa_question": {date(2026, 11, 23): 1},
        "urgent_safety": {date(2026, 11, 23): 1},
    }
    assert await figures.per_language(seen, SINCE) == [("ps", 2), ("en", 1), ("fr", 1)]
    assert await figures.open_with_flag(seen) == 1  # pa2 is closed
    medians = await figures.median_first_answer(seen, SINCE)
    assert [(m.kind, m.answered, round(m.median_seconds)) for m in medians] == [
        ("protection_appointment", 1, 6 * 3600), ("visa_question", 1, 1800)
    ]

    seen = policy.visible_cases(ngo)
    assert await figures.per_kind_per_day(seen, SINCE, ZONE) == {"voluntary_return": {date(2026, 11, 22): 1}}


async def test_the_median_of_an_odd_and_an_even_count(store: Store) -> None:
    admin = await make_user(StaffDirectory(store), "admin@example.org", "admin", "immigration-office", START)
    for i, minutes in enumerate((10, 70, 40, 1000)):
        ref = await _case(store, START - timedelta(hours=20 + i), "visa_question", "visa_info", "en")
        await _answer(store, ref, START - timedelta(hours=20 + i) + timedelta(minutes=minutes))
    figures = Dashboard(store)
    [even] = await figures.median_first_answer(policy.visible_cases(admin), SINCE)
    assert (even.answered, round(even.median_seconds)) == (4, 55 * 60)  # (40 + 70) / 2
    ref = await _case(store, START - timedelta(hours=30), "visa_question", "visa_info", "en")
    await _answer(store, ref, START - timedelta(hours=30) + timedelta(minutes=50))
    [odd] = await figures.median_first_answer(policy.visible_cases(admin), SINCE)
    assert (odd.answered, round(odd.median_seconds)) == (5, 50 * 60)


@pytest.fixture
async def site(sqlite_store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[tuple[str, dict[str, str]]]:
    refs = await seed(sqlite_store)
    async with backoffice(sqlite_store, flows, clock) as base:
        yield base, refs


def _tile(html: str, title_id: str) -> int:
    found = re.search(rf'<h2 id="{title_id}">[^<]*</h2>\s*<p class="big">(\d+)</p>', html)
    assert found, title_id
    return int(found[1])


async def test_the_dashboard_page_shows_the_figures_each_user_may_see(site) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        async with session.get("/backoffice/dashboard") as response:
            assert response.status == 200
            html = await response.text()
        assert 'href="/backoffice/dashboard"' in html  # in the navigation
        assert "Voluntary return (4)" in html and "Visa question" not in html
        assert html.count('<rect class="bar" data-kind="voluntary_return"') == 2
        assert _tile(html, "urgent-title") == 0 and _tile(html, "waiting-title") == 0
        assert '<tr data-kind="voluntary_return"><td>Voluntary return</td><td>3 h</td><td>2</td></tr>' in html
        assert "<tr><td>fr</td><td>2</td></tr>" in html and "<tr><td>uk</td><td>1</td></tr>" in html
        assert "<title id=\"chart-title\">" in html and "<desc id=\"chart-desc\">" in html
        for name, ref in refs.items():
            assert ref not in html, name  # no reference listed here, least of all others' cases

    async with client(base) as session:
        await sign_in(session, "io@example.org")
        async with session.get("/backoffice/dashboard") as response:
            html = await response.text()
        assert "Voluntary return" not in html
        assert _tile(html, "urgent-title") == 1 and _tile(html, "waiting-title") == 1
        assert f'<a href="/backoffice/cases/{refs["us1"]}">' in html
        assert "<td>30 min</td>" in html and "<td>6 h</td>" in html
        assert '<h2 id="alerts-title">Urgent alerts not acknowledged <small>(1)</small></h2>' in html

    async with client(base) as session:
        await sign_in(session, "ngo@example.org")
        async with session.get("/backoffice/dashboard") as response:
            html = await response.text()
        assert "Voluntary return (1)" in html and "<tr><td>uk</td><td>1</td></tr>" in html
        assert _tile(html, "urgent-title") == 0

    async with client(base) as session:
        await sign_in(session, "audit@example.org")
        async with session.get("/backoffice/dashboard") as response:
            assert response.status == 403
            assert 'href="/backoffice/dashboard"' not in await response.text()


async def test_the_banner_shows_alerts_until_someone_is_on_it(site, sqlite_store: Store) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    us1 = refs["us1"]
    banner = re.compile(r'<section class="alert-banner" role="alert">.*?</section>', re.S)
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        async with session.get("/backoffice/cases") as response:
            found = banner.search(await response.text())
        assert found and f'href="/backoffice/cases/{us1}"' in found[0]
        assert "Urgent alerts nobody has acknowledged: 1" in found[0]

    async with client(base) as session:  # a partner sees the alert of no case it may not see…
        await sign_in(session, "ngo@example.org")
        async with session.get("/backoffice/cases") as response:
            assert not banner.search(await response.text())
        token = await page_csrf(session, "/backoffice/dashboard")
        async with session.post(f"/backoffice/cases/{us1}/acknowledge", data={"csrf_token": token},
                                allow_redirects=False) as response:
            assert response.status == 403  # …and acknowledges none

    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")  # off duty: cannot see the urgent safety case
        token = await page_csrf(session, "/backoffice/dashboard")
        async with session.post(f"/backoffice/cases/{us1}/acknowledge", data={"csrf_token": token},
                                allow_redirects=False) as response:
            assert response.status == 404

    async with client(base) as session:
        await sign_in(session, "io@example.org")
        token = await page_csrf(session, "/backoffice/dashboard")
        async with session.post(f"/backoffice/cases/{us1}/acknowledge", data={"back": "//evil.example/",
                                "csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/backoffice/dashboard"
        async with session.get("/backoffice/dashboard") as response:
            html = await response.text()
        assert not banner.search(html)
        assert '<h2 id="alerts-title">Urgent alerts not acknowledged <small>(0)</small></h2>' in html
    lines, _ = await StaffDirectory(sqlite_store).audit_log(case_reference=us1)
    assert [(line.actor, line.detail) for line in lines if line.action == "acknowledge"] == [
        ("io@example.org", "alerts=1")
    ]


async def test_a_caseworker_makes_a_case_urgent_and_a_colleague_takes_it(site, sqlite_store: Store) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    pa1 = refs["pa1"]
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")  # may not see it (no vulnerability flag)
        token = await page_csrf(session, "/backoffice/dashboard")
        async with session.post(f"/backoffice/cases/{pa1}/escalate", data={"csrf_token": token},
                                allow_redirects=False) as response:
            assert response.status == 404
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        token = await page_csrf(session, f"/backoffice/cases/{pa1}")
        for _ in range(2):  # the second time changes nothing: no second alert
            async with session.post(f"/backoffice/cases/{pa1}/escalate", data={"csrf_token": token},
                                    allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == f"/backoffice/cases/{pa1}"
        async with session.get(f"/backoffice/cases/{pa1}") as response:
            html = await response.text()
        assert "Make urgent and alert the on-duty staff" not in html  # urgent now
        assert f'action="/backoffice/cases/{pa1}/acknowledge"' in html
        assert "Urgent alerts nobody has acknowledged: 2" in html
        async with session.post(f"/backoffice/cases/{pa1}/acknowledge",
                                data={"csrf_token": token, "back": f"/backoffice/cases/{pa1}"}) as response:
            html = await response.text()
        assert f'action="/backoffice/cases/{pa1}/acknowledge"' not in html
        assert "Urgent alerts nobody has acknowledged: 1" in html  # the urgent safety case's is left
    assert (await sqlite_store.case(pa1)).priority == "urgent"  # type: ignore[union-attr]
    lines, _ = await StaffDirectory(sqlite_store).audit_log(case_reference=pa1)
    assert [line.action for line in lines if line.action in ("escalate", "acknowledge")] == ["acknowledge", "escalate"]


async def test_the_banner_json_gives_references_of_visible_cases_only(site) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        async with session.get("/backoffice/alerts.json") as response:
            assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
            data = await response.json()
        assert data == {"count": 1, "text": "Urgent alerts nobody has acknowledged: 1",
                        "references": [refs["us1"]], "see": "See the alerts"}
    for email, status, count in (("fedasil@example.org", 200, 0), ("ngo@example.org", 200, 0),
                                 ("audit@example.org", 403, None)):
        async with client(base) as session:
            await sign_in(session, email)
            async with session.get("/backoffice/alerts.json") as response:
                assert response.status == status, email
                if count is not None:
                    assert (await response.json())["count"] == count and refs["us1"] not in await response.text()
