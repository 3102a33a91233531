"""Sender binding: a conversation belongs to whoever holds the secret the server issued.

Over HTTP the client names its sender, so whoever learns a sender id could read the
unfinished answers, see appointments or erase the cases. A channel that can carry a secret
back (REST, socket.io with ``custom``) marks its messages ``bindable``; then:

* while the conversation is **unbound**, the first reply of every turn whose message did
  not present a valid token carries a new one (``custom.conversation_token``), replacing the
  previous one (so a lost reply is not fatal);
* the first message that presents the current token **binds** the conversation;
* a bound conversation refuses every message without its token, or with another one
  (:class:`NotYourConversation`), before anything is read or written.

Clients that never send the token (Rasa widgets, Rasa's tools) keep working as unbound
conversations: the channel then requires a sender id that cannot be guessed.

Only a digest of the token is kept, inside the encrypted conversation state. The token is
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
        return {**binding, "bound": True}, False
    if token:
        # A token, but not this conversation's current one: someone guessing, or a client
        # that kept a token of a conversation since purged (its state is then None, above).
        raise NotYourConversation()
    return binding, True


def issue() -> tuple[str, dict[str, Any]]:
    """A new token, and the binding that waits for it."""
    token = new_secret()
    return token, {"digest": digest(CONVERSATION_TOKEN, token), "bound": False}


def device_digest(device_key: str) -> str:
    return digest(DEVICE_KEY, device_key)
