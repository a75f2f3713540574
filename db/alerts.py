"""Alert rules and the alerts sent: one row per (rule, subject), claimed before it is posted.

Alerts are at most once: the claim is inserted under a unique constraint before posting, so two
schedulers never both send one, and an alert whose sender died mid-post is marked failed rather
than sent again (a lost alert is cheaper than a duplicated one; the next refresh re-evaluates).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.digest_models import AlertDelivery, AlertRule


def add_rule(session: Session, *, kind: str, threshold: float, min_value_micros: int, target: str,
             fallback_channel: str | None, max_per_hour: int, user_id: str, now: datetime) -> AlertRule:
    """Store a new active rule."""
    rule = AlertRule(kind=kind, threshold=threshold, min_value_micros=min_value_micros, target=target,
                     fallback_channel=fallback_channel, max_per_hour=max_per_hour, created_by=user_id,
                     created_at=now, active=True)
    session.add(rule)
    session.commit()
    return rule


def rules(session: Session, active_only: bool = True) -> list[AlertRule]:
    query = select(AlertRule).order_by(AlertRule.id)
    if active_only:
        query = query.where(AlertRule.active.is_(True))
    return list(session.scalars(query))


def remove_rule(session: Session, rule_id: int) -> bool:
    """Deactivate a rule (its alerts stay on record); False if there was no such active rule."""
    result = session.execute(update(AlertRule).where(AlertRule.id == rule_id, AlertRule.active.is_(True))
                             .values(active=False))
    session.commit()
    return rows_affected(result) > 0


def claim_alert(session: Session, rule_id: int, subject: str, target: str, text: str, now: datetime) -> int | None:
    """Claim (rule, subject); the new row's id, or ``None`` if it was claimed before (by anyone)."""
    row = AlertDelivery(rule_id=rule_id, subject=subject[:120], target=target, status="claimed", text=text,
                        created_at=now)
    session.add(row)
    try:
        session.commit()
        return row.id
    except IntegrityError:
        session.rollback()
        return None


def fence_alert(session: Session, alert_id: int) -> bool:
    """Immediately before posting: is the claim still open (not abandoned as stale)?"""
    return session.scalar(select(AlertDelivery.status).where(AlertDelivery.id == alert_id)) == "claimed"


def finish_alert(session: Session, alert_id: int, status: str, message_ts: str | None = None) -> None:
    session.execute(update(AlertDelivery).where(AlertDelivery.id == alert_id)
                    .values(status=status, message_ts=message_ts))
    session.commit()


def sent_recently(session: Session, target: str, since: datetime) -> int:
    """Alerts posted to ``target`` since ``since`` (for the hourly limit)."""
    return int(session.scalar(select(func.count()).select_from(AlertDelivery)
                              .where(AlertDelivery.target == target, AlertDelivery.status == "posted",
                                     AlertDelivery.created_at >= since)) or 0)


def abandon_stale_claims(session: Session, older_than: datetime) -> int:
    """Claims whose sender died before recording the outcome: marked failed, never re-sent."""
    result = session.execute(update(AlertDelivery).where(AlertDelivery.status == "claimed",
                                                         AlertDelivery.created_at < older_than)
                             .values(status="failed"))
    session.commit()
    return rows_affected(result)
