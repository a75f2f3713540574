"""Propensity scores in words: each customer's probability, its top reasons, and one "what if".

The reasons are the model's real additive contributions (``analytics.explain``), phrased with
the customer's own figures: "4 orders in the last 60 days", "no order since May 2011".
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from analytics import words
from analytics.explain import (
    Factor,
    calibrate,
    contributions,
    factors_json,
    raw_score,
    reasons_sentence,
    stored_factors,
    top_factors,
    verdict,
)
from analytics.propensity import PROPENSITY_FEATURES, FittedPropensity, feature_frame, one_more_order_now

COUNTERFACTUAL_MIN_GAIN = 0.03
"""A "what if" is only worth saying when it moves the probability by at least this much."""

REASON_GROUPS = {
    "recent activity": ("recency_days", "orders_last_60_days"),
    "order history": ("frequency", "tenure_days"),
    "order size": ("avg_order_value",),
    "range bought": ("distinct_products", "units_per_line"),
    "returns": ("return_rate",),
    "market": ("home_market",),
}
"""Features that describe one thing a rep recognises are explained together: their contributions
are summed (so the total is unchanged) and worded as one reason."""


def phrase(feature: str, value: float, as_of: datetime, currency: str | None = None) -> str:
    """A rep-readable description of one feature value (``value`` as the customer has it);
    money in ``currency`` (ISO code, or a bare number when unknown)."""
    if feature == "recency_days":
        if value <= 45:
            return "last order " + words.days_ago(value)
        return f"no order since {as_of - timedelta(days=float(value)):%B %Y}"
    if feature == "orders_last_60_days":
        return "no order in the last 60 days" if value < 1 else words.count(value, "order") + \
            " in the last 60 days"
    if feature == "frequency":
        return words.count(value, "order") + " in total"
    if feature == "tenure_days":
        months = value / 30.44
        return f"a customer for {months:.0f} months" if months >= 2 else f"a customer for {value:.0f} days"
    if feature == "avg_order_value":
        return f"average order {words.money(value, currency)}"
    if feature == "distinct_products":
        return words.count(value, "different product") + " bought"
    if feature == "units_per_line":
        return f"{value:.0f} units per product line"
    if feature == "return_rate":
        return "nothing returned" if value <= 0 else f"{value:.0%} of spend cancelled or returned"
    if feature == "home_market":
        return "orders from the main market" if value >= 0.5 else "orders from abroad"
    return f"{PROPENSITY_FEATURES.get(feature, feature)} {value:g}"


def group_phrase(group: str, row: dict[str, float], as_of: datetime, currency: str | None = None) -> str:
    """One reason in words from the customer's figures of the features in ``group``."""
    if group == "recent activity":
        text = phrase("recency_days", row["recency_days"], as_of)
        if row["orders_last_60_days"] >= 2:
            text += ", " + phrase("orders_last_60_days", row["orders_last_60_days"], as_of)
        return text
    if group == "order history":
        if row["frequency"] <= 1:
            return "only 1 order so far"
        return phrase("frequency", row["frequency"], as_of) + " in " + phrase("tenure_days", row["tenure_days"],
                                                                            as_of).removeprefix("a customer for ")
    if group == "range bought":
        return phrase("distinct_products", row["distinct_products"], as_of) + ", " + phrase(
            "units_per_line", row["units_per_line"], as_of)
    return phrase(REASON_GROUPS[group][0], row[REASON_GROUPS[group][0]], as_of, currency)


def probability_words(probability: float) -> str:
    """0.72 -> "0.72"; the extremes of an isotonic map are not certainties, so say so."""
    if probability > 0.99:
        return "above 0.99"
    return "below 0.01" if probability < 0.01 else f"{probability:.2f}"


LIKELIHOOD_WORDS = {"high": "likely to buy", "typical": "may buy", "low": "unlikely to buy"}


def sentence(probability: float, base_rate: float, horizon_days: int, up: list[Factor], down: list[Factor],
             rest: float = 0.0) -> str:
    """ "likely to buy in the next 90 days (0.72) mainly because ...; despite ..." (judged against
    ``base_rate``, the share of customers who bought in the training window)."""
    level = verdict(probability, base_rate)
    return reasons_sentence(f"{LIKELIHOOD_WORDS[level]} in the next {horizon_days} days "
                            f"({probability_words(probability)})", level, up, down, rest)


def score_and_explain(fitted: FittedPropensity, features: pd.DataFrame, as_of: datetime,
                      horizon_days: int, currency: str | None = None) -> tuple[pd.DataFrame, str]:
    """Probability, raw score, base, top factors, sentence and counterfactual for every customer.

    Returns the table (``customer_id, probability, score, base_score, factors, explanation,
    counterfactual``) and the contribution method used.  ``factors`` holds the top factors for
    and against plus an "other factors" remainder, so the stored numbers still add up to the
    score: ``base_score + sum(f["contribution"]) == score``.
    """
    x = feature_frame(features)
    parts = contributions(fitted.model, x, list(PROPENSITY_FEATURES), fitted.training_mean)
    probability = calibrate(fitted.model, parts.score)
    what_if = calibrate(fitted.model, raw_score(fitted.model.calibrated_classifiers_[0].estimator,
                                                feature_frame(one_more_order_now(features))))
    base_rate = fitted.positives / max(fitted.customers, 1)
    names = list(PROPENSITY_FEATURES)
    groups = list(REASON_GROUPS)
    grouped = np.column_stack([parts.values[:, [names.index(f) for f in REASON_GROUPS[g]]].sum(axis=1)
                               for g in groups])
    columns = {name: x[name].to_numpy() for name in names}  # arrays, not a million row dicts
    factors, sentences, counterfactuals = [], [], []
    for i in range(len(x)):
        row = grouped[i]
        def phrase(j: int, i: int = i) -> str:
            return group_phrase(groups[j], {n: float(columns[n][i]) for n in REASON_GROUPS[groups[j]]}, as_of,
                                currency)
        for_, against = top_factors(row, groups, phrase)
        factors.append(factors_json([*for_, *against], float(row.sum())))
        sentences.append(sentence(float(probability[i]), base_rate, horizon_days, for_, against,
                                  float(row.sum()) - sum(f.contribution for f in [*for_, *against])))
        gain = float(what_if[i] - probability[i])
        counterfactuals.append(f"one more order now would raise it to about {probability_words(what_if[i])}"
                               if gain >= COUNTERFACTUAL_MIN_GAIN else None)
    table = pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "probability": probability,
                          "score": parts.score, "base_score": parts.base, "factors": factors,
                          "explanation": sentences, "counterfactual": counterfactuals})
    return table, parts.method


def contribution_matrix_adds_up(table: pd.DataFrame) -> np.ndarray:
    """Per row, |base + sum(stored factor contributions) - score| (for tests and health checks)."""
    totals = table["factors"].map(lambda items: sum(float(f["contribution"]) for f in stored_factors(items)))
    totals = totals.to_numpy(dtype="float64")
    return np.abs(table["base_score"].to_numpy() + totals - table["score"].to_numpy())
