"""The refresh's driver-side fitting: the whole population's RFM, then every model on its samples.

Nothing here reads order lines of the whole store: pass one handed over one small row per
customer (RFM inputs) and the full history of the fitting sample; basket rules read their own
seeded sample of baskets.  What is fitted here is broadcast to the scoring pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from analytics.clustering import ClusterResult
from analytics.features import customer_features, order_totals
from analytics.propensity import home_market
from analytics.rfm import rfm_cuts, rfm_table, segment_summary
from analytics.rules import RuleResult
from analytics.sampling import smallest_keys
from assistant.jobs.refresh.inputs import NothingToAnalyse, RefreshParams
from assistant.jobs.refresh.partitions import Fitted, Gathered
from assistant.jobs.refresh.plan import RefreshPlan
from assistant.jobs.refresh.steps import (
    PropensityFit,
    Step,
    clusters_step,
    fit_lifetime,
    fit_propensity,
    importance_step,
    next_purchase_target,
    rules_step,
)
from db.frames import FrameIO
from db.histories import History, concat_histories, only_customers, sampled_baskets


@dataclass
class Population:
    """Pass one's partitions put together."""

    rfm: pd.DataFrame
    """Every customer's RFM row (one small row each)."""
    home: str | None
    sample: History
    """The full history of the fitting sample."""
    sample_size: int
    candidates: int


def merge_gathered(parts: Sequence[Gathered], as_of: datetime, params: RefreshParams) -> Population:
    """RFM of everyone, the home market, and the fitting sample (the smallest sample keys)."""
    totals = pd.concat([p.totals for p in parts], ignore_index=True)
    rfm = rfm_table(totals, as_of)
    if rfm.empty:
        raise NothingToAnalyse(f"no customer bought anything up to {as_of:%Y-%m-%d}: nothing to segment")
    counts = [p.countries for p in parts if len(p.countries)]
    home = home_market(pd.concat(counts).groupby(level=0).sum()) if counts else None
    candidates = np.concatenate([p.candidates for p in parts])
    chosen = smallest_keys(candidates, params.random_state, params.fit_sample)
    histories = [p.history for p in parts if p.history is not None]
    sample = only_customers(concat_histories(histories), chosen) if len(chosen) < len(candidates) \
        else concat_histories(histories)
    return Population(rfm=rfm, home=home, sample=sample, sample_size=len(chosen), candidates=len(candidates))


@dataclass
class FitRecords:
    """What the run records about the fitted steps (each step's figures or refusal)."""

    summary: pd.DataFrame
    clusters: Step[ClusterResult | None]
    importance: dict[str, Any]
    lifetime: dict[str, Any]
    propensity: Step[PropensityFit]
    rules: Step[RuleResult | None]
    samples: dict[str, Any]


def fit_everything(population: Population, io: FrameIO, plan: RefreshPlan, params: RefreshParams,
                   currency: str | None, names: Callable[[list[str]], dict[str, str]],
                   say: Callable[[str], None], lap: Callable[[str], None]) -> tuple[Fitted, FitRecords]:
    """Fit clusters, importance, lifetime and propensity models on the sample, rules on the baskets."""
    as_of, sample, rfm = plan.as_of, population.sample, population.rfm
    segments = rfm.set_index("customer_id")["segment"]
    totals = order_totals(sample.sale_orders, sample.credit_orders, as_of)
    features = customer_features(totals, sample.lines, as_of)
    say("clustering customers")
    clusters = clusters_step(features, params.random_state, currency)
    lap("clusters")
    say("measuring which features matter")
    targets = {"segment": segments.reindex(features["customer_id"].to_numpy())}
    if clusters.value is not None:
        targets["cluster"] = clusters.value.labels.astype(str)
    importance = importance_step(features, targets, params.random_state)
    cutoff_totals = order_totals(sample.sale_orders, sample.credit_orders,
                                 as_of - pd.Timedelta(days=params.horizon_days))
    future_features, bought = next_purchase_target(cutoff_totals, sample.lines, sample.sale_orders, as_of,
                                                   params.horizon_days)
    importance[f"purchase_next_{params.horizon_days}_days"] = importance_step(
        future_features, {"t": bought}, params.random_state)["t"]
    lap("feature_importance")
    say("fitting lifetime models")
    lifetime = fit_lifetime(sample.sale_orders, as_of, params)
    lap("lifetime")
    say("training purchase-propensity models")
    propensity = fit_propensity(sample.sale_orders, sample.lines, sample.credit_orders, as_of, params,
                                lifetime.value, population.home, currency, segments)
    lap("propensity")
    say("mining basket rules")
    baskets = sampled_baskets(io, as_of, plan.basket_share, params.random_state)
    rules = rules_step(baskets, params.rules)
    if rules.value is not None:
        rules.record["basket_sample"] = {"share": round(plan.basket_share, 6), "sale_orders": plan.sale_orders,
                                         "sampled_orders": int(baskets["order_id"].nunique())}
    lap("rules")
    rule_skus: list[str] = []
    if rules.value is not None:
        found = rules.value
        rule_skus = sorted({*found.rules["consequent"], *(s for items in found.itemsets["items"] for s in items)})
    fitted = Fitted(cuts=rfm_cuts(rfm), clusters=clusters.value.model if clusters.value is not None else None,
                    lifetime=lifetime.value, propensity=propensity.value, rules=rules.value,
                    product_names=names(rule_skus), params=params)
    samples = {"fitting_customers": population.sample_size, "fit_sample_limit": params.fit_sample,
               "lifetime_fitted_on": lifetime.record.get("fitted_on"), "basket_share": round(plan.basket_share, 6),
               "partitions": len(plan.partitions)}
    return fitted, FitRecords(summary=segment_summary(rfm), clusters=clusters, importance=importance,
                              lifetime=lifetime.record, propensity=propensity, rules=rules, samples=samples)
