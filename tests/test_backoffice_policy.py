"""The one access check: the Python rule and its SQL form agree, and the defaults keep
purposes apart (a voluntary-return request is not the Immigration Office's business)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.backoffice import policy
from bot.store.casework import CaseFilter, Casework
from bot.store.models import CaseNote, CaseRow
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_case, make_user
from .conftest import START


@pytest.fixture
async def world(store: Store):  # type: ignore[no-untyped-def]
    d = StaffDirectory(store)
    users = {
        "io": await make_user(d, "io@example.org", "caseworker", "immigration-office", START),
        "io_duty": await make_user(d, "io-duty@example.org", "caseworker", "immigration-office", START, on_duty=True),
        "fedasil": await make_user(d, "fedasil@example.org", "caseworker", "fedasil", START),
        "iom": await make_user(d, "iom@example.org", "caseworker", "iom", START),
        "iom_partner": await make_user(d, "outreach@iom.example.org", "partner", "iom", START),
        "ngo": await make_user(d, "street@ngo.example.org", "partner", "ngo", START),
        "auditor": await make_user(d, "audit@example.org", "auditor", "immigration-office", START),
        "admin": await make_user(d, "admin@example.org", "admin", "fedasil", START),
    }
    cases = {
        "vr": await make_case(store, START, "voluntary_return", "voluntary_return"),
        "vr_iom": await make_case(store, START, "voluntary_return", "voluntary_return", share=("iom",)),
        "vq": await make_case(store, START, "visa_question", "visa_info"),
        "pa": await make_case(store, START, "protection_appointment", "protection_appointment"),
        "pa_minor": await make_case(
            store, START, "protection_appointment", "protection_appointment", flags=("unaccompanied_minor",)
        ),
        "us": await make_case(store, START, "urgent_safety", "urgent_help", priority="urgent"),
        "hc_vr": await make_case(store, START, "human_callback", "human_handoff", answers={"from_flow": "voluntary_return"}),
        "hc": await make_case(store, START, "human_callback", "human_handoff"),
        "ngo_pa": await make_case(store, START, "protection_appointment", "protection_appointment", submitted_org="ngo"),
    }
    return users, {name: case.reference for name, case in cases.items()}


EXPECTED = {
    "io": {"vq", "pa", "pa_minor", "hc", "ngo_pa"},
    "io_duty": {"vq", "pa", "pa_minor", "hc", "ngo_pa", "us"},
    "fedasil": {"vr", "vr_iom", "pa_minor", "hc_vr"},
    "iom": {"vr_iom"},
    "iom_partner": {"vr_iom"},
    "ngo": {"ngo_pa"},
    "auditor": set(),
    "admin": {"vr", "vr_iom", "vq", "pa", "pa_minor", "us", "hc_vr", "hc", "ngo_pa"},
}


async def test_each_role_sees_the_cases_of_the_defaults_by_list_and_by_rule(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    users, refs = world
    names = {ref: name for name, ref in refs.items()}
    work = Casework(store)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(CaseRow))).all()
    for who, user in users.items():
        listed, total = await work.cases(policy.visible_cases(user), CaseFilter(per_page=100))
        by_sql = {names[line.reference] for line in listed}
        by_rule = {names[row.reference] for row in rows if policy.can_see(user, row)}
        assert by_sql == by_rule == EXPECTED[who], who
        assert total == len(by_sql)


async def test_a_case_out_of_reach_is_not_found_by_reference_either(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    users, refs = world
    work = Casework(store)
    io = users["io"]
    assert await work.case_file(policy.visible_cases(io), refs["vr"]) is None
    listed, _ = await work.cases(policy.visible_cases(io), CaseFilter(reference=refs["vr"]))
    assert listed == []
    found = await work.case_file(policy.visible_cases(users["fedasil"]), refs["vr"])
    assert found is not None and found.case.applicant.name == "Nino Beridze"


async def test_actions_follow_the_role(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    users, refs = world
    async with store.engine.connect() as conn:
        pa = (await conn.execute(select(CaseRow).where(CaseRow.reference == refs["ngo_pa"]))).one()
    assert policy.can(users["io"], "change_status", pa)
    assert policy.can(users["ngo"], "view", pa) and policy.can(users["ngo"], "note", pa)
    assert not policy.can(users["ngo"], "change_status", pa)
    assert not policy.can(users["auditor"], "view", pa) and policy.can(users["auditor"], "read_audit")
    assert not policy.can(users["io"], "read_audit") and not policy.can(users["io"], "manage_users")
    with pytest.raises(ValueError):
        policy.can(users["admin"], "fly")


async def test_a_disabled_user_loses_sessions_and_cases(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    users, refs = world
    d = StaffDirectory(store)
    token = await d.open_session(users["fedasil"], START)
    assert (await d.session_user(token, START)) == users["fedasil"]
    await d.disable_user("FEDASIL@example.org", START)
    assert await d.session_user(token, START) is None
    assert await d.authenticate("fedasil@example.org", "correct horse battery staple") is None
    disabled = await d.user("fedasil@example.org")
    assert disabled is not None and disabled.disabled
    assert not policy.can(disabled, "list_cases")


async def test_a_partner_reads_only_its_own_organisations_notes(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    users, refs = world
    work = Casework(store)
    io, ngo = users["io"], users["ngo"]
    await work.add_note(refs["ngo_pa"], io.id, io.organisation_id, "office note", START)
    await work.add_note(refs["ngo_pa"], ngo.id, ngo.organisation_id, "street team note", START)
    seen_by_ngo = await work.case_file(policy.visible_cases(ngo), refs["ngo_pa"], notes_of=policy.notes_visible_to(ngo))
    seen_by_io = await work.case_file(policy.visible_cases(io), refs["ngo_pa"], notes_of=policy.notes_visible_to(io))
    assert seen_by_ngo is not None and [n.text for n in seen_by_ngo.notes] == ["street team note"]
    assert seen_by_io is not None and [n.text for n in seen_by_io.notes] == ["office note", "street team note"]
    async with store.engine.connect() as conn:
        stored = (await conn.execute(select(CaseNote.body_enc))).scalars().all()
    assert all(b"note" not in body for body in stored)  # encrypted at rest
