"""Facts with sources: the figures, numbers and addresses the bot quotes.

Facts change often (fees, phone lines, premiums), so they live in ``flows/content/*.yml``
with their source, confidence and dates, never in code. A fact past its review-by date is
not stated: the bot points to its official source instead.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_currency
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from .i18n import current_locale, gettext


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    amount: Decimal
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: str | Money | list[str] | dict[str, str]
    """Text, an amount, a list (of codes, for conditions), or a text per language."""
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
        if isinstance(self.value, list):
            return format_list(self.value, locale=locale)
        if isinstance(self.value, dict):
            return self.value.get(locale) or self.value.get(locale.split("_")[0]) or self.value["en"]
        return self.value


class ContentError(ValueError):
    pass


class Content:
    def __init__(self, facts: dict[str, Fact], version: str) -> None:
        self._facts = facts
        self.version = version

    @classmethod
    def load(cls, folder: Path) -> Content:
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
        return cls(facts, version=newest.isoformat() if newest else "empty")

    def __contains__(self, fact_id: str) -> bool:
        return fact_id in self._facts

    def get(self, fact_id: str) -> Fact:
        return self._facts[fact_id]

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
            fact = self._facts[fact_id]
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
