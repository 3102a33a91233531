"""Web chat over Socket.IO: Rasa's ``socketio`` channel protocol in front of the engine.

Existing Rasa chat widgets (``rasa-webchat`` and the like) connect unchanged:

* ``session_request`` ``{"session_id": ...}`` is answered with ``session_confirm`` and the
  session id as a bare string: the one given, or a new ``uuid4().hex``.
* ``user_uttered`` ``{"message", "session_id", "metadata" | "customData"}`` runs one turn
  with the session id as the sender (the socket id when ``session_persistence`` is off,
  as in Rasa); the message is read by :mod:`.rasa`: ``language`` in the metadata is the
  language hint (else the handshake's ``Accept-Language``), ``message_id`` makes a
  retried message get the same answer.
* Every ``Outbound`` becomes one ``bot_uttered`` to the client's socket: ``{"text"}``, or
  ``{"text", "quick_replies": [{"content_type": "text", "title", "payload"}]}`` when it has
  buttons, the shape Rasa sends. Nothing else is added by default, because rasa-webchat
  renders a message as text only when ``text`` is its only key (as buttons only when it has
  exactly ``text`` and ``quick_replies``/``buttons``); ``send_custom=True`` adds our
  ``custom`` (``expects``, ``language``) for clients of our own.
* Rasa widgets render a bot's text as Markdown, so by default the text is sent as
  Markdown that reads as our plain text (:func:`as_markdown`): what an applicant typed
  (a name with ``*`` or ``_``) is never taken for formatting, and line breaks stay line
  breaks instead of collapsing into one paragraph (the summary's one line per answer).
  ``markdown=False`` sends the plain text, for clients that show it as it is.

A session id must be a random id (:func:`.rasa.unguessable`): a widget that asks for
``"me"`` is confirmed a new one instead. With ``send_custom`` the replies carry the
conversation token (bot/engine/binding.py), and a conversation whose client sent it back
answers only messages with it; without ``custom`` no client can learn the token, so the
conversation stays unbound. Every message also counts against its address group
(:mod:`.abuse`).

A malformed message is dropped; a message that is too long, comes too fast or lacks the
conversation's token is refused with a ``bot_uttered`` that says so, in the applicant's
language. Either way nothing is
processed, and the event's acknowledgement (for clients that ask for one) carries
``{"error": ...}``. Messages of one socket are handled one at a time, in order.

Privacy: message texts, session ids and socket ids are never logged.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import engineio.packet
import socketio
from aiohttp import web

from ..engine import Engine, Inbound, Outbound
from ..engine.binding import NotYourConversation
from ..i18n import gettext, use_locale
from . import rasa
from .abuse import AddressLimits
from .base import TurnsInFlight
from .rasa import Refused

log = logging.getLogger(__name__)

CHANNEL = rasa.SOCKETIO.channel
USER_MESSAGE_EVENT = "user_uttered"
BOT_MESSAGE_EVENT = "bot_uttered"
MAX_PACKET_BYTES = 64 * 1024
"""The largest Socket.IO packet accepted, like the app's ``client_max_size``."""

# python-engineio logs every packet with its data at INFO; only warnings and up, here.
_transport_log = logging.getLogger(f"{__name__}.transport")
if _transport_log.level == logging.NOTSET:
    _transport_log.setLevel(logging.WARNING)


_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#>+-]|\d+(?=[.)]))", re.MULTILINE)
_SINGLE_NEWLINE = re.compile(r"(?<!\n)\n(?!\n)")


def as_markdown(text: str) -> str:
    """Markdown that a Markdown renderer shows as ``text``: inline markers escaped, line
    markers (headings, quotes, list items) escaped, single newlines as hard breaks."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + _escape_line_start(m.group(2)), escaped)
    return _SINGLE_NEWLINE.sub("  \n", escaped)


def _escape_line_start(marker: str) -> str:
    # "1." becomes "1\." (an ordered list needs the dot right after the digits).
    return marker + "\\" if marker[0].isdigit() else "\\" + marker


def to_socketio(
    reply: Outbound, sender_id: str, *, send_custom: bool = False, markdown: bool = True
) -> dict[str, Any]:
    """One ``bot_uttered`` payload, in the shape of Rasa's ``SocketIOOutput``."""
    message: dict[str, Any] = {"text": as_markdown(reply.text) if markdown else reply.text}
    if reply.buttons:
        message["quick_replies"] = [
            {"content_type": "text", "title": b.title, "payload": b.payload} for b in reply.buttons
        ]
    if send_custom:
        custom = reply.to_rest(sender_id).get("custom")
        if custom:
            message["custom"] = custom
    return message


