"""What the latency benchmarks share: which customers to ask about, and percentiles of what they measured."""

from __future__ import annotations

import sys

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db import migrate, snapshots
from db.models import Customer
from db.snapshot_models import CustomerScore


def scored_customers(engine: Engine, limit: int) -> tuple[int, list[str]]:
    """The latest run's id and up to ``limit`` ids of customers it scored (exits with advice otherwise)."""
    if not migrate.is_up_to_date(engine):
        sys.exit("the store's schema is behind: run `crm-bot db upgrade` first")
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        if run is None:
            sys.exit("no analytics run in this store: run `crm-bot refresh` first")
        refs = list(session.scalars(select(Customer.external_id)
                                    .join(CustomerScore, CustomerScore.customer_id == Customer.id)
                                    .where(CustomerScore.run_id == run.id).limit(limit)))
    return run.id, refs


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
