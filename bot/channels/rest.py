"""Rasa's REST channel protocol in front of the engine.

``POST /webhooks/rest/webhook`` takes ``{"sender", "message", "metadata"}`` and answers a
JSON list of ``{"recipient_id", "text", "buttons", "custom"}`` (``Outbound.to_rest``), so
Rasa web chat widgets and test tools work unchanged. A button is clicked by sending its
payload as the message. The message itself is read by :mod:`.rasa`: ``metadata.language``
(or ``Accept-Language``) is the language hint; ``metadata.message_id`` makes a retried
request get the same answer.

Bad requests are refused with a 4xx ``{"error": ...}`` before anything is processed; each
sender has an in-memory token bucket, each address group a generous limit and a cap on new
conversations (:mod:`.abuse`): 429 with ``Retry-After``. Our own chat page, which talks to
this endpoint, is served by :mod:`.webchat_page`.

Sender binding (bot/engine/binding.py): the first reply carries
``custom.conversation_token`` (and ``custom.device_key``); once a message has sent the
token back in ``metadata``, the conversation answers only messages that carry it (403
otherwise). A client that never sends it keeps an unbound conversation, which is why the
sender must be a random id of at least 16 characters (:func:`.rasa.unguessable`).

Privacy: message texts and sender ids are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from .. import json_codec
from ..engine import Engine, Inbound
from ..engine.binding import NotYourConversation
from . import rasa
from .abuse import AddressLimits
from .base import UNAVAILABLE_RETRY_AFTER, TurnsInFlight, unavailable
from .rasa import Refused

log = logging.getLogger(__name__)

CHANNEL = rasa.REST.channel


def _error(refused: Refused) -> web.Response:
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return web.json_response({"error": refused.error}, status=refused.status, headers=headers)


def _json(value: Any) -> web.Response:
    return web.Response(body=json_codec.dumps(value), content_type="application/json", charset="utf-8")


class RestChannel:
    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        *,
        rate_limit_per_minute: int = 60,
        max_message_chars: int = 2000,
        address_limits: AddressLimits | None = None,
    ) -> None:
        self.engine = engine
        self.max_message_chars = max_message_chars
        self.limiter = rasa.RateLimiter(rate_limit_per_minute)
        self.address_limits = address_limits or AddressLimits.in_memory()
        self._turns = TurnsInFlight("rest")
        self._closing = False

    # --- Channel ------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        router = app.router
        router.add_post("/webhooks/rest/webhook", self.webhook)
        router.add_post("/webhooks/rest/kept", self.kept)
        router.add_get("/webhooks/rest/", self.status)
        router.add_get("/webhooks/rest", self.status)

    async def start(self) -> None:
        self._closing = False

    async def stop(self) -> None:
        """Refuse new messages and wait for the turns in flight to finish."""
        self._closing = True
        await self._turns.drain()

    # --- REST protocol --------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def webhook(self, request: web.Request) -> web.Response:
        try:
            if self._closing:
                raise rasa.shutting_down()
            inbound = await self._parse(request)
            self.limiter.admit(inbound)
            await self._admit_address(inbound)
        except Refused as refused:
            return _error(refused)
        except Exception as error:  # the address check reads the store: it may be away too
            reason = unavailable(error)
            if reason is None:
                raise
            return _error(Refused(503, reason, retry_after=UNAVAILABLE_RETRY_AFTER))
        try:
            replies = await self._turns.run(self.engine.handle(inbound))
        except NotYourConversation as refused:
            return _error(Refused(403, refused.error))
        except Exception as error:  # logged by TurnsInFlight
            reason = unavailable(error)
            if reason is not None:  # nothing was stored: the same message later is answered once
                return _error(Refused(503, reason, retry_after=UNAVAILABLE_RETRY_AFTER))
            return _error(Refused(500, "internal error"))
        return _json([r.to_rest(inbound.sender_id) for r in replies])

    async def _admit_address(self, inbound: Inbound) -> None:
        """The address group's limits; a message without a token may start a conversation."""

        async def is_new() -> bool:
            return not await self.engine.knows(CHANNEL, inbound.sender_id)

        await self.address_limits.admit(
            inbound.origin or "unknown",
            language_hint=inbound.language_hint,
            is_new=None if inbound.conversation_token else is_new,
        )

    async def kept(self, request: web.Request) -> web.Response:
        """Our extension of the protocol: ``{"sender"}`` → the messages kept for this
        sender since their last turn (from staff, or a reminder), in the webhook's shape,
        handed over once. The web chat page asks now and then while it is open, since
        this channel cannot push."""
        try:
            inbound = await self._parse(request, message_required=False)
            self.limiter.admit(inbound)
            await self.address_limits.admit(inbound.origin or "unknown", language_hint=inbound.language_hint)
            kept = await self.engine.kept_messages(
                CHANNEL, inbound.sender_id, bindable=True, conversation_token=inbound.conversation_token
            )
        except Refused as refused:
            return _error(refused)
        except NotYourConversation as refused:
            return _error(Refused(403, refused.error))
        return _json([r.to_rest(inbound.sender_id) for r in kept])

    async def _parse(self, request: web.Request, *, message_required: bool = True) -> Inbound:
        if request.content_type != "application/json":
            raise Refused(415, "content type must be application/json")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, "request body too large") from None
        try:
            body = json_codec.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "body is not valid JSON") from None
        except RecursionError:  # [[[[…: nested deeper than the parser goes
            raise Refused(400, "body is nested too deeply") from None
        if not isinstance(body, dict):
            raise Refused(400, "body must be a JSON object")
        if not message_required:
            body = {**body, "message": ""}
        return rasa.parse_message(
            body,
            rasa.REST,
            max_message_chars=self.max_message_chars,
            accept_language=rasa.accept_language_tags(request.headers.get("Accept-Language")),
            origin=self.address_limits.origin(request.remote, request.headers),
        )


def create_channel(services: Any) -> RestChannel:
    """The REST channel (always on; it needs no configuration)."""
    return RestChannel(services.engine, address_limits=services.address_limits)
