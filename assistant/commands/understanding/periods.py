"""Periods in words -> days, relative to the store's latest data day (not the clock).

"last month", "this quarter", "in November", "in Q3 2011", "since March", "between 1 and 15
October", "the last 30 days", "yesterday", "in 2011": each becomes a ``Period`` [start, end) that
the answer states, so a number never silently covers another period than the one asked.  The
sample ends on 2011-12-09, so there "this month" is December 2011 up to the 9th.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.views.metrics import Period

MONTHS = {name: i for i, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), 1)}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
MONTHS["sept"] = 9
MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|" \
        r"jun|jul|aug|sept|sep|oct|nov|dec)"
UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "quarter": 91, "quarters": 91,
         "year": 365, "years": 365}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "twelve": 12, "thirty": 30, "ninety": 90, "a": 1, "an": 1}


@dataclass(frozen=True)
class Found:
    """A period and the span of text that named it (removed before reading the rest)."""

    period: Period
    start: int
    end: int


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _latest_month(month: int, latest: date, year: int | None) -> date:
    """The named month in ``year``, else its latest occurrence up to the data's last day."""
    if year is not None:
        return date(year, month, 1)
    return date(latest.year if month <= latest.month else latest.year - 1, month, 1)


def _year(text: str | None) -> int | None:
    return int(text) if text else None  # "" (an empty group) too: no year named


def find_period(text: str, latest: date) -> Found | None:
    """The first period named in ``text`` (lower case), relative to ``latest`` (the last data day)."""
    end = latest + timedelta(days=1)
    for pattern, build in _PATTERNS:
        match = re.search(pattern, text)
        if match is not None:
            period = build(match, latest, end)
            if period is not None:
                return Found(period, match.start(), match.end())
    return None


def _today(_m: re.Match[str], latest: date, end: date) -> Period:
    return Period(latest, end, f"on {latest:%Y-%m-%d}, the latest day with data")


def _yesterday(_m: re.Match[str], latest: date, _end: date) -> Period:
    day = latest - timedelta(days=1)
    return Period(day, latest, f"on {day:%Y-%m-%d}, the day before the latest day with data")


def _this(m: re.Match[str], latest: date, end: date) -> Period:
    unit = m.group(1)
    if unit == "week":
        return Period(latest - timedelta(days=latest.weekday()), end, "this week (to the latest day with data)")
    if unit == "month":
        return Period(_month_start(latest), end, f"{latest:%B %Y} so far")
    if unit == "quarter":
        start = _quarter_start(latest)
        return Period(start, end, f"Q{(start.month - 1) // 3 + 1} {start.year} so far")
    return Period(date(latest.year, 1, 1), end, f"{latest.year} so far")


def _last(m: re.Match[str], latest: date, _end: date) -> Period:
    unit = m.group(1)
    if unit == "week":
        start = latest - timedelta(days=latest.weekday() + 7)
        return Period(start, start + timedelta(days=7), "last week")
    if unit == "month":
        start = _add_months(_month_start(latest), -1)
        return Period(start, _month_start(latest), f"{start:%B %Y}")
    if unit == "quarter":
        this = _quarter_start(latest)
        start = _add_months(this, -3)
        return Period(start, this, f"Q{(start.month - 1) // 3 + 1} {start.year}")
    return Period(date(latest.year - 1, 1, 1), date(latest.year, 1, 1), f"{latest.year - 1}")


def _recent(m: re.Match[str], latest: date, end: date) -> Period | None:
    count_text, unit = m.group(1), m.group(2)
    count = int(count_text) if count_text and count_text.isdigit() else NUMBER_WORDS.get(count_text or "a", 1)
    if count <= 0 or count > 5000:
        return None
    days = count * UNITS[unit]
    said = f"the last {count} {unit if count != 1 else unit.rstrip('s')}"
    return Period(end - timedelta(days=days), end, said + " of data")


def _between(m: re.Match[str], latest: date, _end: date) -> Period | None:
    first, second, month, year = int(m.group(1)), int(m.group(2)), MONTHS[m.group(3)], _year(m.group(4))
    start_month = _latest_month(month, latest, year)
    try:
        start, stop = start_month.replace(day=first), start_month.replace(day=second)
    except ValueError:
        return None
    if stop < start:
        return None
    return Period(start, stop + timedelta(days=1), f"from {start:%d} to {stop:%d %B %Y}")


def _month_named(m: re.Match[str], latest: date, _end: date) -> Period:
    start = _latest_month(MONTHS[m.group(1)], latest, _year(m.group(2)))
    return Period(start, _add_months(start, 1), f"{start:%B %Y}")


def _since(m: re.Match[str], latest: date, end: date) -> Period:
    start = _latest_month(MONTHS[m.group(1)], latest, _year(m.group(2)))
    return Period(start, end, f"since {start:%B %Y}")


def _quarter(m: re.Match[str], latest: date, _end: date) -> Period:
    number = int(m.group(1))
    year = _year(m.group(2)) or (latest.year if 3 * (number - 1) + 1 <= latest.month else latest.year - 1)
    start = date(year, 3 * (number - 1) + 1, 1)
    return Period(start, _add_months(start, 3), f"Q{number} {year}")


def _year_named(m: re.Match[str], _latest: date, _end: date) -> Period:
    year = int(m.group(1))
    return Period(date(year, 1, 1), date(year + 1, 1, 1), f"{year}")


_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _quarter_words(m: re.Match[str], latest: date, _end: date) -> Period:
    number = _ORDINAL[m.group(1)]
    year = _year(m.group(2)) or (latest.year if 3 * (number - 1) + 1 <= latest.month else latest.year - 1)
    start = date(year, 3 * (number - 1) + 1, 1)
    return Period(start, _add_months(start, 3), f"Q{number} {year}")


Builder = Callable[[re.Match[str], date, date], Period | None]
_PATTERNS: tuple[tuple[str, Builder], ...] = (
    (r"\bbetween (?:the )?(\d{1,2})(?:st|nd|rd|th)? and (?:the )?(\d{1,2})(?:st|nd|rd|th)? (?:of )?" + MONTH
     + r"(?: (\d{4}))?\b", _between),
    (r"\b(?:in |during |for )?q([1-4])(?: (\d{4}))?\b", _quarter),
    (r"\b(?:in |during )?(?:the )?(first|second|third|fourth) quarter(?: (?:of )?(\d{4}))?\b", _quarter_words),
    (r"\bsince " + MONTH + r"(?: (\d{4}))?\b", _since),
    (r"\b(?:the |over the |in the |during the |for the )?(?:last|past|previous) (\d+|one|two|three|four|five|six|"
     r"seven|eight|nine|ten|twelve|thirty|ninety) (days?|weeks?|months?|quarters?|years?)\b", _recent),
    (r"\b(?:this|current) (week|month|quarter|year)\b", _this),
    (r"\b(?:last|previous|past) (week|month|quarter|year)\b", _last),
    (r"\btoday\b", _today),
    (r"\byesterday\b", _yesterday),
    (r"\b(?:in|during|for|of) (?:the month of )?" + MONTH + r"(?: (\d{4}))?\b", _month_named),
    (r"\b" + MONTH + r" (\d{4})\b", _month_named),
    # A bare month name, but not "may" (a verb far more often) nor three-letter forms ("mar", "jun").
    (r"\b(january|february|march|april|june|july|august|september|october|november|december)()\b",
     _month_named),
    (r"\b(?:in |during |for |of )?((?:19|20)\d\d)\b", _year_named),
)
