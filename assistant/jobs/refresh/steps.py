"""The refresh's compute steps: pure functions over the inputs it read, each returning its own result.

A step that can refuse returns ``Step(value=None, record={"refused": why})``; otherwise its value and
the figures the run records about it (``record``, stored under the step's name in the run's results).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from analytics.btyd import (
    BetaGeoParams,
    DidNotConverge,
    GammaGammaParams,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    rfm_summary,
)
from analytics.clustering import ClusterResult, NotEnoughData, cluster_customers
from analytics.clv import lifetime_table, sufficiency_problem
from analytics.features import customer_features
from analytics.health import (
    GROUP_MIN_CUSTOMERS,
    calibration_error,
    drift_table,
    group_performance,
    group_warnings,
    health_warnings,
    reliability_table,
)
from analytics.importance import feature_importance
from analytics.lifetime_choice import choose_purchase_model
from analytics.propensity import (
    MIN_POSITIVES,
    PROPENSITY_FEATURES,
    STACK_SPACING_DAYS,
    STACKED_CUTOFFS,
    Comparison,
    FittedPropensity,
    NotEnoughHistory,
    compare_out_of_time,
    features_as_of,
    fit_latest,
    main_country,
)
from analytics.propensity_explain import score_and_explain
from analytics.recommend import recommend
from analytics.rules import NotEnoughBaskets, RuleParams, RuleResult, TooManyItemsets, mine_rules, pair_cooccurrence
from assistant.jobs.refresh.inputs import RefreshParams
from db.histories import History

T = TypeVar("T")


@dataclass(frozen=True)
class Step(Generic[T]):
    """A step's result and what the run records about it (its figures, or its refusal in words)."""

    value: T
    record: dict[str, Any]


def clusters_step(features: pd.DataFrame, random_state: int, currency: str | None = None) -> Step[ClusterResult | None]:
    """Behavioural clusters (k chosen by silhouette), or why there are none."""
    try:
        found = cluster_customers(features, random_state, currency)
    except NotEnoughData as exc:
        return Step(None, {"refused": str(exc)})
    return Step(found, {"k": found.k, "silhouette_by_k": {str(k): round(v, 4) for k, v in
                                                         found.silhouette_by_k.items()},
                        "stability_ari": round(found.stability_ari, 4), **found.params})


MIN_DROPOUT = 1e-3
"""Below this fitted drop-out probability per order (a / (a + b)) the history shows no measurable
drop-out (typical of a single year of data): P(alive) is then 1 for everyone by construction, so
the product does not call it a churn risk and reads churn from the purchase-propensity model."""

LIFETIME_FIT_SAMPLE = 100_000
"""The lifetime models are fitted on at most this many customers (a seeded sample of the fitting
sample) and then applied to everyone: the population parameters do not need more, and the fit
stays in seconds."""


@dataclass(frozen=True)
class LifetimeFit:
    """The chosen purchase model and the spend model, ready to apply to any customer's history."""

    purchases: BetaGeoParams
    spend: GammaGammaParams


def _transactions(dated: pd.DataFrame) -> pd.DataFrame:
    return dated.dropna(subset=["customer_id"]).rename(columns={"ordered_at": "date"})[["customer_id", "date", "value"]]


