"""Reading a follow-up's time: phrasings, the asker's zone, days without an hour, clock changes,
and the dates that are refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.commands.when import impossible_date, read_when
from assistant.errors import UserFacingError

THURSDAY = datetime(2026, 12, 3, 12, 7)
"""Thursday 3 December 2026, 12:07 UTC."""


@pytest.mark.parametrize(("typed", "zone", "local"), [
    ("friday 10:00", "Europe/London", datetime(2026, 12, 4, 10, 0)),
    ("friday at 10", "America/New_York", datetime(2026, 12, 4, 10, 0)),
    ("fri 10am", "Asia/Tokyo", datetime(2026, 12, 4, 10, 0)),
    ("tomorrow", "Europe/Berlin", datetime(2026, 12, 4, 9, 0)),
    ("in 3 days", "UTC", datetime(2026, 12, 6, 9, 0)),
    ("in 2 hours", "Europe/Berlin", datetime(2026, 12, 3, 15, 7)),
    ("next monday", "UTC", datetime(2026, 12, 7, 9, 0)),
    ("2026-12-10 14:30", "UTC", datetime(2026, 12, 10, 14, 30)),
    ("dec 10 3pm", "UTC", datetime(2026, 12, 10, 15, 0)),
    ("thursday 18:00", "UTC", datetime(2026, 12, 3, 18, 0)),  # today's weekday, still to come: today
    ("thursday 09:00", "UTC", datetime(2026, 12, 10, 9, 0)),  # ...already past: next week
])
def test_phrasings_read_in_the_askers_zone(typed: str, zone: str, local: datetime) -> None:
    due = read_when(typed, zone, THURSDAY)
    assert due.local.replace(tzinfo=None) == local and due.zone == zone
    assert due.utc == due.local.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(("typed", "words"), [
    ("yesterday", "is in the past"), ("today 9:00", "is in the past"), ("31st of February", "February has no 31st"),
    ("february 30 2027", "February has no 30th in 2027"), ("2027-02-29", "February 2027 has no 29th"),
    ("2027-13-01", "no month 13"), ("whenever suits", "could not read"), ("", "say when"),
    ("2031-01-01 10:00", "more than two years ahead"),
])
def test_impossible_or_past_times_are_refused_with_the_reason(typed: str, words: str) -> None:
    with pytest.raises(UserFacingError, match=words):
        read_when(typed, "UTC", THURSDAY)


def test_a_time_the_clocks_skip_moves_after_the_change_and_the_preview_says_so() -> None:
    due = read_when("2027-03-14 02:30", "America/New_York", THURSDAY)
    assert due.local.replace(tzinfo=None) == datetime(2027, 3, 14, 3, 30) and "does not exist" in due.note
    again = read_when("2027-11-07 01:30", "America/New_York", THURSDAY)
    assert again.utc == datetime(2027, 11, 7, 5, 30) and "clocks go back" in again.note  # the first 01:30 (EDT)


def test_an_unknown_zone_falls_back_to_utc_and_says_so() -> None:
    due = read_when("friday 10:00", "Mars/Olympus", THURSDAY)
    assert due.utc == datetime(2026, 12, 4, 10, 0) and "not known here" in due.note


def test_29_february_is_possible_in_leap_years_only() -> None:
    assert impossible_date("29 february") is None and impossible_date("29 february 2028") is None
    assert impossible_date("29 february 2027") == "February has no 29th in 2027"
