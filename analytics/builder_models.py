"""The prediction builder's model families, their encodings and the settings each may be tuned over.

Two families, each a ``Pipeline(ColumnTransformer, estimator)``:

- **logistic regression** (L2): numbers median-imputed with a missing flag and standardised,
  categories one-hot encoded (rare levels pooled), high-cardinality categories target-encoded;
- **gradient boosting** (LightGBM): numbers as they are (missing values are a branch of their
  own), categories as native categorical splits, high-cardinality categories target-encoded.

Target encoding uses scikit-learn's ``TargetEncoder``, whose ``fit_transform`` cross-fits, and it
sits inside the pipeline, so inside any cross-validation it only ever sees its training fold.

LightGBM is chosen over scikit-learn's histogram boosting because it explains its own scores:
``pred_contrib`` gives exact tree SHAP values *including* categorical splits, which the shap
package cannot read from scikit-learn's categorical trees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

LEVEL_SEPARATOR = "\x1f"
"""Between a feature's name and a level in one-hot column names, so each column maps back to its
feature even when names contain underscores."""
LOGISTIC = "logistic regression"
BOOSTING = "gradient boosting"
FAMILIES = (LOGISTIC, BOOSTING)


def _level_name(feature: object, level: object) -> str:
    return f"{feature}{LEVEL_SEPARATOR}{level}"


class CategoricalBoosting(LGBMClassifier):
    """LightGBM told which input columns are categories.  Its ``decision_function`` is the
    log-odds the calibrator reads and ``pred_contrib`` adds up to."""

    def __init__(self, categorical_columns: tuple[int, ...] = (), **kwargs: Any) -> None:
        self.categorical_columns = categorical_columns
        super().__init__(**kwargs)

    def fit(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> CategoricalBoosting:
        """Fit with the categorical columns declared to LightGBM."""
        kwargs.setdefault("categorical_feature", list(self.categorical_columns) or "auto")
        super().fit(X, y, *args, **kwargs)
        return self


@dataclass(frozen=True)
class Columns:
    """The design matrix's columns by how they are encoded."""

    numeric: list[str]
    categorical: list[str]
    """Few enough levels to one-hot encode or split on natively."""
    target_encoded: list[str]
    """Too many levels for either: replaced by a cross-fitted estimate of the target rate."""

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.target_encoded]


def _target_encoder(random_state: int) -> Pipeline:
    return Pipeline([("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
                     ("encode", TargetEncoder(target_type="binary", cv=StratifiedKFold(
                         5, shuffle=True, random_state=random_state)))])


def _encoder(family: str, columns: Columns, random_state: int) -> ColumnTransformer:
    if family == LOGISTIC:
        numbers: Any = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                                 ("scale", StandardScaler())])
        categories: Any = Pipeline([
            ("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
            ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                                     feature_name_combiner=_level_name, sparse_output=False))])
    else:
        numbers = "passthrough"
        # Missing and unseen levels become -1, which LightGBM treats as missing.
        categories = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    parts = [(name, transformer, cols) for name, transformer, cols in (
        ("num", numbers, columns.numeric), ("cat", categories, columns.categorical),
        ("te", _target_encoder(random_state), columns.target_encoded)) if cols]
    return ColumnTransformer(parts)


def make_model(family: str, settings: dict[str, Any], columns: Columns, random_state: int) -> Pipeline:
    """The family's pipeline with ``settings`` (one point of its search space)."""
    if family == LOGISTIC:
        estimator: Any = LogisticRegression(C=settings["C"], max_iter=5000)
    elif family == BOOSTING:
        first = len(columns.numeric)
        estimator = CategoricalBoosting(
            categorical_columns=tuple(range(first, first + len(columns.categorical))), random_state=random_state,
            verbose=-1, deterministic=True, force_row_wise=True, subsample_freq=1,
            **settings)
    else:
        raise ValueError(f"unknown model family {family!r}")
    return Pipeline([("encode", _encoder(family, columns, random_state)), ("model", estimator)])


LOGISTIC_SETTINGS: tuple[dict[str, Any], ...] = tuple({"C": c} for c in (1.0, 0.1, 0.3, 3.0, 0.03, 10.0, 0.01))
"""Inverse L2 strengths, most likely first."""
BOOSTING_SETTINGS: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.05, "n_estimators": 300, "num_leaves": 15, "min_child_samples": 20, "reg_lambda": 1.0,
     "colsample_bytree": 0.8, "subsample": 0.8},
    {"learning_rate": 0.05, "n_estimators": 200, "num_leaves": 7, "min_child_samples": 50, "reg_lambda": 1.0,
     "colsample_bytree": 0.8, "subsample": 0.8},
    {"learning_rate": 0.03, "n_estimators": 500, "num_leaves": 4, "min_child_samples": 30, "reg_lambda": 3.0,
     "colsample_bytree": 0.7, "subsample": 0.8},
    {"learning_rate": 0.1, "n_estimators": 100, "num_leaves": 31, "min_child_samples": 20, "reg_lambda": 0.0,
     "colsample_bytree": 1.0, "subsample": 1.0},
    {"learning_rate": 0.02, "n_estimators": 800, "num_leaves": 15, "min_child_samples": 50, "reg_lambda": 5.0,
     "colsample_bytree": 0.6, "subsample": 0.7},
    {"learning_rate": 0.05, "n_estimators": 400, "num_leaves": 31, "min_child_samples": 80, "reg_lambda": 1.0,
     "colsample_bytree": 0.5, "subsample": 0.8},
)
"""Settings that do well across tabular problems, tried first, in this order."""


def _drawn_boosting(rng: np.random.Generator) -> dict[str, Any]:
    """One random point of the boosting space (after the listed settings)."""
    rate = float(np.exp(rng.uniform(np.log(0.01), np.log(0.2))))
    return {"learning_rate": round(rate, 4), "n_estimators": int(min(1500, max(50, round(15 / rate, -1)))),
            "num_leaves": int(rng.choice([3, 4, 7, 15, 31, 63])),
            "min_child_samples": int(rng.choice([5, 10, 20, 40, 80, 150])),
            "reg_lambda": float(rng.choice([0.0, 0.3, 1.0, 3.0, 10.0])),
            "colsample_bytree": float(rng.choice([0.4, 0.6, 0.8, 1.0])),
            "subsample": float(rng.choice([0.6, 0.8, 1.0]))}


def search_order(random_state: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (family, settings) to try, cheapest-likeliest first, alternating families; after the
    listed settings, random boosting settings for as long as the budget lasts."""
    for logistic, boosting in zip_longest(LOGISTIC_SETTINGS, BOOSTING_SETTINGS):
        if logistic is not None:
            yield LOGISTIC, logistic
        if boosting is not None:
            yield BOOSTING, boosting
    rng = np.random.default_rng(random_state)
    while True:
        yield BOOSTING, _drawn_boosting(rng)


def encoded_features(pipeline: Pipeline, features: list[str]) -> np.ndarray:
    """The original feature behind each column the pipeline's encoder produces."""
    names = [str(n) for n in pipeline.steps[0][1].get_feature_names_out()]
    out = []
    for name in names:
        rest = name.split("__", 1)[1]
        if rest.startswith("missingindicator_") and rest.removeprefix("missingindicator_") in features:
            rest = rest.removeprefix("missingindicator_")
        out.append(rest.split(LEVEL_SEPARATOR, 1)[0])
    unknown = sorted(set(out) - set(features))
    if unknown:
        raise ValueError(f"encoded columns that map to no feature: {unknown[:5]}")
    return np.array(out)
