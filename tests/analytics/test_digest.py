"""The digest's judgement: robust anomalies, what drove revenue, which rules are news, quiet periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.digest import (
    Z_THRESHOLD,
    is_quiet,
    kpi_changes,
    revenue_driver,
    robust_z,
    rule_changes,
    with_average_order,
)


def test_robust_z_matches_its_definition_and_ignores_one_past_spike() -> None:
    history = np.array([100, 104, 96, 101, 99, 103, 97, 100], dtype=float)
    mad = np.median(np.abs(history - 100))
    assert robust_z(130, history) == pytest.approx(30 / (1.4826 * mad))
    spiked = history.copy()
    spiked[2] = 1_000  # one freak week must not hide a real jump (a standard deviation would)
    assert robust_z(130, spiked) > Z_THRESHOLD
    assert (130 - spiked.mean()) / spiked.std() < 1
    assert robust_z(5, np.array([5.0, 5, 5, 5])) is None  # no spread at all: no score
    assert robust_z(9, np.array([5.0, 5, 5, 6, 5])) > Z_THRESHOLD  # zero MAD: mean deviation stands in
    assert robust_z(9, np.array([5.0, 6])) is None  # too short to judge


def _kpis(revenue: list[float], orders: list[int]) -> pd.DataFrame:
    n = len(revenue)
    return with_average_order(pd.DataFrame({
        "period": range(n), "net_revenue_micros": [int(r * 1e6) for r in revenue], "orders": orders,
        "active_customers": [o // 2 for o in orders], "new_customers": [5] * n}))


def test_kpi_changes_compare_with_last_period_and_the_trailing_median() -> None:
    revenue = [1_000, 1_100, 900, 1_000, 1_050, 950, 1_000, 1_020, 980, 400]
    orders = [10] * 9 + [4]
    changes = {c.kpi: c for c in kpi_changes(_kpis(revenue, orders))}
    r = changes["net_revenue"]
    assert r.now == 400 and r.previous == 980 and r.median == pytest.approx(np.median(revenue[1:9]))
    assert r.vs_previous == pytest.approx(400 / 980 - 1) and r.anomalous and r.z < 0
    assert changes["average_order"].now == pytest.approx(100)
    assert not changes["new_customers"].anomalous  # never varies: no score, not an anomaly


def test_revenue_driver_is_the_segment_that_moved_most_in_the_same_direction() -> None:
    rows = []
    for period in range(10):
        rows += [(period, "Champions", 500e6 if period < 9 else 100e6), (period, "Loyal", 300e6),
                 (period, None, 50e6 if period < 9 else 80e6)]
    driver = revenue_driver(pd.DataFrame(rows, columns=["period", "segment", "net_revenue_micros"]), 10)
    assert driver is not None and driver.segment == "Champions"
    assert driver.change == pytest.approx(-400) and driver.share == pytest.approx(-400 / -370)


def test_rule_changes_are_strong_new_rules_or_big_gains_only() -> None:
    columns = ["antecedent", "consequent", "confidence", "lift", "count"]
    previous = pd.DataFrame([(("A",), "B", 0.40, 3.0, 50), (("C",), "D", 0.60, 4.0, 40)], columns=columns)
    latest = pd.DataFrame([(("A",), "B", 0.55, 3.2, 60),      # +15 points: strengthened
                           (("C",), "D", 0.62, 4.1, 41),      # +2 points: not news
                           (("E",), "F", 0.70, 9.0, 30),      # new and strong
                           (("G",), "H", 0.31, 5.0, 20),      # new but just over the mining floor
                           (("I",), "J", 0.90, 1.2, 90)],     # new but barely above chance
                          columns=columns)
    found = rule_changes(latest, previous)
    assert [(r.antecedent, r.consequent, r.previous_confidence) for r in found] == [
        (("E",), "F", None), (("A",), "B", 0.40)]


def test_a_period_is_quiet_only_when_nothing_material_happened() -> None:
    steady = kpi_changes(_kpis([1_000, 1_010, 990, 1_000, 1_005, 995, 1_000, 1_002, 998, 1_001], [10] * 10))
    assert is_quiet(steady, moved=3, risk_jumps=0, new_rules=0, customers=1_000)
    assert not is_quiet(steady, moved=50, risk_jumps=0, new_rules=0, customers=1_000)
    assert not is_quiet(steady, moved=0, risk_jumps=1, new_rules=0, customers=1_000)
    assert not is_quiet(steady, moved=0, risk_jumps=0, new_rules=1, customers=1_000)
    busy = kpi_changes(_kpis([1_000, 1_010, 990, 1_000, 1_005, 995, 1_000, 1_002, 998, 1_200], [10] * 10))
    assert not is_quiet(busy, moved=0, risk_jumps=0, new_rules=0, customers=1_000)
