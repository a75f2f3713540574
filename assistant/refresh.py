"""The refresh job: read the store, run the analytics, store one snapshot per run.

Heavy work happens here, never inside a command: commands read the latest completed run.
All snapshot rows of a run are written in one transaction together with the run's
"completed" mark, so a crash mid-refresh leaves the previous snapshot in charge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from analytics.clustering import ClusterResult
from analytics.features import customer_features
from analytics.movement import segment_movement
from analytics.rfm import rfm_table, segment_summary
from analytics.rules import RuleParams, RuleResult
from assistant.refresh_steps import (
    PredictionOutcome,
    clusters_step,
    importance_step,
    lifetime_step,
    micros,
    next_purchase_target,
    propensity_step,
    recommendations_step,
    rules_step,
)
from db import locks, orders, predictions, snapshots
from db.maintenance import refresh_planner_statistics
from db.snapshot_models import (
    BasketRule,
    ClusterStat,
    CustomerLifetime,
    CustomerScore,
    Recommendation,
    SegmentStat,
)

log = logging.getLogger(__name__)


class NothingToAnalyse(RuntimeError):
    """The store holds no sales (yet); the message says what to do."""


class RefreshBusy(RuntimeError):
    """Another refresh holds the store's refresh lock."""


@dataclass(frozen=True)
class RefreshParams:
    """Everything that decides a refresh's result (stored with the run)."""

    as_of: datetime | None = None
    """Default: the last sale order in the store (the sample ends 2011-12-09)."""
    random_state: int = 42
    top_n: int = 5
    horizon_days: int = 90
    clv_months: int = 12
    annual_discount: float = 0.10
    rules: RuleParams = field(default_factory=RuleParams)


@dataclass
class RefreshSummary:
    """What a refresh produced, for the terminal."""

    run_id: int
    as_of: datetime
    customers: int
    seconds: float
    results: dict[str, Any]


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Computed:
    """Everything one refresh computed, before it is stored."""

    as_of: datetime
    rfm: pd.DataFrame
    summary: pd.DataFrame
    previous_segment: pd.Series
    movement: pd.DataFrame
    has_previous: bool
    clusters: ClusterResult | None
    lifetime: pd.DataFrame | None
    propensity: PredictionOutcome
    rules: RuleResult | None
    recommendations: pd.DataFrame
    input_sizes: dict[str, Any]
    results: dict[str, Any]


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = round(now - self._last, 3)
        self._last = now


def compute(session: Session, params: RefreshParams, say: Callable[[str], None], watch: _Stopwatch) -> Computed:
    """Read the store as of the run's date and run every analysis (nothing is written)."""
    as_of = params.as_of or snapshots.last_sale_at(session)
    if as_of is None:
        raise NothingToAnalyse("the store has no sales to analyse yet: import orders first "
                               "(crm-bot import ... or crm-bot demo)")
    say("reading the store")
    totals = orders.customer_order_totals(session, as_of)
    lines = orders.sales_lines(session, as_of)
    dated = orders.sale_orders(session, as_of)
    watch.lap("read")
    previous = snapshots.latest_run(session)
    previous_segments = pd.Series(snapshots.segments_of_run(session, previous.id), dtype=object) \
        if previous else pd.Series(dtype=object)
    say("scoring RFM segments")
    totals["monetary"] = totals["sales_value"] - totals["credit_value"]
    rfm = rfm_table(totals, as_of)
    if rfm.empty:
        raise NothingToAnalyse(f"no customer bought anything up to {as_of:%Y-%m-%d}: nothing to segment")
    previous_segment, movement = segment_movement(rfm[["customer_id", "segment"]], previous_segments)
    features = customer_features(totals, lines, as_of)
    watch.lap("rfm_and_features")
    results: dict[str, Any] = {"previous_run": previous.id if previous else None}
    say("clustering customers")
    clusters = clusters_step(features, params.random_state, results)
    watch.lap("clusters")
    say("measuring which features matter")
    targets = {"segment": rfm.set_index("customer_id")["segment"]}
    if clusters is not None:
        targets["cluster"] = clusters.labels.astype(str)
    importance = importance_step(features, targets, params.random_state)
    future_features, bought = next_purchase_target(session, lines, dated, as_of, params.horizon_days)
    importance[f"purchase_next_{params.horizon_days}_days"] = importance_step(
        future_features, {"t": bought}, params.random_state)["t"]
    results["feature_importance"] = importance
    watch.lap("feature_importance")
    say("fitting lifetime models")
    lifetime = lifetime_step(dated, as_of, params, results)
    watch.lap("lifetime")
    say("training purchase-propensity models")
    propensity = propensity_step(dated, lines, orders.credit_orders(session, as_of), as_of, params, lifetime, results)
    watch.lap("propensity")
    say("mining basket rules")
    rules = rules_step(lines, params.rules, results)
    watch.lap("rules")
    say("recommending products")
    recs = recommendations_step(session, lines, rules, as_of, params.top_n, results)
    watch.lap("recommendations")
    return Computed(
        as_of=as_of, rfm=rfm, summary=segment_summary(rfm), previous_segment=previous_segment, movement=movement,
        has_previous=previous is not None, clusters=clusters, lifetime=lifetime, propensity=propensity, rules=rules,
        recommendations=recs,
        input_sizes={"customers_with_sales": len(rfm), "sales_lines": len(lines),
                     "sale_orders": int(lines["order_id"].nunique()), "products": int(lines["sku"].nunique())},
        results=results)


