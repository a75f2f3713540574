"""Purchase propensity: no leakage, exact labels, honest refusals, and an out-of-time win on real data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.btyd import expected_purchases, fit_bgnbd, rfm_summary
from analytics.propensity import (
    NotEnoughHistory,
    compare_out_of_time,
    features_as_of,
    fit_latest,
    labels_after,
    stacked_rows,
)
from analytics.propensity_explain import contribution_matrix_adds_up, score_and_explain
from db.importers.rules import product_kind

CUTOFF = datetime(2011, 6, 30, 23, 59)


def _orders() -> tuple[pd.DataFrame, pd.DataFrame]:
    orders = pd.DataFrame({
        "order_id": [1, 2, 3, 4, 5, 6],
        "customer_id": [10, 10, 11, 10, 12, 11],
        "ordered_at": pd.to_datetime(["2011-01-05 10:00", "2011-05-01 10:00", "2011-06-20 10:00",
                                      "2011-07-15 10:00", "2011-08-01 10:00", "2011-12-01 10:00"]),
        "value": [100.0, 50.0, 20.0, 70.0, 10.0, 5.0],
    })
    lines = pd.DataFrame({"order_id": [1, 2, 2, 3, 4, 5, 6], "customer_id": [10, 10, 10, 11, 10, 12, 11],
                          "sku": ["a", "b", "c", "a", "d", "a", "b"], "quantity": [1, 2, 3, 4, 5, 6, 7]})
    return orders, lines


def test_changing_anything_after_the_cutoff_leaves_features_unchanged() -> None:
    orders, lines = _orders()
    before = features_as_of(orders, lines, CUTOFF)
    later = orders["ordered_at"] > pd.Timestamp(CUTOFF)
    tampered = orders.copy()
    tampered.loc[later, "value"] *= 1000
    tampered.loc[later, "ordered_at"] += pd.Timedelta(days=3)
    tampered = pd.concat([tampered, pd.DataFrame({"order_id": [7], "customer_id": [13], "value": [9.0],
                                                  "ordered_at": pd.to_datetime(["2011-07-01 09:00"])})])
    tampered_lines = pd.concat([lines.assign(quantity=lines["quantity"].where(~lines["order_id"].isin([4, 5, 6]), 99)),
                                pd.DataFrame({"order_id": [7], "customer_id": [13], "sku": ["z"], "quantity": [1]})])
    pd.testing.assert_frame_equal(features_as_of(tampered, tampered_lines, CUTOFF), before)
    assert before["customer_id"].tolist() == [10, 11]
    assert before.set_index("customer_id").loc[10, "frequency"] == 2


def test_labels_come_from_the_window_after_the_cutoff() -> None:
    orders, _ = _orders()
    labels = labels_after(orders, pd.Series([10, 11, 12]), CUTOFF, horizon_days=45)
    assert labels.tolist() == [1, 0, 1]  # 10 on 07-15, 12 on 08-01 (day 32), 11 only on 12-01


def test_thin_history_is_refused_with_the_threshold() -> None:
    orders, lines = _orders()
    with pytest.raises(NotEnoughHistory, match="at least 300 customers and 30 buyers in the training period"):
        compare_out_of_time(orders, lines, datetime(2011, 12, 9), 90)


@pytest.fixture(scope="module")
def retail(datasets: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(datasets / "online-retail" / "online_retail.csv.gz", dtype=str, keep_default_na=False)
    raw = raw[(raw["CustomerID"] != "") & raw["InvoiceNo"].str[0].str.isdigit()
              & (raw["StockCode"].map(product_kind) == "product")]
    raw = raw.assign(quantity=raw["Quantity"].astype(int), price=raw["UnitPrice"].astype(float))
    raw = raw[(raw["quantity"] > 0) & (raw["price"] > 0)]
    raw = raw[~raw.duplicated(["InvoiceNo", "StockCode", "Quantity", "UnitPrice"])]
    lines = pd.DataFrame({"order_id": raw["InvoiceNo"].astype(int), "customer_id": raw["CustomerID"].astype(int),
                          "sku": raw["StockCode"], "quantity": raw["quantity"]})
    orders = (raw.assign(order_id=raw["InvoiceNo"].astype(int), customer_id=raw["CustomerID"].astype(int),
                         value=raw["quantity"] * raw["price"], ordered_at=pd.to_datetime(raw["InvoiceDate"]))
              .groupby("order_id", as_index=False).agg(customer_id=("customer_id", "first"),
                                                       ordered_at=("ordered_at", "min"), value=("value", "sum")))
    return orders, lines


def test_out_of_time_winner_beats_both_baselines_on_online_retail(retail: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    orders, lines = retail
    transactions = orders.rename(columns={"ordered_at": "date"})[["customer_id", "date", "value"]]

    def bgnbd(cutoff: datetime) -> pd.Series:
        summary = rfm_summary(transactions, cutoff)
        params = fit_bgnbd(summary)
        return pd.Series(expected_purchases(params, summary, 90 / 7), index=summary["customer_id"].astype("int64"))

    result = compare_out_of_time(orders, lines, datetime(2011, 12, 9, 12, 50), 90,
                                 baselines={"BG/NBD expected purchases": bgnbd})
    table = result.table.set_index("model")
    best = table.loc[result.winner]
    for baseline in ("recency only", "BG/NBD expected purchases"):
        assert best["roc_auc"] > table.loc[baseline, "roc_auc"], baseline
        assert best["brier"] < table.loc[baseline, "brier"], baseline
    assert set(table.index) >= {"logistic regression", "decision tree", "linear SVM", "gradient boosting"}
    assert 0.6 < best["roc_auc"] < 0.95
    assert result.sizes["test_buyers"] > 30 and result.test_cutoff > result.train_cutoff
    # Stacked training cutoffs against one, on the same evaluation customers, with an interval.
    against = result.against_previous
    assert against["low"] <= against["difference"] <= against["high"] and against["resamples"] >= 450
    assert against["roc_auc"] == pytest.approx(best["roc_auc"], abs=1e-4)


def test_stacked_rows_take_each_label_from_the_horizon_after_its_own_cutoff(
        retail: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    orders, lines = retail
    last = datetime(2011, 6, 1)
    rows, labels = stacked_rows(orders, lines, last, 90, None, cutoffs=3)
    assert sorted(rows["cutoff"].unique()) == [pd.Timestamp(last - timedelta(days=d)) for d in (60, 30, 0)]
    for cutoff, part in rows.groupby("cutoff"):
        expected = labels_after(orders, part["customer_id"], cutoff.to_pydatetime(), 90).to_numpy()
        assert (labels[part.index.to_numpy()] == expected).all()
        assert part["tenure_days"].min() >= 0  # nobody appears before their first order


def test_a_baseline_whose_fit_runs_off_to_infinity_is_skipped_with_why(
        retail: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    orders, lines = retail

    def degenerate(cutoff: datetime) -> pd.Series:  # as BG/NBD does on a few months of history
        customers = orders.loc[orders["ordered_at"] <= cutoff, "customer_id"].unique()
        return pd.Series(np.where(customers % 2 == 0, np.inf, 1.0), index=customers)

    result = compare_out_of_time(orders, lines, datetime(2011, 11, 9), 90, baselines={"BG/NBD": degenerate})
    assert "too little history" in result.skipped_baselines["BG/NBD"]
    assert "BG/NBD" not in set(result.table["model"]) and "recency only" in set(result.table["model"])


def test_credits_and_countries_after_the_cutoff_do_not_leak_into_features() -> None:
    orders, lines = _orders()
    orders = orders.assign(country=["United Kingdom", "United Kingdom", "France", "France", "United Kingdom",
                                    "United Kingdom"])
    credits = pd.DataFrame({"customer_id": [10, 10], "value": [25.0, 500.0],
                            "ordered_at": pd.to_datetime(["2011-06-01 10:00", "2011-07-02 10:00"])})
    before = features_as_of(orders, lines, CUTOFF, credits).set_index("customer_id")
    assert before.loc[10, "return_rate"] == pytest.approx(25.0 / 150.0)
    # One customer mostly in each country: the tie goes to the first in alphabetical order (France).
    assert before.loc[10, "home_market"] == 0.0 and before.loc[11, "home_market"] == 1.0
    assert before.loc[10, "orders_last_60_days"] == 1 and before.loc[11, "orders_last_60_days"] == 1
    later = credits.assign(value=[25.0, 99_999.0], customer_id=[10, 11])
    later.loc[0, "ordered_at"] = pd.Timestamp("2011-06-01 10:00")
    moved = orders.assign(country=orders["country"].where(orders["ordered_at"] <= pd.Timestamp(CUTOFF), "Japan"))
    pd.testing.assert_frame_equal(features_as_of(moved, lines, CUTOFF, later).set_index("customer_id"), before)


def test_the_refitted_winner_scores_everyone_with_explanations_that_add_up(
        retail: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    orders, lines = retail
    as_of = datetime(2011, 12, 9, 12, 50)
    fitted = fit_latest(orders, lines, as_of, 90, "logistic regression")
    now = features_as_of(orders, lines, as_of)
    table, method = score_and_explain(fitted, now, as_of, 90)
    assert method == "exact (linear)" and len(table) == len(now) == orders["customer_id"].nunique()
    assert contribution_matrix_adds_up(table).max() < 1e-9
    assert table["probability"].between(0, 1).all()
    assert table["explanation"].str.contains(r"(?:likely to buy|may buy|unlikely to buy) in the next 90 days").all()
    assert table["counterfactual"].dropna().str.startswith("one more order now would raise it to about").all()
    assert table["counterfactual"].notna().sum() > 100
    # Customers who bought more recently and more often rank higher on average.
    merged = table.merge(now, on="customer_id")
    assert merged.loc[merged["orders_last_60_days"] >= 2, "probability"].mean() > \
        merged.loc[merged["recency_days"] > 180, "probability"].mean() + 0.3
