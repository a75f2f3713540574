"""Follow-up reminders, delivered to their owner's direct messages exactly once.

The digests' protocol (``assistant.jobs.claims``), per reminder: claim it (compare-and-set in
``db.follow_ups``), and if an earlier attempt may have posted, look for its token in the owner's
direct messages; fence the claim and post with a deadline, the token in the message metadata;
record the ``ts``.  A scheduler that dies mid-post leaves a claim that another (or the same one,
restarted) takes over once its lease ran out, finds the message or posts it.  A reminder found
more than ``grace`` after its time (crm-bot was down) is marked missed instead of sent late, and
``/crm tasks`` lists it.  Transient errors give the claim back; permanent ones (the owner's
account is deactivated) mark it failed, with the reason, also listed.

Many reminders due in the same minute are sent one owner after another in turn, each owner's
messages paced (``Pacer``), and the pass goes on until nothing it may send is owed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain, zip_longest

from sqlalchemy.orm import Session

from assistant.jobs.claims import LeaseTimes
from assistant.jobs.delivery import Pacer
from assistant.jobs.poster import MEMBER_ID, Poster, PostError
from assistant.render.follow_ups import reminder_message
from assistant.views.follow_ups import customer_line
from db import access, follow_ups
from db.clock import Clock, store_time, utc_now
from db.digests import SessionFactory
from db.follow_ups import Due, ReminderClaim
from db.locks import process_name

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_follow_up"
LEASE = timedelta(minutes=2)
GRACE = timedelta(hours=1)
"""A reminder found later than this after its time is marked missed, not sent (``CRM_REMINDER_GRACE_MINUTES``)."""
BATCH = 500


@dataclass
class ReminderReport:
    """What one pass did."""

    sent: list[int] = field(default_factory=list)
    reconciled: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    """Claims another scheduler took first or took over (nothing posted by this one)."""

    def summary(self) -> str:
        return (f"{len(self.sent)} sent, {len(self.reconciled)} found already sent, {len(self.missed)} missed, "
                f"{len(self.failed)} failed, {len(self.retrying)} to retry")


def in_turn(owed: list[Due]) -> list[Due]:
    """Owners in turn (one reminder each, then the next of each...), so pacing one owner's
    messages does not hold everyone else's back."""
    by_owner: dict[str, list[Due]] = defaultdict(list)
    for due in owed:
        by_owner[due.owner].append(due)
    return [d for d in chain.from_iterable(zip_longest(*by_owner.values())) if d is not None]


@dataclass
class ReminderSender:
    """Sends owed reminders through a ``Poster``; one per scheduler process."""

    session_factory: SessionFactory
    poster: Poster
    clock: Clock = utc_now
    grace: timedelta = GRACE
    lease: timedelta = LEASE
    worker: str = field(default_factory=process_name)
    pacer: Pacer = field(default_factory=Pacer)
    batch: int = BATCH

    @property
    def times(self) -> LeaseTimes:
        return LeaseTimes(self.lease)

    def run(self) -> ReminderReport:
        """Send every reminder owed now, once each."""
        report = ReminderReport()
        with self.session_factory() as session:
            while True:
                now = store_time(self.clock())
                owed = follow_ups.due(session, now, self.batch)
                done_before = len(report.sent) + len(report.reconciled) + len(report.missed) + len(report.failed)
                for due in in_turn(owed):
                    self._deliver(session, due, report)
                done_now = len(report.sent) + len(report.reconciled) + len(report.missed) + len(report.failed)
                if len(owed) < self.batch or done_now == done_before:
                    return report  # nothing more owed, or what is left is held by others

    def _deliver(self, session: Session, due: Due, report: ReminderReport) -> None:
        now = store_time(self.clock())
        late = now - due.due_at > self.grace
        if late and due.reminder == "waiting":
            if follow_ups.give_up(session, due.id, "missed", f"due {due.due_at:%Y-%m-%d %H:%M} UTC; crm-bot was not "
                                  f"running then (more than {self.grace} before it ran), so it was not sent late"):
                log.warning("reminder %s missed (due %s UTC, over the grace period)", due.id, due.due_at)
                report.missed.append(due.id)
            return
        claim = follow_ups.claim(session, due, self.worker, now, self.lease)
        if claim is None:
            report.lost.append(due.id)
            return
        try:
            channel = self._channel(due.owner)
            if claim.must_reconcile and self._reconciled(session, claim, channel, report):
                return
        except PostError as exc:
            self._failed(session, claim, exc, report)
            return
        if late:  # a crashed attempt that never posted, found too late
            follow_ups.give_up(session, due.id, "missed", f"due {due.due_at:%Y-%m-%d %H:%M} UTC; not sent within "
                               f"{self.grace}", claim, self.worker)
            report.missed.append(due.id)
            return
        try:
            self._post(session, claim, channel, report)
        except PostError as exc:
            self._failed(session, claim, exc, report)

    def _channel(self, owner: str) -> str:
        if not MEMBER_ID.match(owner):
            raise PostError("not_a_slack_member", permanent=True,
                            advice=f"the owner {owner[:40]!r} is not a Slack member (an e-mail?)")
        return self.poster.direct_channel(owner)

    def _reconciled(self, session: Session, claim: ReminderClaim, channel: str, report: ReminderReport) -> bool:
        ts = self.poster.find(channel, METADATA_EVENT, claim.token, claim.first_claimed_at - timedelta(minutes=1))
        if ts is None:
            return False
        follow_ups.record_sent(session, claim.id, channel, ts, store_time(self.clock()))
        report.reconciled.append(claim.id)
        return True

    def _post(self, session: Session, claim: ReminderClaim, channel: str, report: ReminderReport) -> None:
        found = follow_ups.get(session, claim.id)
        if found is None:  # erased with its customer after the claim
            return
        follow_up, customer = found
        message = reminder_message(follow_up, customer, customer_line(session, customer))
        session.commit()  # no transaction stays open across the post
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"follow_up": claim.id, "token": claim.token}}
        self.pacer.wait(channel)
        if not follow_ups.fence(session, claim, self.worker, store_time(self.clock()) + self.times.cover):
            log.warning("reminder %s: another scheduler took the claim over; not posting", claim.id)
            report.lost.append(claim.id)
            return
        ts = self.poster.post(channel, message, metadata, within=self.times.post_budget.total_seconds())
        at = store_time(self.clock())
        follow_ups.record_sent(session, claim.id, channel, ts, at)
        access.record(session, at=at, user_id="crm-bot", channel_id=channel, action="reminder",
                      what="follow-up reminder", customer_ref=customer.external_id,
                      detail={"follow_up": claim.id, "ts": ts, "to": follow_up.owner})
        session.commit()
        report.sent.append(claim.id)

    def _failed(self, session: Session, claim: ReminderClaim, exc: PostError, report: ReminderReport) -> None:
        now = store_time(self.clock())
        if not exc.permanent:
            follow_ups.release(session, claim, self.worker, now + self.times.retry_after(exc.retry_after), exc.code)
            log.warning("reminder %s: %s; will reconcile and retry", claim.id, exc.code)
            report.retrying.append(claim.id)
            return
        why = f"{exc.code}" + (f": {exc.advice}" if exc.advice else "")
        follow_ups.give_up(session, claim.id, "failed", why, claim, self.worker)
        log.warning("reminder %s could not be sent: %s", claim.id, exc.code)
        report.failed.append(claim.id)

