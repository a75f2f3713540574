"""Digest subscriptions and the claim protocol that makes each digest post exactly once.

A delivery goes ``claimed`` -> ``posted`` (or ``skipped``/``failed``).  ``claim`` inserts the
row for (subscription, period): under the unique constraint exactly one worker wins, however
many schedulers run.  The winner holds a lease; a claim whose lease ran out (its worker crashed,
or gave up on a transient error) can be taken over by one worker at a time (compare-and-set on
``attempts``), and the taker must first look for the message in the channel (its ``token`` is in
the message metadata) before posting again.  Every function commits its own short transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.digest_models import DigestDelivery, DigestSubscription

SessionFactory = Callable[[], Session]


def subscription_key(channel_id: str, segment: str | None) -> str:
    return f"{channel_id}:{segment or '*'}"


def subscribe(session: Session, *, channel_id: str, cadence: str, weekday: int, hour: int, minute: int,
              timezone: str, segment: str | None, quiet: str, user_id: str, now: datetime,
              allow_shared: bool = False, notify_user: str | None = None) -> DigestSubscription:
    """Create the channel's subscription (for ``segment``), or update and re-activate it."""
    key = subscription_key(channel_id, segment)
    found = session.scalar(select(DigestSubscription).where(DigestSubscription.key == key))
    if found is None:
        found = DigestSubscription(key=key, channel_id=channel_id, segment=segment, created_by=user_id,
                                   created_at=now)
        session.add(found)
    found.cadence, found.weekday, found.hour, found.minute = cadence, weekday, hour, minute
    found.timezone, found.quiet, found.status, found.updated_at = timezone, quiet, "active", now
    found.allow_shared = allow_shared
    found.notify_user = notify_user or found.notify_user
    found.failure, found.failure_notified = None, False
    session.commit()
    return found


def unsubscribe(session: Session, channel_id: str, now: datetime) -> int:
    """Stop every digest of the channel; returns how many there were.  History is kept."""
    result = session.execute(update(DigestSubscription)
                             .where(DigestSubscription.channel_id == channel_id,
                                    DigestSubscription.status != "unsubscribed")
                             .values(status="unsubscribed", updated_at=now))
    session.commit()
    return rows_affected(result)


def subscriptions(session: Session, channel_id: str | None = None,
                  include_stopped: bool = False) -> list[DigestSubscription]:
    """Subscriptions (of one channel), oldest first; active and failing ones unless asked."""
    query = select(DigestSubscription).order_by(DigestSubscription.id)
    if channel_id is not None:
        query = query.where(DigestSubscription.channel_id == channel_id)
    if not include_stopped:
        query = query.where(DigestSubscription.status != "unsubscribed")
    return list(session.scalars(query))


def mark_failing(session: Session, subscription_id: int, reason: str) -> bool:
    """Mark a subscription failing; True the first time (so the subscriber is told once)."""
    sub = session.get(DigestSubscription, subscription_id)
    if sub is None:
        return False
    first = not sub.failure_notified
    sub.status, sub.failure, sub.failure_notified = "failing", reason, True
    session.commit()
    return first


def mark_healthy(session: Session, subscription_id: int) -> None:
    """A post went through: a failing subscription is active again."""
    session.execute(update(DigestSubscription)
                    .where(DigestSubscription.id == subscription_id, DigestSubscription.status == "failing")
                    .values(status="active", failure=None, failure_notified=False))
    session.commit()


@dataclass(frozen=True)
class Claim:
    """The right to post one digest: who holds it, and whether someone tried before."""

    delivery_id: int
    token: str
    attempts: int
    first_claimed_at: datetime
    retrying_failure: bool = False
    """Taken over from ``failed``: a retry promised within the retry window, not a missed run."""

    @property
    def must_reconcile(self) -> bool:
        """An earlier attempt may have posted: look in the channel before posting."""
        return self.attempts > 1


def claim(session: Session, sub: DigestSubscription, period_key: str, scheduled_for: datetime, worker: str,
          now: datetime, lease: timedelta, *, may_start: bool = True,
          retry_failed_until: datetime | None = None) -> Claim | None:
    """Claim (subscription, period) for ``worker``, or ``None`` if it is done or someone holds it.

    A new claim is made only if ``may_start`` (not too late).  An existing one is taken over
    (compare-and-set on ``attempts``) when its lease ran out, or when it ``failed`` and its retry
    time has come while it is still before ``retry_failed_until``; the taker must reconcile.
    """
    existing = delivery_of(session, sub.id, period_key)
    if existing is None:
        if not may_start:
            return None
        row = DigestDelivery(subscription_id=sub.id, period_key=period_key, scheduled_for=scheduled_for,
                             status="claimed", token=str(uuid.uuid4()), channel_id=sub.channel_id,
                             claimed_by=worker, claimed_at=now, lease_until=now + lease, attempts=1)
        session.add(row)
        try:
            session.commit()
            return Claim(row.id, row.token, 1, now)
        except IntegrityError:
            session.rollback()
        existing = delivery_of(session, sub.id, period_key)
        if existing is None:
            return None
    retry_failed = (existing.status == "failed" and retry_failed_until is not None and now <= retry_failed_until)
    if existing.lease_until > now or not (existing.status == "claimed" or retry_failed):
        return None
    # Read before the commit: committing expires the row, and reloading it would show our own update.
    taken_over = Claim(existing.id, existing.token, existing.attempts + 1, existing.claimed_at,
                       retrying_failure=existing.status == "failed")
    taken = session.execute(update(DigestDelivery)
                            .where(DigestDelivery.id == existing.id, DigestDelivery.status == existing.status,
                                   DigestDelivery.attempts == existing.attempts)
                            .values(status="claimed", claimed_by=worker, lease_until=now + lease,
                                    attempts=taken_over.attempts))
    session.commit()
    if rows_affected(taken) != 1:
        return None  # another worker took it over first
    return taken_over


