"""Follow-up reminders, delivered to their owner's direct messages exactly once.

The digests' protocol (``assistant.jobs.claims``), per reminder: claim it (compare-and-set in
``db.follow_ups``), and if an earlier attempt may have posted, look for its token in the owner's
direct messages; fence the claim and post with a deadline, the token in the message metadata;
record the ``ts``.  A scheduler that dies mid-post leaves a claim that another (or the same one,
restarted) takes over once its lease ran out, finds the message or posts it.  A reminder found
more than ``grace`` after its time (crm-bot was down) is marked missed instead of sent late, and
``/crm tasks`` lists it.  Transient errors give the claim back; permanent ones (the owner's
account is deactivated) mark it failed, with the reason, also listed.

Many reminders due in the same minute are claimed a batch at a time (schedulers claiming together
take different ones) and sent one owner after another in turn, each owner's messages paced
(``Pacer``); the pass goes on until nothing it may send is owed.
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
from assistant.render.blocks import Message
from assistant.render.follow_ups import reminder_message
from assistant.views.follow_ups import customer_lines
from db import access, follow_ups
from db.clock import Clock, store_time, utc_now
from db.digests import SessionFactory
from db.follow_ups import ReminderClaim
from db.locks import process_name

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_follow_up"
LEASE = timedelta(minutes=2)
GRACE = timedelta(hours=1)
"""A reminder found later than this after its time is marked missed, not sent (``CRM_REMINDER_GRACE_MINUTES``)."""
BATCH = 50


@dataclass
class ReminderReport:
    """What one pass did."""

    sent: list[int] = field(default_factory=list)
    reconciled: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    """Claims another scheduler took over before this one posted (it posted nothing)."""

    def summary(self) -> str:
        return (f"{len(self.sent)} sent, {len(self.reconciled)} found already sent, {len(self.missed)} missed, "
                f"{len(self.failed)} failed, {len(self.retrying)} to retry")


def in_turn(claims: list[ReminderClaim]) -> list[ReminderClaim]:
    """Owners in turn (one reminder each, then the next of each...), so pacing one owner's
    messages does not hold everyone else's back."""
    by_owner: dict[str, list[ReminderClaim]] = defaultdict(list)
    for claim in claims:
        by_owner[claim.owner].append(claim)
    return [c for c in chain.from_iterable(zip_longest(*by_owner.values())) if c is not None]


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
    """Reminders claimed at a time: each is fenced again just before its post, so one that waits
    in the batch past its lease is left to whoever took it over."""

    @property
    def times(self) -> LeaseTimes:
        return LeaseTimes(self.lease)

    def run(self) -> ReminderReport:
        """Send every reminder owed now, once each, a batch of claims at a time."""
        report = ReminderReport()
        with self.session_factory() as session:
            while True:
                now = store_time(self.clock())
                missed = follow_ups.mark_missed(session, now - self.grace, f"crm-bot was not running at its time "
                                                f"(sent only within {self.grace} of it), so it was not sent late")
                if missed:
                    log.warning("%s reminders missed (due more than %s before the scheduler ran)", len(missed),
                                self.grace)
                report.missed += missed
                claims = follow_ups.claim_due(session, self.worker, now, self.lease, self.batch)
                if not claims:
                    return report
                messages = self._messages(session, claims)
                for claim in in_turn(claims):
                    self._deliver(session, claim, messages.get(claim.id), report)

    def _messages(self, session: Session, claims: list[ReminderClaim]) -> dict[int, tuple[Message, str]]:
        """Each claimed reminder's message and customer id, read for the whole batch; no transaction
        stays open across the posts."""
        found = follow_ups.with_customers(session, [c.id for c in claims])
        lines = customer_lines(session, [customer.id for _, customer in found.values()])
        messages = {i: (reminder_message(f, c, lines[c.id]), c.external_id) for i, (f, c) in found.items()}
        session.commit()
        return messages

    def _deliver(self, session: Session, claim: ReminderClaim, message: tuple[Message, str] | None,
                 report: ReminderReport) -> None:
        if message is None:  # erased with its customer after the claim
            return
        try:
            channel = self._channel(claim.owner)
            if claim.must_reconcile and self._reconciled(session, claim, channel, report):
                return
        except PostError as exc:
            self._failed(session, claim, exc, report)
            return
        if store_time(self.clock()) - claim.due_at > self.grace:  # a crashed attempt that never posted, found late
            follow_ups.give_up(session, claim, self.worker, "missed", f"due {claim.due_at:%Y-%m-%d %H:%M} UTC; "
                               f"not sent within {self.grace}")
            report.missed.append(claim.id)
            return
        try:
            self._post(session, claim, channel, *message, report)
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
        session.commit()
        report.reconciled.append(claim.id)
        return True

    def _post(self, session: Session, claim: ReminderClaim, channel: str, message: Message, customer_ref: str,
              report: ReminderReport) -> None:
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
                      what="follow-up reminder", customer_ref=customer_ref,
                      detail={"follow_up": claim.id, "ts": ts, "to": claim.owner})
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
        follow_ups.give_up(session, claim, self.worker, "failed", why)
        log.warning("reminder %s could not be sent: %s", claim.id, exc.code)
        report.failed.append(claim.id)

