"""The staff API (/api/v1) over HTTP, on SQLite and PostgreSQL: tokens (made by the CLI,
kept hashed, refused when revoked or expired), the organisation firewall on lists, single
cases and exports, the actions on a case, keyset pages that hold still while cases are
added, exports (CSV formula neutralisation, NDJSON), slots and bookings, every route's
declared permission per role, and the OpenAPI description against the route table."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.api.framework import PROBLEM
from bot.api.openapi import openapi_path
from bot.api.web import PUBLIC_ROUTES, ROUTES, openapi
from bot.app import create_app
from bot.backoffice import policy
from bot.backoffice.framework import PUBLIC
from bot.cli import main
from bot.config import Settings
from bot.engine.loader import FlowSet
from bot.store.crypto import generate_key
from bot.store.models import ApiToken, AuditEntry
from bot.store.staff import ROLES, StaffDirectory
from bot.store.store import Store

from .api_http import api_client, api_server, call, make_token
from .backoffice_cases import make_case, make_user
from .conftest import START, Clock
from .serving import services_for


def _problem(status: int, kind: str, body: Any, expected: int) -> None:
    assert status == expected, (status, body)
    assert kind == PROBLEM, kind
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == expected, body


@pytest.fixture
async def api(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[tuple[str, dict[str, str], dict[str, str]]]:
    d = StaffDirectory(store)
    await make_user(d, "io@example.org", "caseworker", "immigration-office", START)
    await make_user(d, "boss@example.org", "admin", "fedasil", START)
    tokens = {
        "io": await make_token(store, "io-system", "caseworker", "immigration-office", START),
        "fedasil": await make_token(store, "fedasil-crm", "caseworker", "fedasil", START),
        "admin": await make_token(store, "admin-sync", "admin", "fedasil", START),
        "iom": await make_token(store, "iom-partner", "partner", "iom", START),
        "auditor": await make_token(store, "audit-feed", "auditor", "fedasil", START),
    }
    refs = {
        "vr": (await make_case(store, START, "voluntary_return", "voluntary_return", sender="a")).reference,
        "visa": (await make_case(store, START, "visa_question", "visa_info", sender="b")).reference,
        "formula": (await make_case(
            store, START, "visa_question", "visa_info", sender="c",
            applicant={"name": "=HYPERLINK(\"http://evil\",\"x\")", "email": "x@example.org"},
            answers={"question": "+1 what?"},
        )).reference,
    }
    async with api_server(store, flows, clock) as base:
        yield base, tokens, refs


# --- tokens -------------------------------------------------------------------------------


def test_tokens_are_made_by_the_cli_printed_once_and_stored_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", generate_key())
    assert main(["tokens", "create", "--role", "caseworker", "--org", "fedasil", "--name", "Fedasil-CRM",
                 "--expires", "30"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    assert token.startswith("itk_") and len(token) > 40 and " " not in token
    assert all(token not in line for line in out[:-1])
    assert main(["tokens", "create", "--role", "caseworker", "--org", "fedasil", "--name", "fedasil-crm"]) == 2
    assert main(["tokens", "create", "--role", "caseworker", "--org", "nowhere", "--name", "x"]) == 2
    capsys.readouterr()
    assert main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "fedasil-crm" in listing and "caseworker" in listing and "active" in listing and token not in listing

    import asyncio

    async def stored() -> list[tuple[str, str]]:
        store = Store.connect(url, Settings().cipher())
        try:
            async with store.reading() as session:
                return [(r.name, r.token_hash) for r in (await session.scalars(select(ApiToken))).all()]
        finally:
            await store.close()

    rows = asyncio.run(stored())
    assert rows == [("fedasil-crm", hashlib.sha256(token.encode()).hexdigest())]
    assert token not in (tmp_path / "api.db").read_bytes().decode("latin-1")
    assert main(["tokens", "revoke", "fedasil-crm"]) == 0
    capsys.readouterr()
    assert main(["tokens", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tokens", "revoke", "nothing"]) == 2


async def test_missing_revoked_and_expired_tokens_get_401_problems(store: Store, flows: FlowSet, clock: Clock) -> None:
    from bot.store.tokens import TokenStore

    live = await make_token(store, "live", "admin", "fedasil", START)
    short = await make_token(store, "short", "admin", "fedasil", START, days=1)
    revoked = await make_token(store, "gone", "admin", "fedasil", START)
    await TokenStore(store).revoke("gone", START)
    async with api_server(store, flows, clock) as base:
        for token in (None, "itk_not-a-token", revoked, live[:-2] + "xx"):
            async with api_client(base, token) as s:
                status, kind, body = await call(s, "GET", "/api/v1/cases")
                _problem(status, kind, body, 401)
        async with api_client(base, short) as s:
            assert (await call(s, "GET", "/api/v1/cases"))[0] == 200
            clock.advance(days=1, seconds=1)
            status, kind, body = await call(s, "GET", "/api/v1/cases")
            _problem(status, kind, body, 401)
        async with api_client(base, live) as s:
            assert (await call(s, "GET", "/api/v1/cases"))[0] == 200
    listed = {t.name: t for t in await TokenStore(store).list()}
    assert listed["live"].last_used_at == clock.now and listed["gone"].last_used_at is None
    assert listed["short"].state(clock.now) == "expired" and listed["gone"].state(clock.now) == "revoked"


async def test_every_call_is_in_the_audit_log_without_values(api, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, tokens, refs = api
    async with api_client(base, tokens["fedasil"]) as s:
        await call(s, "GET", f"/api/v1/cases/{refs['vr']}")
        await call(s, "POST", f"/api/v1/cases/{refs['vr']}/notes", json={"text": "Nino called, secret detail"})
    async with api_client(base, None) as s:
        await call(s, "GET", "/api/v1/cases")
    async with store.reading() as session:
        lines = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    api_lines = [(a.actor, a.action, a.case_reference, a.detail) for a in lines if a.action.startswith("api")]
    assert api_lines == [
        ("token:fedasil-crm", "api", refs["vr"], "GET get_case 200"),
        ("token:fedasil-crm", "api", refs["vr"], "POST add_note 201"),
        ("-", "api_refused", None, "GET list_cases 401"),
    ]
    assert all("Nino" not in (a.detail or "") for a in lines)


# --- the organisation firewall --------------------------------------------------------------


async def test_a_token_sees_only_what_its_organisation_may_see(api) -> None:  # type: ignore[no-untyped-def]
    base, tokens, refs = api
    async with api_client(base, tokens["io"]) as s:
        status, _, page = await call(s, "GET", "/api/v1/cases")
        assert status == 200
        seen = {item["reference"] for item in page["items"]}
        assert seen == {refs["visa"], refs["formula"]}
        status, kind, body = await call(s, "GET", f"/api/v1/cases/{refs['vr']}")
        _problem(status, kind, body, 404)
        for action, payload in (("status", {"status": "in_review", "reason": "x"}), ("notes", {"text": "x"}),
                                ("steps", {"step": "called"}), ("messages", {"text": "x"})):
            status, kind, body = await call(s, "POST", f"/api/v1/cases/{refs['vr']}/{action}", json=payload)
            _problem(status, kind, body, 404)
        for form in ("csv", "ndjson"):
            status, _, text = await call(s, "GET", f"/api/v1/cases/export?format={form}")
            assert status == 200 and refs["vr"] not in text and refs["visa"] in text
        status, _, text = await call(s, "GET", f"/api/v1/cases?reference={refs['vr']}")
        assert text["items"] == []
    async with api_client(base, tokens["fedasil"]) as s:
        status, _, page = await call(s, "GET", "/api/v1/cases")
        assert {item["reference"] for item in page["items"]} == {refs["vr"]}
        status, _, case = await call(s, "GET", f"/api/v1/cases/{refs['vr']}")
        assert status == 200 and case["reference"] == refs["vr"] and case["kind"] == "voluntary_return"
        assert case["consent"]["scopes"]["data_processing"] is True
        assert case["applicant"]["name"] == "Nino Beridze" and case["status_history"][0]["status"] == "submitted"
    async with api_client(base, tokens["iom"]) as s:  # a partner, and the applicant shared nothing with IOM
        status, _, page = await call(s, "GET", "/api/v1/cases")
        assert status == 200 and page["items"] == []
        status, kind, body = await call(s, "GET", f"/api/v1/cases/{refs['vr']}")
        _problem(status, kind, body, 404)


async def test_each_role_gets_exactly_the_routes_its_permissions_allow(api) -> None:  # type: ignore[no-untyped-def]
    """Every route × every role: 403 where the role lacks the route's permission, never
    403 where it has it (the case routes on a case the role may see)."""
    base, tokens, refs = api
    by_role = {"caseworker": tokens["fedasil"], "admin": tokens["admin"], "partner": tokens["iom"],
               "auditor": tokens["auditor"]}
    assert set(by_role) == set(ROLES)
    bodies: dict[str, Any] = {
        "change_status": {"status": "in_review", "reason": "checked"}, "record_step": {"step": "travel_document"},
        "assign": {"assignee": None}, "add_note": {"text": "a note"}, "send_message": {"text": "hello"},
        "create_slots": {"from": "2026-12-01T09:00", "to": "10:00", "every": "30m", "capacity": 2},
        "book": {"slot_id": 999999},
    }
    for role, token in by_role.items():
        async with api_client(base, token) as s:
            for handler in ROUTES:
                spec = handler.endpoint
                if spec.permission == PUBLIC:
                    continue
                path = spec.path.replace("{reference}", refs["vr"]).replace("{booking_id:[0-9]+}", "999999")
                kwargs = {"json": bodies[spec.handler_name]} if spec.body is not None else {}
                status, kind, body = await call(s, spec.method, path, **kwargs)
                allowed = spec.permission in policy.ROLE_ACTIONS[role]
                if spec.permission in policy.DESK_ACTIONS and role != "admin":
                    allowed = False  # the registration desk's: Fedasil's caseworkers are not at it
                if spec.permission == "offer_slot":
                    allowed = False  # only a registration request gets a slot, not this voluntary return
                if not allowed:
                    _problem(status, kind, body, 403)
                else:
                    assert status != 403, (role, spec.handler_name, body)
                    assert status < 500, (role, spec.handler_name, body)


# --- actions on a case ------------------------------------------------------------------


async def test_status_steps_assign_notes_and_messages(api, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, tokens, refs = api
    vr = refs["vr"]
    async with api_client(base, tokens["fedasil"]) as s:
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "closed", "reason": "done"})
        _problem(status, kind, body, 422)
        status, kind, body = await call(
            s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "closed", "reason": "done", "outcome": "answered"}
        )
        _problem(status, kind, body, 422)  # not an outcome of a voluntary return
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "withdrawn", "reason": "x"})
        _problem(status, kind, body, 409)
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "in_review"})
        _problem(status, kind, body, 422)
        assert body["errors"][0]["loc"] == ["reason"]
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/status", data="{not json",
                                        headers={"Content-Type": "application/json"})
        _problem(status, kind, body, 400)
        status, _, case = await call(s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "in_review", "reason": "seen"})
        assert status == 200 and case["status"] == "in_review"
        assert case["notice"] == "kept"  # the applicant is told (the REST web chat at their next visit)
        assert case["status_history"][-1] == {**case["status_history"][-1], "status": "in_review",
                                              "actor": "token:fedasil-crm", "note": "seen"}
        status, _, case = await call(s, "POST", f"/api/v1/cases/{vr}/steps", json={"step": "travel_document"})
        assert status == 200 and [st["step"] for st in case["steps"]] == ["travel_document"]
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/steps", json={"step": "called"})
        _problem(status, kind, body, 422)
        status, _, case = await call(s, "POST", f"/api/v1/cases/{vr}/assign", json={"assignee": "boss@example.org"})
        assert status == 200 and case["assignee"] == "boss@example.org"
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/assign", json={"assignee": "io@example.org"})
        _problem(status, kind, body, 422)  # another organisation's caseworker
        status, _, case = await call(s, "POST", f"/api/v1/cases/{vr}/assign", json={"assignee": None})
        assert case["assignee"] is None
        status, _, case = await call(s, "POST", f"/api/v1/cases/{vr}/notes", json={"text": "Called the applicant"})
        assert status == 201 and case["notes"][-1]["text"] == "Called the applicant"
        assert case["notes"][-1]["organisation"] == "fedasil"
        status, _, sent = await call(s, "POST", f"/api/v1/cases/{vr}/messages", json={"text": "Bring your passport."})
        assert status == 201 and sent == {"delivery": "kept"}  # the REST web chat cannot push
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/messages",
                                        json={"text": "x", "template": "y"})
        _problem(status, kind, body, 422)
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{vr}/messages", json={"template": "nothing"})
        _problem(status, kind, body, 422)
        status, _, sent = await call(s, "POST", f"/api/v1/cases/{vr}/messages", json={"template": "documents"})
        assert status == 201 and sent == {"delivery": "kept"}
        status, _, case = await call(
            s, "POST", f"/api/v1/cases/{vr}/status", json={"status": "closed", "reason": "gone", "outcome": "departed"}
        )
        assert case["status"] == "closed" and case["outcome"] == "departed"
    row_conversation = (await store.case(vr)).transcript  # type: ignore[union-attr]
    assert row_conversation is not None
    conversation_id = int(row_conversation.split(":")[1])
    said = [text for _, who, text in await store.transcript(conversation_id) if who == "staff"]
    assert "Bring your passport." in said
    assert any(vr in text and "documents" in text for text in said)  # the template, in the applicant's language


async def test_problems_are_in_the_callers_language(api) -> None:  # type: ignore[no-untyped-def]
    base, tokens, refs = api
    async with api_client(base, tokens["io"]) as s:
        status, _, en = await call(s, "GET", f"/api/v1/cases/{refs['vr']}")
        status, _, fr = await call(s, "GET", f"/api/v1/cases/{refs['vr']}", headers={"Accept-Language": "fr-BE"})
    assert status == 404 and en["title"] == "Not found" and fr["title"] != en["title"] and fr["detail"] != en["detail"]


async def test_unknown_routes_and_methods_are_problems_too(api) -> None:  # type: ignore[no-untyped-def]
    base, tokens, _ = api
    async with api_client(base, tokens["admin"]) as s:
        status, kind, body = await call(s, "GET", "/api/v1/nothing")
        _problem(status, kind, body, 404)
        status, kind, body = await call(s, "DELETE", "/api/v1/cases")
        _problem(status, kind, body, 405)


# --- pages and exports --------------------------------------------------------------------


async def test_cursor_pages_hold_still_while_cases_are_added(store: Store, flows: FlowSet, clock: Clock) -> None:
    token = await make_token(store, "pager", "admin", "fedasil", START)
    first = []
    for i in range(7):
        first.append((await make_case(store, START.replace(minute=i), "visa_question", "visa_info", sender=f"p{i}")).reference)
    async with api_server(store, flows, clock) as base, api_client(base, token) as s:
        seen: list[str] = []
        status, _, page = await call(s, "GET", "/api/v1/cases?limit=3")
        seen += [item["reference"] for item in page["items"]]
        added = 0
        while page["next"]:
            added += 1  # newer cases arrive between pages: they belong before the cursor
            await make_case(store, START.replace(hour=12, minute=added), "visa_question", "visa_info", sender=f"n{added}")
            status, _, page = await call(s, "GET", "/api/v1/cases", params={"limit": "3", "cursor": page["next"]})
            assert status == 200
            seen += [item["reference"] for item in page["items"]]
        assert seen == list(reversed(first))  # newest first, each once, none skipped
        status, _, page = await call(s, "GET", "/api/v1/cases?limit=3&order=oldest")
        assert [i["reference"] for i in page["items"]] == first[:3]
        status, _, page2 = await call(s, "GET", "/api/v1/cases", params={"limit": "3", "order": "oldest", "cursor": page["next"]})
        assert [i["reference"] for i in page2["items"]] == first[3:6]
        for bad in ("garbage", page["next"][:-3]):
            status, kind, body = await call(s, "GET", "/api/v1/cases", params={"cursor": bad})
            _problem(status, kind, body, 400)
        status, kind, body = await call(s, "GET", "/api/v1/cases", params={"cursor": page["next"], "order": "newest"})
        _problem(status, kind, body, 400)  # a cursor of the other order
        status, kind, body = await call(s, "GET", "/api/v1/cases", params={"limit": "0"})
        _problem(status, kind, body, 422)
        status, kind, body = await call(s, "GET", "/api/v1/cases", params={"kind": "nope"})
        _problem(status, kind, body, 422)
        status, _, page = await call(s, "GET", "/api/v1/cases", params={"status": "all", "kind": "visa_question",
                                                                         "from": "2026-11-23", "to": "2026-11-23"})
        assert len(page["items"]) == 7 + added
        item = page["items"][0]
        assert {"reference", "kind", "status", "priority", "language", "created_at", "flags"} <= set(item)


async def test_exports_neutralise_formulas_and_stream_every_case(  # type: ignore[no-untyped-def]
    api, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, tokens, refs = api
    from bot.backoffice import export
    from bot.store.casework import Casework

    monkeypatch.setattr(export, "EXPORT_BATCH", 2)  # several batches with three cases
    reads: list[int] = []
    after = Casework.after

    async def counted(self, visible, f, key, limit, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(limit)
        return await after(self, visible, f, key, limit, **kwargs)

    monkeypatch.setattr(Casework, "after", counted)
    async with api_client(base, tokens["admin"]) as s:
        status, kind, text = await call(s, "GET", "/api/v1/cases/export?format=csv&status=all")
        assert status == 200 and kind == "text/csv"
        assert reads == [2, 2]  # read in batches, never the whole table
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["reference"] for r in rows) == sorted(refs.values())
        formula = next(r for r in rows if r["reference"] == refs["formula"])
        assert formula["applicant_name"] == "'=HYPERLINK(\"http://evil\",\"x\")"
        assert formula["applicant_email"] == "x@example.org"
        assert json.loads(formula["answers"]) == {"question": "+1 what?"}  # inside JSON: not a cell start
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
        status, kind, text = await call(s, "GET", "/api/v1/cases/export?format=ndjson&status=all&kind=visa_question")
        assert status == 200 and kind == "application/x-ndjson"
        records = [json.loads(line) for line in text.splitlines()]
        assert {r["reference"] for r in records} == {refs["visa"], refs["formula"]}
        assert next(r for r in records if r["reference"] == refs["formula"])["applicant"]["name"].startswith("=")
        status, kind, body = await call(s, "GET", "/api/v1/cases/export?format=xlsx")
        _problem(status, kind, body, 422)


async def test_the_back_office_exports_its_list_within_the_users_reach(store: Store, flows: FlowSet, clock: Clock) -> None:
    from .backoffice_http import client, sign_in

    await make_user(StaffDirectory(store), "io@example.org", "caseworker", "immigration-office", START)
    vr = (await make_case(store, START, "voluntary_return", "voluntary_return", sender="a")).reference
    visa = (await make_case(store, START, "visa_question", "visa_info", sender="b",
                            applicant={"name": "@SUM(1)"})).reference
    async with api_server(store, flows, clock) as base, client(base) as browser:
        await sign_in(browser, "io@example.org")
        async with browser.get("/backoffice/cases") as page:
            assert "/backoffice/cases/export?" in await page.text()
        async with browser.get("/backoffice/cases/export?format=csv&status=all") as response:
            assert response.status == 200 and response.content_type == "text/csv"
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [r["reference"] for r in rows] == [visa] and rows[0]["applicant_name"] == "'@SUM(1)"
        async with browser.get("/backoffice/cases/export?format=ndjson&status=all") as response:
            text = await response.text()
        assert vr not in text and visa in text


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    from bot.backoffice.export import neutralise

    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    for cell in ("VR-7K3M9Q", "2026-11-23", "", "a=b"):
        assert neutralise(cell) == cell
    assert neutralise(None) == ""


# --- slots and bookings ------------------------------------------------------------------


async def test_slots_and_bookings(api, store: Store, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    base, tokens, refs = api
    # Only registration requests get a slot (the registration desk's work).
    first = (await make_case(store, START, "protection_appointment", "protection_appointment", sender="p1")).reference
    second = (await make_case(store, START, "protection_appointment", "protection_appointment", sender="p2")).reference
    async with api_client(base, tokens["admin"]) as s:
        status, _, made = await call(s, "POST", "/api/v1/slots", json={
            "from": "2026-12-01T09:00", "to": "10:00", "every": "30m", "capacity": 1, "place": "registration_centre"})
        assert status == 201 and made == {"created": 2}
        status, kind, body = await call(s, "POST", "/api/v1/slots", json={
            "from": "2026-12-01T09:00", "to": "08:00", "every": "30m", "capacity": 1})
        _problem(status, kind, body, 422)
        status, kind, body = await call(s, "POST", "/api/v1/slots", json={
            "from": "2026-12-01T09:00", "to": "10:00", "every": "soon", "capacity": 1})
        _problem(status, kind, body, 422)
        status, _, listed = await call(s, "GET", "/api/v1/slots")
        slots = listed["items"]
        assert [x["free"] for x in slots] == [1, 1] and slots[0]["starts_at"] == "2026-12-01T08:00:00Z"
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{refs['vr']}/bookings", json={"slot_id": slots[0]["id"]})
        _problem(status, kind, body, 403)  # a voluntary return gets no registration slot
        status, _, booking = await call(s, "POST", f"/api/v1/cases/{first}/bookings", json={"slot_id": slots[0]["id"]})
        assert status == 201 and booking["case_reference"] == first and booking["status"] == "active"
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{second}/bookings", json={"slot_id": slots[0]["id"]})
        _problem(status, kind, body, 409)  # full
        status, kind, body = await call(s, "POST", f"/api/v1/cases/{first}/bookings", json={"slot_id": slots[1]["id"]})
        _problem(status, kind, body, 409)  # booked already
        status, _, case = await call(s, "GET", f"/api/v1/cases/{first}")
        assert case["appointment"]["booking_id"] == booking["id"]
        assert len(await store.jobs(booking_id=booking["id"])) == 2  # the day before, two hours before
        status, _, listed = await call(s, "GET", "/api/v1/bookings")
        assert [b["id"] for b in listed["items"]] == [booking["id"]]
    async with api_client(base, tokens["io"]) as s:  # the Immigration Office's desk sees it
        status, _, listed = await call(s, "GET", "/api/v1/bookings")
        assert [b["id"] for b in listed["items"]] == [booking["id"]]
    async with api_client(base, tokens["fedasil"]) as s:  # not at the registration desk
        status, kind, body = await call(s, "GET", "/api/v1/bookings")
        _problem(status, kind, body, 403)
        status, kind, body = await call(s, "POST", f"/api/v1/bookings/{booking['id']}/cancel")
        _problem(status, kind, body, 403)
    async with api_client(base, tokens["admin"]) as s:
        status, _, cancelled = await call(s, "POST", f"/api/v1/bookings/{booking['id']}/cancel")
        assert status == 200 and cancelled["status"] == "cancelled"
        status, kind, body = await call(s, "POST", f"/api/v1/bookings/{booking['id']}/cancel")
        _problem(status, kind, body, 404)
        status, _, listed = await call(s, "GET", "/api/v1/slots")
        assert [x["free"] for x in listed["items"]] == [1, 1]
        status, _, case = await call(s, "GET", f"/api/v1/cases/{first}")
        assert case["appointment"]["status"] == "cancelled"
        # The registration desk's own cancellation: the same note, and back on the waiting list.
        assert case["status_history"][-1]["note"] == (
            f"appointment of {booking['starts_at'].replace('Z', '+00:00')} cancelled by the registration desk"
        )
        assert "waiting_list" in case["flags"]
    assert {j.status for j in await store.jobs(booking_id=booking["id"])} == {"cancelled"}


# --- the description -----------------------------------------------------------------------


def test_the_openapi_description_is_the_route_table(engine, flows: FlowSet) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services_for(engine, flows))
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            served.add((route.method.lower(), openapi_path(path)))
    spec = openapi()
    described = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    assert served == described and len(served) == len(ROUTES)
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    assert "Case" in schemas and "kind" in schemas["Case"]["properties"]
    assert schemas["Case"]["properties"]["kind"]["enum"] == list(__import__("bot.cases.kinds", fromlist=["x"]).KIND_NAMES)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            handler = next(h for h in ROUTES if openapi_path(h.endpoint.path) == path and h.endpoint.method.lower() == method)
            assert operation.get("x-permission", PUBLIC) == handler.permission
            if handler.permission == PUBLIC:
                assert handler.endpoint.path in PUBLIC_ROUTES


async def test_openapi_json_is_served_without_a_token(api, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = api
    async with api_client(base, None) as s:
        status, kind, spec = await call(s, "GET", "/api/v1/openapi.json")
    assert status == 200 and kind == "application/json" and spec == json.loads(json.dumps(openapi()))
    async with store.reading() as session:
        line = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()))).first()
    assert line is not None and (line.actor, line.action, line.detail) == ("-", "api", "GET openapi_json 200")


# --- the back office's token page ---------------------------------------------------------


async def test_admins_make_list_and_revoke_tokens_in_the_back_office(store: Store, flows: FlowSet, clock: Clock) -> None:
    import re

    from .backoffice_http import client, page_csrf, sign_in

    d = StaffDirectory(store)
    await make_user(d, "admin@example.org", "admin", "immigration-office", START)
    await make_user(d, "worker@example.org", "caseworker", "immigration-office", START)
    visa = (await make_case(store, START, "visa_question", "visa_info", sender="v")).reference
    async with api_server(store, flows, clock) as base:
        async with client(base) as browser:
            await sign_in(browser, "worker@example.org")
            async with browser.get("/backoffice/tokens") as page:
                assert page.status == 403
        async with client(base) as browser:
            await sign_in(browser, "admin@example.org")
            csrf = await page_csrf(browser, "/backoffice/tokens")
            async with browser.post("/backoffice/tokens", data={
                "name": "io-dms", "role": "caseworker", "organisation": "immigration-office", "expires": "90",
                "csrf_token": csrf,
            }) as page:
                html = await page.text()
                assert page.status == 200
            token = re.search(r'<code id="new-token">(itk_[^<]+)</code>', html)[1]  # type: ignore[index]
            async with browser.post("/backoffice/tokens", data={
                "name": "io-dms", "role": "caseworker", "organisation": "immigration-office", "csrf_token": csrf,
            }) as page:
                assert page.status == 400 and token not in await page.text()  # the name is taken
            async with browser.get("/backoffice/tokens") as page:
                listing = await page.text()
            assert "io-dms" in listing and token not in listing and "admin@example.org" in listing
            async with api_client(base, token) as s:
                status, _, _found = await call(s, "GET", f"/api/v1/cases/{visa}")
                assert status == 200
            token_id = re.search(r'/backoffice/tokens/(\d+)/revoke', listing)[1]  # type: ignore[index]
            async with browser.post(f"/backoffice/tokens/{token_id}/revoke", data={"csrf_token": csrf},
                                    allow_redirects=False) as page:
                assert page.status == 303
            async with api_client(base, token) as s:
                status, kind, body = await call(s, "GET", f"/api/v1/cases/{visa}")
                _problem(status, kind, body, 401)
            async with browser.get("/backoffice/tokens") as page:
                assert "revoked" in await page.text()
    async with store.reading() as session:
        actions = [a.action for a in (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()]
    assert "token_create" in actions and "token_revoke" in actions


# --- the events feed ------------------------------------------------------------------------


async def test_the_events_feed_pages_by_cursor_within_the_tokens_reach(api, store: Store, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from .test_webhooks import deliverer, drain

    base, tokens, refs = api
    worker = deliverer(store, clock)  # publishes the outbox, as every server does each cycle
    await drain(worker)
    await worker.close()
    async with api_client(base, tokens["fedasil"]) as s:
        status, _, first = await call(s, "GET", "/api/v1/events?limit=1")
        assert status == 200 and len(first["items"]) == 1
        status, _, rest = await call(s, "GET", f"/api/v1/events?after={first['next']}")
        seen = [i["case"]["reference"] for i in first["items"] + rest["items"]]
        assert refs["vr"] in seen and all(i["event"] == "case.created" for i in first["items"] + rest["items"])
        status, _, nothing = await call(s, "GET", f"/api/v1/events?after={rest['next']}")
        assert nothing == {"items": [], "next": rest["next"]}  # nothing new: ask again with the same
        status, kind, body = await call(s, "GET", "/api/v1/events?after=abc")
        _problem(status, kind, body, 422)
    async with api_client(base, tokens["io"]) as s:
        status, _, page = await call(s, "GET", "/api/v1/events")
        assert status == 200 and refs["vr"] not in {i["case"]["reference"] for i in page["items"]}
        assert refs["visa"] in {i["case"]["reference"] for i in page["items"]}
    async with api_client(base, tokens["auditor"]) as s:
        status, kind, body = await call(s, "GET", "/api/v1/events")
        _problem(status, kind, body, 403)


async def test_the_list_filters_by_organisation_as_the_back_office_does(store: Store, flows: FlowSet, clock: Clock) -> None:
    """``organisation``: the cases it submitted by assisted intake or that were shared with it."""
    from .backoffice_http import backoffice, client, sign_in

    shared = (await make_case(store, START, "voluntary_return", "voluntary_return", sender="s", share=("iom",))).reference
    plain = (await make_case(store, START, "voluntary_return", "voluntary_return", sender="p")).reference
    admin_token = await make_token(store, "admin-sync", "admin", "fedasil", START)
    async with api_server(store, flows, clock) as base, api_client(base, admin_token) as s:
        status, _, page = await call(s, "GET", "/api/v1/cases?organisation=iom")
        assert status == 200 and [i["reference"] for i in page["items"]] == [shared]
        status, _, page = await call(s, "GET", "/api/v1/cases")
        assert {shared, plain} <= {i["reference"] for i in page["items"]}
    await make_user(StaffDirectory(store), "boss@example.org", "admin", "fedasil", START)
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, "boss@example.org")
        async with session.get("/backoffice/cases?organisation=iom") as response:
            html = await response.text()
        assert shared in html and plain not in html and 'value="iom" selected' in html