class SocketIOChannel:
    name = CHANNEL

    def __init__(
        self,
        engine: Engine,
        *,
        socketio_path: str = "/socket.io",
        session_persistence: bool = True,
        rate_limit_per_minute: int = 60,
        max_message_chars: int = 2000,
        send_custom: bool = False,
        markdown: bool = True,
        cors_allowed_origins: str | list[str] | None = None,
        address_limits: AddressLimits | None = None,
    ) -> None:
        """``cors_allowed_origins``: None allows the same origin only; list the sites that
        embed the widget (Rasa itself allows every origin)."""
        self.engine = engine
        self.socketio_path = socketio_path
        self.session_persistence = session_persistence
        self.max_message_chars = max_message_chars
        self.send_custom = send_custom
        self.markdown = markdown
        self.limiter = rasa.RateLimiter(rate_limit_per_minute)
        self.address_limits = address_limits or AddressLimits.in_memory()
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            # One socket's events one after the other, so replies keep the order of messages.
            async_handlers=False,
            cors_allowed_origins=cors_allowed_origins,
            max_http_buffer_size=MAX_PACKET_BYTES,
            logger=_transport_log,
            engineio_logger=_transport_log,
        )
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("session_request", self._session_request)
        self.sio.on(USER_MESSAGE_EVENT, self._user_uttered)
        self._turns = TurnsInFlight("socketio")
        self._closing = False
        self._closed = False

    # --- Channel ------------------------------------------------------------------

    def _text(self, text: str) -> str:
        return as_markdown(text) if self.markdown else text

    def mount(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path=self.socketio_path)
        # Open sockets are requests in flight: they must be closed before aiohttp waits for
        # its handlers to finish, which comes before the cleanup that calls stop().
        app.on_shutdown.append(self._on_shutdown)

    async def start(self) -> None:
        self._closing = False
        self._closed = False

    async def stop(self) -> None:
        """Refuse new messages, let the turns in flight finish, then close every socket."""
        self._closing = True
        await self._turns.drain()
        if not self._closed:
            self._closed = True
            await self._close_sockets()
            await self.sio.shutdown()

    async def _close_sockets(self) -> None:
        """Tell every client the server is closing, without waiting for their queues.

        ``eio.disconnect()`` would wait for each socket's send queue to drain, and hangs on
        a socket whose client is hanging up at that moment (its writer is already gone).
        The clients close their end on the CLOSE packet; aiohttp waits for that.
        """
        eio = self.sio.eio
        for socket in list(eio.sockets.values()):
            with contextlib.suppress(Exception):
                await socket.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.stop()

    # --- Rasa's socket.io protocol ----------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if self._closing:
            return False
        tags = rasa.accept_language_tags(environ.get("HTTP_ACCEPT_LANGUAGE"))
        request = environ.get("aiohttp.request")
        origin = self.address_limits.origin(
            request.remote if request is not None else environ.get("REMOTE_ADDR"),
            request.headers if request is not None else {},
        )
        await self.sio.save_session(sid, {"accept_language": tags[:5], "origin": origin})
        return True

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        # A long-polling client that says goodbye still has a GET waiting for packets,
        # which engine.io would hold until the next ping; a no-op packet releases it.
        with contextlib.suppress(Exception):
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
            if eio_sid is not None:
                await self.sio.eio.send_packet(eio_sid, engineio.packet.Packet(engineio.packet.NOOP))

    async def _session_request(self, sid: str, data: Any = None) -> None:
        given = data.get("session_id") if isinstance(data, dict) else None
        session_id = rasa.sender_id_or_none(given) or uuid.uuid4().hex
        async with self.sio.session(sid) as session:
            session["session_id"] = session_id
        await self.sio.enter_room(sid, _room(session_id))  # where push() finds the applicant
        await self.sio.emit("session_confirm", session_id, to=sid)

    async def _user_uttered(self, sid: str, data: Any = None) -> dict[str, str] | None:
        session = await self.sio.get_session(sid)
        try:
            inbound = self._parse(sid, session, data)
            if self._closing:
                raise rasa.shutting_down(inbound)
            self.limiter.admit(inbound)
            await self._admit_address(inbound)
        except Refused as refused:
            return await self._refuse(sid, refused)

        try:
            replies = await self._turns.run(self.engine.handle(inbound))
        except NotYourConversation as refused:
            return await self._refuse(sid, Refused(403, refused.error, language_hint=inbound.language_hint))
        except Exception:
            with use_locale(self._locale(inbound.language_hint)):
                text = gettext("Sorry, something went wrong on our side. Please try again in a moment.")
            await self.sio.emit(BOT_MESSAGE_EVENT, {"text": self._text(text)}, to=sid)
            return {"error": "internal error"}
        for reply in replies:
            await self.sio.emit(
                BOT_MESSAGE_EVENT,
                to_socketio(reply, inbound.sender_id, send_custom=self.send_custom, markdown=self.markdown),
                to=sid,
            )
        return None

    async def _refuse(self, sid: str, refused: Refused) -> dict[str, str]:
        log.info("socketio: message refused: %s", refused.error)
        reply = self._refusal_text(refused)
        if reply:
            await self.sio.emit(BOT_MESSAGE_EVENT, {"text": self._text(reply)}, to=sid)
        return {"error": refused.error}

    async def _admit_address(self, inbound: Inbound) -> None:
        async def is_new() -> bool:
            return not await self.engine.knows(CHANNEL, inbound.sender_id)

        await self.address_limits.admit(
            inbound.origin or "unknown",
            language_hint=inbound.language_hint,
            is_new=None if inbound.conversation_token else is_new,
        )

    async def push(self, sender_id: str, replies: Sequence[Outbound]) -> bool:
        """Send to the applicant's open chat (every socket of their session); False when
        none is open, so that the message is kept for their next visit instead."""
        room = _room(sender_id) if self.session_persistence else sender_id
        if not any(True for _ in self.sio.manager.get_participants("/", room)):
            return False
        for reply in replies:
            await self.sio.emit(
                BOT_MESSAGE_EVENT,
                to_socketio(reply, sender_id, send_custom=self.send_custom, markdown=self.markdown),
                room=room,
            )
        return True

    def _locale(self, hint: str | None) -> str:
        return hint or self.engine.default_language

    def _parse(self, sid: str, session: dict[str, Any], data: Any) -> Inbound:
        if self.session_persistence:
            dialect, default_sender = rasa.SOCKETIO, session.get("session_id")
        else:
            dialect, default_sender = rasa.SOCKETIO_PER_SOCKET, sid
        return rasa.parse_message(
            data,
            dialect,
            max_message_chars=self.max_message_chars,
            accept_language=session.get("accept_language", ()),
            default_sender=default_sender,
            bindable=self.send_custom,
            origin=session.get("origin"),
        )

    def _refusal_text(self, refused: Refused) -> str | None:
        """What the applicant is told of a refused message, in their language; a malformed
        message (a client's bug, not the applicant's doing) is dropped without a word."""
        with use_locale(self._locale(refused.language_hint)):
            if refused.status == 413:
                return gettext("Your message is too long. Please make it shorter.")
            if refused.status == 429:
                return gettext(
                    "You are sending messages too fast. Please wait {seconds} seconds and try again.",
                    seconds=refused.retry_after,
                )
            if refused.status == 503:
                return gettext("Sorry, something went wrong on our side. Please try again in a moment.")
            if refused.status == 403:
                return gettext(
                    "This conversation is open in another window or device, so it cannot continue "
                    "here. Please start a new conversation."
                )
        return None


def _room(session_id: str) -> str:
    return f"session:{session_id}"


def create_channel(services: Any) -> SocketIOChannel:
    """The Socket.IO channel for Rasa chat widgets, on ``/socket.io``; widgets embedded on
    other sites connect when their origins are listed in ``INTAKE_WEBCHAT_ORIGINS``."""
    origins = list(services.settings.webchat_origins) or None
    return SocketIOChannel(services.engine, cors_allowed_origins=origins, address_limits=services.address_limits)
