"""Builder scores in words: "high chance of churn (0.81) mainly because Contract is Month-to-month"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.builder import BuilderResult, design_matrix
from analytics.explain import calibrate, contributions, factors_json, raw_score, reasons_sentence, top_factors
from analytics.propensity_explain import COUNTERFACTUAL_MIN_GAIN, probability_words

MAX_COUNTERFACTUAL_LEVELS = 12


def chance_words(probability: float) -> str:
    """Plain reading of a probability."""
    if probability >= 0.6:
        return "high chance"
    return "moderate chance" if probability >= 0.3 else "low chance"


def _phrase(feature: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{feature} unknown"
    if isinstance(value, float):
        return f"{feature} {value:,.4g}"
    return f"{feature} is {value}"


def _what_ifs(result: BuilderResult, x: pd.DataFrame, probability: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """For each category column and level: every customer's probability if they had that level."""
    pipeline = result.model.calibrated_classifiers_[0].estimator
    out: dict[str, dict[str, np.ndarray]] = {}
    for column in result.plan.categorical:
        levels = x[column].dropna().value_counts().index[:MAX_COUNTERFACTUAL_LEVELS]
        out[column] = {str(level): calibrate(result.model, raw_score(pipeline, x.assign(**{column: level})))
                       for level in levels}
    return out


def score_builder(result: BuilderResult, customers: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Probability, additive factors, sentence and one "what if" for every customer in ``customers``.

    ``customers`` has ``customer_id`` plus the attribute columns the model was trained on.
    """
    x = design_matrix(customers, result.plan)[result.features]
    parts = contributions(result.model, x, result.features, result.training_mean)
    probability = calibrate(result.model, parts.score)
    what_ifs = _what_ifs(result, x, probability)
    records = x.to_dict("records")
    factors, sentences, counterfactuals = [], [], []
    for i in range(len(x)):
        row = parts.values[i]
        def phrase(j: int, i: int = i) -> str:
            return _phrase(result.features[j], records[i][result.features[j]])
        for_, against = top_factors(row, result.features, phrase)
        factors.append(factors_json([*for_, *against], float(row.sum())))
        p = float(probability[i])
        sentences.append(reasons_sentence(f"{chance_words(p)} of {result.target} ({probability_words(p)})",
                                          for_, against))
        counterfactuals.append(_counterfactual(for_, records[i], what_ifs, i, p))
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "probability": probability,
                         "score": parts.score, "base_score": parts.base, "factors": factors,
                         "explanation": sentences, "counterfactual": counterfactuals}), parts.method


def _counterfactual(for_: list, record: dict[str, object], what_ifs: dict[str, dict[str, np.ndarray]], i: int,
                    probability: float) -> str | None:
    """The level of the strongest category pushing the score up that would lower it most."""
    for factor in for_:
        if factor.feature in what_ifs:
            options = {level: float(p[i]) for level, p in what_ifs[factor.feature].items()
                       if level != record[factor.feature]}
            if not options:
                return None
            level = min(options, key=lambda name: options[name])
            if probability - options[level] >= COUNTERFACTUAL_MIN_GAIN:
                return f"with {factor.feature} {level} it would be about {probability_words(options[level])}"
            return None
    return None
