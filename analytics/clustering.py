"""KMeans clusters of customers: k by silhouette, profiles in words, stability under another seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from analytics import words
from analytics.contract import require_columns
from analytics.features import ClusterScaling, fit_cluster_scaling

MIN_CUSTOMERS = 100
"""Below this many customers clusters describe noise, so none are made."""
SILHOUETTE_SAMPLE = 5_000
K_RANGE = range(2, 9)


class NotEnoughData(ValueError):
    """The data is too thin for an honest answer; the message says what and the threshold."""


@dataclass
class ClusterResult:
    """Cluster labels plus everything needed to explain and trust them."""

    labels: pd.Series
    """Cluster number (0..k-1) by customer id; clusters are numbered by revenue, largest first."""
    k: int
    silhouette_by_k: dict[int, float]
    stability_ari: float
    """Adjusted Rand index between this clustering and one fitted with another seed (1 = identical)."""
    profiles: pd.DataFrame
    params: dict[str, object] = field(default_factory=dict)
    model: ClusterModel | None = None
    """What assigns other customers to these clusters (``ClusterModel.assign``)."""
    overall: pd.Series | None = None
    """Medians of the fitted customers that the descriptions compare each cluster with."""


@dataclass(frozen=True)
class ClusterModel:
    """A fitted clustering that can place any customer: the scaling, the centres and their numbering."""

    scaling: ClusterScaling
    kmeans: KMeans
    numbering: np.ndarray
    """Cluster number (by revenue) of each KMeans centre."""

    def assign(self, features: pd.DataFrame) -> pd.Series:
        """Each customer's cluster (nearest centre), by customer id."""
        if features.empty:
            return pd.Series(dtype="int64")
        # KMeans' own predict: the same distance arithmetic that gave the fitted labels.
        nearest = self.kmeans.predict(self.scaling.transform(features))
        return pd.Series(self.numbering[nearest], index=features["customer_id"].to_numpy(), dtype="int64")


def choose_k(matrix: np.ndarray, random_state: int, sample_size: int = SILHOUETTE_SAMPLE,
             k_range: range = K_RANGE) -> dict[int, float]:
    """Silhouette score of KMeans for each k, computed on a fixed random sample of customers."""
    rng = np.random.default_rng(random_state)
    sample = matrix if len(matrix) <= sample_size else matrix[rng.choice(len(matrix), sample_size, replace=False)]
    scores = {}
    for k in k_range:
        if k >= len(sample):
            break
        labels = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(sample)
        scores[k] = float(silhouette_score(sample, labels)) if len(set(labels)) > 1 else -1.0
    return scores


def cluster_customers(features: pd.DataFrame, random_state: int = 42, currency: str | None = None) -> ClusterResult:
    """Cluster customers on their scaled behaviour; raise ``NotEnoughData`` below ``MIN_CUSTOMERS``.

    Parameters
    ----------
    features : output of ``analytics.features.customer_features``.
    random_state : seed of the sample and of KMeans; the stability check uses ``random_state + 1``.
    """
    require_columns(features, ("customer_id", "monetary", "frequency", "recency_days", "avg_order_value"),
                    "customer features")
    if len(features) < MIN_CUSTOMERS:
        raise NotEnoughData(f"clusters need at least {MIN_CUSTOMERS} customers with a purchase; "
                            f"there are {len(features)}")
    scaling = fit_cluster_scaling(features)
    matrix = scaling.transform(features)
    scores = choose_k(matrix, random_state)
    k = max(scores, key=lambda key: (scores[key], -key))
    model = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(matrix)
    other = KMeans(n_clusters=k, n_init=10, random_state=random_state + 1).fit_predict(matrix)
    raw = pd.Series(model.labels_, index=features["customer_id"].to_numpy())
    revenue = features.groupby(raw.to_numpy())["monetary"].sum().sort_values(ascending=False)
    renumber = {old: new for new, old in enumerate(revenue.index)}
    labels = raw.map(renumber).astype("int64")
    numbering = np.array([renumber.get(c, c) for c in range(k)], dtype="int64")
    return ClusterResult(
        labels=labels, k=k, silhouette_by_k=scores,
        stability_ari=float(adjusted_rand_score(model.labels_, other)),
        profiles=profile_clusters(features, labels, currency),
        params={"random_state": random_state, "k_range": [K_RANGE.start, K_RANGE.stop - 1],
                "silhouette_sample": SILHOUETTE_SAMPLE},
        model=ClusterModel(scaling, model, numbering), overall=overall_medians(features),
    )


