"""``date``: a calendar date, typed in figures (day first, or ISO) or in words in the
turn's language or English ("12 March 1990", "yesterday"), within the question's bounds."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

import dateparser
from babel.dates import format_date
from dateparser.data.languages_info import language_order

from bot.i18n import gettext

from .base import AnswerType, Invalid, Result, Rules, Valid
from .locales import turn_locale

_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{2}|\d{4})$")
_DATEPARSER_LANGUAGES = frozenset(language_order)


def _numeric_date(text: str) -> date | None:
    """Year-first (ISO, what date pickers send) or day-first numeric dates, never month-first."""
    if match := _ISO_DATE.match(text):
        year, month, day = map(int, match.groups())
    elif match := _NUMERIC_DATE.match(text):
        day, month, year = map(int, match.groups())
        if len(match.group(3)) == 2:
            year += 1900 if year >= 69 else 2000  # the strptime %y pivot
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _is_numeric_date(text: str) -> bool:
    return bool(_ISO_DATE.match(text) or _NUMERIC_DATE.match(text))


def _dateparser_languages() -> list[str]:
    language = turn_locale().language
    return list(dict.fromkeys(lang for lang in (language, "en") if lang in _DATEPARSER_LANGUAGES))


def _parse_date(text: str, today: date) -> date | None:
    if _is_numeric_date(text):
        return _numeric_date(text)
    parsed = dateparser.parse(
        text,
        languages=_dateparser_languages(),
        settings={
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": datetime.combine(today, time(12)),
        },
    )
    return parsed.date() if parsed else None


def _long_date(value: date) -> str:
    return format_date(value, format="long", locale=turn_locale())


def _date_range_error(value: date, low: date | None, high: date | None) -> Invalid | None:
    if low and high and not low <= value <= high:
        return Invalid(
            gettext(
                "Please give a date between {start} and {end}.",
                start=_long_date(low),
                end=_long_date(high),
            )
        )
    if low and value < low:
        return Invalid(gettext("Please give a date on or after {date}.", date=_long_date(low)))
    if high and value > high:
        return Invalid(gettext("Please give a date on or before {date}.", date=_long_date(high)))
    return None


def validate_date(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    parsed = _parse_date(text, today) if text else None
    if parsed is None:
        sample = max(min(today, rules.max_date or today), rules.min_date or today)
        return Invalid(
            gettext(
                "I could not read that date. "
                "Please write it as day/month/year, for example {example}.",
                example=sample.strftime("%d/%m/%Y"),
            )
        )
    if error := _date_range_error(parsed, rules.min_date, rules.max_date):
        return error
    return Valid(parsed.isoformat(), _long_date(parsed))


def display_date(rules: Rules, value: Any) -> str:
    return _long_date(date.fromisoformat(str(value)))


DATE = AnswerType(validate_date, display_date, warm_up_answer="1 2 2000")
