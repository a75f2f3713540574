"""Additive explanations of calibrated classifiers: what pushed each score up or down.

Every model the product trains is ``CalibratedClassifierCV(Pipeline(transformers..., estimator),
ensemble=False)``: one estimator fitted on all training rows, one isotonic map from its raw
score to a probability.  Contributions are computed on the estimator's own scale (the score the
calibrator reads: the decision function of linear models and gradient boosting, the leaf
probability of a decision tree) and always add up exactly: ``base + sum(contributions) = score``.

- Linear models: exact, ``coef_j * (x_j - mean_j)`` against the training mean.
- Trees: SHAP (``shap.TreeExplainer``, exact tree SHAP); above ``EXACT_TREE_LIMIT`` rows the
  path-attribution approximation of the same library (Saabas), which is just as additive but
  orders of magnitude faster.  The method used is reported with the model.

Contributions of the encoded columns of one original feature (e.g. one-hot levels) are summed
back into that feature, which keeps the total unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import Pipeline

EXACT_TREE_LIMIT = 5_000
"""Rows up to which tree models get exact SHAP values (about 3 ms a row for 200 boosted trees)."""


@dataclass
class Contributions:
    """Per row: ``base + values.sum(axis=1) == score`` (to rounding), ``values`` by original feature."""

    features: list[str]
    base: np.ndarray
    values: np.ndarray
    score: np.ndarray
    method: str


def _parts(model: CalibratedClassifierCV) -> tuple[Pipeline, IsotonicRegression]:
    if model.ensemble or len(model.calibrated_classifiers_) != 1:
        raise ValueError("explanations need CalibratedClassifierCV(ensemble=False): one estimator, one calibrator")
    fitted = model.calibrated_classifiers_[0]
    return fitted.estimator, fitted.calibrators[0]


def raw_score(pipeline: Pipeline, x: object) -> np.ndarray:
    """The score the calibrator reads: the decision function, or the class-1 probability."""
    if hasattr(pipeline, "decision_function"):
        return np.asarray(pipeline.decision_function(x), dtype="float64")
    return np.asarray(pipeline.predict_proba(x)[:, 1], dtype="float64")


def calibrate(model: CalibratedClassifierCV, score: np.ndarray) -> np.ndarray:
    """Probability for raw scores (the model's own isotonic map, clipped to [0, 1])."""
    _, calibrator = _parts(model)
    return np.clip(calibrator.predict(score), 0.0, 1.0)


def _groups(transform: Pipeline, features: list[str]) -> np.ndarray:
    """The original feature behind each transformed column (``feature__level`` -> ``feature``)."""
    known = getattr(transform.steps[0][1], "feature_names_in_", None)  # fitted on a DataFrame: its own names
    names = [str(n) for n in transform.get_feature_names_out(None if known is not None else features)]
    return np.array([name if name in features else name.split("__", 1)[0] for name in names])


def _grouped(values: np.ndarray, groups: np.ndarray, features: list[str]) -> np.ndarray:
    out = np.zeros((values.shape[0], len(features)))
    for j, feature in enumerate(features):
        out[:, j] = values[:, groups == feature].sum(axis=1)
    return out


def contributions(model: CalibratedClassifierCV, x: object, features: list[str],
                  training_mean: np.ndarray | None = None, exact_tree_limit: int = EXACT_TREE_LIMIT,
                  groups: np.ndarray | None = None) -> Contributions:
    """Additive contributions of each original feature to each row's raw score.

    ``training_mean`` is the mean of the *transformed* training matrix (needed for linear
    models: their contributions are measured against the average training customer).
    ``groups`` names the feature behind each transformed column when the names do not say it.
    """
    pipeline, _ = _parts(model)
    estimator = pipeline.steps[-1][1]
    if len(pipeline.steps) > 1:
        transform = Pipeline(pipeline.steps[:-1])
        xt = np.asarray(transform.transform(x), dtype="float64")
        groups = _groups(transform, features) if groups is None else groups
    else:
        xt, groups = np.asarray(x, dtype="float64"), np.array(features)
    score = raw_score(pipeline, x)
    if hasattr(estimator, "booster_"):  # LightGBM: exact tree SHAP of its own, categorical splits included
        raw = np.asarray(estimator.booster_.predict(xt, pred_contrib=True), dtype="float64")
        values, base, method = raw[:, :-1], raw[:, -1], "exact tree SHAP (LightGBM)"
    elif hasattr(estimator, "coef_"):
        if training_mean is None:
            raise ValueError("linear contributions need the training mean of the transformed matrix")
        coef = np.ravel(estimator.coef_)
        values = coef * (xt - training_mean)
        base = np.full(len(xt), float(np.ravel(estimator.intercept_)[0] + coef @ training_mean))
        method = "exact (linear)"
    else:
        import shap  # imported here: numba's start-up cost is paid only when a tree is explained

        explainer = shap.TreeExplainer(estimator)
        approximate = len(xt) > exact_tree_limit
        raw = np.asarray(explainer.shap_values(xt, approximate=approximate, check_additivity=False))
        expected = np.ravel(explainer.expected_value)
        if raw.ndim == 3:  # per-class outputs (a decision tree's probabilities): keep class 1
            raw, expected = raw[:, :, 1], expected[1:]
        values = raw
        base = np.full(len(xt), float(expected[0]))
        method = "tree path attribution (Saabas, additive)" if approximate else "exact tree SHAP"
    return Contributions(features=list(features), base=base, values=_grouped(values, groups, features),
                         score=score, method=method)


def transformed_mean(model: CalibratedClassifierCV, x: object) -> np.ndarray:
    """Mean of the transformed matrix of ``x`` (the reference point of linear contributions)."""
    pipeline, _ = _parts(model)
    if len(pipeline.steps) == 1:
        return np.asarray(x, dtype="float64").mean(axis=0)
    return np.asarray(Pipeline(pipeline.steps[:-1]).transform(x), dtype="float64").mean(axis=0)


@dataclass(frozen=True)
class Factor:
    """One feature's push on one customer's score, with the words for it."""

    feature: str
    contribution: float
    phrase: str


def top_factors(row_values: np.ndarray, features: list[str], phrase_of: Callable[[int], str], limit: int = 3,
                minimum_share: float = 0.05) -> tuple[list[Factor], list[Factor]]:
    """The strongest factors for (positive) and against (negative) one row's score.

    Factors below ``minimum_share`` of the row's total absolute push are left out: they are
    noise a rep should not read as a reason.  ``phrase_of(j)`` words feature ``j`` (called only
    for the factors kept).
    """
    total = float(np.abs(row_values).sum()) or 1.0
    order = np.argsort(-np.abs(row_values))
    for_: list[Factor] = []
    against: list[Factor] = []
    for j in order:
        value = float(row_values[j])
        if abs(value) / total < minimum_share:
            break
        target = for_ if value > 0 else against
        if len(target) < limit:
            target.append(Factor(features[j], value, phrase_of(int(j))))
    return for_, against


def remainder_is_material(rest: float, shown: list[Factor]) -> bool:
    """Whether the factors not shown together push as much as half the strongest one shown:
    then leaving them unsaid would misstate why the score is what it is."""
    strongest = max((abs(f.contribution) for f in shown), default=0.0)
    return abs(rest) > 1e-12 and abs(rest) >= 0.5 * strongest


def factors_json(shown: list[Factor], row_total: float) -> str:
    """The factors shown plus an "other factors" remainder, as compact JSON text.

    The remainder makes the stored contributions add up to the row's total push; it is marked
    ``material`` when it should be shown with the factors.  JSON text (not Python dicts) keeps a
    million customers' explanations at a few hundred bytes each.
    """
    rest = row_total - sum(f.contribution for f in shown)
    items: list[dict[str, Any]] = [{"feature": f.feature, "contribution": f.contribution, "phrase": f.phrase,
                                    "direction": "for" if f.contribution > 0 else "against"} for f in shown]
    items.append({"feature": "other factors", "contribution": rest, "phrase": "other, smaller factors together",
                  "direction": "for" if rest > 0 else "against", "material": remainder_is_material(rest, shown)})
    return json.dumps(items, separators=(",", ":"))


def stored_factors(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Factors as stored (JSON text) or as read back from the database (a list)."""
    return json.loads(value) if isinstance(value, str) else value


HIGH_ODDS_RATIO = 2.0
"""A probability is "high" when its odds are at least twice the base rate's, "low" when at most
half; in between it is typical.  Odds, not differences, so a 30% chance reads as high where 6%
of customers say yes, and as typical where 27% do."""


def verdict(probability: float, base_rate: float) -> str:
    """``high``, ``typical`` or ``low``, judged against the base rate."""
    def odds(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return p / (1 - p)
    ratio = odds(probability) / odds(base_rate)
    if ratio >= HIGH_ODDS_RATIO:
        return "high"
    return "low" if ratio <= 1 / HIGH_ODDS_RATIO else "typical"


def _listed(factors: list[Factor]) -> str:
    return " and ".join(f.phrase for f in factors[:2])


def reasons_sentence(head: str, level: str, up: list[Factor], down: list[Factor], rest: float = 0.0) -> str:
    """Why a score is ``level``: "<head> mainly because A and B; despite C".

    ``up`` and ``down`` are the factors raising and lowering the score.  "Mainly because" names
    the factors that move it in the verdict's direction (up for high, down for low) and
    "despite" the others; a typical score says what raised and what lowered it.  ``rest`` (the
    push of the factors not shown) is said when it is material.
    """
    shown = [*up, *down]
    if level == "typical":
        parts = ([f"raised by {_listed(up)}"] if up else []) + ([f"lowered by {_listed(down)}"] if down else [])
        text = head + (": " + ", ".join(parts) if parts else "")
        towards = None
    else:
        because, despite = (up, down) if level == "high" else (down, up)
        text = head
        if because:
            text += " mainly because " + _listed(because)
        if despite:
            text += "; despite " + _listed(despite)
        towards = "up" if level == "high" else "down"
    if remainder_is_material(rest, shown):
        direction = "up" if rest > 0 else "down"
        also = "also " if direction == towards or not shown else ""
        text += f"; other, smaller factors together {also}push it {direction}"
    return text
