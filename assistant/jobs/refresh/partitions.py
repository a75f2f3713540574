"""The refresh's partitioned steps: what one task does for one customer-id range.

Two passes run over the partitions, each task reading only its own range from the store:

* ``gather``: sale orders and credits -> the RFM inputs of every customer, customers per main
  country, and the full history of the range's fitting-sample candidates;
* ``score``: the range's whole history -> segments, clusters, lifetime values, propensity with
  reasons, recommendations, written in one transaction (its own rows of the run deleted first, so
  a retried task never writes twice).

Tasks are plain functions of picklable arguments, so the same code runs in this process or as
Dask tasks on other machines (``executor.py``); each opens its own connection to the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analytics.clustering import ClusterModel
from analytics.features import customer_features, order_totals
from analytics.movement import segment_movement
from analytics.propensity import main_country
from analytics.rfm import RfmCuts, rfm_table
from analytics.rules import RuleResult
from analytics.sampling import unit_keys
from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.refresh.plan import Partition
from assistant.jobs.refresh.steps import (
    LifetimeFit,
    PropensityFit,
    lifetime_rows,
    propensity_rows,
    recommendations_step,
)
from db.engine import make_engine
from db.frames import FrameIO, Writer
from db.histories import History, id_list, id_range, previous_segments, read_history, read_orders
from db.money import MICROS_PER_UNIT
from db.snapshot_models import CustomerLifetime, CustomerPrediction, CustomerScore, Recommendation


@lru_cache(maxsize=4)
def store_engine(url: str) -> Engine:
    """One engine per store and process (a Dask worker runs many tasks on it)."""
    return make_engine(url)


def micros(values: pd.Series) -> pd.Series:
    """Money as the store keeps it: integer millionths."""
    return (values * MICROS_PER_UNIT).round().astype("int64")


@dataclass(frozen=True)
class GatherTask:
    """Pass one over one partition."""

    store: str
    as_of: datetime
    partition: Partition
    seed: int
    candidate_bound: float


@dataclass
class Gathered:
    """What pass one learnt from one partition."""

    totals: pd.DataFrame
    """``customer_id, last_order_at, orders, monetary`` of every customer with a sale (RFM's input)."""
    countries: pd.Series
    """Customers per main country."""
    candidates: np.ndarray
    """Ids of the fitting-sample candidates (sample key below the plan's bound)."""
    history: History | None
    """The candidates' full history."""
    sale_orders: int = 0


def gather(task: GatherTask) -> Gathered:
    """Pass one over ``task.partition`` (read only)."""
    who = id_range(task.partition.low, task.partition.high)
    with FrameIO(store_engine(task.store)) as io:
        orders, credits = read_orders(io, task.as_of, who)
        totals = order_totals(orders, credits, task.as_of)
        ids = totals["customer_id"].to_numpy(dtype="int64")
        candidates = ids[unit_keys(ids, task.seed) < task.candidate_bound]
        history = None
        if len(candidates):
            history = read_history(io, task.as_of, who if len(candidates) == len(ids) else id_list(candidates))
    country = main_country(orders)
    rfm_input = totals.assign(monetary=(totals["sales_value"] - totals["credit_value"]).round(6))
    return Gathered(totals=rfm_input[["customer_id", "last_order_at", "orders", "monetary"]],
                    countries=country.value_counts() if country is not None else pd.Series(dtype="int64"),
                    candidates=candidates, history=history, sale_orders=len(orders))


@dataclass(frozen=True)
class Fitted:
    """Everything the scoring pass needs that was fitted once, on the whole population or its samples."""

    cuts: RfmCuts
    clusters: ClusterModel | None
    lifetime: LifetimeFit | None
    propensity: PropensityFit
    rules: RuleResult | None
    product_names: dict[str, str]
    """Descriptions of the products the rules can recommend (the reasons name them)."""
    params: RefreshParams


@dataclass(frozen=True)
class ScoreTask:
    """Pass two over one partition, for run ``run_id``."""

    store: str
    run_id: int
    model_id: int
    previous_run_id: int | None
    as_of: datetime
    partition: Partition


@dataclass
class Scored:
    """What pass two wrote for one partition, and the counts the run's tables add up."""

    partition: int
    customers: int = 0
    lines: int = 0
    movement: pd.DataFrame = field(default_factory=pd.DataFrame)
    cluster_customers: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    cluster_revenue: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))
    lifetimes: int = 0
    lifetimes_left_out: int = 0
    predictions: int = 0
    recommendations: int = 0
    recommended_customers: int = 0


