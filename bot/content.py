"""Facts with sources: the figures, numbers and addresses the bot quotes.

Facts change often (fees, phone lines, premiums), so they live in ``flows/content/*.yml``
with their source, confidence and dates, never in code. A fact past its review-by date is
not stated: the bot points to its official source instead.

A few facts belong to the deployment rather than to the content files: the service's own
addresses (its web chat, its Telegram bot). They are declared in :data:`RUNTIME_FACTS`,
set from the settings when the service is built (``bot/app.py``), and quoted by flows only
under ``when: {configured: <id>}``; an unset one is never stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_currency, format_percent
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from .i18n import current_locale, gettext


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    amount: Decimal
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class Percent(BaseModel):
    """A rate such as ``{percent: 10}``, written the locale's way (10 %, %10, ١٠٪…).

    A figure in a text, never a literal ``%`` sign: gettext tools take ``10% for`` for a
    printf ``% f`` and then reject every translation of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    percent: Decimal


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: str | Money | Percent | list[str] | dict[str, str]
    """Text, an amount, a rate, a list (of codes, for conditions), or a text per language."""
    source_url: HttpUrl
    source_title: str
    confidence: Literal["V", "V2", "G"]
    volatility: Literal["low", "medium", "high"]
    last_verified: date
    review_by: date
    note: str | None = None

    @model_validator(mode="after")
    def _dates(self) -> Fact:
        if self.review_by < self.last_verified:
            raise ValueError("review_by is before last_verified")
        if isinstance(self.value, dict) and "en" not in self.value:
            raise ValueError("a text per language needs at least 'en'")
        return self

    def stale(self, today: date) -> bool:
        return today > self.review_by

    def formatted(self) -> str:
        locale = current_locale()
        if isinstance(self.value, Money):
            return format_currency(self.value.amount, self.value.currency, locale=locale)
        if isinstance(self.value, Percent):
            return format_percent(self.value.percent / 100, locale=locale)
        if isinstance(self.value, list):
            return format_list(self.value, locale=locale)
        if isinstance(self.value, dict):
            return self.value.get(locale) or self.value.get(locale.split("_")[0]) or self.value["en"]
        return self.value


class ContentError(ValueError):
    pass


RUNTIME_FACTS: dict[str, str] = {
    "official_web_chat_url": "io_website",
    "official_telegram_bot": "io_website",
}
"""Deployment facts, by id, each with the content fact whose official site stands in for it
while it is not set. Their values come from the settings (``INTAKE_OFFICIAL_*``), never
from a content file, because only the deployment knows its own addresses."""


def runtime_fact(fact_id: str, value: str, source_url: str, setting: str) -> Fact:
    """A deployment fact as set by the operator (checked when the service starts)."""
    if fact_id not in RUNTIME_FACTS:
        raise ContentError(f"{fact_id!r} is not a deployment fact ({', '.join(RUNTIME_FACTS)})")
    return Fact(
        id=fact_id,
        value=value,
        source_url=source_url,  # type: ignore[arg-type]
        source_title=f"deployment setting {setting}",
        confidence="V",
        volatility="low",
        last_verified=date.today(),
        review_by=date.max,
    )


class Content:
    def __init__(self, facts: dict[str, Fact], version: str) -> None:
        self._facts = facts
        self.version = version
        self._runtime: dict[str, Fact] = {}
        """Deployment facts: those set, and stand-ins (never stated) for those not set."""
        self._configured: set[str] = set()

    @classmethod
    def load(cls, folder: Path, runtime: Mapping[str, Fact | None] | None = None) -> Content:
        """The facts of ``folder/*.yml``, and the deployment facts given in ``runtime``
        (an absent or ``None`` one is not set)."""
        facts: dict[str, Fact] = {}
        files = sorted(folder.glob("*.yml"))
        for path in files:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for i, item in enumerate(raw.get("facts", [])):
                where = f"{path.name}: fact {item.get('id', i) if isinstance(item, dict) else i}"
                try:
                    fact = Fact.model_validate(item)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    loc = ".".join(str(x) for x in first["loc"])
                    raise ContentError(f"{where}: {loc}: {first['msg']}") from None
                if fact.id in facts:
                    raise ContentError(f"{where}: id {fact.id!r} is defined twice")
                facts[fact.id] = fact
        newest = max((f.last_verified for f in facts.values()), default=None)
        content = cls(facts, version=newest.isoformat() if newest else "empty")
        content._set_runtime(runtime or {})
        return content

    def _set_runtime(self, given: Mapping[str, Fact | None]) -> None:
        unknown = sorted(set(given) - set(RUNTIME_FACTS))
        if unknown:
            raise ContentError(f"{unknown[0]!r} is not a deployment fact ({', '.join(RUNTIME_FACTS)})")
        for fact_id, stand_in in RUNTIME_FACTS.items():
            if fact_id in self._facts:
                raise ContentError(f"{fact_id!r} is a deployment fact: it is set in the settings, not in flows/content")
            fact = given.get(fact_id)
            if fact is not None:
                self._runtime[fact_id] = fact
                self._configured.add(fact_id)
            elif stand_in in self._facts:
                # Never stated: a text quoting it anyway is replaced by a pointer to the
                # official site (a fact past its review date), so it has no hole.
                official = self._facts[stand_in]
                self._runtime[fact_id] = Fact(
                    id=fact_id,
                    value="",
                    source_url=official.source_url,
                    source_title=official.source_title,
                    confidence="G",
                    volatility="high",
                    last_verified=date.min,
                    review_by=date.min,
                    note="not set in this deployment",
                )

    def __contains__(self, fact_id: str) -> bool:
        return fact_id in self._facts or fact_id in self._runtime

    def get(self, fact_id: str) -> Fact:
        return self._facts[fact_id] if fact_id in self._facts else self._runtime[fact_id]

    def configured(self, fact_id: str) -> bool:
        """Whether a deployment fact was set (always False for a content-file fact)."""
        return fact_id in self._configured

    def runtime(self) -> dict[str, Fact | None]:
        """Every deployment fact declared, with its value when it is set."""
        return {f: (self._runtime[f] if f in self._configured else None) for f in RUNTIME_FACTS}

    def place(self, name: str) -> str:
        """Where an appointment takes place: a slot's place is a fact id (its address, in
        the turn's language) or, for places added by hand, the name itself."""
        return self._facts[name].formatted() if name in self._facts else name

    def all(self) -> list[Fact]:
        return list(self._facts.values())

    def stale(self, today: date) -> list[Fact]:
        return [f for f in self._facts.values() if f.stale(today)]

    def params(self, fact_ids: list[str], today: date) -> dict[str, Any]:
        """Placeholders for a text: ``{id}`` (the value) and ``{id_checked}`` (its date)."""
        params: dict[str, Any] = {}
        for fact_id in fact_ids:
            fact = self.get(fact_id)
            if fact.stale(today):
                params[fact_id] = gettext(
                    "(this changes often: please check {url})", url=str(fact.source_url)
                )
            else:
                params[fact_id] = fact.formatted()
            params[f"{fact_id}_checked"] = format_date(
                fact.last_verified, format="long", locale=current_locale()
            )
            params[f"{fact_id}_source"] = str(fact.source_url)
        return params
