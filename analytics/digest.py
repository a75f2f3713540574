"""What changed this period, and is it unusual: KPI comparisons, robust anomalies, their drivers.

Pure functions over small frames (one row per period, segment or rule), so the digest's
judgement is testable without a store.  "Unusual" is a robust z-score against the trailing
periods: ``(x - median) / (1.4826 x MAD)``, which a single past spike cannot inflate the way a
standard deviation would (Iglewicz and Hoaglin's 3.5 is the default threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRAILING = 8
"""Periods the current one is compared with (8 weeks, or 8 days)."""
Z_THRESHOLD = 3.5
MATERIAL_CHANGE = 0.10
"""A KPI moving less than 10% on the previous period, with nothing else happening, is a quiet period."""
KPIS = {"net_revenue": "revenue", "orders": "orders", "active_customers": "active customers",
        "new_customers": "new customers", "average_order": "average order value"}
MONEY_KPIS = frozenset({"net_revenue", "average_order"})
"""The KPIs that are amounts of money (the others are counts)."""


@dataclass(frozen=True)
class KpiChange:
    """One KPI this period against the previous period and the trailing median."""

    kpi: str
    now: float
    previous: float
    median: float
    z: float | None
    """Robust z-score against the trailing periods; ``None`` when they do not vary at all."""

    @property
    def vs_previous(self) -> float | None:
        return None if self.previous == 0 else self.now / self.previous - 1

    @property
    def vs_median(self) -> float | None:
        return None if self.median == 0 else self.now / self.median - 1

    @property
    def anomalous(self) -> bool:
        return self.z is not None and abs(self.z) >= Z_THRESHOLD


def robust_z(value: float, history: np.ndarray) -> float | None:
    """``(value - median) / (1.4826 x MAD)`` of ``history``; ``None`` if it has no spread.

    With a zero MAD (more than half the periods identical) the mean absolute deviation from the
    median stands in (scaled by 1.2533, its ratio to sigma for normal data); only a history
    that never varies at all has no score.
    """
    history = np.asarray(history, dtype=float)
    if history.size < 3:
        return None
    median = float(np.median(history))
    spread = 1.4826 * float(np.median(np.abs(history - median)))
    if spread == 0:
        spread = 1.2533 * float(np.mean(np.abs(history - median)))
    if spread == 0:
        return None
    return (value - median) / spread


def with_average_order(kpis: pd.DataFrame) -> pd.DataFrame:
    """Adds ``net_revenue`` (currency units) and ``average_order`` (revenue per sale order)."""
    frame = kpis.copy()
    frame["net_revenue"] = frame["net_revenue_micros"] / 1e6
    frame["average_order"] = np.where(frame["orders"] > 0, frame["net_revenue"] / frame["orders"].clip(lower=1), 0.0)
    return frame


def kpi_changes(kpis: pd.DataFrame) -> list[KpiChange]:
    """Each KPI of the last period vs the one before and the median of up to ``TRAILING`` before it.

    ``kpis``: one row per period, oldest first, as ``with_average_order`` returns.
    """
    if len(kpis) < 2:
        raise ValueError("need at least two periods to compare")
    current, previous = kpis.iloc[-1], kpis.iloc[-2]
    trailing = kpis.iloc[-1 - TRAILING:-1]
    changes = []
    for kpi in KPIS:
        history = trailing[kpi].to_numpy(dtype=float)
        changes.append(KpiChange(kpi, float(current[kpi]), float(previous[kpi]), float(np.median(history)),
                                 robust_z(float(current[kpi]), history)))
    return changes


@dataclass(frozen=True)
class Driver:
    """The segment that moved revenue most, against its own trailing median."""

    segment: str
    change: float
    """Currency units this period minus the segment's trailing median."""
    share: float
    """Its part of the total change of revenue against the trailing median (same sign)."""


def revenue_driver(by_segment: pd.DataFrame, periods: int) -> Driver | None:
    """Which segment's revenue explains most of the last period's deviation from the trailing median.

    ``by_segment``: ``period, segment, net_revenue_micros`` with periods numbered 0..periods-1.
    """
    if by_segment.empty:
        return None
    table = (by_segment.assign(segment=by_segment["segment"].fillna("no customer id"))
             .pivot_table(index="period", columns="segment", values="net_revenue_micros", aggfunc="sum")
             .reindex(range(periods)).fillna(0) / 1e6)
    current = table.iloc[-1]
    median = table.iloc[-1 - TRAILING:-1].median()
    deviation = current - median
    total = float(deviation.sum())
    if total == 0:
        return None
    same_sign = deviation[np.sign(deviation) == np.sign(total)]
    if same_sign.empty:
        return None
    segment = str(same_sign.abs().idxmax())
    return Driver(segment, float(deviation[segment]), float(deviation[segment] / total))


@dataclass(frozen=True)
class RuleChange:
    """A basket rule that is new this run or whose confidence rose markedly."""

    antecedent: tuple[str, ...]
    consequent: str
    confidence: float
    lift: float
    count: int
    """Orders that hold the whole rule."""
    previous_confidence: float | None


def rule_changes(latest: pd.DataFrame, previous: pd.DataFrame, min_lift: float = 2.0,
                 min_gain: float = 0.10, min_new_confidence: float = 0.5, limit: int = 5) -> list[RuleChange]:
    """Strong rules (lift >= ``min_lift``) that are new since the previous run with confidence
    >= ``min_new_confidence`` (a rule just crossing the mining floor is noise, not news), or
    whose confidence rose by ``min_gain`` or more; strongest first."""
    before = {(tuple(r.antecedent), r.consequent): r.confidence for r in previous.itertuples()}
    found = []
    for r in latest[latest["lift"] >= min_lift].sort_values(["lift", "confidence"], ascending=False).itertuples():
        key = (tuple(r.antecedent), r.consequent)
        old = before.get(key)
        if (old is None and r.confidence >= min_new_confidence) or (old is not None and r.confidence - old >= min_gain):
            found.append(RuleChange(key[0], key[1], float(r.confidence), float(r.lift), int(r.count), old))
    return found[:limit]


def is_quiet(changes: list[KpiChange], moved: int, risk_jumps: int, new_rules: int,
             customers: int) -> bool:
    """Nothing material: no anomaly, every KPI within 10% of last period, hardly anyone changed
    segment (under 1% of customers), nobody's risk jumped and no new strong rule."""
    steady = all(c.vs_previous is not None and abs(c.vs_previous) < MATERIAL_CHANGE for c in changes
                 if c.kpi != "new_customers")
    return (steady and not any(c.anomalous for c in changes) and moved < 0.01 * max(customers, 1)
            and risk_jumps == 0 and new_rules == 0)
