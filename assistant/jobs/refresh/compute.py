"""The refresh's compute: every analysis over the inputs it read, nothing read or written here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analytics.clustering import ClusterResult
from analytics.features import customer_features
from analytics.movement import segment_movement
from analytics.rfm import rfm_table, segment_summary
from analytics.rules import RuleResult
from assistant.jobs.refresh.inputs import NothingToAnalyse, RefreshInputs, RefreshParams
from assistant.jobs.refresh.steps import (
    PredictionOutcome,
    Step,
    clusters_step,
    importance_step,
    lifetime_step,
    next_purchase_target,
    propensity_step,
    recommendations_step,
    rules_step,
)


class Stopwatch:
    """Seconds per step, stored with the run (``timings``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        """Record the time since the previous lap under ``step``."""
        now = time.perf_counter()
        self.timings[step] = round(now - self._last, 3)
        self._last = now


@dataclass
class Computed:
    """Everything one refresh computed, before it is stored."""

    inputs: RefreshInputs
    rfm: pd.DataFrame
    summary: pd.DataFrame
    previous_segment: pd.Series
    movement: pd.DataFrame
    feature_importance: dict[str, Any]
    clusters: Step[ClusterResult | None]
    lifetime: Step[pd.DataFrame | None]
    propensity: Step[PredictionOutcome]
    rules: Step[RuleResult | None]
    recommendations: Step[pd.DataFrame]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        """Whether an earlier run exists to measure segment movement against."""
        return self.inputs.previous_run_id is not None

    def results(self) -> dict[str, Any]:
        """What the run records about itself: each step's figures or refusal, and the timings."""
        return {"previous_run": self.inputs.previous_run_id, "clusters": self.clusters.record,
                "feature_importance": self.feature_importance, "lifetime": self.lifetime.record,
                "propensity": self.propensity.record, "rules": self.rules.record,
                "recommendations": self.recommendations.record, "timings": self.timings,
                "currency": self.inputs.currency}


def compute(inputs: RefreshInputs, params: RefreshParams, say: Callable[[str], None], watch: Stopwatch) -> Computed:
    """Run every analysis over ``inputs`` (pure: the store is neither read nor written)."""
    as_of, lines, dated = inputs.as_of, inputs.lines, inputs.sale_orders
    say("scoring RFM segments")
    totals = inputs.totals.assign(monetary=inputs.totals["sales_value"] - inputs.totals["credit_value"])
    rfm = rfm_table(totals, as_of)
    if rfm.empty:
        raise NothingToAnalyse(f"no customer bought anything up to {as_of:%Y-%m-%d}: nothing to segment")
    previous_segment, movement = segment_movement(rfm[["customer_id", "segment"]], inputs.previous_segments)
    features = customer_features(totals, lines, as_of)
    watch.lap("rfm_and_features")
    say("clustering customers")
    clusters = clusters_step(features, params.random_state, inputs.currency)
    watch.lap("clusters")
    say("measuring which features matter")
    targets = {"segment": rfm.set_index("customer_id")["segment"]}
    if clusters.value is not None:
        targets["cluster"] = clusters.value.labels.astype(str)
    importance = importance_step(features, targets, params.random_state)
    future_features, bought = next_purchase_target(inputs.totals_at_cutoff, lines, dated, as_of, params.horizon_days)
    importance[f"purchase_next_{params.horizon_days}_days"] = importance_step(
        future_features, {"t": bought}, params.random_state)["t"]
    watch.lap("feature_importance")
    say("fitting lifetime models")
    lifetime = lifetime_step(dated, as_of, params)
    watch.lap("lifetime")
    say("training purchase-propensity models")
    propensity = propensity_step(dated, lines, inputs.credit_orders, as_of, params, lifetime.value,
                                 inputs.currency, rfm.set_index("customer_id")["segment"])
    watch.lap("propensity")
    say("mining basket rules")
    rules = rules_step(lines, params.rules)
    watch.lap("rules")
    say("recommending products")
    recs = recommendations_step(lines, rules.value, inputs.credited_products, inputs.product_names, params.top_n)
    watch.lap("recommendations")
    return Computed(inputs=inputs, rfm=rfm, summary=segment_summary(rfm), previous_segment=previous_segment,
                    movement=movement, feature_importance=importance, clusters=clusters, lifetime=lifetime,
                    propensity=propensity, rules=rules, recommendations=recs)
