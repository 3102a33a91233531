"""Webhooks through the outbox, with a real receiver on 127.0.0.1: signed, retried with
backoff, parked, resent or dismissed, in order per case, filtered by organisation, purged
on erasure; the same events as a feed (events_after)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backoffice import policy
from bot.cases.model import Case
from bot.store import outbox
from bot.store.casework import Casework
from bot.store.crypto import Cipher, generate_key
from bot.store.keys import reencrypt
from bot.store.models import CaseRow, OutboxEvent, Webhook, WebhookDelivery
from bot.store.outbox import WebhookError, Webhooks, events_after
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from bot.webhooks import Deliverer, verify

from .backoffice_cases import make_case, make_user
from .conftest import START, Clock
from .serving import free_port
from .webhook_receiver import Receiver

SECRET = "a-long-enough-webhook-secret"
ALL = ",".join(outbox.EVENTS)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(free_port())
    await r.start()
    yield r
    await r.stop()


def deliverer(store: Store, clock: Clock, **kwargs: object) -> Deliverer:
    options: dict[str, object] = {"backoff": timedelta(seconds=10), "timeout": 1.0, "clock": clock,
                                  "jitter": lambda: 1.0, **kwargs}
    return Deliverer(store, **options)  # type: ignore[arg-type]


async def drain(worker: Deliverer, rounds: int = 20) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            return


async def vr_case(store: Store, sender: str, share: tuple[str, ...] = ()) -> Case:
    """A voluntary-return case: Fedasil sees it, the Immigration Office never (unless shared)."""
    return await make_case(store, START, "voluntary_return", "voluntary_return", sender=sender, share=share)


async def statuses(store: Store, status: str | None = None) -> list[str]:
    async with store.reading() as session:
        query = select(WebhookDelivery.status).order_by(WebhookDelivery.seq)
        return list((await session.scalars(query)).all())


async def test_a_delivery_is_signed_and_carries_no_personal_data(store: Store, clock: Clock, receiver: Receiver) -> None:
    hook = await Webhooks(store).add("fedasil", receiver.url, "case.created,case.updated", SECRET, actor="admin", now=clock.now)
    case = await vr_case(store, "s1")
    worker = deliverer(store, clock)
    await drain(worker)
    await worker.close()
    [got] = receiver.got
    assert got.event == "case.created" and got.answered == 200
    assert verify(SECRET, got.signature, got.body, now=clock.now.timestamp())
    assert not verify("another-secret-entirely", got.signature, got.body, now=clock.now.timestamp())
    assert not verify(SECRET, got.signature, got.body + " ", now=clock.now.timestamp())
    document = got.document
    assert document["event"] == "case.created" and document["cursor"] == str(document["sequence"])
    assert document["case"]["reference"] == case.reference
    assert document["case"]["kind"] == "voluntary_return" and document["case"]["status"] == "submitted"
    assert "Nino" not in got.body and "Beridze" not in got.body  # the applicant's name stays home
    assert await statuses(store) == ["delivered"]
    [view] = await Webhooks(store).list()
    assert view.id == hook.id and view.events == ("case.created", "case.updated") and view.parked == 0


async def test_every_change_is_an_event_written_with_it(store: Store, clock: Clock, receiver: Receiver) -> None:
    await Webhooks(store).add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    directory = StaffDirectory(store)
    ana = await make_user(directory, "ana@fedasil.example", "caseworker", "fedasil", START)
    case = await vr_case(store, "s2")
    work = Casework(store)
    await work.change_status(case.reference, "in_review", "looking", None, "ana", clock.now)
    await work.assign(case.reference, ana.id, clock.now)
    await work.record_step(case.reference, "travel_document", "ana", clock.now)
    await work.change_status(case.reference, "closed", "done", "departed", "ana", clock.now)
    # One path for status changes: the back office's close starts the retention period too.
    async with store.reading() as session:
        assert (await session.scalar(select(CaseRow.retention_until).where(CaseRow.reference == case.reference)))
    other = await vr_case(store, "s3")
    await store.change_status(other.reference, "withdrawn", clock.now, actor="applicant")
    worker = deliverer(store, clock)
    await drain(worker)
    await worker.close()
    mine = [r.document for r in receiver.got if r.reference == case.reference]
    assert [d["event"] for d in mine] == ["case.created"] + ["case.updated"] * 4
    assert mine[1]["change"] == {"status": {"from": "submitted", "to": "in_review"}}
    assert mine[2]["change"] == {"assignee_id": {"from": None, "to": ana.id}} and mine[2]["case"]["assignee_id"] == ana.id
    assert mine[3]["change"] == {"step": "travel_document"}
    assert mine[4]["case"]["outcome"] == "departed" and mine[4]["change"]["outcome"] == "departed"
    assert [d["sequence"] for d in mine] == sorted(d["sequence"] for d in mine)
    assert [r.event for r in receiver.got if r.reference == other.reference] == ["case.created", "case.withdrawn"]


async def test_a_refused_change_writes_no_event(store: Store, clock: Clock) -> None:
    case = await vr_case(store, "s4")
    with pytest.raises(ValueError):
        await Casework(store).change_status(case.reference, "closed", "done", None, "ana", clock.now)  # no outcome
    async with store.reading() as session:
        assert list((await session.scalars(select(OutboxEvent.event))).all()) == ["case.created"]


async def test_receiver_down_then_failing_then_up_gets_everything_in_order_with_stable_bodies(
    store: Store, clock: Clock
) -> None:
    receiver = Receiver(free_port())  # not listening yet: down
    await Webhooks(store).add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    case = await vr_case(store, "s5")
    work = Casework(store)
    await work.change_status(case.reference, "in_review", "looking", None, "ana", clock.now)
    await work.change_status(case.reference, "waiting_for_applicant", "asked", None, "ana", clock.now)
    worker = deliverer(store, clock, max_attempts=10)
    assert await worker.run_once() == 1  # only the case's first: the others wait behind it
    assert await statuses(store) == ["pending", "pending", "pending"]
    assert await worker.run_once() == 0  # backing off
    clock.advance(seconds=10)
    await receiver.start()
    receiver.mode = "fail"
    try:
        assert await worker.run_once() == 1
        clock.advance(seconds=19)
        assert await worker.run_once() == 0  # the second wait is twice the first
        clock.advance(seconds=1)
        assert await worker.run_once() == 1
        receiver.mode = "slow"  # longer than the sender waits: a timeout, retried
        receiver.slow_seconds = 1.5
        clock.advance(seconds=40)
        assert await worker.run_once() == 1
        receiver.mode = "ok"
        for _ in range(10):
            clock.advance(seconds=200)
            await drain(worker)
    finally:
        await worker.close()
        await receiver.stop()
    assert await statuses(store) == ["delivered"] * 3
    # The slow answer came too late for the sender, so that delivery arrived twice: at
    # least once on the wire, exactly once per key after de-duplication, in order.
    unique = list({r.key: r for r in receiver.delivered()}.values())
    assert len(receiver.delivered()) == 4
    assert [r.document["case"]["status"] for r in unique] == ["submitted", "in_review", "waiting_for_applicant"]
    by_key: dict[str, set[str]] = {}
    for r in receiver.got:
        by_key.setdefault(r.key, set()).add(r.body)
        assert verify(SECRET, r.signature, r.body, now=clock.now.timestamp(), tolerance=3600)
    assert all(len(bodies) == 1 for bodies in by_key.values())  # one key, one body, on every attempt
    assert len(by_key) == 3 and len(receiver.got) > 3  # redelivered, and still three deliveries


async def test_a_parked_delivery_holds_back_only_its_case_until_resent_or_dismissed(
    store: Store, clock: Clock, receiver: Receiver
) -> None:
    webhooks = Webhooks(store)
    await webhooks.add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    stuck, fine = await vr_case(store, "s6"), await vr_case(store, "s7")
    work = Casework(store)
    for case in (stuck, fine):
        await work.change_status(case.reference, "in_review", "looking", None, "ana", clock.now)
    receiver.modes[stuck.reference] = "fail"
    worker = deliverer(store, clock, max_attempts=2)
    for _ in range(4):
        await drain(worker)
        clock.advance(seconds=30)
    assert [r.document["event"] for r in receiver.delivered()] == ["case.created", "case.updated"]
    assert {r.reference for r in receiver.delivered()} == {fine.reference}
    [parked] = await webhooks.deliveries(failed_only=True)
    assert parked.reference == stuck.reference and parked.event == "case.created" and parked.attempts == 2
    assert parked.last_error == "HTTP 500"
    assert [w.parked for w in await webhooks.list()] == [1]
    tried = len(receiver.got)
    clock.advance(hours=5)
    await drain(worker)
    assert len(receiver.got) == tried  # parked: no more attempts, and the case's next one waits
    # Resent: the same key and body, and then the case's next one, in order.
    del receiver.modes[stuck.reference]
    assert await webhooks.resend(parked.id, clock.now)
    assert not await webhooks.dismiss(parked.id)  # pending again: nothing to dismiss
    await drain(worker)
    resent = [r for r in receiver.delivered() if r.reference == stuck.reference]
    assert [r.document["event"] for r in resent] == ["case.created", "case.updated"]
    assert resent[0].key == parked.key
    assert {r.body for r in receiver.got if r.key == parked.key} == {resent[0].body}
    # Dismissed: given up, and the case's later deliveries go on.
    receiver.modes[stuck.reference] = "fail"
    await work.change_status(stuck.reference, "waiting_for_applicant", "asked", None, "ana", clock.now)
    await work.change_status(stuck.reference, "in_review", "answered", None, "ana", clock.now)
    for _ in range(3):
        await drain(worker)
        clock.advance(seconds=30)
    [parked] = await webhooks.deliveries(failed_only=True)
    del receiver.modes[stuck.reference]
    assert await webhooks.dismiss(parked.id)
    await drain(worker)
    await worker.close()
    last = [r.document for r in receiver.delivered() if r.reference == stuck.reference][-1]
    assert last["case"]["status"] == "in_review" and last["change"]["status"]["from"] == "waiting_for_applicant"
    assert sorted(await statuses(store)) == ["delivered"] * 5 + ["dismissed"]


async def test_erasure_purges_the_case_events_and_says_erased_with_the_reference_alone(
    store: Store, clock: Clock, receiver: Receiver
) -> None:
    await Webhooks(store).add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    case, kept = await vr_case(store, "s8"), await vr_case(store, "s9")
    worker = deliverer(store, clock)
    await drain(worker)
    await Casework(store).change_status(case.reference, "in_review", "looking", None, "ana", clock.now)
    assert await store.erase_case(case.reference, clock.now, actor="staff:ana", reason="asked by the applicant") == "erased"
    async with store.reading() as session:
        rows = (await session.execute(select(OutboxEvent.event, OutboxEvent.reference).order_by(OutboxEvent.id))).all()
        assert await session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.case_id == case.id)) is None
    assert [tuple(r) for r in rows] == [("case.created", kept.reference), ("case.erased", case.reference)]
    await drain(worker)
    await worker.close()
    erased = receiver.got[-1]
    assert erased.event == "case.erased" and erased.document["case"] == {"reference": case.reference}
    # The feed has forgotten the case's other events too.
    items, _ = await events_after(store, policy.visible_cases(await admin(store)), None, 100)
    assert [(i["event"], i["case"]["reference"]) for i in items] == [
        ("case.created", kept.reference), ("case.erased", case.reference)
    ]


async def admin(store: Store) -> object:
    return await make_user(StaffDirectory(store), "root@io.example", "admin", "immigration-office", START)


async def test_a_webhook_hears_only_what_its_organisation_may_see(
    store: Store, clock: Clock, receiver: Receiver
) -> None:
    office = Receiver(free_port())
    await office.start()
    webhooks = Webhooks(store)
    await webhooks.add("immigration-office", office.url, ALL, SECRET, actor="admin", now=clock.now)
    await webhooks.add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    private = await vr_case(store, "s10")
    shared = await vr_case(store, "s11", share=("immigration-office",))
    visa = await make_case(store, START, "visa_question", "visa_info", sender="s12")
    worker = deliverer(store, clock)
    await drain(worker)
    await worker.close()
    await office.stop()
    assert {r.reference for r in office.got} == {shared.reference, visa.reference}
    assert private.reference not in {r.reference for r in office.got}
    assert {r.reference for r in receiver.got} == {private.reference, shared.reference}
    # The feed, under the same check: an Immigration Office caseworker never sees the private case.
    directory = StaffDirectory(store)
    io = await make_user(directory, "io@io.example", "caseworker", "immigration-office", START)
    io = await directory.user_by_id(io.id)  # with the organisation's rules
    assert io is not None
    first, cursor = await events_after(store, policy.visible_cases(io), None, 1)
    rest, cursor2 = await events_after(store, policy.visible_cases(io), cursor, 100)
    assert [i["case"]["reference"] for i in first + rest] == [visa.reference]
    assert (await events_after(store, policy.visible_cases(io), cursor2, 100)) == ([], cursor2)
    with pytest.raises(ValueError):
        await events_after(store, policy.visible_cases(io), "1; DROP TABLE cases", 10)


async def test_webhooks_are_checked_and_their_secrets_encrypted_and_rotated(
    db_url: str, clock: Clock, receiver: Receiver
) -> None:
    old, new = generate_key(), generate_key()
    first = Store.connect(db_url, Cipher([old]))
    webhooks = Webhooks(first)
    for url, events, secret in (
        ("ftp://example.org/x", ALL, SECRET), ("https://user:pw@example.org/x", ALL, SECRET),
        (receiver.url, "case.deleted", SECRET), (receiver.url, "", SECRET), (receiver.url, ALL, "short"),
    ):
        with pytest.raises(WebhookError):
            await webhooks.add("fedasil", url, events, secret, actor="admin", now=clock.now)
    with pytest.raises(WebhookError):
        await webhooks.add("no-such-org", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    await webhooks.add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    async with first.reading() as session:
        stored = await session.scalar(select(Webhook.secret_enc))
    assert SECRET.encode() not in stored
    await first.close()
    rotating = Store.connect(db_url, Cipher([new, old]))
    counts = await reencrypt(rotating)
    await rotating.close()
    assert counts["webhooks"] == 1
    later = Store.connect(db_url, Cipher([new]))  # the old key is gone: the secret still signs
    try:
        await vr_case(later, "s13")
        worker = deliverer(later, clock)
        await drain(worker)
        await worker.close()
    finally:
        await later.close()
    assert verify(SECRET, receiver.got[0].signature, receiver.got[0].body, now=clock.now.timestamp())


async def test_a_removed_webhook_gets_nothing_more_and_a_new_one_is_served_at_once(
    store: Store, clock: Clock, receiver: Receiver
) -> None:
    webhooks = Webhooks(store)
    hook = await webhooks.add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    worker = deliverer(store, clock)
    await vr_case(store, "s14")
    await drain(worker)
    assert len(receiver.got) == 1
    assert await webhooks.remove(hook.id) and not await webhooks.remove(hook.id)
    await vr_case(store, "s15")
    await drain(worker)
    assert len(receiver.got) == 1
    await webhooks.add("fedasil", receiver.url, "case.created", SECRET, actor="admin", now=clock.now)  # same worker
    case = await vr_case(store, "s16")
    await drain(worker)
    await worker.close()
    assert [r.reference for r in receiver.got][-1] == case.reference and len(receiver.got) == 2


async def test_the_events_are_json_documents_in_the_feed_exactly_as_sent(
    store: Store, clock: Clock, receiver: Receiver
) -> None:
    await Webhooks(store).add("fedasil", receiver.url, ALL, SECRET, actor="admin", now=clock.now)
    for n in range(3):
        await vr_case(store, f"feed-{n}")
    worker = deliverer(store, clock)
    await drain(worker)
    await worker.close()
    items, cursor = await events_after(store, policy.visible_cases(await admin(store)), None, 10)
    assert [json.dumps(i, separators=(",", ":"), ensure_ascii=False, sort_keys=True) for i in items] == [
        r.body for r in receiver.got
    ]
    assert cursor == str(items[-1]["sequence"])


async def test_an_applicants_reply_to_staff_is_a_case_message_without_its_text(engine, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from .test_staff_messages import submitted

    store = engine.store
    chat, _conversation, reference = await submitted(engine)
    await chat.say("I have a question")  # nobody wrote to them yet: not a reply
    await engine.staff_message(chat.channel, chat.sender, "Please bring your passport.", case_reference=reference,
                               keep=True)
    await chat.say("My passport is with the embassy")
    await chat.say("/help")  # a command: for the bot, not for staff
    async with store.reading() as session:
        rows = (await session.execute(select(OutboxEvent.event, OutboxEvent.payload).order_by(OutboxEvent.id))).all()
    assert [event for event, _ in rows] == ["case.created", "case.message"]
    assert rows[1][1]["case"]["reference"] == reference
    assert "passport" not in json.dumps(rows[1][1]) and "embassy" not in json.dumps(rows[1][1])


def test_the_webhooks_commands(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import io

    from bot.cli import main

    url, key = f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}", generate_key()
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", key)
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert main(["webhooks", "add", "http://127.0.0.1:9/hook", "--org", "iom", "--events", "case.created",
                 "--secret-stdin"]) == 0
    assert "webhook 1 added: case.created of iom" in capsys.readouterr().out
    assert main(["webhooks", "add", "http://127.0.0.1:9/hook", "--org", "iom", "--events", "case.nope",
                 "--secret", SECRET]) == 2
    assert main(["webhooks", "add", "http://127.0.0.1:9/hook", "--org", "iom", "--events", "case.created",
                 "--secret", "short"]) == 2
    assert "16 characters" in capsys.readouterr().err

    async def park() -> int:  # a shared case whose delivery to a closed port fails once, and is parked
        store = Store.connect(url, Cipher([key]))
        try:
            await vr_case(store, "cli", share=("iom",))
            worker = Deliverer(store, max_attempts=1, timeout=1)
            await worker.run_once()
            await worker.close()
            [parked] = await Webhooks(store).deliveries(failed_only=True)
            return parked.id
        finally:
            await store.close()

    parked = asyncio.run(park())
    assert main(["webhooks", "list"]) == 0
    assert "http://127.0.0.1:9/hook" in capsys.readouterr().out
    assert main(["webhooks", "deliveries", "--failed"]) == 0
    assert "ClientConnectorError" in capsys.readouterr().out
    assert main(["webhooks", "dismiss", str(parked)]) == 0
    assert main(["webhooks", "dismiss", str(parked)]) == 2  # not parked any more
    assert main(["webhooks", "resend", str(parked)]) == 0
    assert main(["webhooks", "resend", str(parked)]) == 2
    assert main(["webhooks", "remove", "1"]) == 0
    assert main(["webhooks", "remove", "1"]) == 2


async def test_the_feed_applies_every_rule_of_the_access_check(store: Store, clock: Clock) -> None:
    """Fedasil sees voluntary return always and a visa question only with a vulnerability
    flag (a rule on the JSON flags): the feed and the webhooks agree with the case list."""
    from bot.store.casework import CaseFilter

    await make_case(store, START, "visa_question", "visa_info", sender="f1")
    flagged = await make_case(store, START, "visa_question", "visa_info", sender="f2", flags=("urgent_health",))
    vr = await vr_case(store, "f3")
    worker = deliverer(store, clock)
    await drain(worker)
    await worker.close()
    directory = StaffDirectory(store)
    user = await directory.user_by_id((await make_user(directory, "f@fedasil.example", "caseworker", "fedasil", START)).id)
    assert user is not None
    visible = policy.visible_cases(user)
    items, _ = await events_after(store, visible, None, 100)
    lines, _ = await Casework(store).cases(visible, CaseFilter())
    assert {i["case"]["reference"] for i in items} == {line.reference for line in lines} == {flagged.reference, vr.reference}
    assert all(
        policy.organisation_can_see("fedasil", user.organisation_id, user.kind_rules, row)
        == (row.reference in {flagged.reference, vr.reference})
        for row in await _rows(store)
    )


async def _rows(store: Store) -> list[CaseRow]:
    async with store.reading() as session:
        return list((await session.scalars(select(CaseRow))).all())
