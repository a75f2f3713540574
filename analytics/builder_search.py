"""How the prediction builder chooses: settings tuned by cross-validation within a time budget,
feature selection kept only when it helps, and the calibration that fits the scores best.

Everything here sees the builder's *training* part only; the held-out part judges the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from analytics.builder_models import FAMILIES, Columns, make_model, search_order
from analytics.explain import raw_score

INNER_FOLDS = 3
MAX_TRIALS = 80
"""Settings tried at most, however long the budget."""
MIN_SELECTION_GAIN = 0.002
"""Leaving weak features out must raise the cross-validated ROC AUC by this much to be kept:
less is noise, and every feature dropped is one a rep can no longer be told about."""
ISOTONIC_MIN_GAIN = 0.0005
"""Isotonic calibration must lower the cross-validated Brier score by this much to replace the
sigmoid: isotonic steps tie customers who had different scores."""


@dataclass
class Trial:
    """One family with one set of settings, scored by cross-validation on the training part."""

    family: str
    settings: dict[str, Any]
    roc_auc: float
    fold_roc_auc: list[float]
    seconds: float
    out_of_fold: np.ndarray = field(repr=False)
    """Each training row's raw score from the fold that did not see it."""


def folds_of(y: np.ndarray, random_state: int, n_splits: int = INNER_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled stratified folds (rows come in import order, which often follows sign-up time)."""
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))


def cross_validate(pipeline: Pipeline, x: pd.DataFrame, y: np.ndarray,
                   folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], np.ndarray]:
    """ROC AUC of each fold and the out-of-fold raw scores."""
    scores = np.zeros(len(y))
    aucs = []
    for train, test in folds:
        model = clone(pipeline).fit(x.iloc[train], y[train])
        scores[test] = raw_score(model, x.iloc[test])
        aucs.append(float(roc_auc_score(y[test], scores[test])))
    return aucs, scores


def trial(family: str, settings: dict[str, Any], columns: Columns, x: pd.DataFrame, y: np.ndarray,
          folds: list[tuple[np.ndarray, np.ndarray]], random_state: int) -> Trial:
    """Cross-validate one family with one set of settings on ``columns``."""
    started = time.perf_counter()
    aucs, scores = cross_validate(make_model(family, settings, columns, random_state), x[columns.all], y, folds)
    return Trial(family, settings, float(np.mean(aucs)), aucs, time.perf_counter() - started, scores)


@dataclass
class Search:
    """Every trial, in the order tried, and why the search stopped."""

    trials: list[Trial]
    seconds: float
    budget_seconds: float
    stopped: str

    @property
    def best(self) -> Trial:
        return max(self.trials, key=lambda t: t.roc_auc)

    def best_of(self, family: str) -> Trial:
        """The best trial of one family."""
        return max((t for t in self.trials if t.family == family), key=lambda t: t.roc_auc)

    def summary(self) -> dict[str, Any]:
        """What was tried, for model-health."""
        return {"trials": len(self.trials), "seconds": round(self.seconds, 1), "budget_seconds": self.budget_seconds,
                "stopped": self.stopped,
                "best": {f: {"roc_auc": round(self.best_of(f).roc_auc, 4), "settings": self.best_of(f).settings}
                         for f in FAMILIES if any(t.family == f for t in self.trials)},
                "tried": [{"family": t.family, "settings": t.settings, "cv_roc_auc": round(t.roc_auc, 4),
                           "seconds": round(t.seconds, 2)} for t in self.trials]}


def tune(x: pd.DataFrame, y: np.ndarray, columns: Columns, budget_seconds: float, random_state: int) -> Search:
    """Try settings of both families (alternating, likeliest first) until the budget is spent.

    The first setting of each family is always tried, so a tiny budget still compares both; a
    new trial starts only while time is left.
    """
    folds = folds_of(y, random_state)
    started = time.perf_counter()
    trials: list[Trial] = []
    stopped = f"tried every listed setting and {MAX_TRIALS} in all"
    for family, settings in search_order(random_state):
        elapsed = time.perf_counter() - started
        tried = {t.family for t in trials}
        if elapsed >= budget_seconds and tried >= set(FAMILIES):
            stopped = f"the {budget_seconds:g} s budget was spent after {len(trials)} settings"
            break
        if len(trials) >= MAX_TRIALS:
            break
        trials.append(trial(family, settings, columns, x, y, folds, random_state))
    return Search(trials, time.perf_counter() - started, budget_seconds, stopped)


def narrowed(columns: Columns, kept: set[str]) -> Columns:
    """The same encoding roles, only the ``kept`` features."""
    return Columns([c for c in columns.numeric if c in kept], [c for c in columns.categorical if c in kept],
                   [c for c in columns.target_encoded if c in kept])


def selection_check(best: Trial, columns: Columns, strong: set[str], x: pd.DataFrame, y: np.ndarray,
                    random_state: int) -> tuple[Columns, Trial, str]:
    """Keep only the ``strong`` features if that scores better in the same folds; say which and why."""
    subset = narrowed(columns, strong)
    if not subset.all or len(subset.all) == len(columns.all):
        return columns, best, "every feature kept (none was weak enough to test leaving out)"
    other = trial(best.family, best.settings, subset, x, y, folds_of(y, random_state), random_state)
    dropped = len(columns.all) - len(subset.all)
    if other.roc_auc >= best.roc_auc + MIN_SELECTION_GAIN:
        return subset, other, (f"{dropped} weak feature(s) left out: cross-validated ROC AUC {other.roc_auc:.3f} "
                               f"without them, {best.roc_auc:.3f} with them")
    return columns, best, (f"every feature kept: leaving out the {dropped} weakest scored {other.roc_auc:.3f}, "
                           f"against {best.roc_auc:.3f} with all of them")


def _platt(train_scores: np.ndarray, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    model = LogisticRegression(C=1e6, max_iter=1000).fit(train_scores.reshape(-1, 1), y)
    return np.asarray(model.predict_proba(scores.reshape(-1, 1))[:, 1])


def _isotonic(train_scores: np.ndarray, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.asarray(IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(train_scores, y)
                      .predict(scores))


def choose_calibration(out_of_fold: np.ndarray, y: np.ndarray, random_state: int) -> tuple[str, dict[str, float]]:
    """Sigmoid or isotonic, by the Brier score of each fitted on out-of-fold scores (5-fold again)."""
    brier = {}
    for name, calibrate in (("sigmoid", _platt), ("isotonic", _isotonic)):
        predicted = np.zeros(len(y))
        for train, test in folds_of(y, random_state, 5):
            predicted[test] = calibrate(out_of_fold[train], y[train], out_of_fold[test])
        brier[name] = float(brier_score_loss(y, np.clip(predicted, 0, 1)))
    method = "isotonic" if brier["isotonic"] <= brier["sigmoid"] - ISOTONIC_MIN_GAIN else "sigmoid"
    return method, brier


def calibrated(family: str, settings: dict[str, Any], columns: Columns, method: str,
               random_state: int) -> CalibratedClassifierCV:
    """The chosen pipeline with its calibration (``ensemble=False``: one estimator, one additive
    explanation per score)."""
    return CalibratedClassifierCV(make_model(family, settings, columns, random_state), method=method,
                                  cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=random_state),
                                  ensemble=False)
