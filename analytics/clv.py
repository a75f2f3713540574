"""Customer lifetime value from the BG/NBD-family and Gamma-Gamma models.

CLV over ``months`` = expected spend per purchase x the sum, month by month, of the expected
purchases in that month, each discounted at the monthly equivalent of ``annual_discount``.
The range is the 10th-90th percentile of the customer's own mean spend under Gamma-Gamma
(its posterior given their purchases), applied to the same discounted purchases: it widens for
customers with few purchases.  Uncertainty in the purchase count is not in the range yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import gamma

from analytics.btyd import BetaGeoParams, GammaGammaParams, expected_purchases, expected_spend, probability_alive
from analytics.contract import empty_frame, require_columns

WEEKS_PER_MONTH = 52.0 / 12.0
MIN_CUSTOMERS = 200
"""Below this many customers the lifetime models are not fitted (too little to learn a population)."""
MIN_REPEAT_CUSTOMERS = 30
"""...nor with fewer customers who came back at least once (repeat behaviour is what they model)."""


def sufficiency_problem(summary: pd.DataFrame) -> str | None:
    """Why the data is too thin for lifetime models, or ``None`` when it is enough."""
    repeaters = int((summary["frequency"] > 0).sum()) if len(summary) else 0
    if len(summary) < MIN_CUSTOMERS:
        return f"lifetime models need at least {MIN_CUSTOMERS} customers; there are {len(summary)}"
    if repeaters < MIN_REPEAT_CUSTOMERS:
        return (f"lifetime models need at least {MIN_REPEAT_CUSTOMERS} customers with a repeat purchase; "
                f"there are {repeaters}")
    return None
LIFETIME_COLUMNS = {"customer_id": "object", "p_alive": "float64", "expected_purchases": "float64",
                    "expected_spend": "float64", "clv": "float64", "clv_low": "float64", "clv_high": "float64",
                    "days_to_next": "float64"}
NEXT_PURCHASE_MAX_DAYS = 365


def days_to_next_purchase(params: BetaGeoParams, summary: pd.DataFrame, unit_days: float = 7.0,
                          max_days: float = NEXT_PURCHASE_MAX_DAYS) -> np.ndarray:
    """Days until the customer's expected purchase count reaches one (NaN beyond ``max_days``).

    "Expected next purchase" in the card: the smallest t with E[purchases in (T, T+t]] = 1,
    found by bisection (the expectation grows with t).  Customers the model thinks have
    probably left never reach one within the year and get NaN ("not expected within a year").
    """
    if summary.empty:
        return np.zeros(0)
    high = np.full(len(summary), max_days / unit_days)
    reachable = expected_purchases(params, summary, max_days / unit_days) >= 1.0
    low = np.zeros(len(summary))
    for _ in range(30):  # 2^-30 of a year: far below a day
        middle = (low + high) / 2
        above = expected_purchases(params, summary, middle) >= 1.0
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return np.where(reachable, high * unit_days, np.nan)


def discounted_purchases(params: BetaGeoParams, summary: pd.DataFrame, months: int,
                         annual_discount: float) -> np.ndarray:
    """Sum over the next ``months`` of each month's expected purchases times its discount factor."""
    monthly_rate = (1 + annual_discount) ** (1 / 12) - 1
    total = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for month in range(1, months + 1):
        cumulative = expected_purchases(params, summary, month * WEEKS_PER_MONTH)
        total += (cumulative - previous) / (1 + monthly_rate) ** month
        previous = cumulative
    return total


def lifetime_table(summary: pd.DataFrame, purchases: BetaGeoParams, spend: GammaGammaParams,
                   horizon_weeks: float, months: int = 12, annual_discount: float = 0.10) -> pd.DataFrame:
    """P(alive), expected purchases in ``horizon_weeks``, expected spend and discounted CLV with a range.

    Parameters
    ----------
    summary : ``customer_id, frequency, recency, T, monetary`` (see ``analytics.btyd.rfm_summary``).
    purchases, spend : fitted purchase (BG/NBD or MBG/NBD) and Gamma-Gamma parameters.
    horizon_weeks : window of ``expected_purchases``.
    months, annual_discount : CLV horizon and yearly discount rate (0.10 = 10%).
    """
    require_columns(summary, ("customer_id", "frequency", "recency", "T", "monetary"), "customer summary")
    if not 0 <= annual_discount < 1:
        raise ValueError(f"annual_discount must be in [0, 1), got {annual_discount}")
    if summary.empty:
        return empty_frame(LIFETIME_COLUMNS)
    value = expected_spend(spend, summary)
    future = discounted_purchases(purchases, summary, months, annual_discount)
    x = summary["frequency"].to_numpy(dtype="float64")
    zbar = summary["monetary"].to_numpy(dtype="float64")
    # Posterior of the customer's spend scale nu ~ Gamma(p x + q, rate v + x zbar); mean spend = p / nu.
    shape, rate = spend.p * x + spend.q, spend.v + x * zbar
    low_spend = spend.p / gamma.ppf(0.9, shape, scale=1 / rate)
    high_spend = spend.p / gamma.ppf(0.1, shape, scale=1 / rate)
    return pd.DataFrame({
        "customer_id": summary["customer_id"].to_numpy(),
        "p_alive": probability_alive(purchases, summary),
        "expected_purchases": expected_purchases(purchases, summary, horizon_weeks),
        "expected_spend": value,
        "clv": value * future,
        "clv_low": np.minimum(low_spend, value) * future,
        "clv_high": np.maximum(high_spend, value) * future,
        "days_to_next": days_to_next_purchase(purchases, summary),
    }).astype(LIFETIME_COLUMNS)