def fit_lifetime(dated: pd.DataFrame, as_of: datetime, params: RefreshParams) -> Step[LifetimeFit | None]:
    """BG/NBD or MBG/NBD (as held-out customers choose) + Gamma-Gamma, fitted on the sale orders of
    the fitting sample, or why not."""
    summary = rfm_summary(_transactions(dated), as_of)
    problem = sufficiency_problem(summary)
    if problem:
        return Step(None, {"refused": problem})
    sample = summary.sample(n=min(len(summary), LIFETIME_FIT_SAMPLE), random_state=params.random_state)
    try:
        choice = choose_purchase_model(sample, params.random_state)
        purchases = choice.params
        spend = fit_gamma_gamma(sample[sample["monetary"] > 0])
    except DidNotConverge as exc:
        return Step(None, {"refused": f"lifetime models did not converge: {exc}"})
    fit = LifetimeFit(purchases, spend)
    if not _finite(lifetime_table(summary, purchases, spend, params.horizon_days / 7, params.clv_months,
                                  params.annual_discount)).all():
        return Step(None, {"refused": "lifetime models gave non-finite values on this history"})
    dropout = purchases.a / (purchases.a + purchases.b)
    return Step(fit, {
        "dropout_identified": bool(dropout >= MIN_DROPOUT),
        "model": f"{choice.name} + Gamma-Gamma", "choice": choice.summary(), "fitted_on": len(sample),
        "time_unit": "week",
        "purchases": {"r": purchases.r, "alpha": purchases.alpha, "a": purchases.a, "b": purchases.b,
                      "log_likelihood": purchases.log_likelihood, "modified": purchases.modified},
        "spend": {"p": spend.p, "q": spend.q, "v": spend.v, "log_likelihood": spend.log_likelihood},
        "clv_months": params.clv_months, "annual_discount": params.annual_discount,
        "horizon_days": params.horizon_days,
    })


def _finite(table: pd.DataFrame) -> np.ndarray:
    return np.isfinite(table.drop(columns=["customer_id", "days_to_next"]).to_numpy(dtype="float64")).all(axis=1)


def lifetime_rows(fit: LifetimeFit, dated: pd.DataFrame, as_of: datetime, params: RefreshParams
                  ) -> tuple[pd.DataFrame, int]:
    """P(alive), expected orders and spend, lifetime value of these customers, and how many were left
    out because the fitted models give them impossible values (not finite, P(alive) outside [0, 1],
    negative expected orders: histories more extreme than any in the fitting sample)."""
    summary = rfm_summary(_transactions(dated), as_of)
    table = lifetime_table(summary, fit.purchases, fit.spend, params.horizon_days / 7, params.clv_months,
                           params.annual_discount)
    if table.empty:
        return table, 0
    with np.errstate(invalid="ignore"):
        usable = _finite(table) & (table["expected_purchases"] >= 0).to_numpy() & \
            table["p_alive"].between(0, 1).to_numpy()
    return table[usable].reset_index(drop=True), int((~usable).sum())


def rules_step(lines: pd.DataFrame, params: RuleParams) -> Step[RuleResult | None]:
    """Basket rules mined from the sales lines, or why there are none."""
    try:
        found = mine_rules(lines, params)
    except (NotEnoughBaskets, TooManyItemsets) as exc:
        return Step(None, {"refused": str(exc)})
    return Step(found, {**found.stats, **{k: v for k, v in asdict(params).items() if k != "engine"}})


def importance_step(features: pd.DataFrame, targets: dict[str, pd.Series], random_state: int) -> dict[str, Any]:
    """Which features tell each target apart, in shares and words."""
    return {name: feature_importance(features, target, random_state)[["feature", "score", "share", "description"]]
            .round(4).to_dict("records") for name, target in targets.items()}


def next_purchase_target(totals: pd.DataFrame, lines: pd.DataFrame, dated: pd.DataFrame, as_of: datetime,
                          horizon_days: int) -> tuple[pd.DataFrame, pd.Series]:
    """Features as of ``as_of - horizon`` and whether each customer bought again after it (no leakage).

    ``totals`` are the customer totals as of the cutoff; the sales lines are those read as of
    ``as_of``, filtered here to the orders placed by the cutoff.
    """
    cutoff = as_of - timedelta(days=horizon_days)
    early = dated.loc[dated["ordered_at"] <= pd.Timestamp(cutoff), "order_id"]
    features = customer_features(totals, lines[lines["order_id"].isin(early)], cutoff)
    buyers_after = set(dated.loc[dated["ordered_at"] > pd.Timestamp(cutoff), "customer_id"].dropna().astype("int64"))
    bought = features["customer_id"].isin(buyers_after).map({True: "bought", False: "did not buy"})
    return features, pd.Series(bought.to_numpy(), index=features["customer_id"].to_numpy())


PROPENSITY_VERSION = "propensity-3"
"""Bumped whenever features, models or explanations change, so stored scores say which code made them."""


