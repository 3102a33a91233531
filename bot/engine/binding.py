"""Sender binding: a conversation belongs to whoever holds the secret the server issued.

Over HTTP the client names its sender, so whoever learns a sender id could read the
unfinished answers, see appointments or erase the cases. A channel that can carry a secret
back (REST, socket.io with ``custom``) marks its messages ``bindable``; then:

* while the conversation is **unbound**, the first reply of every turn whose message did
  not present a valid token carries its token (``custom.conversation_token``) again, so a
  lost reply is not fatal;
* the first message that presents the current token **binds** the conversation;
* a bound conversation refuses every message without its token, or with another one
  (:class:`NotYourConversation`), before anything is read or written.

Clients that never send the token (Rasa widgets, Rasa's tools) keep working as unbound
conversations: the channel then requires a sender id that cannot be guessed.

Once bound, only a digest of the token is kept, inside the encrypted conversation state;
until then the token itself (and the device key issued with it) is kept there too, so that
a client that never sends them back costs no new secret and no device write per turn. The token is
256 random bits, so its digest cannot be reversed or guessed; a domain-separated SHA-256 is
enough, and unlike a keyed hash it stays valid when the keys are rotated. Device keys (what
links the conversations of one web chat, so that ``/forget`` reaches the cases sent before
"Start over") are server-issued secrets of the same kind and digested the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

TOKEN_BYTES = 32
CONVERSATION_TOKEN = "conversation_token"
DEVICE_KEY = "device_key"
PENDING_TOKEN = "pending"
PENDING_DEVICE_KEY = "pending_device_key"


class NotYourConversation(Exception):
    """A message to a bound conversation without its token (or with a wrong one)."""

    error = "this conversation is bound to another client: send its conversation_token in metadata"


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(kind: str, secret: str) -> str:
    return hashlib.sha256(f"intake-{kind}\x1f{secret}".encode("utf-8", "surrogatepass")).hexdigest()


def _matches(kind: str, secret: str | None, expected: str | None) -> bool:
    return bool(secret) and bool(expected) and hmac.compare_digest(digest(kind, secret or ""), expected or "")


def check(binding: dict[str, Any] | None, token: str | None) -> tuple[dict[str, Any] | None, bool]:
    """The binding after a message that presented ``token``, and whether a new token must
    be issued. Raises :class:`NotYourConversation` when the message may not be processed.

    ``binding`` is ``{"digest": ..., "bound": bool}`` or None (never issued, or the state
    was purged or erased: a token then cannot be checked, and a new one is issued)."""
    if binding is None:
        return None, True
    valid = _matches(CONVERSATION_TOKEN, token, binding.get("digest"))
    if binding.get("bound"):
        if not valid:
            raise NotYourConversation()
        return binding, False
    if valid:
        return {"digest": binding.get("digest"), "bound": True}, False  # the pending secrets go
    if token:
        # A token, but not this conversation's current one: someone guessing, or a client
        # that kept a token of a conversation since purged (its state is then None, above).
        raise NotYourConversation()
    return binding, True


def issue(previous: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The token to send an unbound conversation's client, and the binding that waits for
    it: the one still pending in ``previous``, else a new one."""
    if previous and not previous.get("bound"):
        pending = previous.get(PENDING_TOKEN)
        if _matches(CONVERSATION_TOKEN, pending, previous.get("digest")):
            return str(pending), previous
    token = new_secret()
    return token, {"digest": digest(CONVERSATION_TOKEN, token), "bound": False, PENDING_TOKEN: token}


def pending_device_key(binding: dict[str, Any] | None) -> str | None:
    """The device key issued to an unbound conversation's client, to be sent again."""
    key = (binding or {}).get(PENDING_DEVICE_KEY)
    return str(key) if key and not (binding or {}).get("bound") else None


def with_device_key(binding: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """``binding`` remembering the device key issued with its token (until bound)."""
    if binding is None or binding.get("bound"):
        return binding
    return {**binding, PENDING_DEVICE_KEY: key}


def device_digest(device_key: str) -> str:
    return digest(DEVICE_KEY, device_key)
