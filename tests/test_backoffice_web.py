"""The back office over HTTP: every route declares its permission, need-to-know holds on
every path to a case, applicant text is escaped, forms need their CSRF token, failed
sign-ins are throttled, and disabling a user ends their sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.api.web import PUBLIC_ROUTES as API_PUBLIC_ROUTES
from bot.app import create_app
from bot.backoffice import policy
from bot.backoffice.web import PREFIX, PUBLIC, PUBLIC_ROUTES
from bot.engine.loader import FlowSet
from bot.store.models import CaseRow
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_case, make_user
from .backoffice_http import backoffice, client, page_csrf, sign_in
from .conftest import START, Clock
from .serving import services_for


def _permissions(app) -> list[tuple[str, str, object]]:  # type: ignore[no-untyped-def]
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path == PREFIX or path.startswith(PREFIX + "/") or path.startswith("/api"):
            found.append((route.method, path, getattr(route.handler, "permission", None)))
    return found


def _check_permissions(routes: list[tuple[str, str, object]]) -> None:
    for method, path, permission in routes:
        if path.startswith(f"{PREFIX}/static"):
            continue  # the static files: public, listed below
        assert permission is not None, f"{method} {path} declares no permission"
        assert permission == PUBLIC or permission in policy.ACTIONS, (path, permission)
        if permission == PUBLIC:
            allowed = API_PUBLIC_ROUTES if path.startswith("/api") else PUBLIC_ROUTES
            assert path in allowed, f"{method} {path} is public but not on the allow-list"


def test_every_back_office_route_declares_its_permission(engine, flows: FlowSet) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services_for(engine, flows))
    routes = _permissions(app)
    assert len(routes) >= 12
    assert sum(path.startswith("/api/") for _, path, _ in routes) >= 10
    _check_permissions(routes)
    assert any(path.startswith(f"{PREFIX}/static") for _, path, _ in routes)


def test_an_api_route_without_a_declared_permission_is_caught(engine, flows: FlowSet) -> None:  # type: ignore[no-untyped-def]
    """The check can fail: an /api route added around ``endpoint`` (and one made public
    without being on the API's allow-list) are refused."""
    from bot.api.web import openapi_json

    async def bare(request):  # type: ignore[no-untyped-def]
        raise AssertionError("never called")

    for path, handler in (("/api/v1/bare", bare), ("/api/v1/also-public", openapi_json)):
        app = create_app(services_for(engine, flows))
        app.router.add_get(path, handler)
        with pytest.raises(AssertionError, match=path):
            _check_permissions(_permissions(app))


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[tuple[str, dict[str, str]]]:
    d = StaffDirectory(store)
    for email, role, org in (
        ("io@example.org", "caseworker", "immigration-office"),
        ("fedasil@example.org", "caseworker", "fedasil"),
        ("iom@example.org", "caseworker", "iom"),
        ("audit@example.org", "auditor", "fedasil"),
    ):
        await make_user(d, email, role, org, START)
    refs = {
        "vr": (await make_case(store, START, "voluntary_return", "voluntary_return")).reference,
        "vr_iom": (await make_case(store, START, "voluntary_return", "voluntary_return", share=("iom",))).reference,
        "xss": (await make_case(
            store, START, "visa_question", "visa_info", applicant={"name": "<script>alert(1)</script>"}
        )).reference,
    }
    async with backoffice(store, flows, clock) as base:
        yield base, refs


async def test_signed_out_visitors_are_sent_to_the_login_page(site) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        for path in ("/backoffice/", "/backoffice/cases", f"/backoffice/cases/{refs['vr']}", "/backoffice/audit"):
            async with session.get(path, allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/backoffice/login", path
        async with session.get("/backoffice/login") as response:
            assert response.status == 200
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize(
    ("email", "sees_vr", "sees_vr_iom"),
    [("io@example.org", False, False), ("fedasil@example.org", True, True), ("iom@example.org", False, True)],
)
async def test_voluntary_return_cases_by_list_search_detail_and_url(site, email: str, sees_vr: bool, sees_vr_iom: bool) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        assert (await sign_in(session, email)).status == 303
        async with session.get("/backoffice/cases?status=all") as listing:
            html = await listing.text()
        for name, sees in (("vr", sees_vr), ("vr_iom", sees_vr_iom)):
            reference = refs[name]
            link = f'href="/backoffice/cases/{reference}"'
            assert (link in html) is sees, (email, name)
            async with session.get(f"/backoffice/cases?status=all&reference={reference}") as search:
                assert (link in await search.text()) is sees
            async with session.get(f"/backoffice/cases/{reference}") as detail:
                assert detail.status == (200 if sees else 404)
            token = await page_csrf(session, "/backoffice/cases")
            async with session.post(
                f"/backoffice/cases/{reference}/status",
                data={"status": "in_review", "reason": "x", "csrf_token": token}, allow_redirects=False,
            ) as change:
                assert change.status == (303 if sees else 404)


async def test_applicant_text_is_escaped(site) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        async with session.get(f"/backoffice/cases/{refs['xss']}") as detail:
            html = await detail.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


async def test_a_form_without_its_csrf_token_is_refused(site, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    reference = refs["vr"]
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        for token in (None, "forged"):
            data = {"status": "in_review", "reason": "checking"} | ({"csrf_token": token} if token else {})
            async with session.post(f"/backoffice/cases/{reference}/status", data=data, allow_redirects=False) as response:
                assert response.status == 403
        async with store.engine.connect() as conn:
            row = (await conn.execute(select(CaseRow).where(CaseRow.reference == reference))).one()
        assert row.status == "submitted" and row.first_answer_at is None
        token = await page_csrf(session, f"/backoffice/cases/{reference}")
        async with session.post(
            f"/backoffice/cases/{reference}/status",
            data={"status": "in_review", "reason": "checking", "csrf_token": token}, allow_redirects=False,
        ) as response:
            assert response.status == 303
        token = await page_csrf(session, f"/backoffice/cases/{reference}")
        async with session.post(
            f"/backoffice/cases/{reference}/status",
            data={"status": "closed", "reason": "gone", "csrf_token": token},
        ) as response:
            assert "closing needs one of the case kind" in await response.text()
        async with session.post(
            f"/backoffice/cases/{reference}/status",
            data={"status": "closed", "reason": "gone", "outcome": "departed", "csrf_token": token},
        ) as response:
            assert response.status == 200
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(CaseRow).where(CaseRow.reference == reference))).one()
    assert row.status == "closed" and row.outcome == "departed" and row.first_answer_at == START
    lines, _ = await StaffDirectory(store).audit_log(case_reference=reference)
    assert [line.action for line in lines].count("change_status") == 2
    assert any(line.detail == "in_review->closed:departed" for line in lines)
    assert all("gone" not in (line.detail or "") for line in lines)


async def test_repeated_failed_sign_ins_are_slowed_down(site) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    async with client(base) as session:
        for _ in range(5):
            assert (await sign_in(session, "io@example.org", "wrong password")).status == 401
        refused = await sign_in(session, "io@example.org")  # the right password, too soon
        assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many failed attempts" in await refused.text()
        assert (await sign_in(session, "fedasil@example.org")).status == 303  # nobody else is kept out


async def test_roles_reach_only_their_pages(site) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    async with client(base) as session:
        await sign_in(session, "audit@example.org")
        async with session.get("/backoffice/cases") as response:
            assert response.status == 403
        async with session.get("/backoffice/audit") as response:
            assert response.status == 200 and "login" in await response.text()
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        async with session.get("/backoffice/audit") as response:
            assert response.status == 403


async def test_disabling_a_user_ends_their_session(site, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        async with session.get("/backoffice/cases", allow_redirects=False) as response:
            assert response.status == 200
        await StaffDirectory(store).disable_user("fedasil@example.org", START)
        async with session.get("/backoffice/cases", allow_redirects=False) as response:
            assert response.status == 303


async def test_a_fresh_database_says_how_to_create_the_first_admin(
    sqlite_store: Store, flows: FlowSet, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="bot.backoffice.web"):
        async with backoffice(sqlite_store, flows, clock):
            pass
    from bot.logs import scrub

    # As the operator reads it: through the log redaction, which hides e-mail addresses.
    assert "intake users add YOUR_EMAIL --role admin --org immigration-office" in scrub(caplog.text)
