"""When a subscription's digest is due, in its own time zone, and which period that is.

APScheduler's ``CronTrigger`` does the calendar arithmetic (including daylight-saving changes);
the period key is the local ISO week or day of the fire time, so a local time that happens
twice when clocks go back still names one period, and the delivery's unique constraint posts
it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from assistant.errors import UserFacingError
from db.digest_models import DigestSubscription

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/London``), or a usage error naming examples."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserFacingError(f"unknown time zone {name[:60]!r}: use an IANA name such as Europe/London, "
                              "America/New_York or UTC") from exc


def trigger(sub: DigestSubscription) -> CronTrigger:
    """The subscription's schedule as a cron trigger in its time zone."""
    days = WEEKDAYS[sub.weekday] if sub.cadence == "weekly" else "*"
    return CronTrigger(day_of_week=days, hour=sub.hour, minute=sub.minute, timezone=zone(sub.timezone))


def latest_fire(sub: DigestSubscription, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (in UTC), or ``None`` if none since the
    schedule was set."""
    cron = trigger(sub)
    since = sub.updated_at.replace(tzinfo=UTC)
    fire = cron.get_next_fire_time(None, max(since, now - timedelta(days=8)))
    latest = None
    while fire is not None and fire <= now:
        latest = fire.astimezone(UTC)  # (a local time in the fold never compares equal across zones)
        # Step in UTC: adding to a zone-aware time is wall-clock arithmetic that forgets which of a
        # clocks-go-back night's two 01:30s it was, and APScheduler would return the second one
        # for ever.  (previous_fire_time stays None for the same reason.)
        fire = cron.get_next_fire_time(None, fire.astimezone(UTC) + timedelta(seconds=1))
    return latest


def next_fire(sub: DigestSubscription, now: datetime) -> datetime:
    """The next scheduled time after ``now`` (aware)."""
    fire = trigger(sub).get_next_fire_time(None, now.astimezone(UTC) + timedelta(seconds=1))
    if fire is None:  # a daily or weekly cron always fires again; None would mean a corrupt schedule
        raise ValueError(f"subscription {sub.id} has a schedule that never fires: {describe(sub)}")
    return fire


def period_key(sub: DigestSubscription, fire: datetime) -> str:
    """``2026-W48`` for a weekly digest, ``2026-11-24`` for a daily one, in the local calendar."""
    local = fire.astimezone(zone(sub.timezone))
    if sub.cadence == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local:%Y-%m-%d}"


@dataclass(frozen=True)
class Due:
    """A digest owed: the subscription, when it was due (UTC) and its period."""

    subscription: DigestSubscription
    fire: datetime
    period_key: str

    def late_by(self, now: datetime) -> timedelta:
        return now - self.fire


def due_now(subs: list[DigestSubscription], now: datetime) -> list[Due]:
    """The latest owed period of each subscription (at most one each: never a burst of old ones)."""
    owed = []
    for sub in subs:
        fire = latest_fire(sub, now)
        if fire is not None:
            owed.append(Due(sub, fire, period_key(sub, fire)))
    return owed


def describe(sub: DigestSubscription) -> str:
    """``weekly on Mon at 09:00 Europe/London`` / ``daily at 08:30 UTC``."""
    when = f"on {WEEKDAYS[sub.weekday].capitalize()} " if sub.cadence == "weekly" else ""
    return f"{sub.cadence} {when}at {sub.hour:02d}:{sub.minute:02d} {sub.timezone}"
