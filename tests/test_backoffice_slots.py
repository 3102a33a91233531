"""Registration appointments in the back office (bot/backoffice/slots.py) and the waiting
list of the protection journey: every form over HTTP with its CSRF token and its access
per role, the same slot rules as ``intake slots add``, attendance and cancellation written
on the case, the applicant told in their language, and a waiting-list request that staff
turn into an appointment. Today is 23 November 2026, 11:00 in Brussels (conftest.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select, true

from bot.app import create_app
from bot.cases.draft import CaseDraft
from bot.engine import Engine, Inbound
from bot.engine.flow import SubmitStep
from bot.engine.loader import FlowSet
from bot.store.appointments import SlotPlanError, plan_slots
from bot.store.casework import Casework
from bot.store.crypto import generate_key
from bot.store.models import AuditEntry
from bot.store.slot_desk import SlotDesk
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import make_user
from .backoffice_http import backoffice, client, csrf_of, page_csrf, sign_in
from .chat import Chat
from .conftest import START, Clock
from .serving import services_for, serving
from .test_protection import PROTECTION

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = "2026-12-01"
TODAY_AFTERNOON = datetime(2026, 11, 23, 15, 0, tzinfo=BRUSSELS)  # later today: markable and cancellable
USERS = {
    "admin": ("admin@example.org", "admin", "immigration-office"),
    "desk": ("desk@example.org", "caseworker", "immigration-office"),
    "fedasil": ("fedasil@example.org", "caseworker", "fedasil"),
    "partner": ("partner@example.org", "partner", "ngo"),
    "auditor": ("audit@example.org", "auditor", "fedasil"),
}
GOOD_FORM = {"from": f"{DAY}T09:00", "to": "12:00", "every": "30m", "capacity": "2", "place": "registration_centre"}
BAD_INPUT = [  # (field, value, the rule's code): refused alike by the form and the CLI
    ("from", "tomorrow morning", "start"),
    ("to", "noon", "end"),
    ("every", "fortnightly", "every"),
    ("every", "0m", "every"),
    ("capacity", "0", "capacity"),
    ("to", "08:00", "order"),
    ("place", "x" * 65, "place"),
    ("every", "1m", "too_many"),
]


def _with(field: str, value: str) -> dict[str, str]:
    form = dict(GOOD_FORM)
    if field == "every" and value == "1m":  # 20 days of a slot a minute
        form["to"] = "2026-12-21T09:00"
    form[field] = value
    return form


async def _staff(store: Store) -> None:
    directory = StaffDirectory(store)
    for email, role, org in USERS.values():
        await make_user(directory, email, role, org, START)


async def _post(session: aiohttp.ClientSession, path: str, data: dict[str, str], token: str | None) -> aiohttp.ClientResponse:
    body = dict(data, **({"csrf_token": token} if token is not None else {}))
    async with session.post(path, data=body, allow_redirects=False) as response:
        await response.read()
        return response


async def _text(session: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    async with session.get(path, allow_redirects=False) as response:
        return response.status, await response.text()


async def booked_case(
    store: Store, slot_id: int, sender: str, *, language: str = "fr", flags: tuple[str, ...] = ()
) -> str:
    """A protection case with a booking, made in one turn as the journey makes it."""
    now = START
    async with store.turn("test", sender, now) as turn:
        seat = await turn.book(slot_id, now, [])
        assert seat is not None
        case = await turn.create_case(
            CaseDraft(
                kind="protection_appointment", flow_id="protection_appointment", language=language, channel="test",
                applicant={"name": "Amanuel Tesfaye"}, household={}, answers={}, flags=list(flags), priority="normal",
                consent={"version": "v1", "given_at": now.isoformat(), "scopes": {"data_processing": True}},
                content_version="test", appointment=seat.for_case(),
            ),
            now,
        )
        await turn.attach_reference(seat.id, case.reference)
        turn.save_state({}, language, now)
    return case.reference


def _engine(store: Store, flows: FlowSet, clock: Clock) -> Engine:
    return Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())


async def _first_words(engine: Engine, sender: str, text: str = "hello") -> str:
    """What the applicant sees at their next message (kept staff messages come first)."""
    replies = await engine.handle(Inbound(channel="test", sender_id=sender, text=text))
    return "\n".join(r.text for r in replies)


# --- the same rules as `intake slots add` ----------------------------------------------------


@pytest.mark.parametrize(("field", "value", "code"), BAD_INPUT)
def test_the_shared_rules_name_each_bad_input(field: str, value: str, code: str) -> None:
    form = _with(field, value)
    with pytest.raises(SlotPlanError) as refused:
        plan_slots(form["from"], form["to"], form["every"], form["capacity"], form["place"], BRUSSELS)
    assert refused.value.code == code


def test_the_cli_refuses_the_same_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", generate_key())
    monkeypatch.setenv("INTAKE_TIMEZONE", "Europe/Brussels")
    for field, value, _ in BAD_INPUT:
        form = _with(field, value)
        args = ["slots", "add", "--from", form["from"], "--to", form["to"], "--every", form["every"],
                "--capacity", form["capacity"], "--place", form["place"]]
        assert main(args) == 2, (field, value)
        assert capsys.readouterr().err.startswith("error: "), (field, value)


async def test_the_form_refuses_the_same_bad_input_and_creates_nothing(store: Store, flows: FlowSet, clock: Clock) -> None:
    await _staff(store)
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["admin"][0])
        token = await page_csrf(session, f"/backoffice/appointments?day={DAY}")
        for field, value, code in BAD_INPUT:
            response = await _post(session, "/backoffice/appointments/slots", _with(field, value), token)
            assert response.status == 303, (field, value)
            assert f"error={code}" in response.headers["Location"], (field, value)
        status, html = await _text(session, f"/backoffice/appointments?day={DAY}&error=every&f_every=fortnightly")
        assert status == 200 and "Give the interval as 15m, 1h, 90m or 1h30m." in html
        assert 'value="fortnightly"' in html  # what was typed is shown again
    assert await store.slots(START, limit=10) == []


# --- creating and removing slots ---------------------------------------------------------------


async def test_an_admin_creates_slots_and_sees_the_day(store: Store, flows: FlowSet, clock: Clock) -> None:
    await _staff(store)
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["admin"][0])
        token = await page_csrf(session, "/backoffice/appointments")
        response = await _post(session, "/backoffice/appointments/slots", GOOD_FORM, token)
        assert response.status == 303
        assert response.headers["Location"] == f"/backoffice/appointments?day={DAY}&done=created&n=6"
        status, html = await _text(session, response.headers["Location"])
        assert status == 200 and "Slots created: 6." in html
        assert [html.count(f">{t}<") for t in ("09:00", "11:30", "12:00")] == [1, 1, 0]
        assert "0 of 12 seats booked" in html
        again = await _post(session, "/backoffice/appointments/slots", GOOD_FORM, token)
        assert again.headers["Location"].endswith("done=created&n=0")  # same times: skipped, as by the CLI
        # date navigation
        status, html = await _text(session, f"/backoffice/appointments?day={DAY}")
        assert 'href="/backoffice/appointments?day=2026-11-30"' in html
        assert 'href="/backoffice/appointments?day=2026-12-02"' in html
        assert 'href="/backoffice/appointments?day=2026-11-23"' in html  # today
        status, html = await _text(session, "/backoffice/appointments?day=2026-12-02")
        assert "No slots on this day." in html
        for day in ("not-a-day", "0001-01-01", "9999-12-31"):  # unreadable or too far off: today
            status, html = await _text(session, f"/backoffice/appointments?day={day}")
            assert status == 200 and "Appointments on Monday, November 23, 2026" in html
        missing = await _post(session, f"/backoffice/appointments/slots/{2**63}/remove", {}, token)
        assert missing.status == 404
    slots = await store.slots(START, limit=20)
    assert [s.starts_at.astimezone(BRUSSELS).strftime("%H:%M") for s in slots] == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"
    ]
    assert {s.capacity for s in slots} == {2}
    async with store.engine.connect() as conn:
        details = [d for (d,) in (await conn.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "create_slots")
        )).all()]
    assert details[0].startswith("n=6 place=registration_centre from=2026-12-01T09:00:00+01:00")


async def test_only_a_slot_without_bookings_can_be_removed(store: Store, flows: FlowSet, clock: Clock) -> None:
    await _staff(store)
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(hours=1), timedelta(minutes=30), 1)
    first, second = await store.slots(START)
    reference = await booked_case(store, first.id, "applicant-r")
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["admin"][0])
        token = await page_csrf(session, "/backoffice/appointments")
        refused = await _post(session, f"/backoffice/appointments/slots/{first.id}/remove", {}, token)
        assert "error=booked" in refused.headers["Location"]
        removed = await _post(session, f"/backoffice/appointments/slots/{second.id}/remove", {}, token)
        assert "done=removed" in removed.headers["Location"]
        missing = await _post(session, f"/backoffice/appointments/slots/{second.id}/remove", {}, token)
        assert missing.status == 404
        status, html = await _text(session, "/backoffice/appointments")
        assert reference in html and f"slots/{first.id}/remove" not in html  # no remove button on a booked slot
        # Once its booking is cancelled, the slot can go (the case keeps its history).
        (booking,) = [b for s in await _day(store) for b in s.bookings]
        cancelled = await _post(session, f"/backoffice/appointments/bookings/{booking.id}/cancel", {}, token)
        assert "done=cancelled" in cancelled.headers["Location"]
        gone = await _post(session, f"/backoffice/appointments/slots/{first.id}/remove", {}, token)
        assert "done=removed" in gone.headers["Location"]
    assert await store.slots(START) == []
    case = await store.case(reference)
    assert case is not None and case.appointment is not None and case.appointment["status"] == "cancelled"


async def _day(store: Store, moment: datetime = TODAY_AFTERNOON) -> Any:
    """The desk's view of the local day of ``moment``."""
    start = datetime.combine(moment.astimezone(BRUSSELS).date(), datetime.min.time(), BRUSSELS)
    return await SlotDesk(store).day(start, start + timedelta(days=1))


