"""WhatsApp Business Cloud API: Meta's webhook in front of the engine, replies by the Graph API.

Why aiohttp and not pywa: pywa sets its client's base URL to ``https://graph.facebook.com/
v{version}`` inside its constructor (``pywa/api.py``), so a local fake Graph API can only
be reached by overwriting a private attribute; it brings httpx as a second HTTP client, and
its webhook side wants to own the route and dispatch to its own handlers and types, where
we want our route on our aiohttp app, our ``Inbound``, and the 200 only after the turn.
What we call of the Graph API is four requests (messages, media, read receipts,
templates): a shared ``aiohttp.ClientSession`` does them plainly.

Deliveries: Meta posts to ``POST /webhooks/whatsapp``, signed with the app secret
(``X-Hub-Signature-256``: HMAC-SHA256 of the raw body); a wrong or missing signature gets
401 and a log line without the body. The 200 comes once every message of the delivery has
had its turn and its replies (Meta delivers again otherwise); a message id seen again is
dropped here, and after a restart answered by the engine from what it saved.
``GET /webhooks/whatsapp`` answers Meta's verification (``hub.mode=subscribe``,
``hub.verify_token``, ``hub.challenge``).

Replies: text as text messages; up to three buttons with short titles as reply buttons,
more as a list message (ten rows at most, a "More…" row pages on through longer lists),
titles cut between words (channels/text.py) with the whole title in the row's description;
a button's id carries its payload (a key into a map for long ones). The ``.ics`` of an
appointment is uploaded and sent as a document.

The 24-hour window: free-form messages may be sent only within 24 hours of the applicant's
last message (kept in the store, ``whatsapp_contacts``); outside it, :meth:`push` sends an
approved template (``INTAKE_WHATSAPP_TEMPLATES``) if the applicant agreed to be written to,
else raises ``NotDeliverable``: the message is then kept for their next message and staff
see it was not delivered (a reminder is not retried). Statuses (sent, delivered, read,
failed) are recorded per sent message.

The opt-in: once the first request of a conversation is sent (a reply with
``custom.case``), the channel asks, in the applicant's language, whether it may write to
them here after 24 hours; Yes / No are reply buttons the channel answers itself, and
``/updates`` asks again (to agree later or withdraw). When the applicant's language has no
approved template, "Yes" offers the languages that have one, and the one chosen is kept.

Privacy: WhatsApp ids are phone numbers. They are never logged (a keyed short hash stands in
for them) and stored only as the store's keyed hash; media are never downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from babel import Locale

from ..engine import Engine, Inbound, Outbound
from ..engine.turn import Button
from ..i18n import DEFAULT_LOCALE, gettext, negotiate, strip_bidi_controls, use_locale
from .base import BoundedMap, NotDeliverable
from .text import shorten, split_text

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEXT = 4096
MAX_BODY = 1024
"""An interactive message's body."""
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_ID = 200
"""A list row's id (a reply button's may be 256)."""
MAX_TEMPLATE_TEXT = 1000
WINDOW = timedelta(hours=24)
ATTACHMENTS = {
    "image": "photo", "sticker": "sticker", "video": "video", "document": "document",
    "location": "location", "contacts": "contact_card", "unsupported": "unsupported",
}
"""WhatsApp message types the engine answers with "text and buttons only" (audio: below)."""
RE_ENGAGEMENT = 131047
"""The Graph API's error when a free-form message falls outside the 24-hour window."""
OPT_IN = "o:"
"""Reply ids of the opt-in question (``o:yes:LANG``, ``o:no:LANG``, ``o:tl:TEMPLATE_LANG:LANG``),
answered by the channel, not the engine."""
UPDATES_COMMAND = "/updates"


