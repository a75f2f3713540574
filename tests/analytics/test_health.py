"""Model health figures: PSI, reliability, calibration error, warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analytics.health import (
    GROUP_MIN_CUSTOMERS,
    calibration_error,
    distribution_profile,
    drift_level,
    fast_roc_auc,
    group_performance,
    group_warnings,
    health_warnings,
    population_stability,
    reliability_table,
    stability_against_profile,
)


def test_population_stability_is_zero_for_the_same_population_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 20_000)
    assert population_stability(reference, rng.normal(0, 1, 20_000)) < 0.01
    shifted = population_stability(reference, rng.normal(1.0, 1, 20_000))
    assert shifted > 0.25 and drift_level(shifted) == "major shift"
    assert drift_level(0.15) == "moderate shift" and drift_level(0.01) == "stable"


def test_profiles_measure_drift_of_numbers_and_categories_later() -> None:
    rng = np.random.default_rng(1)
    numbers = pd.Series(rng.exponential(10, 5000))
    assert stability_against_profile(distribution_profile(numbers, False), numbers) < 1e-9
    assert stability_against_profile(distribution_profile(numbers, False), numbers * 3) > 0.25
    plans = pd.Series(["basic"] * 700 + ["pro"] * 300)
    profile = distribution_profile(plans, True)
    assert profile["shares"] == {"basic": 0.7, "pro": 0.3}
    assert stability_against_profile(profile, pd.Series(["basic"] * 300 + ["pro"] * 700)) > 0.25


def test_reliability_table_and_calibration_error() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55])
    y = np.array([0, 0, 1, 1, 1, 0])
    table = reliability_table(y, p)
    assert table["bin"].tolist() == ["0.0-0.1", "0.5-0.6", "0.9-1.0"]
    assert table["customers"].tolist() == [2, 2, 2]
    assert table["observed_rate"].tolist() == [0.0, 0.5, 1.0]
    assert abs(calibration_error(table) - (0.05 + 0.05 + 0.05) / 3) < 1e-12


def test_warnings_name_a_weak_lead_bad_calibration_drift_and_few_positives() -> None:
    table = pd.DataFrame([{"model": "m", "kind": "model", "roc_auc": 0.705},
                          {"model": "recency only", "kind": "baseline", "roc_auc": 0.70}])
    warnings = health_warnings(table, "m", 0.08, [{"feature": "tenure_days", "psi": 0.4, "level": "major shift"}],
                               positives=40, minimum_positives=30)
    text = " | ".join(warnings)
    assert "by only 0.005" in text and "calibration error" in text and "tenure_days" in text and "40 positive" in text
    table.loc[0, "roc_auc"] = 0.69
    assert "does not beat" in health_warnings(table, "m", 0.0, [], 1000, 30)[0]


def test_a_group_the_model_fails_is_flagged_and_small_groups_are_not_judged() -> None:
    rng = np.random.default_rng(4)
    n = 2950
    y = (rng.random(n) < 0.3).astype(int)
    good = np.clip(0.3 + 0.35 * (y - 0.3) + rng.normal(0, 0.12, n), 0.01, 0.99)
    country = np.where(np.arange(n) < 2000, "United Kingdom", np.where(np.arange(n) < 2900, "France", "Iceland"))
    p = np.where(country == "France", rng.random(n), good)  # the model knows nothing about France
    rows = {r["group"]: r for r in group_performance(y, p, pd.Series(country), GROUP_MIN_CUSTOMERS)}
    assert set(rows) == {"United Kingdom", "France"}  # Iceland's 50 customers are too few to judge
    assert rows["France"]["flagged"] and not rows["United Kingdom"]["flagged"]
    assert rows["France"]["roc_auc"] < 0.6 and rows["United Kingdom"]["roc_auc"] > 0.8
    warnings = group_warnings({"country": list(rows.values())}, 0.8)
    assert len(warnings) == 1 and warnings[0].startswith("clearly worse for country France (ROC AUC 0.")


def test_the_fast_roc_auc_equals_scikit_learns_with_ties() -> None:
    rng = np.random.default_rng(9)
    y = (rng.random(2000) < 0.2).astype(int)
    scores = np.round(rng.random(2000) + 0.3 * y, 1)  # coarse: many ties
    assert fast_roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
