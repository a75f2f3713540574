"""Digest subscriptions and deliveries, alert rules and alerts: what the bot posts on its own.

Exactly once rests on two unique constraints: one delivery row per (subscription, period) and
one alert row per (rule, subject).  A poster *claims* the row before posting (the insert either
wins or hits the constraint), leases it for a while, records the message ``ts`` after posting,
and puts the row's ``token`` in the message metadata so that a claim left behind by a crash can
be reconciled against the channel's history instead of being posted again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from db.models import Base

CADENCES = ("weekly", "daily")
QUIET_MODES = ("short", "skip")
SUBSCRIPTION_STATES = ("active", "failing", "unsubscribed")
DELIVERY_STATES = ("claimed", "posted", "skipped", "failed")
ALERT_KINDS = ("churn_risk", "large_order", "kpi_anomaly")
ALERT_STATES = ("claimed", "posted", "suppressed", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class DigestSubscription(Base):
    """A channel's standing order for a digest: how often, when, in which time zone, about what."""

    __tablename__ = "digest_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    """``channel:segment`` (``*`` for all segments): subscribing again updates, never duplicates."""
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    cadence: Mapped[str] = mapped_column(String(8), default="weekly")
    weekday: Mapped[int] = mapped_column(SmallInteger, default=0)
    """0 = Monday (weekly digests only)."""
    hour: Mapped[int] = mapped_column(SmallInteger, default=9)
    minute: Mapped[int] = mapped_column(SmallInteger, default=0)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    """IANA name: the local time above follows that zone's daylight-saving changes."""
    segment: Mapped[str | None] = mapped_column(String(32))
    quiet: Mapped[str] = mapped_column(String(8), default="short")
    """When nothing material changed: a ``short`` digest, or ``skip`` the period."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    allow_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An admin allowed digests in this channel although it is shared with another organisation."""
    failure: Mapped[str | None] = mapped_column(Text)
    """Why posting stopped working (``not_in_channel``...), in words; cleared by a good post."""
    failure_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(32))
    notify_user: Mapped[str | None] = mapped_column(String(32))
    """The Slack member told when the digest cannot be posted (the subscriber, ``--notify``, or the
    first admin for subscriptions made at the terminal)."""
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    """When the schedule was last set (UTC): runs due before then are not owed."""

    __table_args__ = (
        CheckConstraint(_in("cadence", CADENCES), name="cadence"),
        CheckConstraint(_in("quiet", QUIET_MODES), name="quiet"),
        CheckConstraint(_in("status", SUBSCRIPTION_STATES), name="status"),
        CheckConstraint("weekday BETWEEN 0 AND 6 AND hour BETWEEN 0 AND 23 AND minute BETWEEN 0 AND 59",
                        name="time"),
    )


class DigestDelivery(Base):
    """One subscription's digest for one period: claimed, then posted (or skipped, or failed)."""

    __tablename__ = "digest_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("digest_subscriptions.id"), index=True)
    period_key: Mapped[str] = mapped_column(String(32))
    """``2026-W48`` (weekly) or ``2026-11-24`` (daily), in the subscription's time zone."""
    scheduled_for: Mapped[datetime] = mapped_column(DateTime)
    """When it was due, UTC."""
    status: Mapped[str] = mapped_column(String(12), default="claimed")
    token: Mapped[str] = mapped_column(String(36))
    """Carried in the posted message's metadata: how a crashed claim is found in the channel."""
    channel_id: Mapped[str] = mapped_column(String(32))
    claimed_by: Mapped[str] = mapped_column(String(80))
    claimed_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime] = mapped_column(DateTime)
    """Until then the claimer is working on it; afterwards anyone may reconcile and take over."""
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)
    chart_file_id: Mapped[str | None] = mapped_column(String(32))
    """The trend chart uploaded into the digest's thread (``None`` until it is)."""
    detail: Mapped[str | None] = mapped_column(Text)
    """Why it was skipped or failed, or the last error while claimed."""

    __table_args__ = (
        UniqueConstraint("subscription_id", "period_key", name="uq_digest_deliveries_period"),
        CheckConstraint(_in("status", DELIVERY_STATES), name="status"),
    )


class AlertRule(Base):
    """What to watch after each refresh and where to say it (the customer's owner, or a channel)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    """churn_risk: the risk crossed (0-1); large_order: times the customer's usual order;
    kpi_anomaly: robust z-score."""
    min_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    """Only customers worth at least this (12-month value, or the order's value)."""
    target: Mapped[str] = mapped_column(String(32))
    """``owner`` (DM the customer's owner, else the fallback channel) or a channel id."""
    fallback_channel: Mapped[str | None] = mapped_column(String(32))
    max_per_hour: Mapped[int] = mapped_column(Integer, default=5)
    """Per target: more than this in an hour are folded into one summary, never a flood."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (CheckConstraint(_in("kind", ALERT_KINDS), name="kind"),)


class AlertDelivery(Base):
    """One alert about one subject (a customer crossing in a run, an order, a KPI in a period)."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id"), index=True)
    subject: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(12), default="claimed")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    message_ts: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("rule_id", "subject", name="uq_alert_deliveries_subject"),
        CheckConstraint(_in("status", ALERT_STATES), name="status"),
    )
