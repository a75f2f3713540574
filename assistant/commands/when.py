"""When a follow-up is due, read from what a person typed, in their own time zone.

``dateparser`` reads the phrase ("friday 10:00", "in 3 days", "tomorrow 9am", "2026-12-10
14:30") as a wall-clock time relative to the asker's local now; this module decides what it
cannot: which words of a sentence are the time, what a day without an hour means (09:00), what a
time that does not exist on a daylight-saving day becomes, and why an impossible or past date
is refused.  Times are stored in UTC; what the person sees is their own zone.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser

from assistant.errors import UserFacingError

DEFAULT_TIME = time(9, 0)
"""The hour of a follow-up given only a day ("friday", "in 3 days"): the start of a working day."""
LONGEST_AHEAD = timedelta(days=2 * 366)
EXAMPLES = "`friday 10:00`, `tomorrow 9am`, `in 3 days` or `2026-12-10 14:30`"

SETTINGS = {"PREFER_DATES_FROM": "future", "RETURN_TIME_AS_PERIOD": True, "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "DMY"}
"""dateparser's reading: a weekday means the next one, 10/12 is the 10th of December."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = tuple(m.lower() for m in calendar.month_name[1:])
DAY_WORDS = ("today", "tomorrow", "yesterday", "ago", "tonight", "noon", "midday", "midnight", "morning", "afternoon",
             "evening")
UNITS = ("minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "day", "days", "week", "weeks",
         "month", "months", "year", "years")
LEADING = ("in", "on", "at", "next", "this", "by", "from", "coming")
"""Words that may open a time ("in 3 days", "on friday") but are not one alone."""
INSIDE = ("a", "an", "of", "the", "am", "pm", "and", "half")
TIME_TOKEN = re.compile(r"^(?:\d{1,2}(?:[:.]\d{2})?(?:am|pm)?|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
                        r"\d{1,2}(?:st|nd|rd|th)|\d{4}|\d{1,3})$")
HOUR_ONLY = re.compile(r"\b(at|by|" + "|".join((*WEEKDAYS, "today", "tomorrow")) + r")\s+(\d{1,2})"
                       r"(?![\d:.]|\s*[ap]m)(?!\s*(?:" + "|".join(UNITS + MONTHS) + r")\b)", re.IGNORECASE)
"""``at 10`` / ``friday 10``: an hour (dateparser would read the 10 as a day of the month)."""
DAY_MONTH = re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>[a-z]{3,9})\b"
                       r"(?:,?\s+(?P<year>\d{4}))?|\b(?P<month2>[a-z]{3,9})\s+(?P<day2>\d{1,2})(?:st|nd|rd|th)?\b"
                       r"(?:,?\s+(?P<year2>\d{4}))?", re.IGNORECASE)
ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b")


def _word(token: str) -> str:
    return token.lower().strip(",.;:!?()")


def _month(name: str) -> int | None:
    name = name.lower()
    for number, month in enumerate(MONTHS, 1):
        if len(name) >= 3 and month.startswith(name):
            return number
    return None


def temporal(token: str) -> bool:
    """Whether a word can be part of a time phrase."""
    word = _word(token)
    return bool(word) and (word in WEEKDAYS or any(w.startswith(word) and len(word) >= 3 for w in WEEKDAYS)
                           or _month(word) is not None or word in DAY_WORDS or word in UNITS
                           or word in LEADING or word in INSIDE or bool(TIME_TOKEN.match(word)))


def _opens(token: str, following: str = "") -> bool:
    """A time phrase starts with something that is a time on its own, or a word like "in" (not one
    right before another: in "check in in 10 days" the first "in" is the task's)."""
    word = _word(token)
    return temporal(token) and word not in INSIDE and not (word in LEADING and _word(following) in LEADING)


def _closes(token: str) -> bool:
    word = _word(token)
    return temporal(token) and word not in LEADING and word not in ("a", "an", "of", "the", "and", "at")


@dataclass(frozen=True)
class When:
    """A due time: in UTC (as stored) and as the person meant it."""

    utc: datetime
    """Naive UTC, as the store keeps times."""
    local: datetime
    zone: str
    note: str = ""
    """What was decided for them ("no time given: 09:00"), said in the preview."""


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone, or UTC for a name this machine does not know (said in the preview)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def impossible_date(phrase: str) -> str | None:
    """"the 31st of February", "2027-02-30": the reason, in words, or ``None``."""
    for match in DAY_MONTH.finditer(phrase):
        month = _month(match.group("month") or match.group("month2") or "")
        if month is None:
            continue
        day = int(match.group("day") or match.group("day2"))
        year_text = match.group("year") or match.group("year2")
        year = int(year_text) if year_text else 2024  # a leap year: 29 February is possible some year
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return f"{calendar.month_name[month]} has no {day}{_ordinal(day)}" + (f" in {year}" if year_text else "")
    for match in ISO_DATE.finditer(phrase):
        year, month, day = (int(match.group(k)) for k in ("year", "month", "day"))
        if not 1 <= month <= 12:
            return f"there is no month {month} in {match.group(0)}"
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return f"{calendar.month_name[month]} {year} has no {day}{_ordinal(day)}"
    return None


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _in_zone(wall: datetime, zone: ZoneInfo) -> tuple[datetime, str]:
    """The wall-clock time in ``zone``; a time the clocks skip becomes the time after the change."""
    local = wall.replace(tzinfo=zone)
    round_trip = local.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != wall:
        return round_trip, (f"{wall:%H:%M} does not exist that day in {zone.key} (the clocks go forward), so "
                            f"{round_trip:%H:%M}")
    if local.replace(fold=1).utcoffset() != local.utcoffset():
        return local, f"the clocks go back that night in {zone.key}: the first {wall:%H:%M}"
    return local, ""


