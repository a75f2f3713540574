"""Which customer features carry information about a target (segment, cluster, next purchase)."""

from __future__ import annotations

import pandas as pd
from sklearn.feature_selection import mutual_info_classif

from analytics.contract import empty_frame, require_columns
from analytics.features import FEATURE_DESCRIPTIONS

IMPORTANCE_COLUMNS = {"feature": "object", "score": "float64", "share": "float64", "description": "object"}


SAMPLE_SIZE = 20_000
"""Mutual information uses a nearest-neighbour estimator; a fixed random sample of this many
customers keeps it fast on a million customers while leaving the ranking unchanged in practice."""

NEIGHBOURS = 3
"""Neighbours of the mutual-information estimator (scikit-learn's default)."""


def feature_importance(features: pd.DataFrame, target: pd.Series, random_state: int = 42,
                       sample_size: int = SAMPLE_SIZE) -> pd.DataFrame:
    """Mutual information between each feature and a categorical ``target``, highest first.

    Parameters
    ----------
    features : ``analytics.features.customer_features`` output.
    target : labels indexed by customer id (customers absent from it are ignored).
    random_state : seed of the sample and of the nearest-neighbour estimator.
    sample_size : at most this many customers are used (a seeded random sample).

    Returns
    -------
    DataFrame ``feature, score`` (nats), ``share`` (of the total score) and ``description``.
    Empty when a single class remains, or a class of ``NEIGHBOURS`` customers or fewer.
    """
    require_columns(features, ("customer_id",), "customer features")
    names = [c for c in features.columns if c in FEATURE_DESCRIPTIONS]
    aligned = features.assign(_target=target.reindex(features["customer_id"].to_numpy()).to_numpy())
    aligned = aligned.dropna(subset=["_target"])
    if len(aligned) > sample_size:
        aligned = aligned.sample(n=sample_size, random_state=random_state)
    counts = aligned["_target"].value_counts()
    # the estimator compares each customer with its 3 nearest neighbours of the same class
    if len(counts) < 2 or counts.min() <= NEIGHBOURS:
        return empty_frame(IMPORTANCE_COLUMNS)
    scores = mutual_info_classif(aligned[names].to_numpy(dtype="float64"), aligned["_target"].astype(str),
                                 discrete_features=False, n_neighbors=NEIGHBOURS, random_state=random_state)
    frame = pd.DataFrame({"feature": names, "score": scores})
    total = frame["score"].sum()
    frame["share"] = frame["score"] / total if total > 0 else 0.0
    frame["description"] = frame["feature"].map(FEATURE_DESCRIPTIONS)
    return frame.sort_values("score", ascending=False, ignore_index=True).astype(IMPORTANCE_COLUMNS)