def delivery_of(session: Session, subscription_id: int, period_key: str) -> DigestDelivery | None:
    """The delivery row of one subscription's period, if any (read fresh)."""
    return session.scalar(select(DigestDelivery).where(DigestDelivery.subscription_id == subscription_id,
                                                       DigestDelivery.period_key == period_key)
                          .execution_options(populate_existing=True))


def fence(session: Session, claim: Claim, worker: str, lease_until: datetime) -> bool:
    """Immediately before posting: is the claim still ours (same attempt, still claimed by
    ``worker``)?  Then extend its lease to ``lease_until`` and return True; else post nothing."""
    held = session.execute(update(DigestDelivery)
                           .where(DigestDelivery.id == claim.delivery_id, DigestDelivery.status == "claimed",
                                  DigestDelivery.attempts == claim.attempts, DigestDelivery.claimed_by == worker)
                           .values(lease_until=lease_until))
    session.commit()
    return rows_affected(held) == 1


def record_posted(session: Session, delivery_id: int, message_ts: str, now: datetime) -> None:
    """The digest is in the channel: record its ``ts`` (idempotent)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(status="posted", message_ts=message_ts, posted_at=now, detail=None))
    session.commit()


CHART_CLAIM = "claimed:"
"""``chart_file_id`` while a worker uploads the chart: ``claimed:<UTC yyyymmddHHMMSS>``."""


def _chart_claim(at: datetime) -> str:
    return f"{CHART_CLAIM}{at:%Y%m%d%H%M%S}"


def claim_chart(session: Session, delivery_id: int, now: datetime, lease: timedelta) -> str | None:
    """Take the right to upload a digest's chart: free, or claimed by a worker whose lease ran out.
    Returns the claim (hand it to ``fence_chart``), or ``None``."""
    free = DigestDelivery.chart_file_id.is_(None)
    stale = DigestDelivery.chart_file_id.like(f"{CHART_CLAIM}%") & (
        DigestDelivery.chart_file_id < _chart_claim(now - lease))
    mine = _chart_claim(now)
    taken = session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id, free | stale)
                            .values(chart_file_id=mine))
    session.commit()
    return mine if rows_affected(taken) == 1 else None


def fence_chart(session: Session, delivery_id: int, mine: str, now: datetime) -> str | None:
    """Immediately before uploading: still our chart claim?  Then renew it from ``now`` (its lease
    runs from the claim's time) and return the new claim; ``None``: someone took it over."""
    renewed = _chart_claim(now)
    held = session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id,
                                                        DigestDelivery.chart_file_id == mine)
                           .values(chart_file_id=renewed))
    session.commit()
    return renewed if rows_affected(held) == 1 else None


def record_chart(session: Session, delivery_id: int, file_id: str) -> None:
    """The chart is in the thread: its file id, and no chart problem left to report."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(chart_file_id=file_id, detail=None))
    session.commit()


def finish(session: Session, delivery_id: int, status: str, detail: str) -> None:
    """End a claim without a post: ``skipped`` (quiet period, missed run) or ``failed`` (won't work)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(status=status, detail=detail[:2000]))
    session.commit()


def fail(session: Session, delivery_id: int, reason: str, retry_at: datetime) -> None:
    """A permanent failure (the bot is not in the channel...): ``failed``, tried again from
    ``retry_at`` while the period lasts, so fixing the cause brings the digest (``claim``)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id, DigestDelivery.status == "claimed")
                    .values(status="failed", detail=reason[:2000], lease_until=retry_at))
    session.commit()


def note_chart_problem(session: Session, delivery_id: int, problem: str | None) -> None:
    """Why a posted digest's chart is not in its thread yet (``None`` once it is)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id, DigestDelivery.status == "posted")
                    .values(detail=problem[:2000] if problem else None))
    session.commit()


def release(session: Session, delivery_id: int, retry_at: datetime, error: str) -> None:
    """Give a claim back after a transient error: anyone may retry (reconciling first) from ``retry_at``."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id, DigestDelivery.status == "claimed")
                    .values(lease_until=retry_at, detail=error[:2000]))
    session.commit()


def record_missed(session: Session, sub: DigestSubscription, period_key: str, scheduled_for: datetime,
                  worker: str, now: datetime, reason: str) -> bool:
    """Record a period that is too late to post as ``skipped`` (once); True if this call recorded it."""
    row = DigestDelivery(subscription_id=sub.id, period_key=period_key, scheduled_for=scheduled_for,
                         status="skipped", token=str(uuid.uuid4()), channel_id=sub.channel_id, claimed_by=worker,
                         claimed_at=now, lease_until=now, attempts=0, detail=reason)
    session.add(row)
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def deliveries(session: Session, subscription_id: int | None = None, limit: int = 50) -> list[DigestDelivery]:
    """Recent deliveries, newest first."""
    query = select(DigestDelivery).order_by(DigestDelivery.id.desc()).limit(limit)
    if subscription_id is not None:
        query = query.where(DigestDelivery.subscription_id == subscription_id)
    return list(session.scalars(query))


def charts_to_upload(session: Session, since: datetime) -> list[DigestDelivery]:
    """Posted digests since ``since`` whose chart is not recorded yet (free or claimed)."""
    pending = DigestDelivery.chart_file_id.is_(None) | DigestDelivery.chart_file_id.like(f"{CHART_CLAIM}%")
    return list(session.scalars(select(DigestDelivery).where(DigestDelivery.status == "posted", pending,
                                                             DigestDelivery.posted_at >= since)
                                .order_by(DigestDelivery.id)))
