"""Date expressions in flows: ``today+15d``, ``planned_arrival+3m``,
``planned_arrival+{intended_stay_days}d+3m``, ``refusal_received_on+30d``.

A base (``today`` or a date answer's field) followed by any number of ``±N`` or
``±{number field}`` amounts in days (d), working days (b: Belgian public holidays and
weekends skipped, from the ``holidays`` package), weeks (w), months (m) or years (y). Flows use
them in conditions (``before`` / ``after``) and to show computed dates (an appeal
deadline) in the applicant's own calendar format.
"""

from __future__ import annotations

import re
from calendar import monthrange
from functools import lru_cache
from datetime import date, timedelta
from typing import Any

import holidays

_FIELD = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?"
_TERM = re.compile(rf"([+-])(?:(\d+)|\{{({_FIELD})\}})([dbwmy])")
_EXPRESSION = re.compile(rf"^(today|{_FIELD})((?:[+-](?:\d+|\{{{_FIELD}\}})[dbwmy])*)$")


def fields_of(expression: str) -> set[str]:
    """The answers an expression reads (its base, if not ``today``, and its amounts)."""
    base, terms = _split(expression)
    found = {field for _, _, field, _ in _TERM.findall(terms) if field}
    if base != "today":
        found.add(base)
    return found


def check(expression: str) -> None:
    """Raise ``ValueError`` when ``expression`` is not a date expression."""
    _split(expression)


def resolve(expression: str, answers: dict[str, Any], today: date) -> date | None:
    """The date the expression names, or None while an answer it needs is missing."""
    base_name, terms = _split(expression)
    base = today if base_name == "today" else _as_date(answers.get(base_name))
    if base is None:
        return None
    for sign, number, field, unit in _TERM.findall(terms):
        if number:
            amount = int(number)
        else:
            value = answers.get(field)
            if not isinstance(value, int | float) or isinstance(value, bool):
                return None
            amount = int(value)
        base = shift(base, amount if sign == "+" else -amount, unit)
    return base


def shift(day: date, amount: int, unit: str) -> date:
    if unit == "d":
        return day + timedelta(days=amount)
    if unit == "b":
        return _working_days(day, amount)
    if unit == "w":
        return day + timedelta(weeks=amount)
    months = amount * (12 if unit == "y" else 1)
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _working_days(day: date, amount: int) -> date:
    step = 1 if amount >= 0 else -1
    closed = _belgian_holidays(day.year) | _belgian_holidays(day.year + step)
    left = abs(amount)
    while left:
        day += timedelta(days=step)
        if day.weekday() < 5 and day not in closed:
            left -= 1
    return day


@lru_cache(maxsize=16)
def _belgian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BE", years=year))


def _split(expression: str) -> tuple[str, str]:
    match = _EXPRESSION.match(expression.replace(" ", ""))
    if not match:
        raise ValueError(
            f"bad date expression {expression!r}: use today or a date field, then ±N or ±{{field}} "
            "with d, b (working days), w, m or y, e.g. planned_arrival+3m"
        )
    return match.group(1), match.group(2)


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
