"""Builder scores in words: "high chance of Churn (0.81, against 0.27 on average) mainly because
Contract is Month-to-month and tenure 2 (with TotalCharges 90.5); despite ...".

- The verdict (high / typical / low) is judged against the base rate (``explain.verdict``).
- Related columns (numbers with |Spearman| >= 0.8, categories with Cramér's V >= 0.8) are one
  reason: their contributions are summed, so the total is unchanged.
- A "what if" is offered only for the columns declared actionable (``--actionable``), and each
  is checked by re-scoring the customer with the changed value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from analytics.builder import BuilderResult, FeaturePlan, design_matrix, fitted_pipeline
from analytics.builder_models import encoded_features
from analytics.explain import (
    calibrate,
    contributions,
    factors_json,
    raw_score,
    reasons_sentence,
    top_factors,
    verdict,
)
from analytics.propensity_explain import COUNTERFACTUAL_MIN_GAIN, probability_words

RELATED = 0.8
"""|Spearman| between numbers, or Cramér's V between categories, from which two columns are
explained as one reason (complementary columns otherwise come out as opposing reasons)."""
RELATED_SAMPLE = 20_000
MAX_WHAT_IF_LEVELS = 12


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    table = pd.crosstab(a.fillna("(missing)"), b.fillna("(missing)"))
    if min(table.shape) < 2:
        return 0.0
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1))))


def related_groups(x: pd.DataFrame, plan: FeaturePlan, features: list[str], random_state: int = 0) -> list[list[str]]:
    """``features`` partitioned into groups of related columns (singletons for the rest), in feature order."""
    sample = x.sample(min(len(x), RELATED_SAMPLE), random_state=random_state) if len(x) > RELATED_SAMPLE else x
    parent = {f: f for f in features}

    def root(f: str) -> str:
        while parent[f] != f:
            f = parent[f]
        return f

    pairs: list[tuple[str, str]] = []
    numeric = [f for f in features if f in plan.numeric]
    if len(numeric) > 1:
        corr = sample[numeric].corr(method="spearman").abs().to_numpy()
        pairs += [(numeric[i], numeric[j]) for i in range(len(numeric)) for j in range(i + 1, len(numeric))
                  if corr[i, j] >= RELATED]
    categorical = [f for f in features if f in plan.categorical]
    pairs += [(a, b) for i, a in enumerate(categorical) for b in categorical[i + 1:]
              if _cramers_v(sample[a], sample[b]) >= RELATED]
    for a, b in pairs:
        parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for f in features:
        groups.setdefault(root(f), []).append(f)
    return list(groups.values())


def _phrase(feature: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{feature} unknown"
    if isinstance(value, float):
        return f"{feature} {value:,.4g}"
    return f"{feature} is {value}"


def _group_phrase(members: list[str], contributions_of_row: dict[str, float], record: dict[str, object]) -> str:
    """The member pushing hardest, with the related ones after it in brackets."""
    ordered = sorted(members, key=lambda f: -abs(contributions_of_row[f]))
    text = _phrase(ordered[0], record[ordered[0]])
    if len(ordered) > 1:
        text += " (with " + ", ".join(_phrase(f, record[f]) for f in ordered[1:3]) + ")"
    return text


def _what_if_values(x: pd.DataFrame, column: str, plan: FeaturePlan) -> list[object]:
    if column in plan.categorical:
        return list(x[column].dropna().value_counts().index[:MAX_WHAT_IF_LEVELS])
    return sorted(set(np.round(x[column].dropna().quantile([0.1, 0.25, 0.5, 0.75, 0.9]).to_numpy(), 4)))


def _what_ifs(result: BuilderResult, x: pd.DataFrame) -> dict[str, dict[object, np.ndarray]]:
    """For each actionable column and value: every customer's probability had they that value."""
    pipeline = fitted_pipeline(result)
    return {column: {value: calibrate(result.model, raw_score(pipeline, x.assign(**{column: value})))
                     for value in _what_if_values(x, column, result.plan)}
            for column in result.actionable}


def _direction(level: str, goal: str | None) -> str | None:
    """Which way a what-if should move this customer's score (None: offer none)."""
    if goal == "lower":
        return "down" if level != "low" else None
    if goal == "higher":
        return "up" if level != "high" else None
    return {"high": "down", "low": "up"}.get(level)


def _counterfactual(what_ifs: dict[str, dict[object, np.ndarray]], record: dict[str, object], i: int,
                    probability: float, direction: str | None) -> str | None:
    """The one change of an actionable column that moves the score most in ``direction``, if it
    moves it enough."""
    if direction is None:
        return None
    best: tuple[float, str, object, float] | None = None
    for column, options in what_ifs.items():
        for value, scored in options.items():
            current = record[column]
            if value == current or (isinstance(current, float) and np.isclose(float(value), current)):  # type: ignore[arg-type]
                continue
            p = float(scored[i])
            move = probability - p if direction == "down" else p - probability
            if best is None or move > best[0]:
                best = (move, column, value, p)
    if best is None or best[0] < COUNTERFACTUAL_MIN_GAIN:
        return None
    _, column, value, p = best
    shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
    now = record[column]
    was = "unknown" if now is None or (isinstance(now, float) and np.isnan(now)) else (
        f"{now:,.4g}" if isinstance(now, float) else str(now))
    return f"with {column} {shown} (now {was}) it would be about {probability_words(p)}"


def score_builder(result: BuilderResult, customers: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Probability, additive factors, sentence and one "what if" for every customer in ``customers``.

    ``customers`` has ``customer_id`` plus the attribute columns the model was trained on; those
    whose label is empty are scored like everyone else.
    """
    x = design_matrix(customers, result.plan)[result.features]
    pipeline = fitted_pipeline(result)
    parts = contributions(result.model, x, result.features, result.training_mean,
                          groups=encoded_features(pipeline, result.features))
    probability = calibrate(result.model, parts.score)
    what_ifs = _what_ifs(result, x)
    index = {f: j for j, f in enumerate(result.features)}
    names = [" / ".join(g) for g in result.related]
    grouped = np.column_stack([parts.values[:, [index[f] for f in g]].sum(axis=1) for g in result.related])
    records = x.to_dict("records")
    factors, sentences, counterfactuals = [], [], []
    base_rate = result.base_rate
    for i in range(len(x)):
        row = grouped[i]
        by_feature = dict(zip(result.features, parts.values[i], strict=True))

        def phrase(j: int, i: int = i, by_feature: dict[str, float] = by_feature) -> str:
            return _group_phrase(result.related[j], by_feature, records[i])
        up, down = top_factors(row, names, phrase)
        total = float(row.sum())
        factors.append(factors_json([*up, *down], total))
        p = float(probability[i])
        level = verdict(p, base_rate)
        head = (f"{level} chance of {result.target} ({probability_words(p)}, against {base_rate:.2f} on average)")
        sentences.append(reasons_sentence(head, level, up, down, total - sum(f.contribution for f in [*up, *down])))
        counterfactuals.append(_counterfactual(what_ifs, records[i], i, p, _direction(level, result.goal)))
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "probability": probability,
                         "score": parts.score, "base_score": parts.base, "factors": factors,
                         "explanation": sentences, "counterfactual": counterfactuals}), parts.method
