"""The refresh's finish: the run-wide tables, written in the transaction that marks the run completed.

The partitions have already written their customer rows under the run's id; readers do not see
them until this transaction sets the run's status to ``completed``.  A run that fails is
discarded (``snapshots.discard_run``), so no half-written snapshot is ever served.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from analytics.clustering import ClusterResult, population_profiles
from assistant.jobs.refresh.fit import FitRecords
from assistant.jobs.refresh.partitions import Scored, micros
from db import snapshots
from db.snapshot_models import BasketRule, ClusterStat, SegmentStat


def merged_movement(parts: Sequence[Scored], has_previous: bool) -> pd.DataFrame:
    """Segment movement of the whole store: the partitions' counts added up."""
    frames = [p.movement for p in parts if not p.movement.empty]
    if not frames:
        return pd.DataFrame(columns=["previous_customers", "moved_in", "moved_out"])
    total = pd.concat(frames).groupby(level=0).sum().astype("int64")
    if not has_previous:
        total["moved_in"] = 0
    return total


def write_run_tables(connection: Connection, run_id: int, records: FitRecords, parts: Sequence[Scored],
                     has_previous: bool, currency: str | None) -> None:
    """Segments (with movement), clusters (with their whole-store sizes) and basket rules of the run."""
    summary = records.summary
    moves = merged_movement(parts, has_previous).reindex(summary["segment"]).fillna(0)
    snapshots.write_frame(connection, SegmentStat.__table__, pd.DataFrame({
        "run_id": run_id, "segment": summary["segment"], "position": range(len(summary)),
        "customers": summary["customers"], "customer_share": summary["customer_share"],
        "revenue_micros": micros(summary["revenue"]), "revenue_share": summary["revenue_share"],
        "median_recency_days": summary["median_recency_days"], "median_orders": summary["median_orders"],
        "previous_customers": moves["previous_customers"].astype("int64").to_numpy() if has_previous else None,
        "moved_in": moves["moved_in"].astype("int64").to_numpy(),
        "moved_out": moves["moved_out"].astype("int64").to_numpy(), "action": summary["action"]}))
    clusters = records.clusters.value
    if clusters is not None:
        p = whole_store_profiles(clusters, parts, currency)
        snapshots.write_frame(connection, ClusterStat.__table__, pd.DataFrame({
            "run_id": run_id, "cluster": p["cluster"], "customers": p["customers"],
            "customer_share": p["customer_share"], "revenue_share": p["revenue_share"],
            "median_orders": p["median_orders"], "median_order_value": p["median_order_value"],
            "median_recency_days": p["median_recency_days"], "description": p["description"]}))
    found = records.rules.value
    if found is not None and not found.rules.empty:
        r = found.rules
        snapshots.write_frame(connection, BasketRule.__table__, pd.DataFrame({
            "run_id": run_id, "rank": range(1, len(r) + 1), "antecedent": r["antecedent"].map(list),
            "consequent": r["consequent"], "count": r["count"], "support": r["support"],
            "confidence": r["confidence"], "lift": r["lift"], "leverage": r["leverage"],
            "conviction": r["conviction"].replace(np.inf, np.nan)}))


def whole_store_profiles(clusters: ClusterResult, parts: Sequence[Scored], currency: str | None) -> pd.DataFrame:
    """The sample's cluster profiles with sizes and revenue shares counted over every customer."""
    counts = [p.cluster_customers for p in parts if len(p.cluster_customers)]
    revenue = [p.cluster_revenue for p in parts if len(p.cluster_revenue)]
    if not counts:
        return clusters.profiles
    return population_profiles(clusters, pd.concat(counts).groupby(level=0).sum(),
                               pd.concat(revenue).groupby(level=0).sum(), currency)
