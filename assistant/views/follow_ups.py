"""What a reminder says about its customer: one line from the latest snapshot, read for a whole
batch of reminders at once (a thousand reminders due in one minute are not a thousand cards)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import words
from db import snapshots
from db.snapshot_models import CustomerLifetime, CustomerScore


def customer_lines(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Customer id -> ``Champions, 14 orders, last order 3 days ago, 12-month value £2,300, churn
    risk 0.08`` (what is known: without analytics, say so), in three queries."""
    ids = sorted(set(customer_ids))
    run = snapshots.latest_run(session)
    if run is None:
        return dict.fromkeys(ids, "no analytics yet")
    scores = {s.customer_id: s for s in session.scalars(
        select(CustomerScore).where(CustomerScore.run_id == run.id, CustomerScore.customer_id.in_(ids)))}
    lifetimes = {} if "refused" in run.results.get("lifetime", {}) else {v.customer_id: v for v in session.scalars(
        select(CustomerLifetime).where(CustomerLifetime.run_id == run.id, CustomerLifetime.customer_id.in_(ids)))}
    lines = {}
    for customer_id in ids:
        parts = []
        score, lifetime = scores.get(customer_id), lifetimes.get(customer_id)
        if score is not None:
            parts += [score.segment, words.count(score.frequency, "order"),
                      f"last order {words.days_ago(score.recency_days)}"]
        if lifetime is not None:
            parts += [f"12-month value {words.money(lifetime.clv_micros / 1e6, run.currency)}",
                      f"churn risk {1 - lifetime.p_alive:.2f}"]
        lines[customer_id] = ", ".join(parts) if parts else f"not in the analytics of {run.as_of:%Y-%m-%d}"
    return lines
