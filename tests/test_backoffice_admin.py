"""The admin screens over HTTP: staff accounts, organisations and the need-to-know table,
each form behind its CSRF token and open to admins only; the sign-in throttle shared by
two app instances on one database; and the audit log refusing UPDATE and DELETE in the
database itself (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.backoffice import admin
from bot.engine.loader import FlowSet
from bot.store.crypto import Cipher
from bot.store.models import AuditEntry
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_case, make_user
from .backoffice_http import backoffice, client, page_csrf, sign_in
from .conftest import START, Clock

USERS = "/backoffice/admin/users"
ORGS = "/backoffice/admin/organisations"
NEW_PASSWORD = "a brand new initial password"


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    d = StaffDirectory(store)
    await make_user(d, "admin@example.org", "admin", "immigration-office", START)
    await make_user(d, "io@example.org", "caseworker", "immigration-office", START)
    await make_user(d, "audit@example.org", "auditor", "fedasil", START)
    await make_user(d, "duty@example.org", "caseworker", "fedasil", START, on_duty=True)
    async with backoffice(store, flows, clock) as base:
        yield base


async def _post(session, path: str, data: dict[str, str], token: str | None = None):  # type: ignore[no-untyped-def]
    token = token if token is not None else await page_csrf(session, "/backoffice/profile")
    async with session.post(path, data={**data, "csrf_token": token}, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def _audit(store: Store) -> list[tuple[str, str | None]]:
    lines, _ = await StaffDirectory(store).audit_log(limit=500)
    return [(line.action, line.detail) for line in reversed(lines)]


async def test_an_admin_adds_changes_disables_and_enables_an_account(site: str, store: Store) -> None:
    d = StaffDirectory(store)
    async with client(site) as session:
        assert (await sign_in(session, "admin@example.org")).status == 303
        async with session.get(USERS) as page:
            html = await page.text()
        assert page.status == 200 and "duty@example.org" in html.split("Accounts")[0]  # on duty now
        new = {"email": "New.Worker@Example.org", "role": "caseworker", "organisation": "fedasil",
               "password": NEW_PASSWORD}
        for token in ("", "forged"):
            assert (await _post(session, USERS, new, token))[0] == 403
        assert await d.user("new.worker@example.org") is None

        for bad, says in (
            ({"password": "too short"}, "at least 12 characters"),
            ({"email": "not-an-address"}, "not an e-mail address"),
            ({"email": "io@example.org"}, "already an account"),
            ({"organisation": "nowhere"}, "one of the organisations"),
            ({"role": "superuser"}, "one of the roles"),
        ):
            status, _, html = await _post(session, USERS, new | bad)
            assert status == 400 and says in html, bad
        assert await d.user("new.worker@example.org") is None

        status, location, _ = await _post(session, USERS, new)
        assert (status, location) == (303, f"{USERS}?done=added")
        added = await d.user("new.worker@example.org")
        assert added is not None and (added.role, added.organisation) == ("caseworker", "fedasil")

        async with client(site) as theirs:
            assert (await sign_in(theirs, "new.worker@example.org", NEW_PASSWORD)).status == 303
            async with theirs.get("/backoffice/cases", allow_redirects=False) as response:
                assert response.status == 200

            status, _, _ = await _post(session, f"{USERS}/{added.id}/change", {"role": "partner", "organisation": "iom"})
            assert status == 303
            changed = await d.user_by_id(added.id)
            assert changed is not None and (changed.role, changed.organisation) == ("partner", "iom")
            assert (await _post(session, f"{USERS}/{added.id}/change", {"role": "boss", "organisation": "iom"}))[0] == 400

            assert (await _post(session, f"{USERS}/{added.id}/disable", {}))[0] == 303
            async with theirs.get("/backoffice/cases", allow_redirects=False) as response:
                assert response.status == 303  # their session ended with the account
            assert (await sign_in(theirs, "new.worker@example.org", NEW_PASSWORD)).status == 401

            assert (await _post(session, f"{USERS}/{added.id}/enable", {}))[0] == 303
            assert (await sign_in(theirs, "new.worker@example.org", NEW_PASSWORD)).status == 303

        me = await d.user("admin@example.org")
        assert me is not None
        status, _, html = await _post(session, f"{USERS}/{me.id}/disable", {})
        assert status == 400 and "ask another admin" in html
        assert (await _post(session, f"{USERS}/{me.id}/change", {"role": "auditor", "organisation": "iom"}))[0] == 400
        assert (await _post(session, f"{USERS}/99999/disable", {}))[0] == 404

        async with session.get(USERS) as page:
            html = await page.text()
        assert "new.worker@example.org" in html and "never" in html  # io@ has never signed in

    audit = await _audit(store)
    actions = [action for action, _ in audit]
    for action in ("user_add", "user_change", "user_disable", "user_enable"):
        assert action in actions
    assert ("user_add", f"user={added.id} role=caseworker org=fedasil") in audit
    assert all("new.worker" not in (detail or "") for _, detail in audit)  # ids, not addresses


async def test_refusals_are_said_in_the_admins_language(site: str, store: Store) -> None:
    d = StaffDirectory(store)
    me = await d.user("admin@example.org")
    assert me is not None
    await d.set_profile(me.id, on_duty=False, language="fr")
    async with client(site) as session:
        await sign_in(session, "admin@example.org")
        status, _, html = await _post(session, USERS, {
            "email": "x@example.org", "role": "caseworker", "organisation": "fedasil", "password": "short"})
    assert status == 400 and "au moins 12 caractères" in html


async def test_an_admin_adds_an_organisation_and_edits_who_sees_which_kind(site: str, store: Store) -> None:
    d = StaffDirectory(store)
    iom = await make_user(d, "iom@example.org", "caseworker", "iom", START)
    case = await make_case(store, START, "voluntary_return", "voluntary_return")  # not shared with IOM
    async with client(site) as worker:
        await sign_in(worker, "iom@example.org")
        async with worker.get(f"/backoffice/cases/{case.reference}") as response:
            assert response.status == 404
        async with client(site) as session:
            await sign_in(session, "admin@example.org")
            async with session.get(ORGS) as page:
                html = await page.text()
            assert 'name="rule.voluntary_return.iom"' in html and "caritas" not in html

            for bad in ({"slug": "Not A Slug", "name": "X"}, {"slug": "caritas", "name": ""},
                        {"slug": "fedasil", "name": "Again"}):
                assert (await _post(session, ORGS, bad))[0] == 400, bad
            assert (await _post(session, ORGS, {"slug": "caritas", "name": "Caritas"}, "forged"))[0] == 403
            assert (await _post(session, ORGS, {"slug": "caritas", "name": "Caritas International"}))[0] == 303
            assert "caritas" in [slug for slug, _, _ in await d.organisations()]

            rules = {
                "rule.voluntary_return.iom": "always", "was.voluntary_return.iom": "shared",
                "rule.visa_question.caritas": "vulnerable", "was.visa_question.caritas": "",
                "rule.visa_question.immigration-office": "always", "was.visa_question.immigration-office": "always",
            }
            assert (await _post(session, f"{ORGS}/rules", rules | {"rule.visa_question.caritas": "sometimes"}))[0] == 400
            status, location, _ = await _post(session, f"{ORGS}/rules", rules)
            assert (status, location) == (303, f"{ORGS}?done=rules")
            # A cell posted unchanged is not written, even if someone changed it since.
            await d.set_kind_access("visa_question", "immigration-office", "on_duty")
            unchanged = rules | {"was.voluntary_return.iom": "always", "was.visa_question.caritas": "vulnerable"}
            assert (await _post(session, f"{ORGS}/rules", unchanged))[1] == f"{ORGS}?done=nothing"
        access = {slug: dict(kinds) for slug, _, kinds in await d.organisations()}
        assert access["iom"]["voluntary_return"] == "always"
        assert access["caritas"] == {"visa_question": "vulnerable"}
        assert access["immigration-office"]["visa_question"] == "on_duty"
        async with worker.get(f"/backoffice/cases/{case.reference}") as response:
            assert response.status == 200, "the new rule applies at the next request"
    audit = await _audit(store)
    assert ("org_add", "org=caritas") in audit
    assert ("kind_access", "voluntary_return:iom:shared->always") in audit
    assert ("kind_access", "visa_question:caritas:-->vulnerable") in audit
    assert iom.id


@pytest.mark.parametrize("email", ["io@example.org", "audit@example.org"])
async def test_only_admins_reach_the_admin_screens(site: str, email: str) -> None:
    async with client(site) as session:
        await sign_in(session, email)
        token = await page_csrf(session, "/backoffice/profile")
        for method, path, _ in admin.ROUTES:
            path = path.replace("{user_id}", "1")
            if method == "GET":
                async with session.get(path, allow_redirects=False) as response:
                    assert response.status == 403, path
            else:
                status, _, _ = await _post(session, path, {"slug": "x", "name": "x", "email": "a@b.cd",
                                                           "role": "admin", "organisation": "iom",
                                                           "password": NEW_PASSWORD}, token)
                assert status == 403, path
        async with session.get("/backoffice/cases", allow_redirects=False) as response:
            nav = await response.text()
        assert USERS not in nav


async def test_the_sign_in_throttle_is_shared_by_two_app_instances(
    db_url: str, cipher: Cipher, store: Store, flows: FlowSet, clock: Clock
) -> None:
    await make_user(StaffDirectory(store), "io@example.org", "caseworker", "immigration-office", START)
    other = Store.connect(db_url, cipher)  # a second worker: its own pool, the same database
    try:
        async with backoffice(store, flows, clock) as first, backoffice(other, flows, clock) as second:
            async with client(first) as session:
                for _ in range(5):
                    assert (await sign_in(session, "io@example.org", "wrong password")).status == 401
            async with client(second) as session:
                refused = await sign_in(session, "io@example.org")
                assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
            clock.advance(minutes=16)  # the failures age out: a throttle, never a lock-out
            async with client(first) as session:
                assert (await sign_in(session, "io@example.org")).status == 303
    finally:
        await other.close()


async def test_the_audit_log_refuses_update_and_delete_in_the_database(store: Store) -> None:
    d = StaffDirectory(store)
    await d.audit("test", "view", START, case_reference="VR-AAAAAA", detail="x")
    statements = [
        update(AuditEntry).values(detail="changed"),
        delete(AuditEntry).where(AuditEntry.action == "view"),
        delete(AuditEntry),
    ]
    if store.engine.dialect.name == "postgresql":
        # A statement trigger: refused even where no row matches, and TRUNCATE too.
        statements.append(update(AuditEntry).where(AuditEntry.action == "nothing").values(detail="changed"))
        statements.append(text("TRUNCATE audit_log"))
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(statement)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(AuditEntry.action, AuditEntry.detail))).all()
    assert [tuple(r) for r in rows] == [("view", "x")]
    await d.audit("test", "view", START)  # appending still works
    assert (await d.audit_log())[1] == 2