# --- access and CSRF -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees_day", "manages"),
    [("admin", True, True), ("desk", True, False), ("fedasil", False, False), ("partner", False, False),
     ("auditor", False, False)],
)
async def test_access_per_role(store: Store, flows: FlowSet, clock: Clock, who: str, sees_day: bool, manages: bool) -> None:
    await _staff(store)
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(hours=1), timedelta(minutes=30), 1)
    booked, free = await store.slots(START)
    reference = await booked_case(store, booked.id, "applicant-a", flags=("unaccompanied_minor",))
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS[who][0])
        status, html = await _text(session, "/backoffice/appointments")
        assert status == (200 if sees_day else 403)
        if sees_day:
            assert reference in html and ("Create slots" in html) is manages
        token = csrf_of(html)  # the sign-out form's, on the 403 page too
        create = await _post(session, "/backoffice/appointments/slots", GOOD_FORM, token)
        assert create.status == (303 if manages else 403)
        mark = await _post(
            session, f"/backoffice/appointments/bookings/{_booking_id(await _day(store))}/attendance",
            {"attendance": "attended"}, token,
        )
        assert mark.status == (303 if sees_day else 403)
        remove = await _post(session, f"/backoffice/appointments/slots/{free.id}/remove", {}, token)
        assert remove.status == (303 if manages else 403)
        offer = await _text(session, f"/backoffice/cases/{reference}/appointment")
        # Fedasil sees this case (a minor alone: reception) but does not book registrations.
        assert offer[0] == (200 if sees_day else 403)
        cancel = await _post(session, f"/backoffice/appointments/bookings/{_booking_id(await _day(store))}/cancel", {}, token)
        assert cancel.status == (303 if sees_day else 403)
    assert len(await store.slots(START, limit=50)) == (2 + 6 - 1 if manages else 2)


