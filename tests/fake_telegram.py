"""A fake Telegram Bot API on 127.0.0.1, for python-telegram-bot to talk to in tests.

PTB calls ``{base_url}{token}/{method}`` with a form-encoded body (non-string values
JSON-encoded, see ``RequestData.json_parameters``), or multipart when uploading; JSON
bodies are accepted too. Every call is recorded as ``Call(method, params)``. Updates are
injected with :meth:`FakeTelegram.inject` and served by ``getUpdates`` (long poll,
honoring ``offset`` and, capped, ``timeout``). Failures are scripted with
:meth:`FakeTelegram.fail_next`.

The ``*_update`` helpers build updates shaped like Telegram's documentation, with the
fields PTB 22 insists on (``from.is_bot``, ``chat.type``, ``chat_instance``,
``file_unique_id``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_ID = 7000001
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Intake", "username": "IntakeBot"}
MAX_POLL_WAIT = 0.5
"""getUpdates waits at most this long (whatever the client's timeout) so shutdowns are quick."""

_update_ids = itertools.count(1000)
_message_ids = itertools.count(1)


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.failures: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self.webhook: dict[str, Any] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- server -------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- scripting ------------------------------------------------------------------

    def inject(self, *updates: dict[str, Any]) -> None:
        """Queue updates for getUpdates (the same dict twice is a redelivery)."""
        self.updates.extend(updates)

    def fail_next(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """The next call of ``method`` answers this error (``retry_after=1`` for a 429…)."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.failures[method].append((status, body))

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """``sendMessage`` calls that succeeded, optionally for one chat."""
        return [
            c.params for c in self.calls
            if c.method == "sendMessage" and c.params.get("_ok")
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    # --- the API --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params)
        self.calls.append(call)
        if self.failures.get(method):
            status, body = self.failures[method].popleft()
            return web.json_response(body, status=status)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        result = await handler(params)
        params["_ok"] = True
        if isinstance(result, dict) and "message_id" in result:
            params["_message_id"] = result["message_id"]
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(timeout, MAX_POLL_WAIT)
        while True:
            if offset:
                # Telegram forgets updates below the offset: they are confirmed.
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if self.updates or time.monotonic() >= deadline:
                return self.updates[:limit]
            await asyncio.sleep(0.01)

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": 0}

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        message = _message(int(params["chat_id"]), next(_message_ids), params.get("text", ""))
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        """A multipart upload: keeps the file's name and bytes for the test to read."""
        upload = params.get("document")
        name = getattr(upload, "filename", None) or "file"
        body = upload.file.read() if hasattr(upload, "file") else b""
        params["document"] = {"file_name": name, "data": body}
        message = _message(int(params["chat_id"]), next(_message_ids), "")
        message.pop("text", None)
        message["document"] = {"file_id": f"doc-{name}", "file_unique_id": f"u-{name}", "file_name": name}
        return message

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        message = _message(int(params["chat_id"]), int(params["message_id"]), "…")
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        return dict(data) if isinstance(data, dict) else {}
    if request.method == "GET":
        form: Any = request.query
    else:
        form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            params[key] = value  # an uploaded file
        elif value[:1] in ("{", "["):
            # PTB JSON-encodes non-string values; markups and lists start like this.
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params


# --- updates shaped like Telegram's -------------------------------------------------------


def _chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Applicant"}


def _user(chat_id: int, language_code: str | None = "en") -> dict[str, Any]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Applicant"}
    if language_code:
        user["language_code"] = language_code
    return user


def _message(chat_id: int, message_id: int, text: str) -> dict[str, Any]:
    return {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id),
            "from": dict(BOT_USER), "text": text}


def _update(chat_id: int, language_code: str | None, **content: Any) -> dict[str, Any]:
    message = {"message_id": next(_message_ids), "date": int(time.time()), "chat": _chat(chat_id),
               "from": _user(chat_id, language_code), **content}
    return {"update_id": next(_update_ids), "message": message}


def text_update(chat_id: int, text: str, language_code: str | None = "en") -> dict[str, Any]:
    """A text message; a leading ``/word`` gets its ``bot_command`` entity, as Telegram does."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return _update(chat_id, language_code, **content)


def command_update(chat_id: int, command: str, language_code: str | None = "en") -> dict[str, Any]:
    return text_update(chat_id, command if command.startswith("/") else f"/{command}", language_code)


def callback_update(
    chat_id: int, data: str, message_id: int, language_code: str | None = "en"
) -> dict[str, Any]:
    """A click on an inline button of our message ``message_id``."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cq-{next(_update_ids)}",
            "from": _user(chat_id, language_code),
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": _message(chat_id, message_id, "…"),
        },
    }


def contact_update(chat_id: int, phone_number: str, language_code: str | None = "en") -> dict[str, Any]:
    contact = {"phone_number": phone_number, "first_name": "Applicant", "user_id": chat_id}
    return _update(chat_id, language_code, contact=contact)


def voice_update(chat_id: int, language_code: str | None = "en") -> dict[str, Any]:
    voice = {"file_id": "voice-file-1", "file_unique_id": "voice-u-1", "duration": 3,
             "mime_type": "audio/ogg", "file_size": 4096}
    return _update(chat_id, language_code, voice=voice)


def photo_update(chat_id: int, language_code: str | None = "en") -> dict[str, Any]:
    photo = [{"file_id": f"photo-{size}", "file_unique_id": f"photo-u-{size}", "width": size,
              "height": size, "file_size": size * 10} for size in (90, 320)]
    return _update(chat_id, language_code, photo=photo)


def document_update(chat_id: int, language_code: str | None = "en") -> dict[str, Any]:
    document = {"file_id": "doc-1", "file_unique_id": "doc-u-1", "file_name": "passport.pdf",
                "mime_type": "application/pdf", "file_size": 120_000}
    return _update(chat_id, language_code, document=document)


def sticker_update(chat_id: int, language_code: str | None = "en") -> dict[str, Any]:
    sticker = {"file_id": "sticker-1", "file_unique_id": "sticker-u-1", "type": "regular",
               "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}
    return _update(chat_id, language_code, sticker=sticker)


def location_update(
    chat_id: int, latitude: float = 50.85, longitude: float = 4.35, language_code: str | None = "en"
) -> dict[str, Any]:
    return _update(chat_id, language_code, location={"latitude": latitude, "longitude": longitude})


def edited_update(chat_id: int, text: str) -> dict[str, Any]:
    update = text_update(chat_id, text)
    message = update.pop("message")
    message["edit_date"] = int(time.time())
    update["edited_message"] = message
    return update
