"""Telegram: python-telegram-bot in front of the engine, by long polling or by webhook.

Updates become ``Inbound`` (text and slash commands as typed, button clicks as their
payload, a shared contact as a phone number, anything else as an attachment kind the
engine answers politely); ``Outbound`` replies become plain-text messages with inline
keyboards. Long polling is used when there is no public URL; with one, Telegram posts
updates to ``POST {webhook_path}`` on our aiohttp app, checked against a secret header,
and gets its 200 only once the turn is committed and answered (so nothing is lost if the
process dies in between: Telegram delivers the update again). Long polling, for
development, confirms updates as it fetches them.

Each chat may send ``messages_per_minute`` updates a minute (a person types far fewer);
beyond it the updates are dropped, and the chat is told once per minute. There is no
per-address limit here: the updates come from Telegram's servers.

Privacy: message texts and chat ids are never logged; a keyed short hash stands in for a
chat where a log line needs one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    InputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from ..engine import Engine, Inbound, Outbound
from ..engine.turn import Button
from ..i18n import DEFAULT_LOCALE, gettext, is_rtl, negotiate, use_locale
from ..limits import Limits, MemoryLimits, retry_after
from .base import BoundedMap
from .text import split_text as text_pieces

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096
"""Telegram's limit for one message's text."""
MAX_CALLBACK_DATA = 64
"""Telegram's limit for ``callback_data``, in bytes."""
SHORT_TITLE = 20
"""Buttons whose titles are all at most this long go two to a row."""
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
ATTACHMENTS = (
    "voice", "audio", "video", "video_note", "animation", "photo", "document", "sticker", "location",
)


