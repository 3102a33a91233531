"""A fake WhatsApp Cloud (Graph) API on 127.0.0.1, and Meta's side of the webhook.

The channel calls ``{base}/{phone_number_id}/messages`` (JSON: messages and read receipts)
and ``{base}/{phone_number_id}/media`` (multipart upload), with a bearer token. Every call
is recorded; messages get ids ``wamid.N``; failures are scripted with :meth:`fail_next`.
The ``*_message`` helpers build webhook deliveries shaped like Meta's documentation, and
:func:`signed` signs a delivery the way Meta does (``X-Hub-Signature-256``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PHONE_NUMBER_ID = "109876543210"
TOKEN = "EAAG-test-token"
_ids = itertools.count(1)


@dataclass
class Call:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeGraphAPI:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: deque[tuple[int, dict[str, Any]]] = deque()
        self.uploads: dict[str, tuple[str, str, bytes]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v21.0/{phone_id}/messages", self._messages)
        app.router.add_post("/v21.0/{phone_id}/media", self._media)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    def fail_next(self, status: int, code: int, message: str = "error") -> None:
        self.failures.append((status, {"error": {"message": message, "type": "OAuthException", "code": code}}))

    # --- reading what the channel did ---------------------------------------------------

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Messages sent (accepted), optionally to one WhatsApp id, with ``_id`` set."""
        return [c.body for c in self.calls if c.path.endswith("/messages") and "_id" in c.body
                and (to is None or c.body.get("to") == to)]

    def read_receipts(self) -> list[str]:
        return [c.body["message_id"] for c in self.calls
                if c.path.endswith("/messages") and c.body.get("status") == "read"]

    # --- the API ------------------------------------------------------------------------

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": {"message": "Invalid OAuth access token", "code": 190}}, status=401)
        if request.match_info["phone_id"] != PHONE_NUMBER_ID:
            return web.json_response({"error": {"message": "Unsupported post request", "code": 100}}, status=400)
        if self.failures:
            status, body = self.failures.popleft()
            return web.json_response(body, status=status)
        return None

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call(request.path, body, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        assert body.get("messaging_product") == "whatsapp"
        if body.get("status") == "read":
            return web.json_response({"success": True})
        _check_limits(body)
        body["_id"] = f"wamid.{next(_ids)}"
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": body["_id"]}]})

    async def _media(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        body = {"messaging_product": form.get("messaging_product"), "type": form.get("type")}
        self.calls.append(Call(request.path, body, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        media_id = f"media-{next(_ids)}"
        assert not isinstance(upload, str)
        self.uploads[media_id] = (upload.filename, str(form.get("type")), upload.file.read())
        return web.json_response({"id": media_id})


def _check_limits(body: dict[str, Any]) -> None:
    """What the Cloud API refuses, asserted (a test fails rather than a 400 lost in a log)."""
    kind = body["type"]
    if kind == "text":
        assert 0 < len(body["text"]["body"]) <= 4096
    elif kind == "interactive":
        interactive = body["interactive"]
        assert 0 < len(interactive["body"]["text"]) <= 1024
        action = interactive["action"]
        if interactive["type"] == "button":
            buttons = action["buttons"]
            assert 1 <= len(buttons) <= 3
            assert all(0 < len(b["reply"]["title"]) <= 20 and len(b["reply"]["id"]) <= 256 for b in buttons)
            assert len({b["reply"]["title"] for b in buttons}) == len(buttons), "titles must be unique"
        else:
            assert interactive["type"] == "list"
            assert 0 < len(action["button"]) <= 20
            rows = [r for s in action["sections"] for r in s["rows"]]
            assert 1 <= len(rows) <= 10
            assert all(0 < len(r["title"]) <= 24 and len(r["id"]) <= 200 for r in rows)
            assert all(len(r.get("description", "")) <= 72 for r in rows)
            assert len({r["id"] for r in rows}) == len(rows), "row ids must be unique"
    elif kind == "document":
        assert body["document"]["id"] and body["document"]["filename"]
    elif kind == "template":
        assert body["template"]["name"] and body["template"]["language"]["code"]
    else:
        raise AssertionError(f"unexpected message type {kind}")


# --- Meta's side of the webhook --------------------------------------------------------------


def signed(body: dict[str, Any], app_secret: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    digest = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def delivery(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "32470000000", "phone_number_id": PHONE_NUMBER_ID}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}]}


def _message(sender: str, kind: str, **content: Any) -> dict[str, Any]:
    message = {"from": sender, "id": f"wamid.in-{next(_ids)}", "timestamp": str(int(time.time())),
               "type": kind, **content}
    return delivery({"contacts": [{"profile": {"name": "Applicant"}, "wa_id": sender}], "messages": [message]})


def text_message(sender: str, text: str) -> dict[str, Any]:
    return _message(sender, "text", text={"body": text})


def button_reply(sender: str, reply_id: str, title: str) -> dict[str, Any]:
    return _message(sender, "interactive", interactive={"type": "button_reply",
                                                        "button_reply": {"id": reply_id, "title": title}})


def list_reply(sender: str, row_id: str, title: str) -> dict[str, Any]:
    return _message(sender, "interactive", interactive={"type": "list_reply",
                                                        "list_reply": {"id": row_id, "title": title}})


def voice_message(sender: str) -> dict[str, Any]:
    return _message(sender, "audio", audio={"id": "media-in-1", "mime_type": "audio/ogg; codecs=opus", "voice": True})


def image_message(sender: str) -> dict[str, Any]:
    return _message(sender, "image", image={"id": "media-in-2", "mime_type": "image/jpeg", "sha256": "x"})


def sticker_message(sender: str) -> dict[str, Any]:
    return _message(sender, "sticker", sticker={"id": "media-in-3", "mime_type": "image/webp", "animated": False})


def document_message(sender: str) -> dict[str, Any]:
    return _message(sender, "document", document={"id": "media-in-4", "filename": "passport.pdf",
                                                  "mime_type": "application/pdf"})


def location_message(sender: str) -> dict[str, Any]:
    return _message(sender, "location", location={"latitude": 50.85, "longitude": 4.35})


def status_update(wa_message_id: str, status: str, recipient: str, error_code: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": wa_message_id, "status": status, "timestamp": str(int(time.time())),
                             "recipient_id": recipient}
    if error_code is not None:
        entry["errors"] = [{"code": error_code, "title": "Message undeliverable"}]
    return delivery({"statuses": [entry]})
