"""Explanations add up: for every model family the contributions sum to the score the calibrator reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from analytics.builder_models import BOOSTING_SETTINGS, LOGISTIC, Columns, encoded_features
from analytics.builder_models import FAMILIES as BUILDER_FAMILIES
from analytics.builder_search import calibrated
from analytics.explain import calibrate, contributions, raw_score, top_factors, transformed_mean
from analytics.propensity import PROPENSITY_FEATURES, candidate_models

FAMILIES = ("logistic regression", "decision tree", "linear SVM", "gradient boosting")


def _behaviour(n: int = 1500, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.gamma(2.0, 20.0, n) for name in PROPENSITY_FEATURES})
    frame["home_market"] = rng.integers(0, 2, n).astype("float64")
    logit = -0.03 * frame["recency_days"] + 0.05 * frame["frequency"] + 0.5 * frame["home_market"]
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_add_up_to_the_raw_score_and_calibrate_to_the_probability(family: str) -> None:
    x, y = _behaviour()
    model = clone(candidate_models(7)[family]).fit(x, y)
    names = list(PROPENSITY_FEATURES)
    parts = contributions(model, x, names, transformed_mean(model, x))
    np.testing.assert_allclose(parts.base + parts.values.sum(axis=1), parts.score, atol=1e-9)
    pipeline = model.calibrated_classifiers_[0].estimator
    np.testing.assert_allclose(parts.score, raw_score(pipeline, x))
    np.testing.assert_allclose(calibrate(model, parts.score), model.predict_proba(x)[:, 1])
    assert parts.values.shape == (len(x), len(names))
    assert np.abs(parts.values).sum() > 0


def test_tree_contributions_stay_additive_when_approximated_for_large_populations() -> None:
    x, y = _behaviour()
    model = clone(candidate_models(7)["gradient boosting"]).fit(x, y)
    exact = contributions(model, x, list(PROPENSITY_FEATURES))
    approximate = contributions(model, x, list(PROPENSITY_FEATURES), exact_tree_limit=100)
    assert exact.method == "exact tree SHAP" and approximate.method.startswith("tree path attribution")
    np.testing.assert_allclose(approximate.base + approximate.values.sum(axis=1), approximate.score, atol=1e-9)
    # Both methods agree on which feature matters most for most customers.
    agree = (np.abs(exact.values).argmax(axis=1) == np.abs(approximate.values).argmax(axis=1)).mean()
    assert agree > 0.8


@pytest.mark.parametrize("family", BUILDER_FAMILIES)
def test_encoded_columns_are_summed_back_into_their_feature(family: str) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"plan": rng.choice(["basic", "plus", "pro"], 600), "tenure": rng.integers(1, 60, 600)
                      .astype("float64"), "plan_region": rng.choice([f"r{i}" for i in range(40)], 600)})
    x.loc[::17, "tenure"] = np.nan
    y = ((x["plan"] == "basic") & (x["tenure"].fillna(30) < 20)).astype("int64").to_numpy().copy()
    y[:40] = 1 - y[:40]
    columns = Columns(["tenure"], ["plan"], ["plan_region"])  # "plan" is a prefix of "plan_region" on purpose
    model = calibrated(family, {"C": 1.0} if family == LOGISTIC else BOOSTING_SETTINGS[1], columns, "sigmoid", 1)
    model.fit(x[columns.all], y)
    pipeline = model.calibrated_classifiers_[0].estimator
    parts = contributions(model, x[columns.all], columns.all, transformed_mean(model, x[columns.all]),
                          groups=encoded_features(pipeline, columns.all))
    assert parts.values.shape == (600, 3)
    np.testing.assert_allclose(parts.base + parts.values.sum(axis=1), parts.score, atol=1e-9)
    np.testing.assert_allclose(calibrate(model, parts.score), model.predict_proba(x[columns.all])[:, 1])
    assert (np.abs(parts.values[:, :2]) > 1e-9).any(axis=0).all()  # the number (and its gaps) and the levels push


def test_top_factors_split_for_and_against_and_drop_noise() -> None:
    values = np.array([0.9, -0.5, 0.01, 0.3, -0.2])
    names = ["a", "b", "c", "d", "e"]
    for_, against = top_factors(values, names, lambda j: f"phrase {names[j]}", limit=2)
    assert [f.feature for f in for_] == ["a", "d"]
    assert [f.feature for f in against] == ["b", "e"]
    assert for_[0].phrase == "phrase a"
    assert all(f.feature != "c" for f in for_ + against)  # under 5% of the total push
