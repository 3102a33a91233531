"""Rasa's channel protocol, as its REST and socket.io channels share it.

A user message is an object with a sender (``sender`` over REST, ``session_id`` over
socket.io), a ``message`` and optional metadata (``metadata``, or ``customData`` as
rasa-webchat names it) where ``language`` is the language hint and ``message_id`` makes a
retried message get the same answer. :func:`parse_message` turns one into an ``Inbound``
or raises :class:`Refused`; the channels only move bytes and render replies.

The two channels differ in strictness (:class:`Dialect`): REST refuses malformed metadata
with a 400 before anything is processed; socket.io, like Rasa's, ignores what it cannot
use and falls back to the socket's session.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import Inbound
from ..engine.turn import plain_text
from ..i18n import negotiate

MIN_SENDER_CHARS = 16
MIN_SENDER_DISTINCT = 8
"""An HTTP sender id must be at least 16 characters with at least 8 different ones: a
UUID or a random id passes, ``me``, ``user1`` or ``0000000000000000`` do not (see
docs/SECURITY.md, sender binding)."""
MAX_SENDER_CHARS = 128
MAX_MESSAGE_ID_CHARS = 128
MAX_LANGUAGE_CHARS = 35
MAX_TRACKED_SENDERS = 10_000
"""Rate-limit buckets kept in memory; the least recently used go first."""
SHUTDOWN_RETRY_AFTER = 5
"""Seconds a client is asked to wait while the service shuts down."""


class Refused(Exception):
    """A message that is not processed: ``status`` as HTTP says it, ``error`` for the client.

    ``retry_after`` is the seconds to wait before sending again, when waiting helps;
    ``language_hint`` the message's language, when known, to tell the applicant in it."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        retry_after: int | None = None,
        language_hint: str | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.retry_after = retry_after
        self.language_hint = language_hint


@dataclass(frozen=True)
class Dialect:
    """How one channel spells a user message."""

    channel: str
    sender_key: str | None
    """Where the message names its sender; None: the connection is the sender."""
    metadata_keys: tuple[str, ...]
    strict: bool
    """True: a malformed sender, metadata or language is refused. False: it is ignored
    (the default sender, no metadata, no language), as Rasa's socket.io channel does."""


REST = Dialect(channel="rest", sender_key="sender", metadata_keys=("metadata",), strict=True)
SOCKETIO = Dialect(
    channel="socketio", sender_key="session_id", metadata_keys=("metadata", "customData"), strict=False
)
SOCKETIO_PER_SOCKET = Dialect(
    channel="socketio", sender_key=None, metadata_keys=("metadata", "customData"), strict=False
)
"""Socket.io without session persistence: the socket id is the sender."""


def parse_message(
    data: Any,
    dialect: Dialect,
    *,
    max_message_chars: int,
    accept_language: Sequence[str] = (),
    default_sender: str | None = None,
    bindable: bool = True,
    origin: str | None = None,
) -> Inbound:
    """The ``Inbound`` of one user message; :class:`Refused` says what is wrong.

    ``accept_language``: the client's ``Accept-Language`` tags, the language hint when the
    metadata has none. ``default_sender``: who sends when the message does not say
    (socket.io: the socket's session, or the socket itself). ``bindable``: the replies
    reach the client with their ``custom`` (conversation token, device key); ``origin``:
    the client's address group, for rate limits."""
    if not isinstance(data, dict):
        raise Refused(400, "the message must be an object")
    sender = _sender(data, dialect, default_sender)
    metadata = _metadata(data, dialect)
    hint = negotiate(_language(metadata, dialect), *accept_language)

    message = data.get("message")
    if not isinstance(message, str):
        raise Refused(400, "message must be a string", language_hint=hint)
    if len(message) > max_message_chars:
        raise Refused(413, f"message must be at most {max_message_chars} characters", language_hint=hint)

    try:
        message_id = message_id_of(metadata)
        token = _secret(metadata, "conversation_token", dialect)
        device_key = _secret(metadata, "device_key", dialect)
    except ValueError as exc:
        raise Refused(400, str(exc), language_hint=hint) from None

    return Inbound(
        channel=dialect.channel,
        sender_id=sender,
        message_id=message_id,
        text=plain_text(message),
        language_hint=hint,
        bindable=bindable,
        conversation_token=token,
        device_key=device_key,
        origin=origin,
    )


