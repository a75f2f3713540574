"""Features, clusters, importance, movement and recommendations on literal or generated frames."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from analytics.clustering import MIN_CUSTOMERS, NotEnoughData, cluster_customers
from analytics.features import FEATURE_COLUMNS, customer_features, prepare_for_clustering
from analytics.importance import feature_importance
from analytics.movement import segment_movement
from analytics.recommend import RECOMMENDATION_COLUMNS, recommend
from analytics.rules import rules_from_itemsets

AS_OF = datetime(2011, 12, 9)


def test_features_exact() -> None:
    totals = pd.DataFrame({
        "customer_id": [1, 2, 3], "first_order_at": pd.to_datetime(["2011-01-01", "2011-12-01", "2011-06-01"]),
        "last_order_at": pd.to_datetime(["2011-12-01", "2011-12-01", "2011-06-01"]), "orders": [3, 1, 0],
        "sales_value": [300.0, 50.0, 0.0], "credit_value": [30.0, 0.0, 10.0]})
    lines = pd.DataFrame({"customer_id": [1, 1, 1, 1, 2], "order_id": [10, 10, 11, 12, 13],
                          "sku": ["a", "b", "a", "c", "a"], "quantity": [1, 3, 2, 6, 12]})
    features = customer_features(totals, lines, AS_OF)
    assert list(features.columns) == list(FEATURE_COLUMNS)
    one = features.set_index("customer_id").loc[1]
    assert (one["recency_days"], one["frequency"], one["monetary"]) == (8, 3, 270)
    assert one["avg_order_value"] == 90
    assert one["tenure_days"] == 342
    assert one["days_between_orders"] == (342 - 8) / 2
    assert (one["distinct_products"], one["lines_per_order"], one["units_per_line"]) == (3, 4 / 3, 3)
    assert one["return_rate"] == pytest.approx(0.1)
    assert features["customer_id"].tolist() == [1, 2]  # 3 only has credits


def _blobs(n_per: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = []
    for frequency, value, recency in ((1, 20, 300), (25, 400, 5), (6, 5000, 40)):
        groups.append(pd.DataFrame({
            "frequency": rng.normal(frequency, frequency * 0.05 + 0.01, n_per).clip(1),
            "avg_order_value": rng.normal(value, value * 0.05, n_per), "recency_days": rng.normal(recency, 2, n_per)
            .clip(0), "distinct_products": rng.normal(frequency * 3, 1, n_per).clip(1),
            "units_per_line": rng.normal(value / 50, 0.1, n_per).clip(0.1), "return_rate": 0.0}))
    frame = pd.concat(groups, ignore_index=True)
    frame["monetary"] = frame["frequency"] * frame["avg_order_value"]
    frame.insert(0, "customer_id", np.arange(len(frame)))
    return frame


def test_clusters_find_separated_groups_and_are_stable() -> None:
    result = cluster_customers(_blobs())
    assert result.k == 3
    assert result.stability_ari == pytest.approx(1.0)
    assert set(result.silhouette_by_k) >= {2, 3, 4}
    assert max(result.silhouette_by_k, key=result.silhouette_by_k.get) == 3
    profiles = result.profiles.set_index("cluster")
    assert profiles["customers"].tolist() == [80, 80, 80]
    assert profiles["revenue_share"].is_monotonic_decreasing  # clusters are numbered by revenue
    assert "high-frequency" in profiles["description"].str.cat()
    assert "% of revenue" in profiles.loc[0, "description"]


def test_clusters_refuse_thin_data() -> None:
    with pytest.raises(NotEnoughData, match=f"at least {MIN_CUSTOMERS} customers.*there are 30"):
        cluster_customers(_blobs(10))


def test_scaling_caps_outliers() -> None:
    frame = _blobs()
    frame.loc[0, "monetary"] = 1e12
    matrix = prepare_for_clustering(frame)
    assert np.allclose(matrix.mean(axis=0), 0, atol=1e-9)
    assert np.abs(matrix).max() < 10


def test_importance_ranks_the_informative_feature_first() -> None:
    frame = _blobs()
    target = pd.Series(np.where(frame["recency_days"] > 100, "lapsed", "active"), index=frame["customer_id"])
    ranking = feature_importance(frame, target)
    assert ranking.iloc[0]["feature"] in {"recency_days", "frequency", "avg_order_value", "monetary",
                                          "distinct_products", "units_per_line"}
    assert ranking["share"].sum() == pytest.approx(1.0)
    assert feature_importance(frame, pd.Series("one", index=frame["customer_id"])).empty


def test_movement() -> None:
    current = pd.DataFrame({"customer_id": [1, 2, 3, 4], "segment": ["At risk", "Loyal", "Loyal", "New"]})
    previous = pd.Series({1: "Loyal", 2: "Loyal", 3: "Champions", 5: "Lost"})
    previous_segment, stats = segment_movement(current, previous)
    assert previous_segment.tolist() == ["Loyal", "Loyal", "Champions", None]
    assert stats.loc["Loyal"].tolist() == [2, 1, 1]  # was 2; 3 came from Champions; 1 left for At risk
    assert stats.loc["At risk"].tolist() == [0, 1, 0]
    assert stats.loc["Lost"].tolist() == [1, 0, 1]
    first, first_stats = segment_movement(current, pd.Series(dtype=object))
    assert first.isna().all() and (first_stats["moved_in"] == 0).all()


def _rules() -> tuple[pd.DataFrame, pd.DataFrame]:
    itemsets = pd.DataFrame({"items": [("a",), ("b",), ("c",), ("d",), ("a", "b"), ("a", "c"), ("a", "d"), ("b", "d"),
                                       ("a", "b", "d")],
                             "count": [50, 40, 30, 20, 30, 10, 14, 15, 12]})
    rules = rules_from_itemsets(itemsets, 100, min_confidence=0.3, min_lift=1.2)
    pairs = rules_from_itemsets(itemsets[itemsets["items"].map(len) <= 2], 100, 0.0, 1.0 + 1e-9)
    return rules, pairs


def test_recommendations_exclude_owned_products_and_explain() -> None:
    rules, pairs = _rules()
    history = pd.DataFrame({"customer_id": [1, 1, 2, 3], "sku": ["a", "b", "b", "z"]})
    recs = recommend(history, rules, pairs, names={"a": "Tea", "b": "Cake", "d": "Jam"}, top_n=3)
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    one = recs[recs["customer_id"] == 1]
    assert "a" not in set(one["sku"]) and "b" not in set(one["sku"])
    assert one.iloc[0]["sku"] == "d"  # a+b -> d: 12/30 = 40%, lift 2.0; b -> d: 15/40 = 37.5%
    assert one.iloc[0]["reason"] == "bought by 40% of buyers of Tea and Cake, 2.0x more than average"
    two = recs[recs["customer_id"] == 2]
    assert two["sku"].tolist()[:1] == ["a"]
    assert 3 not in set(recs["customer_id"])  # nothing known about z
    assert recs.groupby("customer_id")["rank"].max().max() <= 3


def test_two_item_rules_need_both_items() -> None:
    rules, pairs = _rules()
    recs = recommend(pd.DataFrame({"customer_id": [9], "sku": ["a"]}), rules, pairs.head(0))
    assert not recs["because_of"].map(len).eq(2).any()


def test_recommend_with_no_rules_is_empty_with_columns() -> None:
    recs = recommend(pd.DataFrame({"customer_id": [1], "sku": ["a"]}), pd.DataFrame(), pd.DataFrame())
    assert recs.empty and list(recs.columns) == list(RECOMMENDATION_COLUMNS)


def test_returned_products_are_not_proposed() -> None:
    rules, pairs = _rules()
    history = pd.DataFrame({"customer_id": [2], "sku": ["b"]})
    returned = pd.DataFrame({"customer_id": [2], "sku": ["a"]})
    recs = recommend(history, rules, pairs, exclude=returned)
    assert "a" not in set(recs["sku"]) and "d" in set(recs["sku"])