def _bgnbd_scorer(dated: pd.DataFrame, horizon_days: int, random_state: int) -> Any:
    """Expected purchases in the next H days from a BG/NBD fit at each cutoff: the baseline to beat
    (each cutoff fitted once)."""
    transactions = dated.dropna(subset=["customer_id"]).rename(columns={"ordered_at": "date"})
    transactions = transactions[["customer_id", "date", "value"]]
    fitted: dict[datetime, pd.Series | ValueError] = {}

    def score(cutoff: datetime) -> pd.Series:
        if cutoff not in fitted:
            try:
                summary = rfm_summary(transactions, cutoff)
                sample = summary.sample(n=min(len(summary), LIFETIME_FIT_SAMPLE), random_state=random_state)
                params = fit_bgnbd(sample)
                fitted[cutoff] = pd.Series(expected_purchases(params, summary, horizon_days / 7),
                                           index=summary["customer_id"].astype("int64"))
            except ValueError as exc:  # DidNotConverge included: remembered, raised again for each caller
                fitted[cutoff] = exc
        result = fitted[cutoff]
        if isinstance(result, ValueError):
            raise result
        return result
    return score


def _group_report(comparison: Comparison, dated: pd.DataFrame, segments: pd.Series | None
                  ) -> dict[str, list[dict[str, object]]]:
    """The winner's out-of-time ROC AUC and calibration per main country and per segment (today's)."""
    ids = pd.Series(comparison.evaluation_customers).astype("int64")
    y, p = comparison.evaluation_labels, comparison.evaluation_predictions[comparison.winner]
    report = {}
    country = main_country(dated.dropna(subset=["customer_id"]).assign(
        customer_id=lambda f: f["customer_id"].astype("int64")))
    if country is not None:
        report["country"] = group_performance(y, p, ids.map(country), GROUP_MIN_CUSTOMERS)
    if segments is not None:
        report["segment"] = group_performance(y, p, ids.map(segments), GROUP_MIN_CUSTOMERS)
    return report


