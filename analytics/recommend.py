"""Top-N product recommendations per customer, each with the reason behind it.

Candidates come from the customer's own history: every rule whose antecedent the customer
has bought proposes its consequent ("bought by 34% of buyers of X, 2.1x more than average");
where rules run out, frequent pairs with lift above 1 propose weaker, co-occurrence candidates
("in 12% of baskets with X").  Products the customer already bought are never proposed.
Customers are processed in chunks so memory stays flat on a million customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.contract import empty_frame, require_columns

RECOMMENDATION_COLUMNS = {
    "customer_id": "int64", "rank": "int64", "sku": "object", "score": "float64", "source": "object",
    "because_of": "object", "confidence": "float64", "lift": "float64", "reason": "object",
}


def _reason(source: str, because_of: tuple[str, ...], confidence: float, lift: float,
            names: dict[str, str]) -> str:
    what = " and ".join(names.get(sku, sku) for sku in because_of)
    if source == "rule":
        return f"bought by {confidence:.0%} of buyers of {what}, {lift:.1f}x more than average"
    return f"in {confidence:.0%} of the baskets with {what} ({lift:.1f}x the usual rate)"


def _candidates(history: pd.DataFrame, rules: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rules whose whole antecedent is in the customer's history, as candidate rows.

    All joins: each rule meets the customers who bought its first antecedent item, then every
    further antecedent item must be among that customer's purchases too.
    """
    if rules.empty:
        return pd.DataFrame(columns=["customer_id", "sku", "because_of", "confidence", "lift", "source", "reason"])
    rules = rules.reset_index(drop=True).assign(rule=lambda r: np.arange(len(r)),
                                                size=lambda r: r["antecedent"].map(len),
                                                first=lambda r: r["antecedent"].map(lambda a: a[0]))
    found = rules.merge(history, left_on="first", right_on="sku", suffixes=("", "_h"))
    if (rules["size"] > 1).any():
        further = rules.loc[rules["size"] > 1, ["rule", "antecedent"]]
        further = further.assign(item=further["antecedent"].map(lambda a: list(a[1:])))[["rule", "item"]]
        further = further.explode("item")
        needs = found.loc[found["size"] > 1, ["customer_id", "rule"]].drop_duplicates()
        checks = needs.merge(further, on="rule").merge(
            history.rename(columns={"sku": "item"}).assign(owned=True), on=["customer_id", "item"], how="left")
        complete = checks.groupby(["customer_id", "rule"])["owned"].count().reset_index(name="owned_items")
        complete = complete.merge(rules[["rule", "size"]], on="rule")
        complete = complete[complete["owned_items"] == complete["size"] - 1][["customer_id", "rule"]]
        found = pd.concat([found[found["size"] == 1],
                           found[found["size"] > 1].merge(complete, on=["customer_id", "rule"])], ignore_index=True)
    return pd.DataFrame({"customer_id": found["customer_id"], "sku": found["consequent"],
                         "because_of": found["antecedent"], "confidence": found["confidence"],
                         "lift": found["lift"], "source": source, "reason": found["reason"]})


def _with_reasons(rules: pd.DataFrame, source: str, names: dict[str, str]) -> pd.DataFrame:
    """Each rule's one-line reason, written once per rule rather than once per customer."""
    if rules.empty:
        return rules
    return rules.assign(reason=[_reason(source, a, c, lift, names) for a, c, lift in zip(
        rules["antecedent"], rules["confidence"], rules["lift"], strict=True)])


def recommend(history: pd.DataFrame, rules: pd.DataFrame, pairs: pd.DataFrame, names: dict[str, str] | None = None,
              top_n: int = 5, chunk_customers: int = 50_000, exclude: pd.DataFrame | None = None) -> pd.DataFrame:
    """Up to ``top_n`` new products per customer, best first, with a one-line reason.

    Parameters
    ----------
    history : distinct ``customer_id, sku`` pairs the customer has bought.
    rules : output of ``analytics.rules.rules_from_itemsets`` (pruned rules).
    pairs : output of ``analytics.rules.pair_cooccurrence`` (co-occurrence fallback).
    names : product descriptions by sku, used in the reasons.
    top_n : recommendations per customer.
    exclude : more ``customer_id, sku`` pairs never to propose (e.g. products they returned).

    Returns
    -------
    DataFrame with ``RECOMMENDATION_COLUMNS``; rule candidates rank above co-occurrence ones,
    then by confidence and lift.  Customers with no candidate are absent.
    """
    require_columns(history, ("customer_id", "sku"), "purchase history")
    names = names or {}
    history = history[["customer_id", "sku"]].drop_duplicates()
    customers = history["customer_id"].drop_duplicates().sort_values().to_numpy()
    rules, pairs = _with_reasons(rules, "rule", names), _with_reasons(pairs, "cooccurrence", names)
    results = []
    for start in range(0, len(customers), chunk_customers):
        chunk = history[history["customer_id"].isin(customers[start:start + chunk_customers])]
        candidates = pd.concat([_candidates(chunk, rules, "rule"), _candidates(chunk, pairs, "cooccurrence")],
                               ignore_index=True)
        if candidates.empty:
            continue
        owned = chunk
        if exclude is not None and not exclude.empty:
            returned = exclude[exclude["customer_id"].isin(chunk["customer_id"])][["customer_id", "sku"]]
            owned = pd.concat([chunk, returned])
        owned = owned.drop_duplicates().assign(owned=True)
        candidates = candidates.merge(owned, on=["customer_id", "sku"], how="left")
        candidates = candidates[candidates["owned"].isna()].drop(columns="owned")
        candidates["score"] = candidates["confidence"] * candidates["lift"].clip(upper=10) / 10 + \
            (candidates["source"] == "rule") * 1.0
        candidates = candidates.sort_values(["customer_id", "score", "confidence", "sku"],
                                            ascending=[True, False, False, True])
        best = candidates.drop_duplicates(["customer_id", "sku"])
        best = best.groupby("customer_id", sort=False).head(top_n).copy()
        best["rank"] = best.groupby("customer_id", sort=False).cumcount() + 1
        results.append(best)
    if not results:
        return empty_frame(RECOMMENDATION_COLUMNS)
    frame = pd.concat(results, ignore_index=True)
    return frame[list(RECOMMENDATION_COLUMNS)].astype(RECOMMENDATION_COLUMNS).reset_index(drop=True)
