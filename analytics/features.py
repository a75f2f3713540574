"""Behavioural features per customer, and their preparation for clustering.

Outliers are handled, not dropped: wholesale-size buyers stay in every table, but for
clustering each feature is log-scaled and then capped (winsorised) at its 1st and 99th
percentile so a handful of giant accounts cannot pull every centroid towards them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from analytics.contract import empty_frame, require_columns

FEATURE_COLUMNS = {
    "customer_id": "int64",
    "recency_days": "float64",
    "frequency": "float64",
    "monetary": "float64",
    "avg_order_value": "float64",
    "tenure_days": "float64",
    "days_between_orders": "float64",
    "distinct_products": "float64",
    "lines_per_order": "float64",
    "units_per_line": "float64",
    "return_rate": "float64",
}
"""Customer id plus the behavioural features, all numeric."""

FEATURE_DESCRIPTIONS = {
    "recency_days": "days since the last order",
    "frequency": "number of orders",
    "monetary": "net spend",
    "avg_order_value": "average order value",
    "tenure_days": "days since the first order",
    "days_between_orders": "average days between orders",
    "distinct_products": "number of different products bought",
    "lines_per_order": "average products per order",
    "units_per_line": "average units per product line (wholesale size)",
    "return_rate": "share of spend cancelled or returned",
}

CLUSTER_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "distinct_products",
                    "units_per_line", "return_rate")
"""The features KMeans sees (tenure and gaps are implied by recency and frequency)."""


TOTAL_COLUMNS = {"customer_id": "int64", "first_order_at": "datetime64[ns]", "last_order_at": "datetime64[ns]",
                 "orders": "int64", "sales_value": "float64", "credit_value": "float64"}


def order_totals(orders: pd.DataFrame, credits: pd.DataFrame | None, cutoff: datetime) -> pd.DataFrame:
    """Per customer with a sale order by ``cutoff``: first and last order, orders, sales and credits.

    Parameters
    ----------
    orders : sale orders ``order_id, customer_id, ordered_at, value``.
    credits : ``customer_id, ordered_at, value`` of cancellations and returns (value positive), or None.
    cutoff : nothing after it counts.

    Returns
    -------
    DataFrame with ``TOTAL_COLUMNS``, sorted by customer id.  Sums are rounded to the millionth,
    the store's own precision, so they do not depend on the order rows were added in (a
    partition's totals equal the whole store's for the same customers).
    """
    require_columns(orders, ("order_id", "customer_id", "ordered_at", "value"), "sale orders")
    end = pd.Timestamp(cutoff)
    known = orders[(orders["ordered_at"] <= end) & orders["customer_id"].notna()]
    totals = known.groupby(known["customer_id"].astype("int64")).agg(
        first_order_at=("ordered_at", "min"), last_order_at=("ordered_at", "max"),
        orders=("order_id", "nunique"), sales_value=("value", "sum")).reset_index()
    totals["sales_value"] = totals["sales_value"].round(6)
    totals["credit_value"] = 0.0
    if credits is not None and not credits.empty:
        early = credits[(credits["ordered_at"] <= end) & credits["customer_id"].notna()]
        credit = early.groupby(early["customer_id"].astype("int64"))["value"].sum().round(6)
        totals["credit_value"] = totals["customer_id"].map(credit).fillna(0.0).to_numpy()
    if totals.empty:
        return empty_frame(TOTAL_COLUMNS)
    return totals.astype(TOTAL_COLUMNS).sort_values("customer_id", ignore_index=True)


def customer_features(totals: pd.DataFrame, lines: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Behavioural features for every customer with a sale.

    Parameters
    ----------
    totals : per customer ``customer_id, first_order_at, last_order_at, orders, sales_value,
        credit_value`` (as from the store's customer totals, as of ``as_of``).
    lines : sales lines with ``customer_id, order_id, sku, quantity``.
    as_of : the analysis date.

    Returns
    -------
    DataFrame with ``FEATURE_COLUMNS``, one row per customer with ``orders > 0``.
    """
    require_columns(totals, ("customer_id", "first_order_at", "last_order_at", "orders", "sales_value",
                             "credit_value"), "customer totals")
    require_columns(lines, ("customer_id", "order_id", "sku", "quantity"), "sales lines")
    buyers = totals[totals["orders"] > 0].set_index("customer_id")
    if buyers.empty:
        return empty_frame(FEATURE_COLUMNS)
    day = pd.Timestamp(as_of).normalize()
    per_customer = lines.dropna(subset=["customer_id"]).groupby("customer_id").agg(
        distinct_products=("sku", "nunique"), line_count=("sku", "size"), units=("quantity", "sum"))
    per_customer.index = per_customer.index.astype("int64")
    per_customer = per_customer.reindex(buyers.index).fillna(0)
    orders = buyers["orders"].astype("float64")
    monetary = (buyers["sales_value"] - buyers["credit_value"]).astype("float64")
    tenure = (day - pd.to_datetime(buyers["first_order_at"]).dt.normalize()).dt.days.astype("float64")
    features = pd.DataFrame({
        "customer_id": buyers.index.astype("int64"),
        "recency_days": (day - pd.to_datetime(buyers["last_order_at"]).dt.normalize()).dt.days.astype("float64"),
        "frequency": orders,
        "monetary": monetary,
        "avg_order_value": monetary / orders,
        "tenure_days": tenure,
        "days_between_orders": np.where(orders > 1, (tenure - (day - pd.to_datetime(
            buyers["last_order_at"]).dt.normalize()).dt.days) / (orders - 1).clip(lower=1), tenure),
        "distinct_products": per_customer["distinct_products"],
        "lines_per_order": per_customer["line_count"] / orders,
        "units_per_line": per_customer["units"] / per_customer["line_count"].clip(lower=1),
        "return_rate": (buyers["credit_value"] / buyers["sales_value"].where(buyers["sales_value"] > 0)).fillna(0)
        .clip(0, 1),
    })
    return features.reset_index(drop=True).astype(FEATURE_COLUMNS).sort_values("customer_id", ignore_index=True)


@dataclass(frozen=True)
class ClusterScaling:
    """How clustering features were scaled: the log, the 1st/99th percentile caps and the standardisation."""

    columns: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The same scaling applied to other customers (a partition scored after fitting on a sample)."""
        matrix = _logged(features, self.columns)
        return (np.clip(matrix, self.low, self.high) - self.mean) / self.scale


def _logged(features: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    require_columns(features, columns, "customer features")
    matrix = features[list(columns)].to_numpy(dtype="float64")
    return np.sign(matrix) * np.log1p(np.abs(matrix))


def fit_cluster_scaling(features: pd.DataFrame, columns: tuple[str, ...] = CLUSTER_FEATURES) -> ClusterScaling:
    """Learn ``prepare_for_clustering``'s scaling from ``features``."""
    matrix = _logged(features, columns)
    low, high = np.nanpercentile(matrix, [1, 99], axis=0)
    scaler = StandardScaler().fit(np.clip(matrix, low, high))
    return ClusterScaling(columns, low, high, scaler.mean_, scaler.scale_)


def prepare_for_clustering(features: pd.DataFrame, columns: tuple[str, ...] = CLUSTER_FEATURES) -> np.ndarray:
    """Log-scale, winsorise at the 1st/99th percentile and standardise the clustering features.

    Returns a float matrix (customers x features) with mean 0 and unit variance per column
    (constant columns stay 0).
    """
    if len(features) == 0:
        return _logged(features, columns)
    return fit_cluster_scaling(features, columns).transform(features)
