"""Basket rules: frequent itemsets behind one interface, then "who buys X also buys Y" rules.

Two itemset engines give the same answer:

* ``fim`` (default): Christian Borgelt's FP-growth in C (PyPI ``pyfim``): seconds on a full
  retail year, modest memory;
* ``mlxtend``: mlxtend's ``fpgrowth`` on a sparse one-hot frame: the reference the tests
  cross-check the fast engine against on smaller inputs.

Rules are derived from the itemset counts by ``rules_from_itemsets`` (single-item consequents:
the form a rep can act on), with support, confidence, lift, leverage and conviction.

Memory is guarded three ways: baskets with more than ``max_basket_items`` distinct products
(bulk orders, where co-occurrence means little and enumeration explodes) are left out and
counted; itemsets are limited to ``max_len`` items; and an engine refusing more than
``max_itemsets`` results raises ``TooManyItemsets`` with the advice to raise the support.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from analytics.contract import empty_frame, require_columns

ITEMSET_COLUMNS = {"items": "object", "count": "int64", "support": "float64", "size": "int64"}
RULE_COLUMNS = {
    "antecedent": "object", "consequent": "object", "count": "int64", "support": "float64",
    "antecedent_support": "float64", "consequent_support": "float64", "confidence": "float64",
    "lift": "float64", "leverage": "float64", "conviction": "float64",
}
MIN_BASKETS = 100
"""Below this many baskets rules are noise; ``mine_rules`` refuses."""


class TooManyItemsets(RuntimeError):
    """The support threshold is too low for this data: the itemset count passed the guard."""


class NotEnoughBaskets(ValueError):
    """Too few baskets for rules; the message gives the count and the threshold."""


@dataclass(frozen=True)
class RuleParams:
    """Thresholds of a rule-mining run (all settable from the CLI)."""

    min_support: float = 0.01
    min_confidence: float = 0.3
    min_lift: float = 1.5
    max_len: int = 3
    max_basket_items: int = 100
    max_itemsets: int = 2_000_000
    engine: str = "fim"

    def __post_init__(self) -> None:
        if not 0 < self.min_support <= 1:
            raise ValueError(f"min_support must be in (0, 1], got {self.min_support}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.max_len < 2:
            raise ValueError("max_len must be at least 2 for rules")


class ItemsetEngine(Protocol):
    """Finds every itemset of up to ``max_len`` items in at least ``min_count`` baskets."""

    name: str

    def itemsets(self, baskets: Sequence[Sequence[int]], min_count: int, max_len: int,
                 max_itemsets: int) -> list[tuple[tuple[int, ...], int]]: ...


class FimEngine:
    """Borgelt's FP-growth (``pyfim``)."""

    name = "fim"

    def itemsets(self, baskets: Sequence[Sequence[int]], min_count: int, max_len: int,
                 max_itemsets: int) -> list[tuple[tuple[int, ...], int]]:
        import fim

        found = fim.fpgrowth(baskets, target="s", supp=-min_count, zmin=1, zmax=max_len, report="a")
        if len(found) > max_itemsets:
            raise TooManyItemsets(f"{len(found):,} itemsets (guard: {max_itemsets:,}); raise the minimum support")
        return [(tuple(sorted(items)), int(count)) for items, count in found]


class MlxtendEngine:
    """mlxtend's ``fpgrowth`` on a sparse one-hot matrix (the reference implementation)."""

    name = "mlxtend"

    def itemsets(self, baskets: Sequence[Sequence[int]], min_count: int, max_len: int,
                 max_itemsets: int) -> list[tuple[tuple[int, ...], int]]:
        from mlxtend.frequent_patterns import fpgrowth
        from mlxtend.preprocessing import TransactionEncoder

        encoder = TransactionEncoder()
        onehot = encoder.fit(baskets).transform(baskets, sparse=True)
        frame = pd.DataFrame.sparse.from_spmatrix(onehot, columns=encoder.columns_)
        found = fpgrowth(frame, min_support=min_count / len(baskets), use_colnames=True, max_len=max_len)
        if len(found) > max_itemsets:
            raise TooManyItemsets(f"{len(found):,} itemsets (guard: {max_itemsets:,}); raise the minimum support")
        n = len(baskets)
        return [(tuple(sorted(int(i) for i in items)), round(support * n))
                for items, support in zip(found["itemsets"], found["support"], strict=True)]


ENGINES: dict[str, ItemsetEngine] = {"fim": FimEngine(), "mlxtend": MlxtendEngine()}


@dataclass
class Baskets:
    """Baskets as lists of item codes, with the code <-> product mapping and what was left out."""

    baskets: list[list[int]]
    items: list[str]
    """Product for each code."""
    dropped_large: int = 0
    stats: dict[str, int] = field(default_factory=dict)


def build_baskets(lines: pd.DataFrame, max_basket_items: int = 100) -> Baskets:
    """One basket per order: the set of distinct products on its sales lines.

    Orders with more than ``max_basket_items`` distinct products are left out (counted in
    ``dropped_large``).
    """
    require_columns(lines, ("order_id", "sku"), "sales lines")
    pairs = lines[["order_id", "sku"]].drop_duplicates()
    codes, items = pd.factorize(pairs["sku"], sort=True)
    pairs = pairs.assign(code=codes)
    sizes = pairs.groupby("order_id")["code"].transform("size")
    kept = pairs[sizes <= max_basket_items]
    dropped = int(pairs.loc[sizes > max_basket_items, "order_id"].nunique())
    grouped = kept.groupby("order_id", sort=True)["code"].apply(lambda c: sorted(c.tolist()))
    return Baskets(baskets=grouped.tolist(), items=[str(i) for i in items], dropped_large=dropped,
                   stats={"orders": int(pairs["order_id"].nunique()), "baskets": len(grouped),
                          "dropped_large": dropped, "products": len(items)})


