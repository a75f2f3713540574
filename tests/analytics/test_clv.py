"""Customer lifetime value from fitted lifetime models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.btyd import expected_purchases, expected_spend, fit_bgnbd, fit_gamma_gamma
from analytics.clv import LIFETIME_COLUMNS, MIN_CUSTOMERS, days_to_next_purchase, lifetime_table, sufficiency_problem


@pytest.fixture(scope="module")
def cdnow(datasets: Path) -> pd.DataFrame:
    summary = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    return summary.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary"})


def test_undiscounted_clv_is_spend_times_expected_purchases(cdnow: pd.DataFrame) -> None:
    purchases, spend = fit_bgnbd(cdnow, modified=True), fit_gamma_gamma(cdnow)
    table = lifetime_table(cdnow, purchases, spend, horizon_weeks=13, months=12, annual_discount=0.0)
    assert list(table.columns) == list(LIFETIME_COLUMNS)
    year = expected_purchases(purchases, cdnow, 52.0)
    assert table["clv"].to_numpy() == pytest.approx(expected_spend(spend, cdnow) * year, rel=1e-9)
    assert table["expected_purchases"].to_numpy() == pytest.approx(expected_purchases(purchases, cdnow, 13))


def test_discounting_ranges_and_probabilities(cdnow: pd.DataFrame) -> None:
    purchases, spend = fit_bgnbd(cdnow, modified=True), fit_gamma_gamma(cdnow)
    plain = lifetime_table(cdnow, purchases, spend, 13, annual_discount=0.0)
    discounted = lifetime_table(cdnow, purchases, spend, 13, annual_discount=0.2)
    assert (discounted["clv"] < plain["clv"]).all()
    assert (discounted["clv_low"] <= discounted["clv"]).all() and (discounted["clv"] <= discounted["clv_high"]).all()
    assert discounted["p_alive"].between(0, 1).all()
    # the range is narrower, relative to the value, for customers with many purchases
    width = (discounted["clv_high"] - discounted["clv_low"]) / discounted["clv"]
    many, few = cdnow["frequency"] >= 10, cdnow["frequency"] == 1
    assert np.median(width[many]) < np.median(width[few])


def test_thin_data_is_named() -> None:
    small = pd.DataFrame({"frequency": [1.0] * 50})
    assert sufficiency_problem(small) == f"lifetime models need at least {MIN_CUSTOMERS} customers; there are 50"
    no_repeat = pd.DataFrame({"frequency": [0.0] * 300})
    assert "repeat purchase; there are 0" in sufficiency_problem(no_repeat)
    with pytest.raises(ValueError, match="annual_discount"):
        lifetime_table(pd.DataFrame(columns=["customer_id", "frequency", "recency", "T", "monetary"]), None, None,
                       13, annual_discount=1.5)  # type: ignore[arg-type]


def test_days_to_next_purchase_is_where_one_purchase_is_expected(cdnow: pd.DataFrame) -> None:
    purchases = fit_bgnbd(cdnow, modified=True)
    days = days_to_next_purchase(purchases, cdnow)
    reachable = ~np.isnan(days)
    assert 0 < reachable.sum() < len(cdnow)  # CDNOW's many lapsed buyers are not expected within a year
    at = expected_purchases(purchases, cdnow[reachable], days[reachable] / 7)
    assert at == pytest.approx(np.ones(reachable.sum()), abs=1e-6)
    never = cdnow[~reachable]
    assert (expected_purchases(purchases, never, 365 / 7) < 1).all()
    # Frequent, recent buyers are expected back sooner than occasional ones.
    frequent = reachable & (cdnow["frequency"] >= 10).to_numpy()
    assert np.median(days[frequent]) < np.median(days[reachable])