def score(task: ScoreTask, fitted: Fitted) -> Scored:
    """Pass two over ``task.partition``: compute every customer row and write them in one transaction."""
    who = id_range(task.partition.low, task.partition.high)
    with FrameIO(store_engine(task.store)) as io:
        history = read_history(io, task.as_of, who)
        previous = previous_segments(io, task.previous_run_id, who)
        rows = _rows(task, fitted, history, previous)
        with io.transaction() as writer:
            _write(writer, task, rows)
    result = rows.scored
    result.recommendations = len(rows.recommendations)
    result.recommended_customers = int(rows.recommendations["customer_id"].nunique()) if len(rows.recommendations) \
        else 0
    return result


@dataclass
class _Rows:
    scores: pd.DataFrame
    lifetimes: pd.DataFrame | None
    predictions: pd.DataFrame | None
    recommendations: pd.DataFrame
    scored: Scored


def _rows(task: ScoreTask, fitted: Fitted, history: History, previous: pd.Series) -> _Rows:
    params, as_of = fitted.params, task.as_of
    totals = order_totals(history.sale_orders, history.credit_orders, as_of)
    rfm = rfm_table(totals.assign(monetary=(totals["sales_value"] - totals["credit_value"]).round(6)), as_of,
                    fitted.cuts)
    previous_segment, movement = segment_movement(rfm[["customer_id", "segment"]], previous)
    scored = Scored(partition=task.partition.number, customers=len(rfm), lines=len(history.lines), movement=movement)
    features = customer_features(totals, history.lines, as_of)
    cluster: Any = np.nan
    if fitted.clusters is not None and len(features):
        labels = fitted.clusters.assign(features)
        cluster = labels.reindex(rfm["customer_id"].to_numpy()).to_numpy()
        by_cluster = features.assign(cluster=labels.reindex(features["customer_id"].to_numpy()).to_numpy())
        scored.cluster_customers = by_cluster.groupby("cluster").size()
        scored.cluster_revenue = by_cluster.groupby("cluster")["monetary"].agg(lambda v: float(v.clip(lower=0).sum()))
    scores = pd.DataFrame({
        "run_id": task.run_id, "customer_id": rfm["customer_id"], "recency_days": rfm["recency_days"],
        "frequency": rfm["frequency"], "monetary_micros": micros(rfm["monetary"]), "r_score": rfm["r_score"],
        "f_score": rfm["f_score"], "m_score": rfm["m_score"], "segment": rfm["segment"],
        "previous_segment": previous_segment, "cluster": cluster})
    lifetimes = None
    if fitted.lifetime is not None and len(history.sale_orders):
        lifetimes, scored.lifetimes_left_out = lifetime_rows(fitted.lifetime, history.sale_orders, as_of, params)
        scored.lifetimes = len(lifetimes)
    predictions = propensity_rows(fitted.propensity, history, as_of, params.horizon_days, lifetimes) \
        if len(history.sale_orders) else None
    scored.predictions = 0 if predictions is None else len(predictions)
    recommendations = recommendations_step(history.lines, fitted.rules, history.credited_products,
                                           fitted.product_names, params.top_n).value
    return _Rows(scores, lifetimes, predictions, recommendations, scored)


def _write(writer: Writer, task: ScoreTask, rows: _Rows) -> None:
    """The partition's rows of the run, replacing any an earlier attempt of this task wrote."""
    run, low, high = task.run_id, task.partition.low, task.partition.high
    for model in (CustomerScore, CustomerLifetime, Recommendation):
        table = model.__table__
        writer.delete(table, (table.c.run_id == run) & table.c.customer_id.between(low, high))
    predictions = CustomerPrediction.__table__
    writer.delete(predictions, (predictions.c.model_id == task.model_id) & predictions.c.customer_id.between(low, high))
    writer.insert(CustomerScore.__table__, rows.scores)
    t = rows.lifetimes
    if t is not None and not t.empty:
        writer.insert(CustomerLifetime.__table__, pd.DataFrame({
            "run_id": run, "customer_id": t["customer_id"].astype("int64"), "p_alive": t["p_alive"],
            "expected_purchases": t["expected_purchases"], "expected_spend_micros": micros(t["expected_spend"]),
            "clv_micros": micros(t["clv"]), "clv_low_micros": micros(t["clv_low"]),
            "clv_high_micros": micros(t["clv_high"]), "days_to_next": t["days_to_next"]}))
    p = rows.predictions
    if p is not None and not p.empty:
        frame = p[["customer_id", "probability", "score", "base_score", "factors", "explanation",
                   "counterfactual"]].copy()
        frame.insert(0, "model_id", task.model_id)
        frame["explanation"] = frame["explanation"].str.slice(0, 600)
        writer.insert(predictions, frame)
    recs = rows.recommendations
    if not recs.empty:
        writer.insert(Recommendation.__table__, pd.DataFrame({
            "run_id": run, "customer_id": recs["customer_id"], "rank": recs["rank"], "sku": recs["sku"],
            "source": recs["source"], "confidence": recs["confidence"], "lift": recs["lift"],
            "reason": recs["reason"].str.slice(0, 500)}))
