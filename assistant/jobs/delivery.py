"""Posting digests exactly once, whatever happens (restart, crash, two schedulers, 429, network).

The protocol (see ``db.digests`` and ``assistant.jobs.claims``): claim the (subscription, period)
row, then, if an earlier attempt may have posted, look for its token in the channel; fence the
claim and post with a deadline, the token in the message metadata; record the ``ts``.  A crash
before the post leaves a claim that a later run takes over and posts; a crash after the post
leaves a claim whose message the taker finds and records.  Transient errors give the claim back
once the post in flight can no longer land; permanent ones (the bot is not in the channel, the
channel is archived) mark the delivery failed, retried every minute within the retry window, and
tell whoever is to be told, once.

Slack is behind the ``Poster`` protocol, so this module is tested against the fake Slack and
knows nothing of slack_sdk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.jobs.claims import LeaseTimes
from assistant.jobs.poster import MEMBER_ID, PRIVATE_KINDS, Poster, PostError
from assistant.jobs.schedule import Due, due_now
from assistant.render.chart import trend_chart
from assistant.render.digest import digest_message
from assistant.views.digest import Digest, build_digest
from db import access, digests
from db.clock import Clock, store_time, utc_now
from db.digest_models import DigestSubscription
from db.digests import SessionFactory
from db.locks import process_name

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_digest"
LEASE = timedelta(minutes=5)
FAILED_RETRY_EVERY = timedelta(minutes=1)
"""How often a failed digest is tried again within its retry window (the fix may come any time)."""


@dataclass
class RunReport:
    """What one pass over the subscriptions did."""

    posted: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    """Claims another scheduler took over before this one posted (it posted nothing)."""
    charts: int = 0

    def summary(self) -> str:
        return (f"{len(self.posted)} posted, {len(self.reconciled)} found already posted, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed, {len(self.retrying)} to retry, {self.charts} charts"
                + (f", {len(self.lost)} left to another scheduler" if self.lost else ""))


class Pacer:
    """At most one message per ``interval`` per channel (Slack's chat.postMessage guidance)."""

    def __init__(self, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = interval
        self._sleep = sleep
        self._last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        last = self._last.get(channel)
        if last is not None:
            left = self.interval - (time.monotonic() - last)
            if left > 0:
                self._sleep(left)
        self._last[channel] = time.monotonic()


@dataclass
class Deliverer:
    """Delivers owed digests through a ``Poster``; one instance per scheduler process."""

    session_factory: SessionFactory
    poster: Poster
    clock: Clock = utc_now
    grace: timedelta = timedelta(hours=2)
    lease: timedelta = LEASE
    retry_window: timedelta = timedelta(hours=12)
    """A failed digest is tried again until this long after its time (``CRM_DIGEST_RETRY_HOURS``)."""
    min_group: int = 5
    """Movements of fewer customers are summed into one line in channels (``CRM_MIN_GROUP_SIZE``)."""
    worker: str = field(default_factory=process_name)
    pacer: Pacer = field(default_factory=Pacer)
    _digests: dict[tuple[str, str | None], Digest | UserFacingError] = field(default_factory=dict)
    _charts: dict[tuple[str, str | None], bytes] = field(default_factory=dict)

    @property
    def times(self) -> LeaseTimes:
        """Post deadline, settling time and lease cover, from the lease (``assistant.jobs.claims``)."""
        return LeaseTimes(self.lease)

    def run_due(self, channel_id: str | None = None) -> RunReport:
        """Post every digest owed now (once each; only ``channel_id``'s if given), then upload the
        charts of what was posted."""
        now = self.clock()
        self._digests.clear()  # built once per pass and shared by every channel that wants the same one
        self._charts.clear()
        report = RunReport()
        with self.session_factory() as session:
            subs = digests.subscriptions(session, channel_id)
            for due in due_now(subs, now):
                self._deliver(session, due, now, report)
        self.upload_charts(report)
        return report

    def _digest(self, session: Session, sub: DigestSubscription) -> Digest | UserFacingError:
        key = (sub.cadence, sub.segment)
        if key not in self._digests:
            try:
                self._digests[key] = build_digest(session, sub.cadence, sub.segment,
                                                  now=store_time(self.clock()))
            except UserFacingError as exc:
                self._digests[key] = exc
        return self._digests[key]

    def _deliver(self, session: Session, due: Due, now: datetime, report: RunReport) -> None:
        sub, label = due.subscription, f"{due.subscription.channel_id} {due.period_key}"
        naive_now, fire = store_time(now), store_time(due.fire)
        late = due.late_by(now) > self.grace
        claim = digests.claim(session, sub, due.period_key, fire, self.worker, naive_now, self.lease,
                              may_start=not late, retry_failed_until=fire + self.retry_window)
        if claim is None:
            if late and digests.record_missed(session, sub, due.period_key, fire, self.worker, naive_now,
                                              f"missed: due {fire:%Y-%m-%d %H:%M} UTC, more than "
                                              f"{self.grace} before the scheduler ran"):
                log.warning("digest %s missed (due %s UTC, over the grace period): skipped", label, fire)
                report.skipped.append(label)
            return  # posted already, or another scheduler holds it
        try:
            if claim.must_reconcile and self._reconciled(session, sub, claim, label, report):
                return
        except PostError as exc:  # we cannot look in the channel: whether it was posted is unknown
            self._post_failed(session, sub, claim, exc, label, report, checking=True)
            return
        if late and not claim.retrying_failure:  # a crashed attempt that never posted, found too late
            digests.finish(session, claim.delivery_id, "skipped", f"missed: due {fire:%Y-%m-%d %H:%M} UTC, "
                                                                  f"not posted within {self.grace}")
            report.skipped.append(label)
            return
        try:
            self._post(session, due, claim, label, report)
        except PostError as exc:
            self._post_failed(session, sub, claim, exc, label, report)

    def _reconciled(self, session: Session, sub: DigestSubscription, claim: digests.Claim, label: str,
                    report: RunReport) -> bool:
        """An earlier attempt may have posted: if its message is in the channel, record it."""
        ts = self.poster.find(sub.channel_id, METADATA_EVENT, claim.token,
                              claim.first_claimed_at - timedelta(minutes=1))
        if ts is None:
            return False
        digests.record_posted(session, claim.delivery_id, ts, store_time(self.clock()))
        if sub.status == "failing":
            digests.mark_healthy(session, sub.id)
        report.reconciled.append(label)
        return True

    def _post(self, session: Session, due: Due, claim: digests.Claim, label: str, report: RunReport) -> None:
        sub = due.subscription
        digest = self._digest(session, sub)
        if isinstance(digest, UserFacingError):
            digests.finish(session, claim.delivery_id, "skipped", str(digest))
            report.skipped.append(label)
            return
        if digest.quiet and sub.quiet == "skip":
            digests.finish(session, claim.delivery_id, "skipped", "quiet period")
            report.skipped.append(label)
            return
        kind = self.poster.channel_kind(sub.channel_id)
        if kind == "shared" and not sub.allow_shared:
            self._refuse_shared(session, sub, claim, label, report)
            return
        names = kind in PRIVATE_KINDS
        message = digest_message(digest, names, 1 if kind == "im" else self.min_group)
        metadata = {"event_type": METADATA_EVENT,
                    "event_payload": {"delivery": claim.delivery_id, "token": claim.token, "period": due.period_key}}
        self.pacer.wait(sub.channel_id)
        fenced_at = store_time(self.clock())
        if not digests.fence(session, claim, self.worker, fenced_at + self.times.cover):
            log.warning("digest %s: another scheduler took the claim over; not posting", label)
            report.lost.append(label)
            return
        ts = self.poster.post(sub.channel_id, message, metadata, within=self.times.post_budget.total_seconds())
        digests.record_posted(session, claim.delivery_id, ts, store_time(self.clock()))
        access.record(session, at=store_time(self.clock()), user_id="crm-bot", channel_id=sub.channel_id,
                      action="digest", what=f"{sub.cadence} digest {due.period_key}",
                      detail={"delivery": claim.delivery_id, "ts": ts, "customers_named":
                              len(digest.risk_jumps) if names else 0})
        session.commit()
        if sub.status == "failing":
            digests.mark_healthy(session, sub.id)
        report.posted.append(label)

    def _post_failed(self, session: Session, sub: DigestSubscription, claim: digests.Claim, exc: PostError,
                     label: str, report: RunReport, checking: bool = False) -> None:
        now = store_time(self.clock())
        if not exc.permanent:
            retry_at = now + self.times.retry_after(exc.retry_after)
            digests.release(session, claim.delivery_id, retry_at, exc.code)
            log.warning("digest %s: %s; will reconcile and retry after %s", label, exc.code, retry_at)
            report.retrying.append(label)
            return
        what = "could not be checked (to see whether it was posted) or posted" if checking else "could not be posted"
        digests.fail(session, claim.delivery_id, f"{what}: {exc.code}", now + FAILED_RETRY_EVERY)
        report.failed.append(label)
        self._tell_once(session, sub, exc.code,
                        f"The digest for <#{sub.channel_id}> {what} ({exc.code}). {exc.advice} Once that is "
                        f"fixed it is posted within a few minutes.".replace("  ", " ").strip())

    def _refuse_shared(self, session: Session, sub: DigestSubscription, claim: digests.Claim, label: str,
                       report: RunReport) -> None:
        """The channel became shared with another organisation: no figures there until an admin allows it."""
        digests.finish(session, claim.delivery_id, "skipped", "shared channel (Slack Connect), not allowed")
        report.skipped.append(label)
        self._tell_once(session, sub, "shared channel",
                        f"The digest for <#{sub.channel_id}> was not posted: the channel is now shared with another "
                        f"organisation (Slack Connect). An admin can allow it with `/crm digest subscribe "
                        f"<#{sub.channel_id}> --allow-shared`, or subscribe another channel.")

    def _tell_once(self, session: Session, sub: DigestSubscription, code: str, reason: str) -> None:
        """Mark the subscription failing and tell whoever is to be told, the first time only."""
        if not digests.mark_failing(session, sub.id, reason):
            return
        who = sub.notify_user or sub.created_by
        if not MEMBER_ID.match(who):  # a subscription from before owners were recorded, made at the terminal
            log.warning("subscription %s failing: %s; nobody to tell (subscribe it again with --notify @person)",
                        sub.id, code)
            return
        log.warning("subscription %s failing: %s; telling %s", sub.id, code, who)
        try:
            self.poster.tell(who, reason)
        except PostError as tell_error:
            log.warning("could not tell %s: %s", who, tell_error.code)

    def upload_charts(self, report: RunReport) -> None:
        """The trend chart into the thread of each digest posted in the last day that lacks one.

        Claimed and fenced like the digest itself (one uploader per chart, a lease that covers the
        upload's deadline), and the thread is checked first, so a chart uploaded just before a
        crash is recorded, not repeated.  A digest whose chart cannot follow stays ``posted``, with
        the reason noted, and the chart is tried again on the next pass.
        """
        now = store_time(self.clock())
        chart_lease = self.times.cover
        with self.session_factory() as session:
            for delivery in digests.charts_to_upload(session, now - timedelta(days=1)):
                sub = session.get(DigestSubscription, delivery.subscription_id)
                digest = self._digest(session, sub) if sub is not None else None
                if not isinstance(digest, Digest) or delivery.message_ts is None:
                    continue
                mine = digests.claim_chart(session, delivery.id, now, chart_lease)
                if mine is None:
                    continue
                filename = f"crm-digest-{delivery.id}.png"
                try:
                    found = self.poster.find_file(delivery.channel_id, delivery.message_ts, filename)
                    if found is None:
                        key = (digest.cadence, digest.segment)
                        if key not in self._charts:
                            self._charts[key] = trend_chart(digest)
                        self.pacer.wait(delivery.channel_id)
                        if digests.fence_chart(session, delivery.id, mine, store_time(self.clock())) is None:
                            log.warning("chart for digest %s: another scheduler took it over", delivery.id)
                            continue
                        found = self.poster.upload_chart(
                            delivery.channel_id, delivery.message_ts, self._charts[key], filename,
                            f"Net revenue per {digest.unit}, {delivery.period_key}",
                            within=self.times.post_budget.total_seconds())
                        report.charts += 1
                    digests.record_chart(session, delivery.id, found)
                except PostError as exc:
                    log.warning("chart for digest %s not uploaded: %s", delivery.id, exc.code)
                    problem = f"posted; the chart could not follow yet ({exc.code}), tried again later"
                    digests.note_chart_problem(session, delivery.id, problem)
