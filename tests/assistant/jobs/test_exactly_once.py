"""Exactly once with a post in flight: the races a slow or rate-limited Slack used to open.

Two schedulers run against one store and the fake Slack with real clocks and a short lease (3 s:
a post may take 2 s, a takeover waits for it to land), while the fake answers 429 with a
``Retry-After`` longer than the lease, or holds the reply past the lease.  Before the claim
protocol of ``assistant.jobs.claims``, each of these produced two digests in the channel.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands import digest as digest_commands
from assistant.commands.base import Context, Request, UsageError
from assistant.errors import UserFacingError
from assistant.jobs.alerts import AlertSender
from assistant.jobs.delivery import Deliverer, Pacer
from assistant.ops.probes import Probes, start_probes
from assistant.slack.app import make_client
from assistant.slack.fake import BOT_USER, FakeSlack
from assistant.slack.poster import SlackPoster
from db import digests
from db.access_models import AuditEntry
from db.digest_models import AlertDelivery, DigestDelivery, DigestSubscription

LEASE = timedelta(seconds=3)
PAST_THE_LEASE = LEASE.total_seconds() + 1.5
"""A Retry-After, or a held reply, longer than the whole lease."""
ROOT = Path(__file__).resolve().parents[3]
CHANNEL = "C0RACE001"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        running.add_channel(CHANNEL, "race", members={BOT_USER})
        yield running


class Clock:
    """Real time plus an offset a test can move forward (the scheduler's notion of now)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _subscribe(engine: Engine, channel: str = CHANNEL, notify: str | None = "U0ADMIN01") -> None:
    now = datetime.now(UTC)
    due = now - timedelta(minutes=5)
    with Session(engine) as session:
        digests.subscribe(session, channel_id=channel, cadence="daily", weekday=0, hour=due.hour, minute=due.minute,
                          timezone="UTC", segment=None, quiet="short", user_id="U0ADMIN01",
                          now=(now - timedelta(days=1)).replace(tzinfo=None), notify_user=notify)


def _deliverer(engine: Engine, fake: FakeSlack, name: str, clock: Callable[[], datetime] | None = None
               ) -> Deliverer:
    return Deliverer(sessionmaker(engine), SlackPoster(make_client("xoxb-test", fake.url)), lease=LEASE,
                     worker=name, pacer=Pacer(0.0), clock=clock or Clock())


def _digests_in(fake: FakeSlack, channel: str = CHANNEL) -> list[dict[str, object]]:
    return [m for m in fake.messages_in(channel) if (m.get("metadata") or {}).get("event_type") == "crm_digest"]


def _charts_in(fake: FakeSlack, channel: str = CHANNEL) -> list[dict[str, object]]:
    return [f for m in fake.messages_in(channel) for f in m.get("files") or []]


def _delivery(engine: Engine) -> DigestDelivery:
    with Session(engine) as session:
        return session.scalars(select(DigestDelivery)).one()


def _two_schedulers_until_done(engine: Engine, fake: FakeSlack, seconds: float = 40) -> None:
    """Scheduler A starts; B ticks every 0.3 s from just after A's first lease would have run out;
    both keep ticking until the digest and its chart are recorded (or time is up)."""
    stop = time.monotonic() + seconds

    def done() -> bool:
        delivery = _delivery(engine)
        return delivery.status == "posted" and bool(delivery.chart_file_id) and \
            not str(delivery.chart_file_id).startswith(digests.CHART_CLAIM)

    def ticking(name: str, start_after: float) -> None:
        deliverer = _deliverer(engine, fake, name)
        time.sleep(start_after)
        while time.monotonic() < stop:
            deliverer.run_due()
            if done():
                return
            time.sleep(0.3)

    threads = [threading.Thread(target=ticking, args=("scheduler-a", 0.0)),
               threading.Thread(target=ticking, args=("scheduler-b", LEASE.total_seconds() + 0.5))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    assert done(), "the digest was not delivered in time"


def _one_digest_one_chart_one_record(engine: Engine, fake: FakeSlack) -> None:
    [message] = _digests_in(fake)
    assert len(_charts_in(fake)) == 1
    delivery = _delivery(engine)
    assert delivery.status == "posted" and delivery.message_ts == message["ts"]
    [chart_message] = [m for m in fake.messages_in(CHANNEL) if m.get("files")]
    assert chart_message["thread_ts"] == message["ts"]  # the chart sits in the recorded digest's thread
    with Session(engine) as session:  # (the shared store keeps earlier tests' entries: this digest's only)
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "digest",
                                                           AuditEntry.channel_id == CHANNEL,
                                                           AuditEntry.at >= delivery.claimed_at)).all()
    assert len(entries) <= 1  # a reconciled digest has its entry from the attempt that posted, or none


