"""Top-N product recommendations per customer, each with the reason behind it.

Candidates come from the customer's own history: every rule whose antecedent the customer
has bought proposes its consequent ("bought by 34% of buyers of X, 2.1x more than average");
where rules run out, frequent pairs with lift above 1 propose weaker, co-occurrence candidates
("in 12% of baskets with X").  Products the customer already bought are never proposed.
Customers are processed in chunks so memory stays flat on a million customers.
"""

from __future__ import annotations

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
    """Rules whose whole antecedent is in the customer's history, as candidate rows."""
    if rules.empty:
        return pd.DataFrame(columns=["customer_id", "sku", "because_of", "confidence", "lift", "source"])
    rules = rules.assign(size=rules["antecedent"].map(len), first=rules["antecedent"].map(lambda a: a[0]))
    single = rules[rules["size"] == 1].merge(history, left_on="first", right_on="sku", suffixes=("", "_h"))
    parts = [single]
    for size in sorted(set(rules["size"]) - {1}):
        multi = rules[rules["size"] == size].merge(history, left_on="first", right_on="sku", suffixes=("", "_h"))
        owned = set(zip(history["customer_id"], history["sku"], strict=True))
        keep = [all((cid, item) in owned for item in ante[1:])
                for cid, ante in zip(multi["customer_id"], multi["antecedent"], strict=True)]
        parts.append(multi[keep])
    found = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"customer_id": found["customer_id"], "sku": found["consequent"],
                         "because_of": found["antecedent"], "confidence": found["confidence"],
                         "lift": found["lift"], "source": source})


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
    frame["reason"] = [_reason(s, b, c, lift, names) for s, b, c, lift in zip(
        frame["source"], frame["because_of"], frame["confidence"], frame["lift"], strict=True)]
    return frame[list(RECOMMENDATION_COLUMNS)].astype(RECOMMENDATION_COLUMNS).reset_index(drop=True)
