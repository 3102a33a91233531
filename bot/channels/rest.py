"""Web chat: Rasa's REST channel protocol in front of the engine, plus our own chat page.

``POST /webhooks/rest/webhook`` takes ``{"sender", "message", "metadata"}`` and answers a
JSON list of ``{"recipient_id", "text", "buttons", "custom"}`` (``Outbound.to_rest``), so
Rasa web chat widgets and test tools work unchanged. A button is clicked by sending its
payload as the message. ``metadata.language`` (or ``Accept-Language``) is the language
hint; ``metadata.message_id`` makes a retried request get the same answer.

Bad requests are refused with a 4xx ``{"error": ...}`` before anything is processed; each
sender has an in-memory token bucket (429 with ``Retry-After`` when empty). ``GET /``
serves the chat page of ``webchat/`` under a strict Content-Security-Policy.

Privacy: message texts and sender ids are never logged.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..engine import Engine, Inbound
from ..i18n import gettext, is_rtl, native_name, negotiate, supported_locales, use_locale
from .base import TurnsInFlight

log = logging.getLogger(__name__)

CHANNEL = "rest"
MAX_SENDER_CHARS = 128
MAX_MESSAGE_ID_CHARS = 128
MAX_LANGUAGE_CHARS = 35
MAX_TRACKED_SENDERS = 10_000
"""Rate-limit buckets kept in memory; the least recently used go first."""
WEBCHAT_DIR = Path(__file__).resolve().parent / "webchat"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to that many."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_SENDERS,
    ) -> None:
        if per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if allowed, else the seconds to wait before retrying."""
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def message_id_of(metadata: dict[str, Any]) -> str | None:
    """``metadata.message_id`` as a string, or None; ValueError says what is wrong.

    Shared by the channels that take Rasa's metadata (REST and socket.io)."""
    message_id = metadata.get("message_id")
    if message_id is None:
        return None
    if isinstance(message_id, bool) or not isinstance(message_id, (str, int)):
        raise ValueError("metadata.message_id must be a string")
    message_id = str(message_id)
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        raise ValueError(f"metadata.message_id must be 1 to {MAX_MESSAGE_ID_CHARS} characters")
    return message_id


class BadRequest(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _error(status: int, error: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error}, status=status, headers=headers)


def accept_language_tags(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (``*`` and q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > MAX_LANGUAGE_CHARS:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, index, tag))
    return [tag for _, _, tag in sorted(weighted)]



def page_strings() -> dict[str, str]:
    """The chat page's own texts, in the locale of the caller's ``use_locale``."""
    return {
        # TRANSLATORS: web chat page title and heading.
        "title": gettext("Immigration Office assistant"),
        "language": gettext("Language"),
        "placeholder": gettext("Type your message"),
        # TRANSLATORS: web chat button that sends the typed message (a verb).
        "send": gettext("Send"),
        # TRANSLATORS: web chat, read out by screen readers before the applicant's own messages.
        "you": gettext("You"),
        # TRANSLATORS: web chat, read out by screen readers before the bot's messages.
        "bot": gettext("Assistant"),
        "offline": gettext(
            "We could not reach the service. Please check your connection and try again."
        ),
        "rate_limited": gettext(
            "You are sending messages too fast. Please wait {seconds} seconds and try again."
        ),
        "too_long": gettext("Your message is too long. Please make it shorter."),
        "failed": gettext("Sorry, something went wrong on our side. Please try again in a moment."),
        # TRANSLATORS: web chat button: a new, empty conversation.
        "restart": gettext("Start over"),
    }


class RestChannel:
    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        *,
        rate_limit_per_minute: int = 60,
        max_message_chars: int = 2000,
        webchat_dir: Path = WEBCHAT_DIR,
    ) -> None:
        self.engine = engine
        self.max_message_chars = max_message_chars
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.webchat_dir = webchat_dir
        self._turns = TurnsInFlight("rest")
        self._closing = False
        self._languages: bytes | None = None

    # --- Channel ------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        router = app.router
        router.add_post("/webhooks/rest/webhook", self.webhook)
        router.add_get("/webhooks/rest/", self.status)
        router.add_get("/webhooks/rest", self.status)
        router.add_get("/", self.index)
        # Registered before the static route, so it wins over /webchat/{name}.
        router.add_get("/webchat/languages.json", self.languages)
        router.add_get("/webchat/{name}", self.static)

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
        if self._closing:
            return _error(503, "the service is shutting down", {"Retry-After": "5"})
        try:
            inbound = await self._parse(request)
        except BadRequest as bad:
            return _error(bad.status, bad.error)
        wait = self.limiter.take(inbound.sender_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return _error(429, f"too many messages; retry after {seconds} seconds",
                          {"Retry-After": str(seconds)})
        try:
            replies = await self._turns.run(self.engine.handle(inbound))
        except Exception:
            return _error(500, "internal error")
        return web.json_response([r.to_rest(inbound.sender_id) for r in replies])

    async def _parse(self, request: web.Request) -> Inbound:
        if request.content_type != "application/json":
            raise BadRequest(415, "content type must be application/json")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest(413, "request body too large") from None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest(400, "body must be a JSON object")

        sender = body.get("sender")
        if not isinstance(sender, str) or not sender.strip():
            raise BadRequest(400, "sender must be a non-empty string")
        if len(sender) > MAX_SENDER_CHARS:
            raise BadRequest(400, f"sender must be at most {MAX_SENDER_CHARS} characters")

        message = body.get("message")
        if not isinstance(message, str):
            raise BadRequest(400, "message must be a string")
        if len(message) > self.max_message_chars:
            raise BadRequest(413, f"message must be at most {self.max_message_chars} characters")

        metadata = body.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise BadRequest(400, "metadata must be a JSON object")

        language = metadata.get("language")
        if language is not None and (not isinstance(language, str) or len(language) > MAX_LANGUAGE_CHARS):
            raise BadRequest(400, f"metadata.language must be a language tag of at most {MAX_LANGUAGE_CHARS} characters")
        hint = negotiate(language, *accept_language_tags(request.headers.get("Accept-Language")))

        try:
            message_id = message_id_of(metadata)
        except ValueError as exc:
            raise BadRequest(400, str(exc)) from None

        return Inbound(
            channel=CHANNEL,
            sender_id=sender,
            message_id=message_id,
            text=message,
            language_hint=hint,
        )

    # --- the chat page ----------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.StreamResponse:
        suffix = Path(name).suffix.lower()
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
            raise web.HTTPNotFound()
        path = self.webchat_dir / name
        if not path.is_file():
            raise web.HTTPNotFound()
        # Revalidate every time (ETag / Last-Modified make that cheap), so a deploy shows at once.
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache",
                   "Content-Type": STATIC_TYPES[suffix]}
        return web.FileResponse(path, headers=headers)

    async def languages(self, request: web.Request) -> web.Response:
        """The language picker's list, and the page's own texts in every language."""
        if self._languages is None:
            entries = []
            for code in supported_locales():
                with use_locale(code):
                    strings = page_strings()
                entries.append({
                    "code": code,
                    "name": native_name(code),
                    "dir": "rtl" if is_rtl(code) else "ltr",
                    "strings": strings,
                })
            self._languages = json.dumps({"languages": entries}, ensure_ascii=False).encode()
        return web.Response(
            body=self._languages,
            content_type="application/json",
            charset="utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"},
        )


def create_channel(services: Any) -> RestChannel:
    """The web chat / REST channel (always on; it needs no configuration)."""
    return RestChannel(services.engine)