def test_a_retry_after_longer_than_the_lease_never_lets_two_schedulers_post(store: Engine, fake: FakeSlack) -> None:
    _subscribe(store)
    fake.fail_next("chat.postMessage", status=429, retry_after=PAST_THE_LEASE, channel=CHANNEL)
    started = time.monotonic()
    _two_schedulers_until_done(store, fake)
    _one_digest_one_chart_one_record(store, fake)
    assert len(fake.calls_to("chat.postMessage.failed")) >= 1
    assert time.monotonic() - started >= PAST_THE_LEASE  # Retry-After was honoured, by someone


@pytest.mark.parametrize("act_first", [True, False], ids=["stored-then-slow-reply", "stored-late-within-settle"])
def test_a_reply_held_past_the_lease_is_reconciled_not_posted_again(store: Engine, fake: FakeSlack,
                                                                   act_first: bool) -> None:
    _subscribe(store)
    # Stored at once and answered after more than the lease; or stored 2.5 s late (inside the post's 2 s plus
    # the 1 s that a takeover waits for a received request to land).
    fake.hold_reply("chat.postMessage", seconds=PAST_THE_LEASE if act_first else 2.5,
                    act_first=act_first, channel=CHANNEL)
    _two_schedulers_until_done(store, fake)
    _one_digest_one_chart_one_record(store, fake)
    assert _delivery(store).attempts >= 2  # taken over (reconciled), not posted twice


def test_a_chart_upload_rate_limited_or_held_past_the_lease_is_uploaded_once(store: Engine,
                                                                           fake: FakeSlack) -> None:
    _subscribe(store)
    fake.fail_next("files.getUploadURLExternal", status=429, retry_after=PAST_THE_LEASE)
    fake.hold_reply("files.completeUploadExternal", seconds=PAST_THE_LEASE)
    _two_schedulers_until_done(store, fake)
    _one_digest_one_chart_one_record(store, fake)


