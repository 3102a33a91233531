"""Alerts of urgent cases: one e-mail to each on-duty staff member who may see the case
(the one access check), through a real SMTP exchange with a local server; nothing
personal in it; never lost nor sent twice, across an SMTP outage, restarts and workers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Services, create_app
from bot.backoffice.alerts import AlertSender, SmtpMailer, alert_sender, recipients
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.alerts import PENDING, SENT, Alerts
from bot.store.models import Alert
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import make_case, make_user
from .chat import Chat
from .conftest import START, Clock
from .serving import free_port, serving
from .smtp_inbox import Inbox

PUBLIC = "https://intake.example.be"
NAME = "Nino Beridze"
ANSWER = "hiding in the station at Brussels-North"


def settings(port: int, **more: object) -> Settings:
    return Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="alerts@intake.example.be",
        public_url=PUBLIC, **more,  # type: ignore[arg-type]
    )


def sender_for(store: Store, port: int, clock: Clock) -> AlertSender:
    s = settings(port)
    return AlertSender(Alerts(store), SmtpMailer(s), sender=s.smtp_from, public_url=PUBLIC, clock=clock)


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox(free_port())
    await box.start()
    yield box
    await box.stop()


async def _staff(store: Store) -> None:
    directory = StaffDirectory(store)
    await make_user(directory, "io-on@example.org", "caseworker", "immigration-office", START, on_duty=True)
    await make_user(directory, "io-off@example.org", "caseworker", "immigration-office", START)
    await make_user(directory, "fedasil-on@example.org", "caseworker", "fedasil", START, on_duty=True)
    await make_user(directory, "iom-on@example.org", "caseworker", "iom", START, on_duty=True)
    await make_user(directory, "ngo-on@example.org", "partner", "ngo", START, on_duty=True)
    await make_user(directory, "admin-on@example.org", "admin", "immigration-office", START, on_duty=True)
    await make_user(directory, "audit-on@example.org", "auditor", "immigration-office", START, on_duty=True)
    gone = await make_user(directory, "gone@example.org", "caseworker", "fedasil", START, on_duty=True)
    await directory.disable_user(gone.email, START)


async def test_a_new_urgent_case_mails_each_on_duty_user_who_may_see_it_once(store: Store, inbox: Inbox) -> None:
    await _staff(store)
    clock = Clock()
    safety = await make_case(
        store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent",
        applicant={"name": NAME}, answers={"situation": ANSWER},
    )
    # An urgent voluntary return: Fedasil's; never the Immigration Office's, on duty or not.
    ret = await make_case(
        store, START, "voluntary_return", "voluntary_return", sender="r", priority="urgent",
        applicant={"name": NAME}, flags=("urgent_health",),
    )
    await make_case(store, START, "visa_question", "visa_info", sender="v")  # not urgent: no alert

    assert await sender_for(store, inbox.port, clock).run_once() == 5
    assert [m["Subject"] for m in inbox.to("io-on@example.org")] == [f"Urgent case {safety.reference}"]
    by_case = {
        ref: sorted(r for recipients_, m in inbox.messages for r in recipients_ if ref in m["Subject"])
        for ref in (safety.reference, ret.reference)
    }
    assert by_case == {
        safety.reference: ["admin-on@example.org", "fedasil-on@example.org", "io-on@example.org"],
        ret.reference: ["admin-on@example.org", "fedasil-on@example.org"],
    }
    for _, message in inbox.messages:
        body = message.get_content()
        reference = safety.reference if safety.reference in message["Subject"] else ret.reference
        assert reference in body and f"{PUBLIC}/backoffice/cases/{reference}" in body
        raw = message.as_string()
        for personal in (NAME, "Nino", "Beridze", ANSWER, "station", "urgent_health"):
            assert personal not in raw
        assert message["From"] == "alerts@intake.example.be"

    # Nothing again: not from this sender, nor from a new one (a restart), nor a second worker.
    assert await sender_for(store, inbox.port, clock).run_once() == 0
    clock.advance(hours=2)
    again = Store.connect(store.engine.url.render_as_string(hide_password=False), store.cipher)
    try:
        assert await sender_for(again, inbox.port, clock).run_once() == 0
    finally:
        await again.close()
    assert len(inbox.messages) == 5
    assert {status for _, _, status, _ in await Alerts(store).deliveries()} == {SENT}


async def test_smtp_down_then_up_delivers_once(store: Store) -> None:
    await _staff(store)
    clock = Clock()
    case = await make_case(store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent")
    box = Inbox(free_port())  # not started: the server is down
    sender = sender_for(store, box.port, clock)
    assert await sender.run_once() == 0
    deliveries = await Alerts(store).deliveries(case.reference)
    assert len(deliveries) == 3 and {(status, attempts) for _, _, status, attempts in deliveries} == {(PENDING, 1)}
    assert await sender.run_once() == 0  # not due yet: backed off

    await box.start()
    try:
        clock.advance(seconds=sender.retry_delay(1).total_seconds())
        assert await sender.run_once() == 3
        assert await sender.run_once() == 0
        clock.advance(hours=1)
        assert await sender.run_once() == 0
    finally:
        await box.stop()
    assert box.recipients() == ["admin-on@example.org", "fedasil-on@example.org", "io-on@example.org"]
    assert {(status, attempts) for _, _, status, attempts in await Alerts(store).deliveries()} == {(SENT, 2)}


async def test_two_workers_send_each_email_once(store: Store, inbox: Inbox) -> None:
    await _staff(store)
    clock = Clock()
    for i in range(4):
        await make_case(store, START, "urgent_safety", "urgent_help", sender=f"s{i}", priority="urgent")
    other = Store.connect(store.engine.url.render_as_string(hide_password=False), store.cipher)
    try:
        first, second = sender_for(store, inbox.port, clock), sender_for(other, inbox.port, clock)
        sent = await asyncio.gather(first.run_once(), second.run_once(), first.run_once(), second.run_once())
    finally:
        await other.close()
    assert sum(sent) == 12 and len(inbox.messages) == 12
    assert len({m["Message-ID"] for _, m in inbox.messages}) == 12
    assert len({(tuple(r), m["Subject"]) for r, m in inbox.messages}) == 12


async def test_an_escalated_case_alerts_once_and_a_closed_one_not(store: Store, inbox: Inbox) -> None:
    await _staff(store)
    clock = Clock()
    case = await make_case(store, START, "protection_appointment", "protection_appointment", sender="p")
    alerts = Alerts(store)
    assert await alerts.escalate(case.reference, START, actor="io-on@example.org")
    assert not await alerts.escalate(case.reference, START, actor="io-on@example.org")  # urgent already
    assert await sender_for(store, inbox.port, clock).run_once() == 2
    assert inbox.recipients() == ["admin-on@example.org", "io-on@example.org"]
    assert all(f"Case {case.reference} is now urgent" == m["Subject"] for _, m in inbox.messages)
    assert (await store.case(case.reference)).priority == "urgent"  # type: ignore[union-attr]

    closed = await make_case(store, START, "urgent_safety", "urgent_help", sender="c", priority="urgent")
    await store.change_status(closed.reference, "closed", START, actor="x")
    assert await sender_for(store, inbox.port, clock).run_once() == 0
    async with store.reading() as session:
        alert = await session.scalar(select(Alert).where(Alert.case_reference == closed.reference))
    assert alert is not None and alert.recipients_at is not None  # worked out: nobody to tell


async def test_the_email_is_in_the_recipients_language(store: Store, inbox: Inbox) -> None:
    directory = StaffDirectory(store)
    user = await make_user(directory, "fr@example.org", "caseworker", "fedasil", START, on_duty=True)
    await directory.set_profile(user.id, on_duty=True, language="fr")
    case = await make_case(store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent")
    assert await sender_for(store, inbox.port, Clock()).run_once() == 1
    message = inbox.to("fr@example.org")[0]
    assert message["Subject"] == f"Dossier urgent {case.reference}"
    assert "Sécurité urgente" in message.get_content()


async def test_the_recipients_are_the_access_checks(store: Store) -> None:
    """``recipients`` asks policy.can_see of each on-duty user: an off-duty user is never
    handed to it (the store selects the on-duty ones), and an IOM caseworker on duty sees a
    voluntary return only when the applicant agreed to share it with IOM."""
    await _staff(store)
    shared = await make_case(store, START, "voluntary_return", "voluntary_return", sender="a",
                             priority="urgent", share=("iom",))
    await Alerts(store).expand(START, lambda staff, case: [])  # worked out to nobody…
    got: dict[str, list[str]] = {}

    def spy(staff, case):  # type: ignore[no-untyped-def]
        chosen = recipients(staff, case)
        got[case.reference] = sorted(u.email for u in chosen)
        assert all(u.on_duty and not u.disabled for u in staff)
        return chosen

    assert await Alerts(store).expand(START, spy) == 0  # …and never again
    again = await make_case(store, START, "voluntary_return", "voluntary_return", sender="b",
                            priority="urgent", share=("iom",))
    assert await Alerts(store).expand(START, spy) == 1
    assert got == {again.reference: ["admin-on@example.org", "fedasil-on@example.org", "iom-on@example.org"]}
    assert shared.reference not in got


async def test_without_smtp_alerts_are_off_and_said_so(caplog: pytest.LogCaptureFixture, sqlite_store: Store) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.backoffice.alerts"):
        assert alert_sender(sqlite_store, Settings()) is None
    assert "e-mail alerts are off" in caplog.text


async def test_the_server_mails_a_new_urgent_case_within_seconds(
    sqlite_store: Store, flows: FlowSet, inbox: Inbox
) -> None:
    """The sender runs in the app's lifecycle, as ``intake serve`` starts it."""
    await make_user(StaffDirectory(sqlite_store), "io-on@example.org", "caseworker", "immigration-office", START,
                    on_duty=True)
    clock = Clock()
    engine = Engine(sqlite_store, flows, clock=clock, idle_timeout=timedelta(hours=24),
                    language_id=LanguageIdentifier())
    services = Services(settings=settings(inbox.port, alert_interval_seconds=0.2), store=sqlite_store,
                        flows=flows, engine=engine)
    async with serving(create_app(services)):
        started = time.monotonic()
        case = await make_case(sqlite_store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent")
        await inbox.wait_for(1, timeout=20)
        took = time.monotonic() - started
    assert [m["Subject"] for m in inbox.to("io-on@example.org")] == [f"Urgent case {case.reference}"]
    assert took < 60


async def test_erasing_a_case_takes_its_alerts_with_it(store: Store) -> None:
    await _staff(store)
    case = await make_case(store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent")
    assert await Alerts(store).expand(START, recipients) == 1
    assert len(await Alerts(store).deliveries(case.reference)) == 3
    assert await store.erase_case(case.reference, START, actor="admin-on@example.org", reason="asked") == "erased"
    assert await Alerts(store).deliveries() == []
    async with store.reading() as session:
        assert (await session.scalars(select(Alert))).all() == []


async def test_a_user_disabled_before_the_email_leaves_gets_none(store: Store, inbox: Inbox) -> None:
    await _staff(store)
    case = await make_case(store, START, "urgent_safety", "urgent_help", sender="s", priority="urgent")
    assert await Alerts(store).expand(START, recipients) == 1
    await StaffDirectory(store).disable_user("io-on@example.org", START)
    assert await sender_for(store, inbox.port, Clock()).run_once() == 2
    assert inbox.recipients() == ["admin-on@example.org", "fedasil-on@example.org"]
    assert sorted((email, status) for _, email, status, _ in await Alerts(store).deliveries(case.reference)) == [
        ("admin-on@example.org", SENT), ("fedasil-on@example.org", SENT), ("io-on@example.org", "failed"),
    ]


async def test_an_applicant_asking_for_help_reaches_the_on_duty_staff_without_their_number(
    engine: Engine, inbox: Inbox
) -> None:
    """Through the dialogue, as an applicant does it: the urgent call-back case's alert
    carries its reference, never the phone number the applicant gave."""
    await make_user(StaffDirectory(engine.store), "io-on@example.org", "caseworker", "immigration-office", START,
                    on_duty=True)
    chat = Chat(engine, sender="someone-in-danger")
    for text in ("/urgent_help", "yes", "yes", "phone", "0470 12 34 56"):
        await chat.say(text)
    [case] = await engine.store.cases()
    assert case.kind == "urgent_safety" and case.reference in chat.text
    assert await sender_for(engine.store, inbox.port, Clock()).run_once() == 1
    [message] = inbox.to("io-on@example.org")
    raw = message.as_string()
    assert case.reference in raw and "0470" not in raw and "470123456" not in raw and "12 34 56" not in raw
