"""RFM: recency, frequency and monetary value, quintile scores and named segments.

Scores are quintiles *by position*: customers are ranked on each measure and split into five
equal groups; customers tied on a value share the lower group (so every customer with one
order gets F = 1, however many they are).  Segments come from the usual RFM grid over the
recency score R and the frequency-monetary score FM = round((F + M) / 2), half up:

    R \\ FM   1            2            3            4            5
    5        New          Potential    Potential    Champions    Champions
    4        New          Potential    Potential    Loyal        Champions
    3        Need attn.   Need attn.   Need attn.   Loyal        Loyal
    2        Hibernating  Hibernating  At risk      At risk      Can't lose them
    1        Lost         Lost         At risk      At risk      Can't lose them
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from analytics.contract import empty_frame, require_columns

SEGMENTS: dict[str, str] = {
    "Champions": "Reward them: early access, loyalty perks and a referral ask; they need no discount.",
    "Loyal": "Upsell the next range up and invite them into a loyalty tier or to review what they buy.",
    "Potential loyalists": "Turn a few good orders into a habit with a bundle, a membership or a reorder reminder.",
    "New": "Welcome them properly: best-sellers, how to reorder, and a reason for a second order within 30 days.",
    "Need attention": "Reach out with a time-limited offer built on what they bought before.",
    "At risk": "Win them back now with a personal message and a relevant offer before they lapse.",
    "Can't lose them": "Call them: big spenders going quiet; find out why and put it right.",
    "Hibernating": "Keep them in low-cost reactivation campaigns only.",
    "Lost": "Leave them out of paid outreach; revive only with the cheapest campaigns.",
}
"""Segment name -> the one-sentence suggested action, in the order segments are shown."""

_GRID = {
    5: ["New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"],
    4: ["New", "Potential loyalists", "Potential loyalists", "Loyal", "Champions"],
    3: ["Need attention", "Need attention", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
    1: ["Lost", "Lost", "At risk", "At risk", "Can't lose them"],
}

RFM_INPUT = ("customer_id", "last_order_at", "orders", "monetary")
RFM_COLUMNS = {
    "customer_id": "int64", "recency_days": "int64", "frequency": "int64", "monetary": "float64",
    "r_score": "int64", "f_score": "int64", "m_score": "int64", "fm_score": "int64", "segment": "object",
}


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..5 by position; tied values share the lower score.

    Parameters
    ----------
    values : Series of numbers, one per customer.
    higher_is_better : if False (recency in days), small values score 5.

    Returns
    -------
    Series of int scores aligned with ``values``.
    """
    if values.empty:
        return pd.Series(dtype="int64", index=values.index)
    ordered = values if higher_is_better else -values
    rank = ordered.rank(method="min").astype("int64")  # 1-based, ties take the lowest rank
    return (1 + (rank - 1) * 5 // len(values)).clip(1, 5).astype("int64")


def segment_for(r_score: int, fm_score: int) -> str:
    """The named segment of one (R, FM) cell of the grid."""
    return _GRID[int(r_score)][int(fm_score) - 1]


def rfm_table(totals: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Recency, frequency, monetary, scores and segment for every customer with a sale.

    Parameters
    ----------
    totals : one row per customer with ``customer_id``, ``last_order_at`` (last sale),
        ``orders`` (sale orders) and ``monetary`` (net value: sales minus credits).
        Rows with ``orders == 0`` (credits only) are left out: they bought nothing to score.
    as_of : the moment the analysis describes; recency counts whole days up to it.

    Returns
    -------
    DataFrame with ``RFM_COLUMNS``, one row per scored customer, sorted by customer id.
    """
    require_columns(totals, RFM_INPUT, "customer totals")
    buyers = totals[totals["orders"] > 0]
    if buyers.empty:
        return empty_frame(RFM_COLUMNS)
    last = pd.to_datetime(buyers["last_order_at"])
    if (last > pd.Timestamp(as_of)).any():
        raise ValueError("customer totals include sales after as_of; aggregate them as of the same date")
    recency = (pd.Timestamp(as_of).normalize() - last.dt.normalize()).dt.days.astype("int64")
    table = pd.DataFrame({
        "customer_id": buyers["customer_id"].astype("int64").to_numpy(),
        "recency_days": recency.to_numpy(),
        "frequency": buyers["orders"].astype("int64").to_numpy(),
        "monetary": buyers["monetary"].astype("float64").to_numpy(),
    })
    table["r_score"] = quintile_scores(table["recency_days"], higher_is_better=False)
    table["f_score"] = quintile_scores(table["frequency"])
    table["m_score"] = quintile_scores(table["monetary"])
    table["fm_score"] = np.floor((table["f_score"] + table["m_score"]) / 2 + 0.5).astype("int64")
    table["segment"] = [segment_for(r, fm) for r, fm in zip(table["r_score"], table["fm_score"], strict=True)]
    return table.sort_values("customer_id", ignore_index=True)


SUMMARY_COLUMNS = {"segment": "object", "customers": "int64", "customer_share": "float64", "revenue": "float64",
                   "revenue_share": "float64", "median_recency_days": "float64", "median_orders": "float64",
                   "action": "object"}


def segment_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Size, share of customers and of revenue, medians and suggested action for each segment.

    Every segment of ``SEGMENTS`` is listed (empty ones with zeros), in that order.
    """
    require_columns(table, ("segment", "monetary", "recency_days", "frequency"), "RFM table")
    total_revenue = float(table["monetary"].clip(lower=0).sum())
    rows = []
    for name, action in SEGMENTS.items():
        members = table[table["segment"] == name]
        revenue = float(members["monetary"].clip(lower=0).sum())
        rows.append({
            "segment": name,
            "customers": len(members),
            "customer_share": len(members) / len(table) if len(table) else 0.0,
            "revenue": revenue,
            "revenue_share": revenue / total_revenue if total_revenue > 0 else 0.0,
            "median_recency_days": float(members["recency_days"].median()) if len(members) else float("nan"),
            "median_orders": float(members["frequency"].median()) if len(members) else float("nan"),
            "action": action,
        })
    return pd.DataFrame(rows).astype(SUMMARY_COLUMNS)
