"""Follow-up reminders delivered exactly once against the fake Slack: two schedulers racing over
a thousand reminders due in the same minute, a scheduler killed mid-post (real SIGKILL), a
restart after the due time (within the grace: sent; after it: missed, and listed), a Slack
that rate-limits, an owner who left, and due times across daylight-saving changes in two zones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.when import later, read_when
from assistant.jobs.delivery import Pacer
from assistant.jobs.reminders import ReminderReport, ReminderSender
from assistant.slack.app import make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.poster import SlackPoster
from db import follow_ups
from db.models import Customer
from db.work_models import FollowUp

ROOT = Path(__file__).resolve().parents[3]
LEASE = timedelta(seconds=3)


class Clock:
    """Real time plus an offset the test moves (the scheduler's now)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class RecordingPacer(Pacer):
    """The product's pacer, noting when each post to a conversation was let through."""

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.passed: list[tuple[str, float]] = []

    def wait(self, channel: str) -> None:
        super().wait(channel)
        self.passed.append((channel, time.monotonic()))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        yield running


def _owners(fake: FakeSlack, count: int) -> list[str]:
    owners = [f"U0OWN{i:04d}" for i in range(count)]
    for owner in owners:
        fake.add_user(owner, owner.lower())
    return owners


def _due(engine: Engine, owners: list[str], per_owner: int, due_at: datetime) -> None:
    """``per_owner`` follow-ups each for ``owners``, all due at ``due_at`` (naive UTC)."""
    with Session(engine) as session:
        first = len(session.scalars(select(Customer.id)).all())
        customers = [Customer(external_id=f"{20000 + first + i}", name=f"Customer {i}", owner=owners[i % len(owners)])
                     for i in range(len(owners) * per_owner)]
        session.add_all(customers)
        session.flush()
        for customer in customers:
            follow_ups.add(session, customer, customer.owner or "", customer.owner or "", due_at, "Europe/London",
                           f"call {customer.external_id}", due_at - timedelta(days=1), f"test:{customer.external_id}")
        session.commit()


def _sender(engine: Engine, fake: FakeSlack, name: str, clock: Clock | None = None,
            pacer: Pacer | None = None, grace: timedelta = timedelta(hours=1)) -> ReminderSender:
    return ReminderSender(sessionmaker(engine), SlackPoster(make_client("xoxb-test", fake.url)), clock=clock or Clock(),
                          lease=LEASE, worker=name, pacer=pacer or Pacer(0.0), grace=grace)


def _reminders(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages_in(user) if (m.get("metadata") or {}).get("event_type") == "crm_follow_up"]


def _rows(engine: Engine) -> list[FollowUp]:
    with Session(engine) as session:
        return list(session.scalars(select(FollowUp).order_by(FollowUp.id)))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(("owners", "per_owner"), [(50, 20)])
def test_a_thousand_reminders_due_in_one_minute_reach_two_racing_schedulers_once_each_paced(
        engine: Engine, fake: FakeSlack, owners: int, per_owner: int) -> None:
    people = _owners(fake, owners)
    _due(engine, people, per_owner, _now().replace(second=0, microsecond=0) - timedelta(seconds=1))
    interval = 0.05
    pacers = [RecordingPacer(interval), RecordingPacer(interval)]
    senders = [_sender(engine, fake, f"scheduler-{i}", pacer=pacers[i]) for i in range(2)]
    reports: list[ReminderReport] = []
    threads = [threading.Thread(target=lambda s=s: reports.append(s.run())) for s in senders]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    took = time.monotonic() - started
    assert sum(len(r.sent) for r in reports) == owners * per_owner, [r.summary() for r in reports]
    for person in people:
        tokens = [m["metadata"]["event_payload"]["token"] for m in _reminders(fake, person)]
        assert len(tokens) == per_owner == len(set(tokens))
    assert {r.reminder for r in _rows(engine)} == {"sent"}
    gaps = []
    for pacer in pacers:  # each scheduler let at most one post a conversation through per interval
        by_channel: dict[str, list[float]] = defaultdict(list)
        for channel, at in pacer.passed:
            by_channel[channel].append(at)
        gaps += [b - a for times in by_channel.values() for a, b in pairwise(times)]
    assert gaps and min(gaps) >= interval * 0.95  # (one scheduler may have claimed nearly everything)
    # Owners take turns, so a thousand reminders are not a thousand pacing waits in a row.
    assert took < owners * per_owner * interval, took


def _run(engine: Engine, fake: FakeSlack, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake.url, "CRM_DIGEST_LEASE_SECONDS": "1",
           **(extra or {})}
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "reminders", "run"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize(("kill_at", "found_sent"), [
    pytest.param("conversations.open", False, marks=pytest.mark.full_length),  # nothing posted: a plain takeover
    ("chat.postMessage", True)])
def test_a_scheduler_killed_mid_post_leaves_a_reminder_sent_exactly_once(engine: Engine, fake: FakeSlack,
                                                                         kill_at: str, found_sent: bool) -> None:
    [owner] = _owners(fake, 1)
    _due(engine, [owner], 1, _now() - timedelta(minutes=1))
    hold = threading.Event()
    fake.lose_next_reply(kill_at, hold=hold)
    process = _run(engine, fake)
    try:
        fake.wait_for(lambda calls: any(c.method == kill_at for c in calls), timeout=60)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        hold.set()
    [claimed] = _rows(engine)
    assert claimed.reminder == "claimed" and claimed.lease_until is not None
    time.sleep(max(0.0, (claimed.lease_until - _now()).total_seconds()) + 0.5)  # the takeover waits out the lease
    rerun = _run(engine, fake)
    output, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output
    assert len(_reminders(fake, owner)) == 1, output
    assert ("1 found already sent" in output) is found_sent, output
    [row] = _rows(engine)
    assert row.reminder == "sent" and row.message_ts == _reminders(fake, owner)[0]["ts"]


def test_a_restart_after_the_due_time_sends_within_the_grace_and_marks_the_rest_missed(engine: Engine,
                                                                                    fake: FakeSlack) -> None:
    owners = _owners(fake, 2)
    _due(engine, owners[:1], 1, _now() - timedelta(minutes=30))  # down for half an hour: still sent
    _due(engine, owners[1:], 1, _now() - timedelta(hours=3))  # down for three hours: missed
    report = _sender(engine, fake, "restarted").run()
    assert (len(report.sent), len(report.missed)) == (1, 1)
    assert len(_reminders(fake, owners[0])) == 1 and _reminders(fake, owners[1]) == []
    missed = [r for r in _rows(engine) if r.reminder == "missed"]
    assert len(missed) == 1 and missed[0].state == "open" and "not running" in (missed[0].detail or "")
    with Session(engine) as session:  # still listed for its owner, as /crm tasks shows it
        [(listed, _)] = follow_ups.open_of(session, owners[1], 10)
        assert listed.reminder == "missed"
    assert _sender(engine, fake, "again").run().sent == []


def test_rate_limits_are_waited_out_and_a_departed_owner_is_a_stated_failure(engine: Engine,
                                                                             fake: FakeSlack) -> None:
    owners = _owners(fake, 2)
    fake.add_user(owners[1], "left", deleted=True)
    _due(engine, owners, 1, _now() - timedelta(minutes=1))
    fake.fail_next("chat.postMessage", retry_after=30)  # longer than a post may take: given back, retried later
    clock = Clock()
    sender = _sender(engine, fake, "only", clock=clock)
    first = sender.run()
    assert (len(first.retrying), len(first.failed)) == (1, 1)
    clock.offset = timedelta(seconds=40)
    assert len(sender.run().sent) == 1 and len(_reminders(fake, owners[0])) == 1
    failed = [r for r in _rows(engine) if r.reminder == "failed"]
    assert len(failed) == 1 and "deactivated" in (failed[0].detail or "")


@pytest.mark.parametrize(("zone", "asked_on", "typed", "due_utc", "snoozed_utc"), [
    # New York springs forward on Sunday 14 March 2027: Friday is EST (UTC-5), Monday EDT (UTC-4).
    ("America/New_York", datetime(2027, 3, 12, 15, 0), "monday 10:00", datetime(2027, 3, 15, 14, 0),
     datetime(2027, 3, 16, 14, 0)),
    # London springs forward on Sunday 28 March 2027: Friday GMT, Monday BST (UTC+1).
    ("Europe/London", datetime(2027, 3, 26, 12, 0), "monday 10:00", datetime(2027, 3, 29, 9, 0),
     datetime(2027, 3, 30, 9, 0)),
    # ...and falls back on Sunday 31 October 2027; a snooze of a week from Friday keeps 10:00 local.
    ("Europe/London", datetime(2027, 10, 29, 8, 0), "friday 10:00", datetime(2027, 10, 29, 9, 0),
     datetime(2027, 11, 5, 10, 0)),
])
def test_due_times_and_snoozes_follow_the_owners_clock_across_daylight_saving(
        engine: Engine, fake: FakeSlack, zone: str, asked_on: datetime, typed: str, due_utc: datetime,
        snoozed_utc: datetime) -> None:
    due = read_when(typed, zone, asked_on)
    assert due.utc == due_utc and due.local.hour == 10
    days = 7 if typed.startswith("friday") else 1
    assert later(due_utc, zone, days) == snoozed_utc
    [owner] = _owners(fake, 1)
    _due(engine, [owner], 1, due.utc)
    clock = Clock()
    clock.offset = due.utc.replace(tzinfo=UTC) - datetime.now(UTC) - timedelta(seconds=30)
    sender = _sender(engine, fake, "dst", clock=clock)
    assert sender.run().sent == []  # half a minute early
    clock.offset += timedelta(seconds=31)
    assert len(sender.run().sent) == 1
