"""Dates and money written the way each language writes them (CLDR data via Babel)."""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from babel.numbers import format_currency

from actions.policy import Policy

SUPPORTED = ("en", "ru", "uk")
_LOCALES = {"en": "en_GB", "ru": "ru_RU", "uk": "uk_UA"}


def locale_for(language: str | None) -> str:
    return _LOCALES.get(language or "en", "en_GB")


def day(value: date | datetime, language: str | None) -> str:
    """'Wednesday, 26 November' / 'среда, 26 ноября'."""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "EEEE, d MMMM", locale=locale_for(language))


def day_with_year(value: date | datetime, language: str | None) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "d MMMM y", locale=locale_for(language))


def clock_time(value: datetime, language: str | None) -> str:
    return format_time(value, "HH:mm", locale=locale_for(language))


def money(amount: float, currency: str, language: str | None) -> str:
    return format_currency(amount, currency, locale=locale_for(language))


def window(earliest: date, latest: date, language: str | None) -> str:
    """One day, or 'from X to Y' rendered by the caller's response; here just the days."""
    if earliest == latest:
        return day(earliest, language)
    return f"{day(earliest, language)} – {day(latest, language)}"


def weekday_span(days: frozenset[int], language: str | None) -> str:
    """ISO weekdays as 'Monday–Friday' / 'Saturday' in the customer's language."""
    names = get_day_names("wide", locale=locale_for(language))  # 0 = Monday
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 1:
        return f"{names[ordered[0] - 1]}–{names[ordered[-1] - 1]}"
    return ", ".join(names[d - 1] for d in ordered)


def opening_hours(policy: Policy, language: str | None) -> str:
    """'Monday–Friday 09:00–20:00, Saturday 10:00–16:00'."""
    return ", ".join(
        f"{weekday_span(block.days, language)} "
        f"{block.open.strftime('%H:%M')}–{block.close.strftime('%H:%M')}"
        for block in policy.agent_hours
    )


def moment(value: datetime, language: str | None) -> str:
    """'Monday, 24 November, 09:00'."""
    return f"{day(value, language)}, {clock_time(value, language)}"


def language_name(code: str, language: str | None) -> str:
    """'English' / 'английский': the name of a language, in the customer's language."""
    return str(Locale.parse(locale_for(language)).languages.get(code, code))


def plural(count: float, language: str | None) -> str:
    """The CLDR plural category of ``count`` in the language: 'one', 'few', 'many' or
    'other' (English: 1 attempt, 2 attempts; Russian: 1 попытка, 2 попытки, 5 попыток).
    Responses that show a count come in one variant per category (``<name>_<category>``)."""
    category = Locale.parse(locale_for(language)).plural_form(count)
    return category if category in ("one", "few", "many") else "other"