class Records(Protocol):
    """What the channel keeps in the store (``bot/store/whatsapp.py``)."""

    async def inbound(self, sender_id: str, at: datetime) -> None: ...
    async def window(self, sender_id: str) -> Any: ...
    async def opt_in(self, sender_id: str, at: datetime | None, template_language: str | None = None) -> bool: ...
    async def asked(self, sender_id: str, at: datetime, language: str | None) -> bool: ...
    async def sent(self, sender_id: str, wa_message_id: str, kind: str, at: datetime) -> None: ...
    async def status(self, wa_message_id: str, status: str, at: datetime, error_code: int | None = None) -> bool: ...


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class GraphError(Exception):
    def __init__(self, status: int, code: int | None) -> None:
        super().__init__(f"Graph API {status} (code {code})")
        self.status = status
        self.code = code


class WhatsAppChannel:
    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        records: Records,
        *,
        token: str,
        phone_number_id: str,
        app_secret: str,
        verify_token: str,
        api_url: str = "https://graph.facebook.com/v21.0",
        templates: dict[str, dict[str, str]] | None = None,
        default_language: str = DEFAULT_LOCALE,
        retry_base_delay: float = 0.5,
        max_tries: int = 3,
    ) -> None:
        self.engine = engine
        self.records = records
        self.phone_number_id = phone_number_id
        self.api_url = api_url.rstrip("/")
        self.templates = templates or {}
        self.default_language = default_language
        self.retry_base_delay = retry_base_delay
        self.max_tries = max_tries
        self._token = token
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._hash_key = hashlib.sha256(b"intake-whatsapp-log\x00" + app_secret.encode()).digest()
        self._http: aiohttp.ClientSession | None = None
        # In memory and bounded: the engine's saved replies answer a redelivery after a restart.
        self._recent_messages: BoundedMap = BoundedMap(4096)
        self._long_payloads: BoundedMap = BoundedMap(4096)
        self._pages: BoundedMap = BoundedMap(1024)
        self.stats: Counter[str] = Counter()

    # --- Channel protocol ---------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        app.router.add_get(WEBHOOK_PATH, self._verify)
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=aiohttp.ClientTimeout(total=20),
        )
        log.info("whatsapp: webhook at %s", WEBHOOK_PATH)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- webhook --------------------------------------------------------------------

    async def _verify(self, request: web.Request) -> web.Response:
        query = request.query
        given = query.get("hub.verify_token", "")
        if query.get("hub.mode") == "subscribe" and hmac.compare_digest(given.encode(), self._verify_token.encode()):
            return web.Response(text=query.get("hub.challenge", ""))
        log.warning("whatsapp: webhook verification refused")
        return web.Response(status=403)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(given.encode(), signature(self._app_secret, body).encode()):
            # Not the body: it holds phone numbers and what the applicant wrote.
            log.warning("whatsapp: delivery refused, %s signature (%d bytes)",
                        "wrong" if given else "missing", len(body))
            return web.Response(status=401)
        if self._http is None:
            return web.Response(status=503)
        try:
            data = json.loads(body)
            changes = [c.get("value") or {} for e in data.get("entry") or [] for c in e.get("changes") or []
                       if c.get("field") == "messages"]
        except (ValueError, AttributeError, TypeError):
            return web.Response(status=400)
        for value in changes:
            if (value.get("metadata") or {}).get("phone_number_id") not in (None, self.phone_number_id):
                continue  # another number on the same app
            for status in value.get("statuses") or []:
                await self._status(status)
            for message in value.get("messages") or []:
                await self._message(message)
        return web.Response(status=200)

    async def _status(self, status: dict[str, Any]) -> None:
        errors = status.get("errors") or [{}]
        code = errors[0].get("code") if status.get("status") == "failed" else None
        known = await self.records.status(str(status.get("id", "")), str(status.get("status", "")),
                                          self.engine.clock(), code)
        self.stats["statuses" if known else "unknown_statuses"] += 1

    async def _message(self, message: dict[str, Any]) -> None:
        message_id = str(message.get("id", ""))
        sender = str(message.get("from", ""))
        if not message_id or not sender.isdigit():
            return
        if message_id in self._recent_messages:
            self.stats["duplicates"] += 1
            return
        self._recent_messages.put(message_id, True)
        inbound = self._inbound(sender, message_id, message)
        if inbound is None:
            return
        await self._mark_read(message_id)
        try:
            more = _more_row(message)
            if more is not None:
                await self._next_page(sender, inbound, more)
                return
            if await self._opt_in_message(sender, message):
                return
            replies = await self.engine.handle(inbound)
            await self.records.inbound(sender, self.engine.clock())
            await self.send_replies(sender, replies)
            await self._after_request(sender, replies)
        except Exception as exc:  # no message content in the log
            log.error("whatsapp: a turn of %s failed (%s)", self._tag(sender), type(exc).__name__, exc_info=exc)
            with use_locale(_locale(None)):
                await self._send_text(sender, gettext("Sorry, something went wrong on our side. Please try again in a moment."))
        finally:
            self.stats["turns"] += 1

    def _inbound(self, sender: str, message_id: str, message: dict[str, Any]) -> Inbound | None:
        common: dict[str, Any] = {"channel": CHANNEL, "sender_id": sender, "message_id": f"wa-{message_id}"}
        kind = message.get("type")
        if kind == "text":
            return Inbound(text=(message.get("text") or {}).get("body", ""), **common)
        if kind == "interactive":
            interactive = message.get("interactive") or {}
            reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
            return Inbound(payload=self._payload(str(reply.get("id", "")), str(reply.get("title", ""))), **common)
        if kind == "button":  # a template's quick reply
            button = message.get("button") or {}
            return Inbound(payload=str(button.get("payload") or button.get("text") or ""), **common)
        if kind == "audio":
            voice = (message.get("audio") or {}).get("voice")
            return Inbound(attachment_kind="voice" if voice else "audio", **common)
        if kind == "location":
            place = message.get("location") or {}
            location = {"latitude": float(place.get("latitude", 0)), "longitude": float(place.get("longitude", 0))}
            return Inbound(attachment_kind="location", location=location, **common)
        if kind in ATTACHMENTS:
            return Inbound(attachment_kind=ATTACHMENTS[kind], **common)
        return None  # reactions, system messages: nothing to answer

    # --- buttons and lists ----------------------------------------------------------

    def _button_id(self, payload: str) -> str:
        if len(payload) + 2 <= MAX_ID:
            return "p:" + payload
        key = "k:" + hashlib.sha256(payload.encode()).hexdigest()[:24]
        self._long_payloads.put(key, payload)
        return key

    def _payload(self, reply_id: str, title: str) -> str:
        if reply_id.startswith("p:"):
            return reply_id[2:]
        if reply_id.startswith("k:"):
            # Forgotten (a restart): the title is what the applicant chose, read as typed.
            return str(self._long_payloads.get(reply_id, title))
        return title or reply_id

    def interactive(self, text: str, buttons: Sequence[Button], language: str | None, start: int = 0) -> dict[str, Any]:
        """Reply buttons when there are at most three with short titles, else a list (a
        page of it from ``start``, with a "More…" row when more follow)."""
        body = {"text": text or ELLIPSIS_BODY}
        if start == 0 and len(buttons) <= MAX_REPLY_BUTTONS and all(len(b.title) <= MAX_BUTTON_TITLE for b in buttons):
            return {"type": "button", "body": body, "action": {"buttons": [
                {"type": "reply", "reply": {"id": self._button_id(b.payload), "title": b.title}} for b in buttons
            ]}}
        rest = buttons[start:]
        page = rest if len(rest) <= MAX_ROWS else rest[:MAX_ROWS - 1]
        rows = [self._row(self._button_id(b.payload), b.title) for b in page]
        with use_locale(_locale(language)):
            if len(page) < len(rest):
                key = hashlib.sha256("\x00".join(b.payload for b in buttons).encode()).hexdigest()[:16]
                self._pages.put(key, (text, tuple(buttons), language))
                rows.append(self._row(f"m:{key}:{start + len(page)}", gettext("More…")))
            label = shorten(gettext("Choose"), MAX_LIST_BUTTON)
        return {"type": "list", "body": body, "action": {"button": label, "sections": [{"rows": rows}]}}

    @staticmethod
    def _row(row_id: str, title: str) -> dict[str, str]:
        row = {"id": row_id, "title": shorten(title, MAX_ROW_TITLE)}
        if row["title"] != title:
            row["description"] = shorten(title, MAX_ROW_DESCRIPTION)
        return row

    async def _next_page(self, sender: str, inbound: Inbound, more: str) -> None:
        """The "More…" row: the next rows of the list, without a turn of the engine."""
        _, key, start = (more.split(":", 2) + ["", ""])[:3]
        page = self._pages.get(key)
        if page is None or not start.isdigit():  # forgotten (a restart): the engine asks again
            replies = await self.engine.handle(Inbound(channel=CHANNEL, sender_id=sender, message_id=inbound.message_id))
            await self.records.inbound(sender, self.engine.clock())
            await self.send_replies(sender, replies)
            return
        text, buttons, language = page
        await self.records.inbound(sender, self.engine.clock())
        await self._send(sender, {"type": "interactive",
                                  "interactive": self.interactive(_body(text), buttons, language, int(start))})

    # --- agreeing to be written to after 24 hours ------------------------------------

    async def _after_request(self, sender: str, replies: Sequence[Outbound]) -> None:
        """Once a request is sent, ask (once) whether we may write after 24 hours."""
        if not self.templates or not any((r.custom or {}).get("case") for r in replies):
            return
        window = await self.records.window(sender)
        if window.opt_in_asked_at is None and window.opted_in_at is None:
            await self._ask_opt_in(sender, replies[-1].language)

    async def _ask_opt_in(self, sender: str, language: str | None) -> None:
        language = _locale(language)
        with use_locale(language):
            text = gettext(
                "May we write to you here on WhatsApp about your request later, also after 24 hours "
                "(for example a message from staff or an appointment reminder)? You can change "
                "your answer at any time by typing /updates."
            )
            buttons = [Button(gettext("Yes"), f"{OPT_IN}yes:{language}"), Button(gettext("No"), f"{OPT_IN}no:{language}")]
        await self._send_raw_buttons(sender, text, buttons, language)
        await self.records.asked(sender, self.engine.clock(), language)

    async def _opt_in_message(self, sender: str, message: dict[str, Any]) -> bool:
        """Answer the opt-in buttons and ``/updates`` here; False for anything else."""
        kind = message.get("type")
        if kind == "text":
            typed = strip_bidi_controls((message.get("text") or {}).get("body", "")).strip().casefold()
            if typed != UPDATES_COMMAND:
                return False
            await self.records.inbound(sender, self.engine.clock())
            if not self.templates:
                return False  # nothing is ever sent after 24 hours: the engine answers as usual
            window = await self.records.window(sender)
            await self._ask_opt_in(sender, window.language)
            return True
        reply = ((message.get("interactive") or {}).get("button_reply") or
                 (message.get("interactive") or {}).get("list_reply") or {})
        reply_id = str(reply.get("id", ""))
        if kind != "interactive" or not reply_id.startswith(OPT_IN):
            return False
        now = self.engine.clock()
        await self.records.inbound(sender, now)
        parts = reply_id[len(OPT_IN):].split(":")
        answer, language = parts[0], _locale(parts[-1] if len(parts) > 1 else None)
        with use_locale(language):
            if answer == "no":
                await self.records.opt_in(sender, None)
                text = gettext("All right: we will write to you only when you write to us. Type /updates to change this.")
            elif answer == "yes" and language not in self.templates and len(self.templates) > 1:
                text = gettext(
                    "Messages sent after 24 hours must start with a short standard text, which does not "
                    "exist in your language yet. In which language should it be?"
                )
                buttons = [Button(_language_name(code), f"{OPT_IN}tl:{code}:{language}") for code in sorted(self.templates)]
                await self._send_raw_buttons(sender, text, buttons, language)
                return True
            else:
                chosen = parts[1] if answer == "tl" and len(parts) > 2 and parts[1] in self.templates else None
                if answer == "yes" and chosen is None and language not in self.templates:
                    chosen = next(iter(self.templates))
                await self.records.opt_in(sender, now, chosen)
                text = gettext(
                    "Thank you: we will write to you here about your request, also after 24 hours. "
                    "Type /updates to change this."
                )
        await self._send_text(sender, text)
        return True

    async def _send_raw_buttons(self, sender: str, text: str, buttons: Sequence[Button], language: str) -> None:
        """Buttons whose ids are ours (not engine payloads)."""
        message = self.interactive(text, buttons, language)
        for row in message["action"].get("buttons", []):
            row["reply"]["id"] = row["reply"]["id"].removeprefix("p:")
        for section in message["action"].get("sections", []):
            for row in section["rows"]:
                row["id"] = row["id"].removeprefix("p:")
        await self._send(sender, {"type": "interactive", "interactive": message})

    # --- sending --------------------------------------------------------------------

    async def send_replies(self, sender: str, replies: Sequence[Outbound]) -> bool:
        """Send each reply in order; False (and stop) at the first that cannot be sent."""
        for reply in replies:
            pieces = split_text(reply.text, MAX_TEXT)
            if reply.buttons:
                last = pieces.pop() if pieces else ""
                if len(last) > MAX_BODY:
                    *more, last = split_text(last, MAX_BODY)
                    pieces += more
            for piece in pieces:
                if not await self._send_text(sender, piece):
                    return False
            if reply.buttons:
                message = {"type": "interactive", "interactive": self.interactive(last, reply.buttons, reply.language)}
                if not await self._send(sender, message):
                    return False
            attachment = (reply.custom or {}).get("attachment")
            if attachment:
                await self._send_document(sender, attachment)
        return True

    async def push(self, sender_id: str, replies: Sequence[Outbound]) -> bool:
        """Send without a message to answer (reminders, staff): within the 24-hour window
        as usual, outside it as a template if the applicant agreed (else ``NotDeliverable``);
        False when sending failed and a later try may succeed."""
        if not sender_id.isdigit():
            return False
        window = await self.records.window(sender_id)
        now = self.engine.clock()
        if window.last_inbound_at is not None and now - window.last_inbound_at < WINDOW:
            return await self.send_replies(sender_id, replies)
        who = self._tag(sender_id)
        if window.opted_in_at is None:
            log.info("whatsapp: %s is outside the 24-hour window and did not agree to templates; kept", who)
            raise NotDeliverable("outside the 24-hour window, no opt-in")
        for reply in replies:
            template = (self.templates.get(reply.language or "") or self.templates.get(window.template_language or "")
                        or self.templates.get(self.default_language))
            text = " ".join(reply.text.split())  # a template parameter takes no line breaks
            if template is None or len(text) > MAX_TEMPLATE_TEXT:
                log.info("whatsapp: no template fits a message to %s (%s); kept", who, reply.language)
                raise NotDeliverable("no template fits")
            message = {"type": "template", "template": {
                "name": template["name"], "language": {"code": template.get("language", reply.language)},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": text}]}],
            }}
            if not await self._send(sender_id, message, kind="template"):
                return False
        return True

    async def _send_text(self, to: str, text: str) -> bool:
        return await self._send(to, {"type": "text", "text": {"body": text, "preview_url": False}})

    async def _send(self, to: str, message: dict[str, Any], kind: str = "session") -> bool:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message}
        try:
            answer = await self._call("POST", f"/{self.phone_number_id}/messages", json=body)
        except GraphError as exc:
            if exc.code == RE_ENGAGEMENT:
                log.info("whatsapp: %s is outside the 24-hour window; not sent", self._tag(to))
            else:
                log.warning("whatsapp: message to %s refused (%s)", self._tag(to), exc)
            return False
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("whatsapp: message to %s lost (%s)", self._tag(to), type(exc).__name__)
            return False
        for sent in answer.get("messages") or []:
            if sent.get("id"):
                await self.records.sent(to, str(sent["id"]), kind, self.engine.clock())
        return True

    async def _send_document(self, to: str, attachment: dict[str, str]) -> None:
        """Upload the file, then send it as a document; a failure is logged, not fatal
        (the text of the appointment went through)."""
        try:
            data = base64.b64decode(attachment["data"])
            filename = attachment.get("filename", "file")
            media_type = attachment.get("media_type", "application/octet-stream")
            form = aiohttp.FormData()
            form.add_field("messaging_product", "whatsapp")
            form.add_field("type", media_type)
            form.add_field("file", data, filename=filename, content_type=media_type)
            uploaded = await self._call("POST", f"/{self.phone_number_id}/media", data=form)
        except (GraphError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as exc:
            log.warning("whatsapp: file for %s not uploaded (%s)", self._tag(to), type(exc).__name__)
            return
        await self._send(to, {"type": "document", "document": {"id": uploaded["id"], "filename": filename}})

    async def _mark_read(self, message_id: str) -> None:
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        try:
            await self._call("POST", f"/{self.phone_number_id}/messages", json=body)
        except (GraphError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.info("whatsapp: read receipt not sent (%s)", type(exc).__name__)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One Graph API request, retried on rate limits, server errors and network
        failures; GraphError for an answer that a retry will not change."""
        assert self._http is not None, "the channel is not started"
        for attempt in range(1, self.max_tries + 1):
            try:
                async with self._http.request(method, self.api_url + path, **kwargs) as response:
                    answer = await response.json(content_type=None)
                    if response.status < 400:
                        return answer if isinstance(answer, dict) else {}
                    code = ((answer or {}).get("error") or {}).get("code") if isinstance(answer, dict) else None
                    error = GraphError(response.status, code)
                    if response.status != 429 and response.status < 500:
                        raise error
            except (aiohttp.ClientError, asyncio.TimeoutError):
                if attempt == self.max_tries:
                    raise
            else:
                if attempt == self.max_tries:
                    raise error
            await asyncio.sleep(self.retry_base_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _tag(self, sender: str) -> str:
        """A keyed short hash of a WhatsApp id, for logs (it is a phone number)."""
        return hmac.new(self._hash_key, sender.encode(), hashlib.sha256).hexdigest()[:10]


ELLIPSIS_BODY = "…"


def _more_row(message: dict[str, Any]) -> str | None:
    """The id of a "More…" row the applicant chose, if that is what the message is."""
    reply = (message.get("interactive") or {}).get("list_reply") or {}
    row_id = str(reply.get("id", ""))
    return row_id if message.get("type") == "interactive" and row_id.startswith("m:") else None


def _body(text: str) -> str:
    """The last part of a text that fits an interactive body."""
    pieces = split_text(text, MAX_BODY)
    return pieces[-1] if pieces else ELLIPSIS_BODY


def _locale(language: str | None) -> str:
    return negotiate(language) or DEFAULT_LOCALE


def _language_name(code: str) -> str:
    """A template language's name in that language (what its speakers look for)."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name()
    except (ValueError, LookupError):
        return code
    return (name[:1].upper() + name[1:]) if name else code


def create_channel(services: Any) -> WhatsAppChannel | None:
    """The WhatsApp channel from ``services.settings``, or None unless it is configured."""
    settings = services.settings
    if not settings.whatsapp_configured():
        return None
    return WhatsAppChannel(
        services.engine,
        services.store.whatsapp,
        token=settings.whatsapp_token.get_secret_value(),
        phone_number_id=settings.whatsapp_phone_number_id.strip(),
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        verify_token=settings.whatsapp_verify_token.get_secret_value(),
        api_url=settings.whatsapp_api_url.strip(),
        templates=settings.whatsapp_templates,
        default_language=settings.default_language,
    )