_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _secret(metadata: dict[str, Any], key: str, dialect: Dialect) -> str | None:
    """A secret the server issued (``conversation_token``, ``device_key``): URL-safe
    base64 of 16 to 128 characters, or None when absent (or malformed, over socket.io)."""
    value = metadata.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _SECRET.fullmatch(value):
        return value
    if dialect.strict:
        raise ValueError(f"metadata.{key} must be the string the server issued")
    return None


def unguessable(sender: str) -> bool:
    """Whether a sender id is hard enough to guess to stand for an unbound conversation."""
    return len(sender) >= MIN_SENDER_CHARS and len(set(sender)) >= MIN_SENDER_DISTINCT


def sender_id_or_none(value: Any) -> str | None:
    """``value`` if it can be a sender id over HTTP: a string of 16 to 128 characters that
    cannot be guessed (:func:`unguessable`)."""
    if isinstance(value, str) and value.strip() and len(value) <= MAX_SENDER_CHARS and unguessable(value):
        return value
    return None


def _sender(data: dict[str, Any], dialect: Dialect, default: str | None) -> str:
    if dialect.sender_key is None:
        if default is None:
            raise ValueError("a dialect without a sender key needs a default sender")
        return default
    key = dialect.sender_key
    given = data.get(key)
    if dialect.strict:
        if not isinstance(given, str) or not given.strip():
            raise Refused(400, f"{key} must be a non-empty string")
        if len(given) > MAX_SENDER_CHARS:
            raise Refused(400, f"{key} must be at most {MAX_SENDER_CHARS} characters")
        if not unguessable(given):
            raise Refused(400, f"{key} must be a random id of at least {MIN_SENDER_CHARS} characters "
                               f"with at least {MIN_SENDER_DISTINCT} different ones (a UUID, for example)")
        return plain_text(given)
    # As in Rasa, the message names its session; a socket that asked for one with
    # session_request falls back to it.
    sender = sender_id_or_none(given) or default
    if sender is None:
        raise Refused(400, f"{key} must be a random id of {MIN_SENDER_CHARS} to "
                           f"{MAX_SENDER_CHARS} characters; send session_request first")
    return sender


def _metadata(data: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    for key in dialect.metadata_keys:
        value = data.get(key)
        if isinstance(value, dict):
            return value
        if value is not None and dialect.strict:
            raise Refused(400, f"{key} must be a JSON object")
    return {}


def _language(metadata: dict[str, Any], dialect: Dialect) -> str | None:
    language = metadata.get("language")
    if language is None or (isinstance(language, str) and len(language) <= MAX_LANGUAGE_CHARS):
        return language
    if dialect.strict:
        raise Refused(400, f"metadata.language must be a language tag of at most {MAX_LANGUAGE_CHARS} characters")
    return None


def message_id_of(metadata: dict[str, Any]) -> str | None:
    """``metadata.message_id`` as a string, or None; ValueError says what is wrong."""
    message_id = metadata.get("message_id")
    if message_id is None:
        return None
    if isinstance(message_id, bool) or not isinstance(message_id, (str, int)):
        raise ValueError("metadata.message_id must be a string")
    message_id = str(message_id)
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        raise ValueError(f"metadata.message_id must be 1 to {MAX_MESSAGE_ID_CHARS} characters")
    if not message_id.isprintable() or plain_text(message_id) != message_id:
        raise ValueError("metadata.message_id must be printable text")
    return message_id


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

    def admit(self, inbound: Inbound) -> None:
        """Take a token for the message's sender, or refuse it with 429 and the wait."""
        wait = self.take(inbound.sender_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise Refused(429, f"too many messages; retry after {seconds} seconds",
                          retry_after=seconds, language_hint=inbound.language_hint)


def shutting_down(inbound: Inbound | None = None) -> Refused:
    """The refusal of a message that comes while the service shuts down."""
    return Refused(503, "the service is shutting down", retry_after=SHUTDOWN_RETRY_AFTER,
                   language_hint=inbound.language_hint if inbound else None)