def _booking_id(day: Any) -> int:
    return next(b.id for s in day for b in s.bookings)


async def test_every_form_needs_its_csrf_token(store: Store, flows: FlowSet, clock: Clock) -> None:
    await _staff(store)
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(hours=1), timedelta(minutes=30), 1)
    booked, free = await store.slots(START)
    reference = await booked_case(store, booked.id, "applicant-c")
    booking = _booking_id(await _day(store))
    posts = [
        ("/backoffice/appointments/slots", GOOD_FORM),
        (f"/backoffice/appointments/slots/{free.id}/remove", {}),
        (f"/backoffice/appointments/bookings/{booking}/attendance", {"attendance": "attended"}),
        (f"/backoffice/appointments/bookings/{booking}/cancel", {}),
        (f"/backoffice/cases/{reference}/appointment", {"slot_id": str(free.id)}),
    ]
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["admin"][0])
        for path, data in posts:
            for token in (None, "forged"):
                response = await _post(session, path, data, token)
                assert response.status == 403, (path, token)
    assert len(await store.slots(START)) == 2
    day = await _day(store)
    assert [(b.status, b.attendance) for s in day for b in s.bookings] == [("active", None)]


# --- the desk's day ---------------------------------------------------------------------------


async def test_attendance_is_written_on_the_case_and_a_cancellation_tells_the_applicant(
    store: Store, flows: FlowSet, clock: Clock
) -> None:
    await _staff(store)
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(minutes=1), timedelta(minutes=30), 2)
    later = TODAY_AFTERNOON + timedelta(days=7)
    await store.add_slots(later, later + timedelta(minutes=1), timedelta(minutes=30), 1)
    today, next_week = await store.slots(START)
    reference = await booked_case(store, today.id, "applicant-fr", language="fr")
    other = await booked_case(store, next_week.id, "applicant-en", language="en")
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["desk"][0])
        token = await page_csrf(session, "/backoffice/appointments")
        booking = _booking_id(await _day(store))
        path = f"/backoffice/appointments/bookings/{booking}/attendance"
        assert "done=attendance" in (await _post(session, path, {"attendance": "no_show"}, token)).headers["Location"]
        assert "done=attendance" in (await _post(session, path, {"attendance": "attended"}, token)).headers["Location"]
        assert "error=bad_attendance" in (await _post(session, path, {"attendance": "maybe"}, token)).headers["Location"]
        status, html = await _text(session, "/backoffice/appointments")
        assert "<strong>Attended</strong>" in html
        # Next week's appointment cannot have been missed yet.
        next_week_booking = _booking_id(await _day(store, later))
        early = await _post(
            session, f"/backoffice/appointments/bookings/{next_week_booking}/attendance", {"attendance": "no_show"}, token
        )
        assert "error=too_early" in early.headers["Location"]
        # Cancel today's booking: the seat is free, the case says so, the applicant is told in French.
        cancelled = await _post(session, f"/backoffice/appointments/bookings/{booking}/cancel", {}, token)
        assert "done=cancelled" in cancelled.headers["Location"]
        again = await _post(session, f"/backoffice/appointments/bookings/{booking}/cancel", {}, token)
        assert "error=not_cancellable" in again.headers["Location"]
    case = await store.case(reference)
    assert case is not None
    notes = [(e.actor, e.note) for e in case.status_history]
    assert ("desk@example.org", f"did not come to the appointment of {today.starts_at.isoformat()}") in notes
    assert ("desk@example.org", f"attended the appointment of {today.starts_at.isoformat()}") in notes
    assert notes[-1][1] == f"appointment of {today.starts_at.isoformat()} cancelled by the registration desk"
    assert case.status == "submitted" and "waiting_list" in case.flags  # the desk owes a new time
    found = await Casework(store).case_file(true(), reference)
    assert found is not None and set(found.steps) == {"attended", "no_show"}
    assert (await store.slots(START))[0].booked == 0
    said = await _first_words(_engine(store, flows, clock), "applicant-fr")
    assert "Nous sommes désolés" in said and "a dû être annulé" in said and "Rue Belliard 68" in said
    assert (await store.case(other)).status_history[-1].note is None  # the other booking is untouched
    async with store.engine.connect() as conn:
        audit = (await conn.execute(
            select(AuditEntry.action, AuditEntry.detail, AuditEntry.case_reference)
            .where(AuditEntry.action.in_(("mark_attendance", "cancel_booking")))
        )).all()
    assert [a for a, _, _ in audit] == ["mark_attendance", "mark_attendance", "cancel_booking"]
    assert all(r == reference for _, _, r in audit)
    assert all("Amanuel" not in (d or "") for _, d, _ in audit)


