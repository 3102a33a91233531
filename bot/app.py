"""Wiring: settings → store → flows → engine → aiohttp application. Nothing decides here."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from . import answers, operations
from .channels import addresses
from .channels.abuse import AddressLimits
from .channels.base import Channel
from .config import Settings
from .content import Fact, runtime_fact
from .engine import Engine
from .engine.loader import FlowSet, load_flows
from .limits import Limits, MemoryLimits, limits_for
from .reminders import deliverer
from .scheduler import Scheduler
from .store.store import Store
from .webhooks import Deliverer

log = logging.getLogger(__name__)

@dataclass
class Services:
    settings: Settings
    store: Store
    flows: FlowSet
    engine: Engine
    nlu: Any = None
    """``nlu.service.NLU``: closed with the services."""
    limits: Limits = field(default_factory=MemoryLimits)
    """Rate-limit counts, in Redis when ``INTAKE_REDIS_URL`` is set (shared by the workers)."""
    address_limits: AddressLimits = field(default_factory=AddressLimits.in_memory)

    async def close(self) -> None:
        if self.nlu is not None:
            await self.nlu.close()
        close_limits = getattr(self.limits, "close", None)
        if close_limits is not None:
            await close_limits()
        await self.store.close()


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def runtime_facts(settings: Settings) -> dict[str, Fact]:
    """The deployment facts flows may quote (``when: {configured: …}``): this service's own
    addresses, as the operator set them. Unset ones are absent: the texts then send the
    applicant to the official websites instead (flows/official_service.yml)."""
    facts: dict[str, Fact] = {}
    web_chat = settings.official_web_chat()
    if web_chat:
        setting = "INTAKE_OFFICIAL_WEB_CHAT_URL" if settings.official_web_chat_url else "INTAKE_PUBLIC_URL"
        facts["official_web_chat_url"] = runtime_fact("official_web_chat_url", web_chat, web_chat, setting)
    if settings.official_telegram_bot:
        handle = settings.official_telegram_bot
        facts["official_telegram_bot"] = runtime_fact(
            "official_telegram_bot", handle, f"https://t.me/{handle.lstrip('@')}", "INTAKE_OFFICIAL_TELEGRAM_BOT"
        )
    return facts


def build_services(settings: Settings) -> Services:
    """Everything the channels need; raises FlowError if a flow is broken."""
    flows = load_flows(settings.flows_dir, runtime_facts=runtime_facts(settings))
    store = Store.connect(settings.resolved_database_url(), settings.cipher(), retention=settings.retention(),
                          pool_size=settings.db_pool_size)
    from nlu.service import load_nlu  # numpy and the model: only where the server runs

    from . import metrics

    nlu = metrics.TimedNLU(load_nlu(settings))
    limits = limits_for(settings.redis_url)
    engine = Engine(
        store,
        flows,
        idle_timeout=timedelta(minutes=settings.session_idle_minutes),
        timezone=settings.timezone,
        default_language=settings.default_language,
        nlu=nlu,
        language_id=nlu.language_identifier(),
        limits=limits,
        on_turn=metrics.observe_turn,
    )
    address_limits = AddressLimits(
        limits,
        trusted=addresses.trusted_networks(settings.trusted_proxies),
        messages_per_minute=settings.address_messages_per_minute,
        new_conversations_per_hour=settings.address_new_conversations_per_hour,
    )
    return Services(settings=settings, store=store, flows=flows, engine=engine, nlu=nlu,
                    limits=limits, address_limits=address_limits)


async def _healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.store.engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
    return web.json_response({"status": "ok", "flows": sorted(services.flows.flows)})


async def _purge_until(stop: asyncio.Event, services: Services) -> None:
    """Purge idle conversations every interval until ``stop`` is set.

    Shutdown sets ``stop`` and waits, rather than cancelling: a purge cut off in the middle
    of a query would leave the database driver's thread answering a closed event loop.
    """
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.purge_interval_seconds)
        if stop.is_set():
            return
        try:
            await services.engine.purge()
        except Exception:  # keep purging on the next tick; the error is logged, not fatal
            log.exception("purge failed")


def default_channels(services: Services) -> list[Channel]:
    """The web chat (its page, REST and socket.io) always; Telegram when it has a bot token;
    WhatsApp when its four settings are given."""
    from .channels import rest, socketio, telegram, webchat_page, whatsapp

    channels: list[Channel] = [
        webchat_page.create_channel(services),
        rest.create_channel(services),
        socketio.create_channel(services),
    ]
    bot = telegram.create_channel(services)
    if bot is not None:
        channels.append(bot)
    business = whatsapp.create_channel(services)
    if business is not None:
        channels.append(business)
    return channels


def prepare_process(services: Services) -> None:
    """Once per server process, before it serves: load what answers need now rather
    than in some applicant's turn, and keep what start-up loaded (flows, catalogs, the
    NLU model, lives as long as the process) out of the garbage collector's full passes,
    which would otherwise stall every turn in flight while they walk it."""
    answers.warm_up(services.engine.clock().date())
    gc.freeze()


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FRAME_ANCESTORS = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(settings: Settings) -> Any:
    """A middleware that puts the security headers on every answer, errors and JSON
    webhooks included: no MIME sniffing, no referrer, never framed, and HSTS when this
    service is reached over HTTPS (``INTAKE_PUBLIC_URL`` is https, or the request came
    over https, directly or through a trusted proxy that says so)."""
    trusted = addresses.trusted_networks(settings.trusted_proxies)
    public_https = settings.public_url.strip().lower().startswith("https://")

    def apply(request: web.Request, response: web.StreamResponse) -> None:
        if response.prepared:  # a WebSocket or a stream already sent its headers
            return
        headers = response.headers
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = FRAME_ANCESTORS
        peer_trusted = addresses.peer_is_trusted(request.remote, trusted)
        if public_https or addresses.came_over_https(request.scheme, request.headers, peer_trusted):
            headers.setdefault("Strict-Transport-Security", HSTS)

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            apply(request, exc)
            raise
        apply(request, response)
        return response

    return middleware


def create_app(services: Services, channels: Sequence[Channel] = ()) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[security_headers(services.settings)])
    app[SERVICES] = services
    app.router.add_get("/healthz", _healthz)
    from .backoffice.web import mount as mount_backoffice

    mount_backoffice(app, services, channels)
    from .api.web import mount as mount_api

    mount_api(app, services)  # /api/v1: after the back office, whose state it shares
    operations.mount(app, services)  # /readyz, /metrics
    for channel in channels:
        channel.mount(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        purger = asyncio.create_task(_purge_until(stop, services), name="purge")
        for channel in channels:
            await channel.start()
        # Reminders: jobs live in the database, so every worker may run a scheduler.
        scheduler = Scheduler(services.store, deliverer(services.store, services.engine, channels, services.settings.timezone))
        reminding = asyncio.create_task(
            scheduler.run(stop, services.settings.scheduler_interval_seconds), name="scheduler"
        )
        # Webhooks: the outbox lives in the database, so every worker may deliver.
        delivering = asyncio.create_task(
            Deliverer.from_settings(services.store, services.settings).run(
                stop, services.settings.webhook_interval_seconds
            ),
            name="webhooks",
        )
        # Alerts of urgent cases by e-mail: claimed from the database, so every worker may run one.
        from .backoffice.alerts import alert_sender

        sender = alert_sender(services.store, services.settings, services.engine.clock)
        alerting = (
            asyncio.create_task(sender.run(stop, services.settings.alert_interval_seconds), name="alerts")
            if sender is not None else None
        )
        yield
        stop.set()
        await reminding
        await delivering
        if alerting is not None:
            await alerting
        for channel in reversed(channels):
            await channel.stop()
        await purger
        await services.close()

    app.cleanup_ctx.append(lifecycle)
    return app