def frequent_itemsets(baskets: Baskets, min_support: float, max_len: int = 3, engine: str = "fim",
                      max_itemsets: int = 2_000_000) -> pd.DataFrame:
    """Itemsets (as tuples of products) in at least ``min_support`` of the baskets, with counts."""
    if engine not in ENGINES:
        raise ValueError(f"unknown itemset engine {engine!r}; choose one of {', '.join(ENGINES)}")
    n = len(baskets.baskets)
    if n == 0:
        return empty_frame(ITEMSET_COLUMNS)
    min_count = max(1, int(np.ceil(min_support * n - 1e-9)))
    found = ENGINES[engine].itemsets(baskets.baskets, min_count, max_len, max_itemsets)
    items = [tuple(baskets.items[c] for c in codes) for codes, _ in found]
    counts = np.array([count for _, count in found], dtype="int64")
    frame = pd.DataFrame({"items": pd.Series(items, dtype=object), "count": counts})
    frame["support"] = frame["count"] / n
    frame["size"] = frame["items"].map(len).astype("int64")
    return frame.sort_values(["size", "count"], ascending=[True, False], ignore_index=True).astype(ITEMSET_COLUMNS)


def rules_from_itemsets(itemsets: pd.DataFrame, n_baskets: int, min_confidence: float = 0.0,
                        min_lift: float = 0.0) -> pd.DataFrame:
    """Rules ``antecedent -> consequent`` (one consequent item) from itemset counts.

    Every itemset of two or more items yields one rule per item as consequent.  Metrics:
    support = P(A and C); confidence = P(C | A); lift = confidence / P(C);
    leverage = P(A and C) - P(A) P(C); conviction = (1 - P(C)) / (1 - confidence), ``inf`` when
    confidence is 1.
    """
    require_columns(itemsets, ("items", "count"), "itemsets")
    counts = dict(zip(itemsets["items"], itemsets["count"], strict=True))
    rows = []
    for items, count in counts.items():
        if len(items) < 2:
            continue
        for consequent in items:
            antecedent = tuple(i for i in items if i != consequent)
            rows.append((antecedent, consequent, count, counts[antecedent], counts[(consequent,)]))
    if not rows or n_baskets == 0:
        return empty_frame(RULE_COLUMNS)
    frame = pd.DataFrame(rows, columns=["antecedent", "consequent", "count", "a_count", "c_count"])
    frame["support"] = frame["count"] / n_baskets
    frame["antecedent_support"] = frame["a_count"] / n_baskets
    frame["consequent_support"] = frame["c_count"] / n_baskets
    frame["confidence"] = frame["count"] / frame["a_count"]
    frame["lift"] = frame["confidence"] / frame["consequent_support"]
    frame["leverage"] = frame["support"] - frame["antecedent_support"] * frame["consequent_support"]
    with np.errstate(divide="ignore"):
        frame["conviction"] = np.where(frame["confidence"] >= 1, np.inf,
                                       (1 - frame["consequent_support"]) / (1 - frame["confidence"]))
    kept = frame[(frame["confidence"] >= min_confidence) & (frame["lift"] >= min_lift)]
    kept = kept.sort_values(["lift", "confidence", "count"], ascending=False, ignore_index=True)
    return kept.drop(columns=["a_count", "c_count"]).astype(RULE_COLUMNS)


@dataclass
class RuleResult:
    """Rules plus the itemsets and counts behind them."""

    rules: pd.DataFrame
    itemsets: pd.DataFrame
    baskets: int
    stats: dict[str, object]


def mine_rules(lines: pd.DataFrame, params: RuleParams | None = None) -> RuleResult:
    """Baskets from sales lines -> frequent itemsets -> pruned rules.

    Raises ``NotEnoughBaskets`` below ``MIN_BASKETS`` baskets.
    """
    params = params or RuleParams()
    baskets = build_baskets(lines, params.max_basket_items)
    n = len(baskets.baskets)
    if n < MIN_BASKETS:
        raise NotEnoughBaskets(f"basket rules need at least {MIN_BASKETS} orders; there are {n}")
    itemsets = frequent_itemsets(baskets, params.min_support, params.max_len, params.engine, params.max_itemsets)
    rules = rules_from_itemsets(itemsets, n, params.min_confidence, params.min_lift)
    stats: dict[str, object] = {**baskets.stats, "itemsets": len(itemsets), "rules": len(rules),
                                "engine": params.engine}
    return RuleResult(rules=rules, itemsets=itemsets, baskets=n, stats=stats)


def pair_cooccurrence(itemsets: pd.DataFrame, n_baskets: int) -> pd.DataFrame:
    """Every frequent pair as two directed rows (X -> Y and Y -> X) with P(Y | X) and lift.

    The co-occurrence fallback of recommendations: weaker than a rule, still grounded in baskets.
    """
    pairs = itemsets[itemsets["size"] == 2]
    if pairs.empty:
        return empty_frame(RULE_COLUMNS)
    return rules_from_itemsets(itemsets[itemsets["size"] <= 2], n_baskets, 0.0, 1.0 + 1e-9)