def test_an_alert_rate_limited_past_its_deadline_is_said_once_without_sleeping(store: Engine,
                                                                             fake: FakeSlack) -> None:
    from tests.assistant.jobs.test_alerts import _alert  # the same command a user types

    fake.add_channel("C0ALERTS1", "alerts", kind="private", members={BOT_USER})
    _alert("add large-order --factor 1.5 --min-value 100 --max-per-hour 100", store)
    fake.fail_next("chat.postMessage", status=429, retry_after=600, channel="C0ALERTS1", times=1)
    senders = [AlertSender(sessionmaker(store), SlackPoster(make_client("xoxb-test", fake.url))) for _ in range(2)]
    started = time.monotonic()
    threads = [threading.Thread(target=sender.run) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert time.monotonic() - started < 60  # nobody slept through a 600 s Retry-After
    posts = [str(m["text"]) for m in fake.messages_in("C0ALERTS1")]
    assert len(posts) == len(set(posts))  # each alert at most once
    with Session(store) as session:
        states = dict(session.execute(select(AlertDelivery.id, AlertDelivery.status)).all())
    assert list(states.values()).count("failed") == 1 and len(posts) == list(states.values()).count("posted")


@pytest.mark.parametrize("cause", ["bot removed", "channel archived"])
def test_a_failed_digest_is_posted_in_the_same_period_once_the_cause_is_fixed(store: Engine, fake: FakeSlack,
                                                                             cause: str) -> None:
    _subscribe(store)
    (fake.remove_bot if cause == "bot removed" else fake.archive)(CHANNEL)
    clock = Clock()
    deliverer = _deliverer(store, fake, "scheduler-a", clock)
    assert len(deliverer.run_due().failed) == 1
    told = [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "U0ADMIN01"]
    assert len(told) == 1 and "could not be posted" in told[0]
    listed = digest_commands.list_subscriptions(_context(store), CHANNEL).text
    assert "*failed*" in listed and "tried again from" in listed
    (fake.add_bot if cause == "bot removed" else fake.unarchive)(CHANNEL)
    assert deliverer.run_due().summary().startswith("0 posted")  # not before its retry time
    clock.offset += timedelta(minutes=1, seconds=1)
    report = deliverer.run_due()
    assert len(report.posted) == 1 and len(_digests_in(fake)) == 1 and len(_charts_in(fake)) == 1
    assert _delivery(store).status == "posted"
    with Session(store) as session:
        assert session.scalars(select(DigestSubscription)).one().status == "active"
    assert "; last: " in (listed := digest_commands.list_subscriptions(_context(store), CHANNEL).text)
    assert "posted" in listed and "failing" not in listed


def test_posted_then_crashed_then_bot_removed_ends_posted_and_nobody_is_told_it_failed(store: Engine,
                                                                                     fake: FakeSlack) -> None:
    _subscribe(store)
    clock = Clock()
    fake.lose_next_reply("chat.postMessage", channel=CHANNEL)  # Slack stores it; the reply never comes
    first = _deliverer(store, fake, "scheduler-a", clock).run_due()
    assert first.retrying and len(_digests_in(fake)) == 1
    fake.remove_bot(CHANNEL)
    clock.offset += LEASE + timedelta(seconds=1)
    second = _deliverer(store, fake, "scheduler-b", clock).run_due()
    assert second.failed and not second.posted and len(_digests_in(fake)) == 1
    told = [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "U0ADMIN01"]
    assert len(told) == 1 and "could not be checked" in told[0] and "could not be posted (" not in told[0]
    fake.add_bot(CHANNEL)
    clock.offset += timedelta(minutes=1, seconds=1)
    third = _deliverer(store, fake, "scheduler-b", clock).run_due()
    assert len(third.reconciled) == 1 and not third.posted
    assert len(_digests_in(fake)) == 1 and len(_charts_in(fake)) == 1
    assert _delivery(store).status == "posted" and _delivery(store).message_ts == _digests_in(fake)[0]["ts"]


def _context(engine: Engine, first_admin: str | None = None, operator: str | None = None) -> Context:
    return Context(session_factory=sessionmaker(engine), clock=lambda: datetime.now(UTC), default_role="admin",
                   first_admin=first_admin, admins=frozenset({first_admin} if first_admin else set()),
                   operator=operator)


def test_subscriptions_made_at_the_terminal_tell_their_owner(store: Engine, fake: FakeSlack) -> None:
    fake.add_user("U0JANE001", "jane")
    fake.add_user("U0BOSS001", "boss")
    fake.add_channel("C0TERM001", "term", members={BOT_USER})
    fake.add_channel("C0TERM002", "term2", members={BOT_USER})
    at_terminal = Request(user_id="cli", channel_id="C0TERM001", text="subscribe daily --notify <@U0JANE001>")
    digest_commands.run(at_terminal, _context(store, operator="cli"))
    digest_commands.run(Request(user_id="cli", channel_id="C0TERM002", text="subscribe daily"),
                        _context(store, first_admin="U0BOSS001", operator="cli"))
    with pytest.raises(UsageError, match="--notify"):  # nobody to tell: said, not stored silently
        digest_commands.run(Request(user_id="cli", channel_id="C0TERM001", text="subscribe daily"),
                            _context(store, operator="cli"))
    with Session(store) as session:
        owners = dict(session.execute(select(DigestSubscription.channel_id, DigestSubscription.notify_user)).all())
        for sub in session.scalars(select(DigestSubscription)):  # make them due now
            due = datetime.now(UTC) - timedelta(minutes=5)
            sub.hour, sub.minute, sub.updated_at = due.hour, due.minute, due.replace(tzinfo=None) - timedelta(days=1)
        session.commit()
    assert owners == {"C0TERM001": "U0JANE001", "C0TERM002": "U0BOSS001"}
    fake.archive("C0TERM001")
    fake.remove_bot("C0TERM002")
    assert len(_deliverer(store, fake, "scheduler-a").run_due().failed) == 2
    told = {str(c.params.get("channel")): c.params["text"] for c in fake.calls_to("chat.postMessage")
            if str(c.params.get("channel")).startswith("U0")}
    assert set(told) == {"U0JANE001", "U0BOSS001"}
    assert "is_archived" in told["U0JANE001"] and "not_in_channel" in told["U0BOSS001"]


def test_a_second_process_on_the_same_health_port_gets_a_message_naming_the_setting(store: Engine) -> None:
    first = start_probes(Probes(store), 0, host="127.0.0.1")
    try:
        with pytest.raises(UserFacingError, match=rf"CRM_HEALTH_PORT {first.effective_port} is already in use"):
            start_probes(Probes(store), int(first.effective_port), host="127.0.0.1")
    finally:
        first.close()


def test_a_second_scheduler_on_the_host_stops_with_a_message_not_a_traceback(store: Engine) -> None:
    with socket.socket() as taken:  # the first scheduler's health port
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": store.url.render_as_string(hide_password=False),
               "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": "http://127.0.0.1:9/api/",
               "CRM_HEALTH_PORT": str(port)}
        result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "scheduler"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"CRM_HEALTH_PORT {port} is already in use" in result.stderr and "Traceback" not in result.stderr


def test_a_failed_digest_fixed_after_the_grace_period_is_still_posted_within_the_retry_window(
        store: Engine, fake: FakeSlack) -> None:
    _subscribe(store)
    fake.remove_bot(CHANNEL)
    clock = Clock()
    deliverer = _deliverer(store, fake, "scheduler-a", clock)  # grace 2 h, retry window 12 h (the defaults)
    assert len(deliverer.run_due().failed) == 1
    fake.add_bot(CHANNEL)
    clock.offset += timedelta(hours=3)  # the bot invited back three hours later
    assert len(deliverer.run_due().posted) == 1 and len(_digests_in(fake)) == 1
    clock.offset += timedelta(hours=10)
    fake.remove_bot(CHANNEL)
    assert deliverer.run_due().summary().startswith("0 posted, 0 found already posted, 0 skipped, 0 failed")