# --- the waiting list ----------------------------------------------------------------------


def test_the_waiting_list_keeps_the_flags_of_a_booking(flows: FlowSet) -> None:
    flow = flows.flows["protection_appointment"]
    send, waiting = flow.step("send"), flow.step("waiting_list")
    assert isinstance(send, SubmitStep) and isinstance(waiting, SubmitStep)
    assert [f.name for f in waiting.flags] == ["waiting_list", *(f.name for f in send.flags)]
    assert [(f.when, f.priority) for f in waiting.flags[1:]] == [(f.when, f.priority) for f in send.flags]
    assert waiting.priority == send.priority and waiting.book is None


URGENT = {"applicant.date_of_birth": "01/01/2010", "unaccompanied_minor": "yes", "household.children": "1",
          "shelter_tonight": "no"}


async def test_waiting_list_end_to_end(store: Store, flows: FlowSet, clock: Clock) -> None:
    """No slot: the request is kept, flagged and urgent; staff create a slot and offer it
    from the case; the applicant is told and can see the appointment."""
    await _staff(store)
    engine = _engine(store, flows, clock)
    chat = Chat(engine, sender="waiting-1")
    await chat.say("/protection_registration")
    await chat.answer_until({**PROTECTION, **URGENT}, stop_at="slot")
    assert "waiting list" in chat.text and "Please check your answers" in chat.text
    await chat.say("/confirm")
    [case] = await store.cases()
    assert case.flags[0] == "waiting_list"
    assert {"unaccompanied_minor", "no_shelter_with_children", "no_shelter"} <= set(case.flags)
    assert case.priority == "urgent" and case.appointment is None
    assert f"Your reference is {case.reference}" in chat.text
    async with backoffice(store, flows, clock) as base, client(base) as admin, client(base) as desk:
        await sign_in(admin, USERS["admin"][0])
        await sign_in(desk, USERS["desk"][0])
        status, html = await _text(desk, "/backoffice/cases?flag=waiting_list&kind=protection_appointment")
        assert f'href="/backoffice/cases/{case.reference}"' in html
        assert "Open urgent cases: 1" in html  # the urgent alert
        status, html = await _text(desk, "/backoffice/appointments")
        assert "Waiting list: 1 open request(s)" in html
        status, html = await _text(desk, f"/backoffice/cases/{case.reference}")
        assert "On the waiting list" in html and f"/backoffice/cases/{case.reference}/appointment" in html
        status, html = await _text(desk, f"/backoffice/cases/{case.reference}/appointment")
        assert "There is no free slot." in html
        token = await page_csrf(admin, "/backoffice/appointments")
        await _post(admin, "/backoffice/appointments/slots", GOOD_FORM, token)
        status, html = await _text(desk, f"/backoffice/cases/{case.reference}/appointment")
        first = (await store.slots(START))[0]
        assert f'<option value="{first.id}">' in html
        token = csrf_of(html)
        work = Casework(store)
        await work.change_status(case.reference, "closed", "no answer", "withdrawn", "desk@example.org", START)
        closed = await _post(desk, f"/backoffice/cases/{case.reference}/appointment", {"slot_id": str(first.id)}, token)
        assert "error=closed_case" in closed.headers["Location"]
        await work.change_status(case.reference, "in_review", "the applicant wrote again", None, "desk@example.org", START)
        offered = await _post(desk, f"/backoffice/cases/{case.reference}/appointment", {"slot_id": str(first.id)}, token)
        assert offered.status == 303 and offered.headers["Location"] == f"/backoffice/cases/{case.reference}"
        twice = await _post(desk, f"/backoffice/cases/{case.reference}/appointment", {"slot_id": str(first.id)}, token)
        assert "error=has_booking" in twice.headers["Location"]
        status, html = await _text(desk, f"/backoffice/appointments?day={DAY}")
        assert f'href="/backoffice/cases/{case.reference}"' in html and "1 of 12 seats booked" in html
        assert "Waiting list: 0 open request(s)" in html
    after = await store.case(case.reference)
    assert after is not None and "waiting_list" not in after.flags
    assert {"unaccompanied_minor", "no_shelter_with_children", "no_shelter"} <= set(after.flags)
    assert after.appointment is not None and after.appointment["starts_at"] == first.starts_at.isoformat()
    assert after.status_history[-1].actor == "desk@example.org"
    assert (await store.slots(START))[0].booked == 1
    jobs = await store.jobs()
    assert len(jobs) == 2 and all(j.payload["language"] == "en" for j in jobs)  # the usual reminders
    said = await _first_words(engine, "waiting-1", "/appointment_manage")
    assert "An appointment for your registration is booked: Tuesday, December 1, 2026" in said
    assert "Your appointment: Tuesday, December 1, 2026, 9:00\u202fAM" in said


