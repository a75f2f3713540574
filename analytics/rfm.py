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

from dataclasses import dataclass
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


@dataclass(frozen=True)
class QuintileCuts:
    """Where the quintile scores of one measure change, so customers can be scored a partition at a time.

    ``cuts[s - 1]`` is the value a customer must exceed (after orienting: higher is better) to
    score above ``s``; with these four numbers ``score_by_cuts`` gives exactly what ranking the
    whole population gives.
    """

    cuts: tuple[float, float, float, float]
    higher_is_better: bool


def quintile_cuts(values: pd.Series | np.ndarray, higher_is_better: bool = True) -> QuintileCuts:
    """The four cut values of ``values``' quintile scores (see ``quintile_scores``).

    A customer with ``c`` values strictly below theirs has rank ``c + 1`` and scores
    ``1 + 5c // n``: they score above ``s`` exactly when ``c >= ceil(s n / 5)``, that is when their
    value exceeds the ``ceil(s n / 5)``-th smallest one.
    """
    ordered = np.sort(np.asarray(values, dtype="float64") * (1 if higher_is_better else -1))
    n = len(ordered)
    if n == 0:
        return QuintileCuts((np.inf, np.inf, np.inf, np.inf), higher_is_better)
    first, second, third, fourth = (float(ordered[-(-s * n // 5) - 1]) for s in range(1, 5))
    return QuintileCuts((first, second, third, fourth), higher_is_better)


def score_by_cuts(values: pd.Series, cuts: QuintileCuts) -> pd.Series:
    """Scores 1..5 of ``values`` against cuts taken from the whole population."""
    oriented = values.to_numpy(dtype="float64") * (1 if cuts.higher_is_better else -1)
    above = (oriented[:, None] > np.asarray(cuts.cuts)[None, :]).sum(axis=1)
    return pd.Series(1 + above, index=values.index, dtype="int64")


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..5 by position; tied values share the lower score.

    Parameters
    ----------
    values : Series of numbers, one per customer.
    higher_is_better : if False (recency in days), small values score 5.

    Returns
    -------
    Series of int scores aligned with ``values``: ``1 + 5 (rank - 1) // n`` with ties taking the
    lowest rank.
    """
    if values.empty:
        return pd.Series(dtype="int64", index=values.index)
    return score_by_cuts(values, quintile_cuts(values, higher_is_better))


@dataclass(frozen=True)
class RfmCuts:
    """The quintile cuts of recency, frequency and monetary over every scored customer."""

    recency: QuintileCuts
    frequency: QuintileCuts
    monetary: QuintileCuts


def rfm_cuts(table: pd.DataFrame) -> RfmCuts:
    """The cuts of an RFM table of the whole population (``rfm_table``'s output)."""
    return RfmCuts(quintile_cuts(table["recency_days"], higher_is_better=False),
                   quintile_cuts(table["frequency"]), quintile_cuts(table["monetary"]))


def segment_for(r_score: int, fm_score: int) -> str:
    """The named segment of one (R, FM) cell of the grid."""
    return _GRID[int(r_score)][int(fm_score) - 1]


def rfm_table(totals: pd.DataFrame, as_of: datetime, cuts: RfmCuts | None = None) -> pd.DataFrame:
    """Recency, frequency, monetary, scores and segment for every customer with a sale.

    Parameters
    ----------
    totals : one row per customer with ``customer_id``, ``last_order_at`` (last sale),
        ``orders`` (sale orders) and ``monetary`` (net value: sales minus credits).
        Rows with ``orders == 0`` (credits only) are left out: they bought nothing to score.
    as_of : the moment the analysis describes; recency counts whole days up to it.
    cuts : the population's quintile cuts when ``totals`` is one partition of it; by default the
        scores rank ``totals`` itself.

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
    cuts = cuts or rfm_cuts(table)
    table["r_score"] = score_by_cuts(table["recency_days"], cuts.recency)
    table["f_score"] = score_by_cuts(table["frequency"], cuts.frequency)
    table["m_score"] = score_by_cuts(table["monetary"], cuts.monetary)
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
