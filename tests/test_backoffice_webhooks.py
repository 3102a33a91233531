"""The back office's webhooks page: admins only; add (checked, the secret never shown),
remove, and the parked deliveries resent or dismissed; each change in the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.models import AuditEntry, Webhook, WebhookDelivery
from bot.store.outbox import Webhooks
from bot.store.staff import StaffDirectory
from bot.store.store import Store
from bot.webhooks import Deliverer
from nlu.langid import LanguageIdentifier

from .backoffice_cases import make_case, make_user
from .backoffice_http import client, page_csrf, sign_in
from .conftest import START, Clock
from .serving import free_port, services_for, serving
from .webhook_receiver import Receiver

SECRET = "a-long-enough-webhook-secret"


async def _status(store: Store) -> list[str]:
    async with store.reading() as session:
        return list((await session.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id))).all())


async def test_admins_manage_webhooks_and_their_parked_deliveries(store: Store, flows: FlowSet, clock: Clock) -> None:
    directory = StaffDirectory(store)
    await make_user(directory, "root@example.org", "admin", "immigration-office", START)
    await make_user(directory, "cw@example.org", "caseworker", "fedasil", START)
    receiver = Receiver(free_port(), mode="fail")
    await receiver.start()
    try:
        # The server's own delivery worker looks once, at start, then sleeps: this test
        # drives one of its own, so that the attempts are the test's.
        engine = Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
        services = services_for(engine, flows)
        services.settings = Settings(webhook_interval_seconds=3600)
        async with serving(create_app(services)) as base:
            async with client(base) as cw:
                await sign_in(cw, "cw@example.org")
                async with cw.get("/backoffice/webhooks") as page:
                    assert page.status == 403
                    assert "/backoffice/webhooks" not in await page.text()  # not in the menu either
            async with client(base) as admin:
                await sign_in(admin, "root@example.org")
                token = await page_csrf(admin, "/backoffice/webhooks")
                form = {"csrf_token": token, "organisation": "fedasil", "url": receiver.url, "events": "case.created",
                        "secret": "short"}
                async with admin.post("/backoffice/webhooks", data=form) as answer:
                    assert "The secret needs at least 16 characters." in await answer.text()
                async with admin.post("/backoffice/webhooks", data={**form, "url": "javascript:alert(1)",
                                                                     "secret": SECRET}) as answer:
                    assert "A webhook address starts with https://" in await answer.text()
                async with admin.post("/backoffice/webhooks", data={**form, "secret": SECRET}) as answer:
                    text = await answer.text()
                    assert "The webhook was added." in text and receiver.url in text and SECRET not in text
                async with admin.post("/backoffice/webhooks", data={**form, "csrf_token": "forged", "secret": SECRET}) as answer:
                    assert answer.status == 403
                [hook] = await Webhooks(store).list()
                assert hook.events == ("case.created",) and hook.organisation == "fedasil"
                # A delivery that keeps failing is parked and shown, to resend or dismiss.
                await make_case(store, START, "voluntary_return", "voluntary_return", sender="w1")
                worker = Deliverer(store, max_attempts=1, timeout=1, clock=clock)
                await worker.run_once()
                assert await _status(store) == ["parked"]
                async with admin.get("/backoffice/webhooks") as page:
                    text = await page.text()
                    assert "HTTP 500" in text and "/resend" in text
                [parked] = await Webhooks(store).deliveries(failed_only=True)
                receiver.mode = "ok"
                async with admin.post(f"/backoffice/webhooks/deliveries/{parked.id}/resend",
                                      data={"csrf_token": token}) as answer:
                    assert "The delivery will be sent again" in await answer.text()
                assert await _status(store) == ["pending"]
                async with admin.post(f"/backoffice/webhooks/deliveries/{parked.id}/dismiss",
                                      data={"csrf_token": token}) as answer:
                    assert "That delivery cannot be changed any more" in await answer.text()
                await worker.run_once()
                await worker.close()
                assert await _status(store) == ["delivered"]
                assert [r.answered for r in receiver.got] == [500, 200] and receiver.got[0].key == receiver.got[1].key
                # French staff get the page in French.
                async with admin.post("/backoffice/profile", data={"csrf_token": token, "language": "fr",
                                                                   "back": "/backoffice/webhooks"}) as answer:
                    assert "Ajouter un webhook" in await answer.text()
                async with admin.post(f"/backoffice/webhooks/{hook.id}/remove", data={"csrf_token": token}) as answer:
                    assert answer.status == 200
                assert await Webhooks(store).list() == []
                async with store.reading() as session:
                    actions = list((await session.scalars(select(AuditEntry.action).where(
                        AuditEntry.action.like("webhook_%")).order_by(AuditEntry.id))).all())
                    assert await session.scalar(select(Webhook.id)) is None
                assert actions == ["webhook_add", "webhook_resend", "webhook_remove"]
    finally:
        await receiver.stop()
