"""The turn contract of DESIGN.md: what a channel hands the engine and what it gets back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_SURROGATE = re.compile("[\ud800-\udfff]")


def plain_text(text: str) -> str:
    """``text`` with lone surrogates (which JSON escapes and some platforms let through,
    but UTF-8 cannot hold) replaced by U+FFFD; everything else is kept as typed."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from an applicant (or a staff member acting for one)."""

    channel: str
    sender_id: str
    message_id: str | None = None
    text: str | None = None
    payload: str | None = None
    contact: dict[str, Any] | None = None
    location: dict[str, float] | None = None
    attachment_kind: str | None = None
    language_hint: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    bindable: bool = False
    """The channel carries a secret back and forth (REST, socket.io): the conversation gets
    a token and a device key in ``custom`` (see binding.py)."""
    conversation_token: str | None = None
    """The token the server issued to this conversation, as the client sent it back."""
    device_key: str | None = None
    """The device key the server issued to this web chat (kept across "Start over")."""
    origin: str | None = None
    """Where the message came from, as a rate-limit key (an address group); never stored."""

    def storable(self) -> Inbound:
        """This message with texts that can be stored and sent back (:func:`plain_text`)."""
        text = plain_text(self.text) if self.text else self.text
        payload = plain_text(self.payload) if self.payload else self.payload
        if text == self.text and payload == self.payload:
            return self
        return replace(self, text=text, payload=payload)

    @property
    def content(self) -> str:
        """What the applicant said or clicked, as one string."""
        if self.payload is not None:
            return self.payload
        if self.contact and self.contact.get("phone_number"):
            return str(self.contact["phone_number"])
        return (self.text or "").strip()


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class Expects:
    """What the current question wants, so channels can render a fitting input."""

    field: str
    type: str
    choices: tuple[str, ...] | None = None
    optional: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expects:
        choices = data.get("choices")
        return cls(
            field=data["field"],
            type=data["type"],
            choices=tuple(choices) if choices is not None else None,
            optional=bool(data.get("optional", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.field, "type": self.type}
        if self.choices is not None:
            data["choices"] = list(self.choices)
        if self.optional:
            data["optional"] = True
        return data


@dataclass(frozen=True, slots=True)
class Outbound:
    text: str
    buttons: tuple[Button, ...] = ()
    expects: Expects | None = None
    custom: dict[str, Any] | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A neutral, JSON-ready form (what a redelivery is answered from)."""
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [b.to_dict() for b in self.buttons]
        if self.expects is not None:
            data["expects"] = self.expects.to_dict()
        if self.custom:
            data["custom"] = self.custom
        if self.language:
            data["language"] = self.language
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outbound:
        if "recipient_id" in data:  # kept by an earlier version, in the REST channel's shape
            return cls.from_rest(data)
        expects = data.get("expects")
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", [])),
            expects=Expects.from_dict(expects) if expects else None,
            custom=data.get("custom") or None,
            language=data.get("language"),
        )

    def to_rest(self, recipient_id: str) -> dict[str, Any]:
        """The Rasa REST channel shape: ``recipient_id``, ``text``, ``buttons``, ``custom``."""
        message: dict[str, Any] = {"recipient_id": recipient_id, "text": self.text}
        if self.buttons:
            message["buttons"] = [b.to_dict() for b in self.buttons]
        custom: dict[str, Any] = dict(self.custom or {})
        if self.expects is not None:
            custom["expects"] = self.expects.to_dict()
        if self.language:
            custom["language"] = self.language
        if custom:
            message["custom"] = custom
        return message

    @classmethod
    def from_rest(cls, data: dict[str, Any]) -> Outbound:
        custom = dict(data.get("custom") or {})
        expects_data = custom.pop("expects", None)
        language = custom.pop("language", None)
        expects = Expects.from_dict(expects_data) if expects_data else None
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", [])),
            expects=expects,
            custom=custom or None,
            language=language,
        )
