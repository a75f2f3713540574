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
              allow_shared: bool = False) -> DigestSubscription:
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

    @property
    def must_reconcile(self) -> bool:
        """An earlier attempt may have posted: look in the channel before posting."""
        return self.attempts > 1


def claim(session: Session, sub: DigestSubscription, period_key: str, scheduled_for: datetime, worker: str,
          now: datetime, lease: timedelta) -> Claim | None:
    """Claim (subscription, period) for ``worker``, or ``None`` if it is done or someone holds it."""
    row = DigestDelivery(subscription_id=sub.id, period_key=period_key, scheduled_for=scheduled_for,
                         status="claimed", token=str(uuid.uuid4()), channel_id=sub.channel_id, claimed_by=worker,
                         claimed_at=now, lease_until=now + lease, attempts=1)
    session.add(row)
    try:
        session.commit()
        return Claim(row.id, row.token, 1, now)
    except IntegrityError:
        session.rollback()
    existing = session.scalar(select(DigestDelivery).where(DigestDelivery.subscription_id == sub.id,
                                                           DigestDelivery.period_key == period_key))
    if existing is None or existing.status != "claimed" or existing.lease_until > now:
        return None
    taken = session.execute(update(DigestDelivery)
                            .where(DigestDelivery.id == existing.id, DigestDelivery.status == "claimed",
                                   DigestDelivery.attempts == existing.attempts)
                            .values(claimed_by=worker, lease_until=now + lease, attempts=existing.attempts + 1))
    session.commit()
    if rows_affected(taken) != 1:
        return None  # another worker took it over first
    return Claim(existing.id, existing.token, existing.attempts + 1, existing.claimed_at)


def record_posted(session: Session, delivery_id: int, message_ts: str, now: datetime) -> None:
    """The digest is in the channel: record its ``ts`` (idempotent)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(status="posted", message_ts=message_ts, posted_at=now, detail=None))
    session.commit()


CHART_CLAIM = "claimed:"
"""``chart_file_id`` while a worker uploads the chart: ``claimed:<UTC yyyymmddHHMMSS>``."""


def _chart_claim(at: datetime) -> str:
    return f"{CHART_CLAIM}{at:%Y%m%d%H%M%S}"


def claim_chart(session: Session, delivery_id: int, now: datetime, lease: timedelta) -> bool:
    """Take the right to upload a digest's chart: free, or claimed by a worker whose lease ran out."""
    free = DigestDelivery.chart_file_id.is_(None)
    stale = DigestDelivery.chart_file_id.like(f"{CHART_CLAIM}%") & (
        DigestDelivery.chart_file_id < _chart_claim(now - lease))
    taken = session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id, free | stale)
                            .values(chart_file_id=_chart_claim(now)))
    session.commit()
    return rows_affected(taken) == 1


def record_chart(session: Session, delivery_id: int, file_id: str) -> None:
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id).values(chart_file_id=file_id))
    session.commit()


def finish(session: Session, delivery_id: int, status: str, detail: str) -> None:
    """End a claim without a post: ``skipped`` (quiet period, missed run) or ``failed`` (won't work)."""
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(status=status, detail=detail[:2000]))
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
