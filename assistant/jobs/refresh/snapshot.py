"""The refresh's write: one computed refresh stored as one run, in the caller's transaction.

All rows of a run are written together with its "completed" mark, so a crash mid-write leaves
the previous snapshot in charge.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from assistant.jobs.refresh.compute import Computed
from assistant.jobs.refresh.inputs import RefreshParams
from db import predictions, snapshots
from db.money import MICROS_PER_UNIT
from db.snapshot_models import (
    BasketRule,
    ClusterStat,
    CustomerLifetime,
    CustomerScore,
    Recommendation,
    SegmentStat,
)


def micros(values: pd.Series) -> pd.Series:
    """Money as the store keeps it: integer millionths."""
    return (values * MICROS_PER_UNIT).round().astype("int64")


def start_snapshot(connection: Connection, c: Computed, params: RefreshParams, now: datetime) -> int:
    """Open the run (status ``running``) and return its id."""
    return snapshots.start_run(connection, c.inputs.as_of, {**asdict(params), "as_of": c.inputs.as_of}, now)


def write_snapshot(connection: Connection, run_id: int, c: Computed, now: datetime) -> None:
    """Every snapshot row of the run: scores, segments, clusters, lifetimes, propensity, rules, recommendations."""
    _customers_and_segments(connection, run_id, c)
    _lifetimes(connection, run_id, c)
    _propensity(connection, run_id, c, now)
    _rules_and_recommendations(connection, run_id, c)


def _customers_and_segments(connection: Connection, run_id: int, c: Computed) -> None:
    rfm, clusters = c.rfm, c.clusters.value
    cluster = clusters.labels.reindex(rfm["customer_id"].to_numpy()).to_numpy() if clusters is not None else np.nan
    snapshots.write_frame(connection, CustomerScore.__table__, pd.DataFrame({
        "run_id": run_id, "customer_id": rfm["customer_id"], "recency_days": rfm["recency_days"],
        "frequency": rfm["frequency"], "monetary_micros": micros(rfm["monetary"]), "r_score": rfm["r_score"],
        "f_score": rfm["f_score"], "m_score": rfm["m_score"], "segment": rfm["segment"],
        "previous_segment": c.previous_segment, "cluster": cluster}))
    summary = c.summary
    moves = c.movement.reindex(summary["segment"]).fillna(0)
    snapshots.write_frame(connection, SegmentStat.__table__, pd.DataFrame({
        "run_id": run_id, "segment": summary["segment"], "position": range(len(summary)),
        "customers": summary["customers"], "customer_share": summary["customer_share"],
        "revenue_micros": micros(summary["revenue"]), "revenue_share": summary["revenue_share"],
        "median_recency_days": summary["median_recency_days"], "median_orders": summary["median_orders"],
        "previous_customers": moves["previous_customers"].astype("int64").to_numpy() if c.has_previous else None,
        "moved_in": moves["moved_in"].astype("int64").to_numpy(),
        "moved_out": moves["moved_out"].astype("int64").to_numpy(), "action": summary["action"]}))
    if clusters is not None:
        p = clusters.profiles
        snapshots.write_frame(connection, ClusterStat.__table__, pd.DataFrame({
            "run_id": run_id, "cluster": p["cluster"], "customers": p["customers"],
            "customer_share": p["customer_share"], "revenue_share": p["revenue_share"],
            "median_orders": p["median_orders"], "median_order_value": p["median_order_value"],
            "median_recency_days": p["median_recency_days"], "description": p["description"]}))


def _lifetimes(connection: Connection, run_id: int, c: Computed) -> None:
    t = c.lifetime.value
    if t is None or t.empty:
        return
    snapshots.write_frame(connection, CustomerLifetime.__table__, pd.DataFrame({
        "run_id": run_id, "customer_id": t["customer_id"].astype("int64"), "p_alive": t["p_alive"],
        "expected_purchases": t["expected_purchases"], "expected_spend_micros": micros(t["expected_spend"]),
        "clv_micros": micros(t["clv"]), "clv_low_micros": micros(t["clv_low"]),
        "clv_high_micros": micros(t["clv_high"]), "days_to_next": t["days_to_next"]}))


def _propensity(connection: Connection, run_id: int, c: Computed, trained_at: datetime) -> None:
    outcome = c.propensity.value
    model_id = predictions.record_model(connection, {**outcome.model, "run_id": run_id, "trained_at": trained_at})
    if outcome.predictions is not None and not outcome.predictions.empty:
        predictions.write_predictions(connection, model_id, outcome.predictions)


def _rules_and_recommendations(connection: Connection, run_id: int, c: Computed) -> None:
    found = c.rules.value
    if found is not None and not found.rules.empty:
        r = found.rules
        snapshots.write_frame(connection, BasketRule.__table__, pd.DataFrame({
            "run_id": run_id, "rank": range(1, len(r) + 1), "antecedent": r["antecedent"].map(list),
            "consequent": r["consequent"], "count": r["count"], "support": r["support"],
            "confidence": r["confidence"], "lift": r["lift"], "leverage": r["leverage"],
            "conviction": r["conviction"].replace(np.inf, np.nan)}))
    recs = c.recommendations.value
    if not recs.empty:
        snapshots.write_frame(connection, Recommendation.__table__, pd.DataFrame({
            "run_id": run_id, "customer_id": recs["customer_id"], "rank": recs["rank"], "sku": recs["sku"],
            "source": recs["source"], "confidence": recs["confidence"], "lift": recs["lift"],
            "reason": recs["reason"].str.slice(0, 500)}))