def _describe(row: pd.Series, overall: pd.Series, currency: str | None = None) -> str:
    traits = []
    if row["median_orders"] >= 2 * overall["frequency"]:
        traits.append("high-frequency")
    elif row["median_orders"] <= 1:
        traits.append("one-order")
    if row["median_units_per_line"] >= 3 * overall["units_per_line"]:
        traits.append("wholesale-size")
    if row["median_order_value"] >= 2 * overall["avg_order_value"]:
        traits.append("big-basket")
    elif row["median_order_value"] <= 0.5 * overall["avg_order_value"]:
        traits.append("small-basket")
    if row["median_recency_days"] <= 0.5 * overall["recency_days"]:
        traits.append("recently active")
    elif row["median_recency_days"] >= 2 * overall["recency_days"]:
        traits.append("lapsed")
    if row["median_return_rate"] >= 0.1:
        traits.append("returns-prone")
    who = ", ".join(traits) if traits else "typical"
    typical = (f"{words.count(row['median_orders'], 'order')}, median order "
               f"{words.money(row['median_order_value'], currency)}, last order "
               f"{words.days_ago(row['median_recency_days'])}")
    return f"{who} buyers; a typical member: {typical}; {row['revenue_share']:.0%} of revenue"


def profile_clusters(features: pd.DataFrame, labels: pd.Series, currency: str | None = None) -> pd.DataFrame:
    """Size, revenue share, medians and a one-line description of each cluster."""
    frame = features.assign(cluster=labels.reindex(features["customer_id"].to_numpy()).to_numpy())
    overall = overall_medians(features)
    total = float(features["monetary"].clip(lower=0).sum()) or 1.0
    profiles = frame.groupby("cluster").agg(
        customers=("customer_id", "size"), revenue=("monetary", lambda v: float(v.clip(lower=0).sum())),
        median_orders=("frequency", "median"), median_order_value=("avg_order_value", "median"),
        median_recency_days=("recency_days", "median"), median_units_per_line=("units_per_line", "median"),
        median_return_rate=("return_rate", "median"),
    ).reset_index()
    profiles["revenue_share"] = profiles["revenue"] / total
    profiles["customer_share"] = profiles["customers"] / len(features)
    profiles["description"] = [_describe(row, overall, currency) for _, row in profiles.iterrows()]
    return profiles


def overall_medians(features: pd.DataFrame) -> pd.Series:
    """The medians a cluster's description is judged against."""
    return features[["frequency", "avg_order_value", "recency_days", "units_per_line"]].median()


def population_profiles(result: ClusterResult, customers: pd.Series, revenue: pd.Series,
                        currency: str | None = None) -> pd.DataFrame:
    """``result``'s profiles (medians from the customers it was fitted on) with each cluster's size
    and revenue share counted over the whole store (``customers`` and positive ``revenue`` by cluster)."""
    profiles = result.profiles.copy()
    profiles["customers"] = profiles["cluster"].map(customers).fillna(0).astype("int64")
    profiles["revenue"] = profiles["cluster"].map(revenue).fillna(0.0).astype("float64")
    profiles["revenue_share"] = profiles["revenue"] / (float(revenue.sum()) or 1.0)
    profiles["customer_share"] = profiles["customers"] / max(int(customers.sum()), 1)
    overall = result.overall if result.overall is not None else pd.Series(dtype="float64")
    profiles["description"] = [_describe(row, overall, currency) for _, row in profiles.iterrows()]
    return profiles
