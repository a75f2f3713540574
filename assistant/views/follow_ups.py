"""What a reminder says about its customer: one line from the latest snapshot (two look-ups by
key, so a thousand reminders due in one minute cost a thousand small reads, not a thousand cards)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from analytics import words
from db import snapshots
from db.models import Customer


def customer_line(session: Session, customer: Customer) -> str:
    """``Champions, 14 orders, last order 3 days ago, 12-month value £2,300, churn risk 0.08``,
    or what is known without analytics."""
    run = snapshots.latest_run(session)
    if run is None:
        return "no analytics yet"
    parts = []
    score = snapshots.customer_score(session, run.id, customer.id)
    if score is not None:
        parts += [score.segment, words.count(score.frequency, "order"),
                  f"last order {words.days_ago(score.recency_days)}"]
    lifetime = snapshots.customer_lifetime(session, run.id, customer.id)
    if lifetime is not None and "refused" not in run.results.get("lifetime", {}):
        parts += [f"12-month value {words.money(lifetime.clv_micros / 1e6, run.currency)}",
                  f"churn risk {1 - lifetime.p_alive:.2f}"]
    return ", ".join(parts) if parts else f"not in the analytics of {run.as_of:%Y-%m-%d}"