def _lifetime_baseline(lifetime: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Stand-in scores when no model may be trained: P(at least one order) from the lifetime model.

    With E expected orders in the window, a Poisson reading gives P(>= 1) = 1 - exp(-E).
    """
    expected = lifetime["expected_purchases"].to_numpy(dtype="float64")
    probability = 1 - np.exp(-expected)
    return pd.DataFrame({
        "customer_id": lifetime["customer_id"].astype("int64").to_numpy(), "probability": probability,
        "score": None, "base_score": None, "factors": [[] for _ in range(len(lifetime))],
        "explanation": [f"baseline estimate (not enough history for a trained model): about {e:.1f} orders "
                        f"expected in the next {horizon_days} days by the lifetime model, so {p:.2f}"
                        for e, p in zip(expected, probability, strict=True)],
        "counterfactual": None})


@dataclass
class PropensityFit:
    """What scoring every customer needs from the propensity step: the model row, the fitted model (or
    the lifetime stand-in) and the store-wide facts its features depend on."""

    model: dict[str, Any]
    fitted: FittedPropensity | None
    stand_in: bool
    """No model could be trained; customers get the lifetime model's estimate, clearly labelled."""
    home: str | None
    currency: str | None


def fit_propensity(dated: pd.DataFrame, lines: pd.DataFrame, credits: pd.DataFrame, as_of: datetime,
                   params: RefreshParams, lifetime: LifetimeFit | None, home: str | None,
                   currency: str | None = None, segments: pd.Series | None = None) -> Step[PropensityFit]:
    """Compare and refit purchase propensity on the fitting sample; below the thresholds, say why and
    stand in with the lifetime model's estimate (clearly labelled) or nothing."""
    horizon, seed = params.horizon_days, params.random_state
    row: dict[str, Any] = {"target": f"purchase_next_{horizon}_days", "random_state": seed, "data_as_of": as_of}
    try:
        expected = _bgnbd_scorer(dated, horizon, seed)
        comparison = compare_out_of_time(dated, lines, as_of, horizon, seed, credits=credits,
                                         baselines={"BG/NBD expected purchases": expected}, home=home)
        fitted = fit_latest(dated, lines, as_of, horizon, comparison.winner, seed, credits, home=home)
    except NotEnoughHistory as exc:
        row |= {"refusal": str(exc), "model_name": None, "version": f"{PROPENSITY_VERSION}:none:seed{seed}"}
        if lifetime is None:
            return Step(PropensityFit({**row, "status": "refused"}, None, False, home, currency), {"refused": str(exc)})
        return Step(PropensityFit({**row, "status": "baseline", "model_name": "lifetime model baseline"}, None, True,
                                  home, currency),
                    {"refused": str(exc), "stand_in": "lifetime model baseline"})
    now = features_as_of(dated, lines, as_of, credits, home=home)
    _, method = score_and_explain(fitted, now.head(1), as_of, horizon, currency)
    winner = comparison.winner
    reliability = reliability_table(comparison.evaluation_labels, comparison.evaluation_predictions[winner])
    drift = drift_table(fitted.training_features, now, list(PROPENSITY_FEATURES))
    warnings = health_warnings(comparison.table, winner, calibration_error(reliability), drift, fitted.positives,
                               MIN_POSITIVES)
    warnings += [f"baseline {name} not computed: {why}" for name, why in comparison.skipped_baselines.items()]
    groups = _group_report(comparison, dated, segments)
    warnings += group_warnings(groups, float(comparison.table.set_index("model").loc[winner, "roc_auc"]))
    metrics = comparison.table.round(4).to_dict("records")
    row |= {
        "status": "trained", "model_name": winner, "version": f"{PROPENSITY_VERSION}:{winner}:seed{seed}",
        "training": {"horizon_days": horizon, "comparison_train_cutoff": comparison.train_cutoff,
                     "comparison_evaluation_cutoff": comparison.test_cutoff, "comparison_sizes": comparison.sizes,
                     "final_cutoff": fitted.cutoff, "customers": fitted.customers, "positives": fitted.positives,
                     "features": list(PROPENSITY_FEATURES), "explanation_method": method,
                     "calibration_error": round(calibration_error(reliability), 4),
                     "skipped_baselines": comparison.skipped_baselines,
                     "stacked_cutoffs": STACKED_CUTOFFS, "stack_spacing_days": STACK_SPACING_DAYS,
                     "against_previous": comparison.against_previous, "groups": groups},
        "metrics": metrics, "reliability": reliability.round(4).to_dict("records"), "drift": drift,
        "warnings": warnings,
    }
    best = comparison.table.set_index("model").loc[winner]
    return Step(PropensityFit(row, fitted, False, home, currency),
                {"model": winner, "roc_auc": round(float(best["roc_auc"]), 4), "brier": round(float(best["brier"]), 4),
                 "warnings": warnings, "against_previous": comparison.against_previous})


def propensity_rows(fit: PropensityFit, history: History, as_of: datetime, horizon_days: int,
                    lifetime: pd.DataFrame | None) -> pd.DataFrame | None:
    """Every customer's score, factors, sentence and what-if (or the lifetime stand-in), or None."""
    if fit.fitted is not None:
        now = features_as_of(history.sale_orders, history.lines, as_of, history.credit_orders, home=fit.home)
        return score_and_explain(fit.fitted, now, as_of, horizon_days, fit.currency)[0]
    if fit.stand_in and lifetime is not None:
        return _lifetime_baseline(lifetime, horizon_days)
    return None


def recommendations_step(lines: pd.DataFrame, rules: RuleResult | None, returned: pd.DataFrame,
                         product_names: dict[str, str], top_n: int) -> Step[pd.DataFrame]:
    """Products to offer each customer (rules, then frequent pairs), never ones they bought or ``returned``."""
    history = lines.dropna(subset=["customer_id"])[["customer_id", "sku"]].drop_duplicates()
    history["customer_id"] = history["customer_id"].astype("int64")
    if rules is not None:
        recs = recommend(history, rules.rules, pair_cooccurrence(rules.itemsets, rules.baskets),
                         product_names, top_n, exclude=returned)
    else:
        recs = recommend(history.head(0), pd.DataFrame(), pd.DataFrame())
    return Step(recs, {"customers": int(recs["customer_id"].nunique()), "rows": len(recs)})
