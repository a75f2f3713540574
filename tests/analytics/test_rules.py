"""Basket rules: exact metrics on literal baskets, the Groceries oracle, and the two engines agreeing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules

from analytics.rules import (
    ENGINES,
    RULE_COLUMNS,
    Baskets,
    NotEnoughBaskets,
    RuleParams,
    TooManyItemsets,
    build_baskets,
    frequent_itemsets,
    mine_rules,
    rules_from_itemsets,
)


def _lines(baskets: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame([(order, sku) for order, items in enumerate(baskets) for sku in items],
                        columns=["order_id", "sku"])


LITERAL = [["tea", "cake"], ["tea", "cake"], ["tea", "cake", "jam"], ["tea"], ["jam"]]


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_itemsets_exact(engine: str) -> None:
    baskets = build_baskets(_lines(LITERAL))
    found = frequent_itemsets(baskets, min_support=0.4, engine=engine)
    assert dict(zip(found["items"], found["count"], strict=True)) == {
        ("tea",): 4, ("cake",): 3, ("jam",): 2, ("cake", "tea"): 3}


def test_rule_metrics_exact() -> None:
    baskets = build_baskets(_lines(LITERAL))
    rules = rules_from_itemsets(frequent_itemsets(baskets, 0.4), len(baskets.baskets))
    cake_tea = rules[(rules["antecedent"] == ("cake",)) & (rules["consequent"] == "tea")].iloc[0]
    assert cake_tea["support"] == pytest.approx(0.6)
    assert cake_tea["confidence"] == pytest.approx(1.0)
    assert cake_tea["lift"] == pytest.approx(1.0 / 0.8)
    assert cake_tea["leverage"] == pytest.approx(0.6 - 0.6 * 0.8)
    assert cake_tea["conviction"] == float("inf")
    tea_cake = rules[(rules["antecedent"] == ("tea",))].iloc[0]
    assert tea_cake["confidence"] == pytest.approx(0.75)
    assert tea_cake["conviction"] == pytest.approx((1 - 0.6) / (1 - 0.75))
    assert list(rules.columns) == list(RULE_COLUMNS)


def test_large_baskets_are_left_out_and_counted() -> None:
    baskets = build_baskets(_lines([["a", "b", "c"], ["a", "b"]]), max_basket_items=2)
    assert baskets.dropped_large == 1 and len(baskets.baskets) == 1


def test_guards_and_refusals() -> None:
    with pytest.raises(NotEnoughBaskets, match="at least 100 orders; there are 5"):
        mine_rules(_lines(LITERAL))
    with pytest.raises(TooManyItemsets, match="raise the minimum support"):
        frequent_itemsets(build_baskets(_lines(LITERAL)), 0.2, max_itemsets=3)
    with pytest.raises(ValueError, match="min_support"):
        RuleParams(min_support=0)
    with pytest.raises(ValueError, match="unknown itemset engine"):
        frequent_itemsets(build_baskets(_lines(LITERAL)), 0.4, engine="magic")


def test_empty_and_missing_columns() -> None:
    assert frequent_itemsets(Baskets([], []), 0.1).empty
    with pytest.raises(ValueError, match="lacks column"):
        build_baskets(pd.DataFrame({"order_id": [1]}))


@pytest.fixture(scope="module")
def groceries(datasets: Path) -> pd.DataFrame:
    text = (datasets / "groceries" / "groceries.csv").read_text(encoding="ascii")
    return _lines([line.split(",") for line in text.splitlines()])


def test_groceries_supports_match_arules(groceries: pd.DataFrame) -> None:
    baskets = build_baskets(groceries, max_basket_items=1000)
    assert len(baskets.baskets) == 9_835 and len(baskets.items) == 169
    found = frequent_itemsets(baskets, min_support=0.01)
    counts = dict(zip(found["items"], found["count"], strict=True))
    assert counts[("whole milk",)] == 2_513
    assert counts[("other vegetables",)] == 1_903
    assert counts[("rolls/buns",)] == 1_809
    assert counts[("cream cheese ",)] == 390  # trailing space kept, as in arules
    assert counts[("other vegetables", "whole milk")] == 736


def test_engines_agree_on_groceries(groceries: pd.DataFrame) -> None:
    baskets = build_baskets(groceries, max_basket_items=1000)
    fast = frequent_itemsets(baskets, 0.002, max_len=4, engine="fim")
    reference = frequent_itemsets(baskets, 0.002, max_len=4, engine="mlxtend")
    assert len(fast) > 4000
    assert dict(zip(fast["items"], fast["count"], strict=True)) == dict(
        zip(reference["items"], reference["count"], strict=True))


def test_rules_agree_with_mlxtend_association_rules(groceries: pd.DataFrame) -> None:
    baskets = build_baskets(groceries, max_basket_items=1000)
    itemsets = frequent_itemsets(baskets, 0.01, max_len=3)
    ours = rules_from_itemsets(itemsets, len(baskets.baskets))
    mlx_input = pd.DataFrame({"support": itemsets["support"], "itemsets": itemsets["items"].map(frozenset)})
    theirs = association_rules(mlx_input, metric="confidence", min_threshold=0.0, num_itemsets=len(baskets.baskets))
    theirs = theirs[theirs["consequents"].map(len) == 1]
    theirs = theirs.assign(antecedent=theirs["antecedents"].map(lambda s: tuple(sorted(s))),
                           consequent=theirs["consequents"].map(lambda s: next(iter(s))))
    merged = ours.merge(theirs, on=["antecedent", "consequent"], suffixes=("", "_mlx"))
    assert len(merged) == len(ours) == len(theirs) > 500
    for metric in ("support", "confidence", "lift", "leverage", "conviction"):
        assert merged[metric].to_numpy() == pytest.approx(merged[f"{metric}_mlx"].to_numpy(), rel=1e-9), metric