def _store_customers_and_segments(connection: Connection, run_id: int, c: Computed) -> None:
    rfm = c.rfm
    cluster = c.clusters.labels.reindex(rfm["customer_id"].to_numpy()).to_numpy() if c.clusters is not None \
        else np.nan
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
    if c.clusters is not None:
        p = c.clusters.profiles
        snapshots.write_frame(connection, ClusterStat.__table__, pd.DataFrame({
            "run_id": run_id, "cluster": p["cluster"], "customers": p["customers"],
            "customer_share": p["customer_share"], "revenue_share": p["revenue_share"],
            "median_orders": p["median_orders"], "median_order_value": p["median_order_value"],
            "median_recency_days": p["median_recency_days"], "description": p["description"]}))


def _store_lifetimes(connection: Connection, run_id: int, c: Computed) -> None:
    if c.lifetime is None or c.lifetime.empty:
        return
    t = c.lifetime
    snapshots.write_frame(connection, CustomerLifetime.__table__, pd.DataFrame({
        "run_id": run_id, "customer_id": t["customer_id"].astype("int64"), "p_alive": t["p_alive"],
        "expected_purchases": t["expected_purchases"], "expected_spend_micros": micros(t["expected_spend"]),
        "clv_micros": micros(t["clv"]), "clv_low_micros": micros(t["clv_low"]),
        "clv_high_micros": micros(t["clv_high"]), "days_to_next": t["days_to_next"]}))


def _store_propensity(connection: Connection, run_id: int, c: Computed, trained_at: datetime) -> None:
    model_id = predictions.record_model(connection, {**c.propensity.model, "run_id": run_id,
                                                     "trained_at": trained_at})
    if c.propensity.predictions is not None and not c.propensity.predictions.empty:
        predictions.write_predictions(connection, model_id, c.propensity.predictions)


def _store_rules_and_recommendations(connection: Connection, run_id: int, c: Computed) -> None:
    if c.rules is not None and not c.rules.rules.empty:
        r = c.rules.rules
        snapshots.write_frame(connection, BasketRule.__table__, pd.DataFrame({
            "run_id": run_id, "rank": range(1, len(r) + 1), "antecedent": r["antecedent"].map(list),
            "consequent": r["consequent"], "count": r["count"], "support": r["support"],
            "confidence": r["confidence"], "lift": r["lift"], "leverage": r["leverage"],
            "conviction": r["conviction"].replace(np.inf, np.nan)}))
    recs = c.recommendations
    if not recs.empty:
        snapshots.write_frame(connection, Recommendation.__table__, pd.DataFrame({
            "run_id": run_id, "customer_id": recs["customer_id"], "rank": recs["rank"], "sku": recs["sku"],
            "source": recs["source"], "confidence": recs["confidence"], "lift": recs["lift"],
            "reason": recs["reason"].str.slice(0, 500)}))


def run_refresh(engine: Engine, params: RefreshParams | None = None, clock: Callable[[], datetime] = _utcnow,
                progress: Callable[[str], None] | None = None, keep_runs: int | None = None) -> RefreshSummary:
    """Compute every snapshot as of ``params.as_of`` and store it as a new completed run.

    With ``keep_runs``, older runs beyond the newest ``keep_runs`` completed ones are deleted
    in the same transaction (movement needs at least the previous run, so keep 2 or more).
    """
    params = params or RefreshParams()
    say = progress or (lambda _step: None)
    started = time.perf_counter()
    watch = _Stopwatch()
    with Session(engine) as session:
        computed = compute(session, params, say, watch)
    say("storing the snapshot")
    with engine.begin() as connection:
        run_id = snapshots.start_run(connection, computed.as_of, {**asdict(params), "as_of": computed.as_of}, clock())
        _store_customers_and_segments(connection, run_id, computed)
        _store_lifetimes(connection, run_id, computed)
        _store_propensity(connection, run_id, computed, clock())
        _store_rules_and_recommendations(connection, run_id, computed)
        watch.lap("store")
        computed.results["timings"] = watch.timings
        snapshots.finish_run(connection, run_id, clock(), computed.input_sizes, computed.results)
        if keep_runs is not None:
            computed.results["pruned_runs"] = snapshots.prune_runs(connection, keep_runs)
    refresh_planner_statistics(engine)
    seconds = time.perf_counter() - started
    log.info("refresh run %s as of %s: %s customers in %.1f s", run_id, computed.as_of, len(computed.rfm), seconds)
    return RefreshSummary(run_id=run_id, as_of=computed.as_of, customers=len(computed.rfm), seconds=seconds,
                          results=computed.results)


REFRESH_LOCK = "analytics-refresh"
REFRESH_LEASE = timedelta(hours=3)
"""Longer than any refresh should take; a crashed refresh blocks the next one at most this long."""


def run_refresh_exclusive(engine: Engine, params: RefreshParams | None = None, **kwargs: Any) -> RefreshSummary:
    """``run_refresh`` holding the store-wide refresh lock: never two refreshes at once, from any
    process or machine.  The bot keeps answering from the previous snapshot meanwhile."""
    try:
        with locks.held(engine, REFRESH_LOCK, locks.process_name(), datetime.now(UTC).replace(tzinfo=None),
                        REFRESH_LEASE):
            return run_refresh(engine, params, **kwargs)
    except locks.LockHeld as exc:
        raise RefreshBusy(f"not started: a refresh {str(exc).split(' is ', 1)[1]}; the bot answers from the "
                          "previous snapshot meanwhile") from exc