# --- rendering helpers (pure, unit-tested) ------------------------------------------


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters (see channels/text.py)."""
    return text_pieces(text, limit)


def keyboard_rows(buttons: Sequence[Button], language: str | None = None) -> list[list[Button]]:
    """Two buttons a row when every title is short, else one; mirrored for right-to-left."""
    per_row = 2 if all(len(b.title) <= SHORT_TITLE for b in buttons) else 1
    rows = [list(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row)]
    if is_rtl(language):
        rows = [row[::-1] for row in rows]
    return rows


def derive_secret(token: str) -> str:
    """A stable webhook secret from the bot token (only ``[A-Za-z0-9_-]``, as Telegram wants)."""
    return hashlib.sha256(b"intake-telegram-webhook\x00" + token.encode()).hexdigest()


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- the channel ----------------------------------------------------------------------


class TelegramChannel:
    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        token: str,
        *,
        public_url: str | None = None,
        secret_token: str | None = None,
        base_url: str | None = None,
        base_file_url: str | None = None,
        webhook_path: str = "/webhooks/telegram",
        poll_timeout: float = 10.0,
        retry_base_delay: float = 0.5,
        max_tries: int = 4,
        max_retry_after: float = 60.0,
        messages_per_minute: int = 30,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.messages_per_minute = messages_per_minute
        self.limits = limits or MemoryLimits()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.webhook_path = webhook_path
        self.secret_token = (secret_token or derive_secret(token)) if self.public_url else secret_token
        self.poll_timeout = poll_timeout
        self.retry_base_delay = retry_base_delay
        self.max_tries = max_tries
        self.max_retry_after = max_retry_after
        self._hash_key = hashlib.sha256(b"intake-telegram-log\x00" + token.encode()).digest()

        builder = ApplicationBuilder().token(token)
        if base_url:
            builder = builder.base_url(base_url)
        if base_file_url:
            builder = builder.base_file_url(base_file_url)
        if self.public_url:
            builder = builder.updater(None)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self.application.add_handler(TypeHandler(Update, self._drop_duplicates), group=-1)
        self.application.add_handler(MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE, self._on_message
        ))
        self.application.add_handler(CallbackQueryHandler(self._on_callback))
        self.application.add_error_handler(self._on_error)

        # In-memory, bounded: the engine's stored replies are the source of truth across restarts.
        self._recent_updates: BoundedMap = BoundedMap(2048)
        self._long_payloads: BoundedMap = BoundedMap(4096)
        self._phone_keyboard: set[int] = set()
        # Chats that blocked the bot, so this process stops sending at once; the store
        # keeps it too (Store.mark_unreachable), for reminders and after a restart.
        self.blocked_chats: set[int] = set()
        self.stats: Counter[str] = Counter()
        self._started = False

    # --- Channel protocol ---------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        if self.public_url:
            app.router.add_post(self.webhook_path, self._webhook)

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        await app.start()
        if self.public_url:
            await app.bot.set_webhook(
                url=self.public_url + self.webhook_path,
                secret_token=self.secret_token,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: webhook registered")
        else:
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=timedelta(seconds=self.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: long polling started")
        self._started = True

    async def stop(self) -> None:
        app = self.application
        self._started = False
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    # --- webhook --------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.secret_token or not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            return web.Response(status=403)
        if not self._started:
            return web.Response(status=503)
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        # Telegram forgets an update once it has our 200: answer only when the turn is
        # committed and its replies sent, so that a crash or restart in between makes
        # Telegram deliver it again (the engine answers a redelivery from what it saved).
        # PTB's update processor still handles one update at a time, in arrival order.
        await self.application.process_update(update)
        return web.Response(status=200)

    # --- handlers -------------------------------------------------------------------

    async def _drop_duplicates(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        key = str(update.update_id)
        if key in self._recent_updates:
            self.stats["duplicates"] += 1
            raise ApplicationHandlerStop
        self._recent_updates.put(key, True)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        inbound = self._inbound(update, message)
        if inbound is None:
            return
        await self._turn(message.chat_id, inbound)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()  # stops the spinner on the button, whatever happens next
        except TelegramError as exc:
            log.info("telegram: could not answer a callback query (%s)", type(exc).__name__)
        message = query.message
        if not isinstance(message, Message) or message.chat.type != "private":
            return
        try:
            # A used keyboard goes away, so it cannot be clicked twice.
            await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:
            log.info("telegram: could not remove a used keyboard (%s)", type(exc).__name__)
        data = query.data or ""
        payload = self._long_payloads.get(data, data) if data.startswith("k:") else data
        user = query.from_user
        inbound = Inbound(
            channel=CHANNEL,
            sender_id=str(message.chat_id),
            message_id=f"tg-{update.update_id}",
            payload=payload,
            language_hint=user.language_code if user else None,
        )
        await self._turn(message.chat_id, inbound)

    def _inbound(self, update: Update, message: Message) -> Inbound | None:
        user = message.from_user
        common: dict[str, Any] = {
            "channel": CHANNEL,
            "sender_id": str(message.chat_id),
            "message_id": f"tg-{update.update_id}",
            "language_hint": user.language_code if user else None,
        }
        if message.text is not None:
            # Slash commands (``/start``, ``/back@IntakeBot``) pass through: the engine parses them.
            return Inbound(text=message.text, **common)
        if message.contact is not None:
            return Inbound(contact={"phone_number": message.contact.phone_number}, **common)
        if message.location is not None:
            location = {"latitude": message.location.latitude, "longitude": message.location.longitude}
            return Inbound(attachment_kind="location", location=location, **common)
        for kind in ATTACHMENTS:
            if getattr(message, kind, None):
                return Inbound(attachment_kind=kind, **common)
        return None  # service messages and the like: nothing to answer

    async def _too_fast(self, chat_id: int, inbound: Inbound) -> bool:
        """Count the update against its chat's limit; past it, say so once a minute."""
        key = f"telegram:{self._tag(chat_id)}"
        wait = await self.limits.hit(key, self.messages_per_minute, 60)
        if not wait:
            return False
        self.stats["rate_limited"] += 1
        if await self.limits.used(key, 60) == self.messages_per_minute + 1:
            with use_locale(_locale(inbound.language_hint)):
                text = gettext(
                    "You are sending messages too fast. Please wait {seconds} seconds and try again.",
                    seconds=retry_after(wait),
                )
            await self._send(chat_id, text, None)
        return True

    async def _turn(self, chat_id: int, inbound: Inbound) -> None:
        if await self._too_fast(chat_id, inbound):
            return
        try:
            self.blocked_chats.discard(chat_id)  # writing to us again means unblocked
            replies = await self.engine.handle(inbound)
            await self.send_replies(chat_id, replies)
        finally:
            self.stats["turns"] += 1

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        # No update content in the log: it holds what the applicant wrote.
        log.error("telegram: a turn failed (%s)", type(error).__name__, exc_info=error)
        if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
            language = update.effective_user.language_code if update.effective_user else None
            with use_locale(_locale(language)):
                text = gettext("Sorry, something went wrong on our side. Please try again in a moment.")
            await self._send(update.effective_chat.id, text, None)

    # --- rendering ------------------------------------------------------------------

    async def send_replies(self, chat_id: int, replies: Sequence[Outbound]) -> bool:
        """Send each reply in order; False (and stop) at the first that cannot be sent."""
        for reply in replies:
            markup = self._markup(chat_id, reply)
            # Plain text, no parse_mode: whatever an applicant typed (and we echo back in a
            # summary) can never break the formatting or inject links.
            pieces = split_text(reply.text) or (["…"] if markup is not None else [])
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                sent = await self._send(chat_id, piece, markup if last else None)
                if not sent:
                    return False
            attachment = (reply.custom or {}).get("attachment")
            if attachment and not await self._send_file(chat_id, attachment):
                return False
        return True

    async def push(self, sender_id: str, replies: Sequence[Outbound]) -> bool:
        """Send without an update to answer (reminders); False when not delivered."""
        if not sender_id.lstrip("-").isdigit():
            return False
        chat_id = int(sender_id)
        if chat_id in self.blocked_chats:
            return True  # nothing will ever get through: do not retry
        return await self.send_replies(chat_id, replies)

    async def _send_file(self, chat_id: int, attachment: dict[str, str]) -> bool:
        """A calendar file (.ics) as a document, once; a failure is logged, not retried."""
        try:
            data = base64.b64decode(attachment["data"])
            await self.application.bot.send_document(
                chat_id=chat_id, document=InputFile(data, filename=attachment.get("filename", "file"))
            )
            return True
        except (TelegramError, KeyError, ValueError) as exc:
            log.warning("telegram: file to chat %s not sent (%s)", self._tag(chat_id), type(exc).__name__)
            return True  # the text went through; the file is a convenience

    def _markup(self, chat_id: int, reply: Outbound) -> Any:
        if reply.buttons:
            rows = keyboard_rows(reply.buttons, reply.language)
            return InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.title, callback_data=self._callback_data(b.payload)) for b in row]
                 for row in rows]
            )
        if reply.expects is not None and reply.expects.type == "phone":
            with use_locale(_locale(reply.language)):
                title = gettext("Share my phone number")
            self._phone_keyboard.add(chat_id)
            return ReplyKeyboardMarkup(
                [[KeyboardButton(title, request_contact=True)]],
                one_time_keyboard=True,
                resize_keyboard=True,
            )
        if chat_id in self._phone_keyboard:
            self._phone_keyboard.discard(chat_id)
            return ReplyKeyboardRemove()
        return None

    def _callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_DATA and not payload.startswith("k:"):
            return payload
        key = "k:" + hashlib.sha256(payload.encode()).hexdigest()[:24]
        self._long_payloads.put(key, payload)
        return key

    async def _record_unreachable(self, chat_id: int) -> None:
        try:
            await self.engine.unreachable(CHANNEL, str(chat_id))
        except Exception:  # the in-memory record still stops this process from retrying
            log.exception("telegram: could not record that chat %s blocked the bot", self._tag(chat_id))

    async def _send(self, chat_id: int, text: str, markup: Any) -> bool:
        """Send one message with retries; False when it could not be delivered."""
        who = self._tag(chat_id)
        for attempt in range(1, self.max_tries + 1):
            last = attempt == self.max_tries
            try:
                await self.application.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
                return True
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                if last or wait > self.max_retry_after:
                    log.warning("telegram: flood control for chat %s (%.0fs); message dropped", who, wait)
                    return False
                log.info("telegram: flood control for chat %s, retrying in %.1fs", who, wait)
                await asyncio.sleep(wait)
            except Forbidden:
                log.info("telegram: chat %s blocked the bot; not sending", who)
                if chat_id not in self.blocked_chats:
                    self.blocked_chats.add(chat_id)
                    await self._record_unreachable(chat_id)
                return False
            except BadRequest as exc:  # a NetworkError subclass, but retrying will not help
                log.warning("telegram: message to chat %s refused: %s", who, exc.message)
                return False
            except (TimedOut, NetworkError) as exc:
                if last:
                    log.warning("telegram: message to chat %s lost after %d tries (%s)", who, attempt,
                                type(exc).__name__)
                    return False
                await asyncio.sleep(self.retry_base_delay * 2 ** (attempt - 1))
            except TelegramError as exc:  # ChatMigrated, InvalidToken…: nothing a retry fixes
                log.warning("telegram: message to chat %s failed (%s)", who, type(exc).__name__)
                return False
        return False

    def _tag(self, chat_id: int) -> str:
        """A keyed short hash of a chat id, for logs (chat ids are easy to enumerate)."""
        return hmac.new(self._hash_key, str(chat_id).encode(), hashlib.sha256).hexdigest()[:10]


def _locale(language: str | None) -> str:
    return negotiate(language) or DEFAULT_LOCALE


def create_channel(services: Any) -> TelegramChannel | None:
    """The Telegram channel from ``services.settings``, or None without a bot token."""
    settings = services.settings
    if settings.telegram_bot_token is None:
        return None
    # httpx logs every request URL at INFO, and the URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    public_url = settings.public_url.strip() or None
    secret = settings.telegram_secret.get_secret_value() if settings.telegram_secret else None
    base_url = settings.telegram_api_url.strip() or None
    base_file_url = None
    if base_url and base_url.endswith("/bot"):  # e.g. http://127.0.0.1:8081/bot → …/file/bot
        base_file_url = base_url[: -len("bot")] + "file/bot"
    return TelegramChannel(
        services.engine,
        settings.telegram_bot_token.get_secret_value(),
        public_url=public_url,
        secret_token=secret,
        base_url=base_url,
        base_file_url=base_file_url,
        limits=getattr(services, "limits", None),
    )
