"""The steps of a refresh that can refuse: each records its figures, or its refusal in words, in ``results``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.orm import Session

from analytics.btyd import fit_bgnbd, fit_gamma_gamma, rfm_summary
from analytics.clustering import ClusterResult, NotEnoughData, cluster_customers
from analytics.clv import lifetime_table, sufficiency_problem
from analytics.features import customer_features
from analytics.importance import feature_importance
from analytics.rules import NotEnoughBaskets, RuleParams, RuleResult, TooManyItemsets, mine_rules
from db import orders
from db.money import MICROS_PER_UNIT

if TYPE_CHECKING:
    from assistant.refresh import RefreshParams


def micros(values: pd.Series) -> pd.Series:
    return (values * MICROS_PER_UNIT).round().astype("int64")


def clusters_step(features: pd.DataFrame, random_state: int, results: dict[str, Any]) -> ClusterResult | None:
    try:
        found = cluster_customers(features, random_state)
    except NotEnoughData as exc:
        results["clusters"] = {"refused": str(exc)}
        return None
    results["clusters"] = {"k": found.k, "silhouette_by_k": {str(k): round(v, 4) for k, v in
                                                             found.silhouette_by_k.items()},
                           "stability_ari": round(found.stability_ari, 4), **found.params}
    return found


LIFETIME_FIT_SAMPLE = 100_000
"""The lifetime models are fitted on at most this many customers (a seeded sample) and then
applied to everyone: the population parameters do not need more, and the fit stays in seconds."""


def lifetime_step(dated: pd.DataFrame, as_of: datetime, params: RefreshParams,
                  results: dict[str, Any]) -> pd.DataFrame | None:
    transactions = dated.dropna(subset=["customer_id"]).rename(columns={"ordered_at": "date"})
    summary = rfm_summary(transactions[["customer_id", "date", "value"]], as_of)
    problem = sufficiency_problem(summary)
    if problem:
        results["lifetime"] = {"refused": problem}
        return None
    sample = summary.sample(n=min(len(summary), LIFETIME_FIT_SAMPLE), random_state=params.random_state)
    purchases = fit_bgnbd(sample, modified=True)
    spend = fit_gamma_gamma(sample[sample["monetary"] > 0])
    table = lifetime_table(summary, purchases, spend, params.horizon_days / 7, params.clv_months,
                           params.annual_discount)
    results["lifetime"] = {
        "model": "MBG/NBD + Gamma-Gamma", "fitted_on": len(sample), "time_unit": "week",
        "purchases": {"r": purchases.r, "alpha": purchases.alpha, "a": purchases.a, "b": purchases.b,
                      "log_likelihood": purchases.log_likelihood},
        "spend": {"p": spend.p, "q": spend.q, "v": spend.v, "log_likelihood": spend.log_likelihood},
        "clv_months": params.clv_months, "annual_discount": params.annual_discount,
        "horizon_days": params.horizon_days,
    }
    return table


def rules_step(lines: pd.DataFrame, params: RuleParams, results: dict[str, Any]) -> RuleResult | None:
    try:
        found = mine_rules(lines, params)
    except (NotEnoughBaskets, TooManyItemsets) as exc:
        results["rules"] = {"refused": str(exc)}
        return None
    results["rules"] = {**found.stats, **{k: v for k, v in asdict(params).items() if k != "engine"}}
    return found


def importance_step(features: pd.DataFrame, targets: dict[str, pd.Series], random_state: int) -> dict[str, Any]:
    return {name: feature_importance(features, target, random_state)[["feature", "score", "share", "description"]]
            .round(4).to_dict("records") for name, target in targets.items()}


def next_purchase_target(session: Session, lines: pd.DataFrame, dated: pd.DataFrame, as_of: datetime,
                          horizon_days: int) -> tuple[pd.DataFrame, pd.Series]:
    """Features as of ``as_of - horizon`` and whether each customer bought again after it (no leakage).

    Reuses the sales lines already read (filtered to orders placed by the cutoff) instead of
    reading the store twice.
    """
    cutoff = as_of - timedelta(days=horizon_days)
    totals = orders.customer_order_totals(session, cutoff)
    early = dated.loc[dated["ordered_at"] <= pd.Timestamp(cutoff), "order_id"]
    features = customer_features(totals, lines[lines["order_id"].isin(early)], cutoff)
    buyers_after = set(dated.loc[dated["ordered_at"] > pd.Timestamp(cutoff), "customer_id"].dropna().astype("int64"))
    bought = features["customer_id"].isin(buyers_after).map({True: "bought", False: "did not buy"})
    return features, pd.Series(bought.to_numpy(), index=features["customer_id"].to_numpy())
