"""Dates as an associate reads them on a phone: "2 Nov", "2 Nov 2025", "3 days ago", "in 5 days".

Formatted with Babel against the injected clock's today (UTC, as the rest of Rapport), so pages
and tests agree on what "today" is.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date

from rapport import clock

LOCALE = "en_GB"


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def day(value: date | datetime | None) -> str:
    """``2 Nov`` this year, ``2 Nov 2025`` otherwise; empty for None."""
    if value is None:
        return ""
    when = _as_date(value)
    pattern = "d MMM" if when.year == clock.now().year else "d MMM y"
    return str(format_date(when, pattern, locale=LOCALE))


def ago(value: date | datetime | None) -> str:
    """``today``, ``yesterday``, ``3 days ago``, ``5 weeks ago``; the date itself beyond a year."""
    if value is None:
        return ""
    days = (clock.now().date() - _as_date(value)).days
    if days < 0:
        return until(value)
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    if days < 365:
        return f"{days // 30} months ago"
    return day(value)


def until(value: date | datetime | None) -> str:
    """``today``, ``tomorrow``, ``in 5 days``."""
    if value is None:
        return ""
    days = (_as_date(value) - clock.now().date()).days
    if days <= 0:
        return "today" if days == 0 else ago(value)
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


def time_of_day(value: datetime | None) -> str:
    return value.strftime("%H:%M") if value else ""


#: What templates get as ``when``: ``{{ when.day(x) }}``, ``{{ when.ago(x) }}``.
class _When:
    day = staticmethod(day)
    ago = staticmethod(ago)
    until = staticmethod(until)
    time = staticmethod(time_of_day)


when = _When()