def read_when(phrase: str, zone_name: str, now: datetime) -> When:
    """``phrase`` as a time to come, read in ``zone_name`` at ``now`` (aware or naive UTC)."""
    typed = " ".join(phrase.split())
    if not typed:
        raise UserFacingError(f"say when: {EXAMPLES}")
    impossible = impossible_date(typed)
    if impossible:
        raise UserFacingError(f"{impossible}: say another day, e.g. {EXAMPLES}")
    zone = zone_of(zone_name)
    now_local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    normalised = HOUR_ONLY.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", typed.lower())
    data = DateDataParser(languages=["en"], settings={**SETTINGS, "RELATIVE_BASE": now_local.replace(tzinfo=None)}
                          ).get_date_data(normalised)
    if data.date_obj is None:
        raise UserFacingError(f"I could not read {typed[:60]!r} as a time: try {EXAMPLES}")
    wall = data.date_obj.replace(tzinfo=None, second=0, microsecond=0)
    notes = []
    if data.period not in ("time", "part_of_day"):  # a day, a week or a month, without an hour
        wall = datetime.combine(wall.date(), DEFAULT_TIME)
        notes.append(f"no time given: {DEFAULT_TIME:%H:%M}")
    wall = _today_if_still_to_come(normalised, wall, now_local.replace(tzinfo=None))
    local, shifted = _in_zone(wall, zone)
    if shifted:
        notes.append(shifted)
    if zone.key != zone_name:
        notes.append(f"time zone {zone_name[:40]!r} is not known here, so UTC")
    if local <= now_local:
        raise UserFacingError(f"{local:%a %d %b %Y %H:%M} is in the past (it is {now_local:%a %d %b %H:%M} your time, "
                              f"{zone.key}): say a time to come, e.g. {EXAMPLES}")
    if local - now_local > LONGEST_AHEAD:
        raise UserFacingError(f"{local:%d %b %Y} is more than two years ahead; a follow-up that far out is better "
                              "kept in a calendar")
    return When(local.astimezone(UTC).replace(tzinfo=None), local, zone.key, "; ".join(notes))


def _today_if_still_to_come(phrase: str, wall: datetime, now: datetime) -> datetime:
    """"friday 10:00" said on a Friday at 09:00 means today; dateparser takes the next Friday."""
    today = WEEKDAYS[now.weekday()]
    named = any(_word(w) == today or (len(_word(w)) >= 3 and today.startswith(_word(w))) for w in phrase.split())
    if named and "next" not in phrase and (wall.date() - now.date()).days == 7:
        earlier = wall - timedelta(days=7)
        if earlier > now:
            return earlier
    return wall


def later(now: datetime, zone_name: str, days: int) -> datetime:
    """``days`` later by the calendar of ``zone_name`` (the same local hour across a clock change),
    as naive UTC: what Snooze sets."""
    zone = zone_of(zone_name)
    now_local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    wall = now_local.replace(tzinfo=None, second=0, microsecond=0) + timedelta(days=days)
    local, _ = _in_zone(wall, zone)
    return local.astimezone(UTC).replace(tzinfo=None)


MAX_PHRASE_WORDS = 8


def time_span(words: list[str], now: datetime) -> tuple[int, int] | None:
    """Where in ``words`` the time is: the longest run of time words that reads as a time
    ("call 12748 *friday 10:00* about the quote"), preferring the later of two equally long."""
    parser = DateDataParser(languages=["en"], settings={**SETTINGS, "RELATIVE_BASE": now.replace(tzinfo=None)})
    spans = [(i, j) for i in range(len(words)) for j in range(i + 1, min(len(words), i + MAX_PHRASE_WORDS) + 1)
             if _opens(words[i], words[i + 1] if i + 1 < j else "") and _closes(words[j - 1])
             and all(temporal(w) for w in words[i:j])]
    for i, j in sorted(spans, key=lambda s: (s[1] - s[0], s[0]), reverse=True):
        phrase = HOUR_ONLY.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", " ".join(map(_word, words[i:j])))
        if impossible_date(phrase) or parser.get_date_data(phrase).date_obj is not None:
            return i, j
    return None