async def test_a_seat_taken_meanwhile_with_none_left_goes_to_the_waiting_list(engine: Engine) -> None:
    first_slot = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    await engine.store.add_slots(first_slot, first_slot + timedelta(minutes=1), timedelta(minutes=30), 1)
    first, second = Chat(engine, sender="first"), Chat(engine, sender="second")
    for chat in (first, second):
        await chat.say("/protection_registration")
        await chat.answer_until(PROTECTION, stop_at="slot")
        await chat.say(chat.payloads[0])
    await first.say("/confirm")
    await second.say("/confirm")  # the only seat is gone: nothing to choose again
    assert "waiting list" in second.text and "Please check your answers" in second.text
    assert "Appointment" not in second.text  # the lost time is no answer any more
    await second.say("/confirm")
    cases = {c.appointment is None: c for c in await engine.store.cases()}
    assert cases[True].flags == ["waiting_list"] and cases[False].flags == []


# --- start-up ---------------------------------------------------------------------------------


async def test_a_fresh_start_says_how_to_create_slots(
    engine: Engine, flows: FlowSet, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.backoffice.slots"):
        async with serving(create_app(services_for(engine, flows))):
            pass
    hint = "intake slots add --from 2026-11-24T09:00 --to 12:00 --every 30m --capacity 2"  # tomorrow
    assert any(hint in r.getMessage() and "/backoffice/appointments" in r.getMessage() for r in caplog.records)
    caplog.clear()
    first_slot = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    await engine.store.add_slots(first_slot, first_slot + timedelta(minutes=1), timedelta(minutes=30), 1)
    with caplog.at_level(logging.WARNING, logger="bot.backoffice.slots"):
        async with serving(create_app(services_for(engine, flows))):
            pass
    assert not any("intake slots add" in r.getMessage() for r in caplog.records)


async def test_a_full_slot_cannot_be_offered_and_the_request_stays_waiting(store: Store, flows: FlowSet, clock: Clock) -> None:
    await _staff(store)
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(minutes=1), timedelta(minutes=30), 1)
    (slot,) = await store.slots(START)
    await booked_case(store, slot.id, "first-come")  # the last seat, taken by an applicant
    engine = _engine(store, flows, clock)
    chat = Chat(engine, sender="waiting-2")
    await chat.say("/protection_registration")
    await chat.answer_until(PROTECTION, stop_at="slot")
    await chat.say("/confirm")
    waiting = next(c for c in await store.cases() if "waiting_list" in c.flags)
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, USERS["desk"][0])
        token = await page_csrf(session, f"/backoffice/cases/{waiting.reference}/appointment")
        for slot_id in (str(slot.id), "999999", "not-a-number"):
            full = await _post(session, f"/backoffice/cases/{waiting.reference}/appointment", {"slot_id": slot_id}, token)
            assert "error=slot_full" in full.headers["Location"], slot_id
        status, html = await _text(session, full.headers["Location"])
        assert "That time is no longer free: choose another one." in html
    after = await store.case(waiting.reference)
    assert after is not None and after.flags == ["waiting_list"] and after.appointment is None
    assert (await store.slots(START))[0].booked == 1


async def test_the_day_view_speaks_the_staff_members_language(store: Store, flows: FlowSet, clock: Clock) -> None:
    directory = StaffDirectory(store)
    user = await make_user(directory, "bureau@example.org", "admin", "immigration-office", START)
    await directory.set_profile(user.id, on_duty=False, language="fr")
    await store.add_slots(TODAY_AFTERNOON, TODAY_AFTERNOON + timedelta(minutes=1), timedelta(minutes=30), 1)
    async with backoffice(store, flows, clock) as base, client(base) as session:
        await sign_in(session, "bureau@example.org")
        status, html = await _text(session, "/backoffice/appointments?error=order")
    assert "Rendez-vous du lundi 23 novembre 2026" in html
    assert "La fin doit être après le premier début." in html and "Créer des créneaux" in html
