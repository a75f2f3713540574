"""Purchase propensity: will a customer buy in the next H days?  Built strictly in time.

Features come only from orders up to a cutoff, labels only from the window after it, so no
future leaks into a feature (a test changes every later order and checks the features do not
move).  Models are compared out of time: trained on an earlier cutoff, evaluated on a later
one, against two honest baselines (recency alone, and the lifetime model's expectation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from analytics.contract import require_columns
from analytics.features import FEATURE_DESCRIPTIONS, customer_features

ORDER_COLUMNS = ("order_id", "customer_id", "ordered_at", "value")
MIN_CUSTOMERS = 300
MIN_POSITIVES = 30


class NotEnoughHistory(ValueError):
    """Too few customers or buyers for an honest model; the message says which threshold."""


def features_as_of(orders: pd.DataFrame, lines: pd.DataFrame, cutoff: datetime) -> pd.DataFrame:
    """Behavioural features of every customer from orders placed up to ``cutoff`` only.

    Parameters
    ----------
    orders : ``order_id, customer_id, ordered_at, value`` (sale orders; value = sales value).
    lines : sales lines ``order_id, customer_id, sku, quantity``.
    cutoff : nothing after it is looked at.
    """
    require_columns(orders, ORDER_COLUMNS, "sale orders")
    known = orders[(orders["ordered_at"] <= pd.Timestamp(cutoff)) & orders["customer_id"].notna()]
    totals = known.groupby("customer_id").agg(first_order_at=("ordered_at", "min"),
                                              last_order_at=("ordered_at", "max"),
                                              orders=("order_id", "nunique"), sales_value=("value", "sum"))
    totals = totals.reset_index().assign(credit_value=0.0)
    totals["customer_id"] = totals["customer_id"].astype("int64")
    early_lines = lines[lines["order_id"].isin(known["order_id"])]
    return customer_features(totals, early_lines, cutoff)


def labels_after(orders: pd.DataFrame, customers: pd.Series, cutoff: datetime, horizon_days: int) -> pd.Series:
    """1 for each customer with a sale order in (cutoff, cutoff + horizon], else 0."""
    start, end = pd.Timestamp(cutoff), pd.Timestamp(cutoff) + timedelta(days=horizon_days)
    window = orders[(orders["ordered_at"] > start) & (orders["ordered_at"] <= end)]
    buyers = set(window["customer_id"].dropna().astype("int64"))
    return customers.isin(buyers).astype("int64")


def candidate_models(random_state: int) -> dict[str, ClassifierMixin]:
    """The four model families compared, each calibrated (isotonic, 3-fold) on its training period."""
    raw: dict[str, ClassifierMixin] = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "decision tree": DecisionTreeClassifier(max_depth=5, min_samples_leaf=30, random_state=random_state),
        "linear SVM": make_pipeline(StandardScaler(), LinearSVC(C=0.5, random_state=random_state)),
        "gradient boosting": HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                                            random_state=random_state),
    }
    return {name: CalibratedClassifierCV(model, method="isotonic", cv=3) for name, model in raw.items()}


def _matrix(features: pd.DataFrame) -> np.ndarray:
    names = [c for c in features.columns if c in FEATURE_DESCRIPTIONS]
    return np.log1p(features[names].clip(lower=0).to_numpy(dtype="float64"))


@dataclass
class Comparison:
    """Out-of-time results of every model and baseline, and the winner."""

    table: pd.DataFrame
    """model, roc_auc, brier, top_decile_precision, top_decile_recall, kind (model / baseline)."""
    winner: str
    train_cutoff: datetime
    test_cutoff: datetime
    sizes: dict[str, int] = field(default_factory=dict)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    top = np.argsort(-p)[: max(1, len(p) // 10)]
    return {"roc_auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
            "top_decile_precision": float(y[top].mean()), "top_decile_recall": float(y[top].sum() / max(y.sum(), 1))}


BaselineScorer = Callable[[datetime], pd.Series]
"""Scores by customer id computed from data up to the given cutoff (higher = more likely to buy)."""


def _calibrated_baseline(name: str, train_scores: np.ndarray, y_train: np.ndarray, test_scores: np.ndarray,
                         y_test: np.ndarray) -> dict[str, object]:
    """Calibrate a baseline's scores on the training period (isotonic, as the models), then evaluate."""
    calibration = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(train_scores, y_train)
    return {"model": name, "kind": "baseline", **_scores(y_test, calibration.predict(test_scores))}


def compare_out_of_time(orders: pd.DataFrame, lines: pd.DataFrame, as_of: datetime, horizon_days: int = 90,
                        random_state: int = 42, baselines: dict[str, BaselineScorer] | None = None) -> Comparison:
    """Train at ``as_of - 2H``, evaluate at ``as_of - H`` (labels up to ``as_of``); pick the best AUC.

    Recency alone is always a baseline; ``baselines`` adds others (e.g. the lifetime model's
    expected purchases), each scored from data up to each cutoff and calibrated on the training
    period exactly like the models, so Brier scores compare like with like.
    """
    train_cutoff = as_of - timedelta(days=2 * horizon_days)
    test_cutoff = as_of - timedelta(days=horizon_days)
    train = features_as_of(orders, lines, train_cutoff)
    test = features_as_of(orders, lines, test_cutoff)
    y_train = labels_after(orders, train["customer_id"], train_cutoff, horizon_days).to_numpy()
    y_test = labels_after(orders, test["customer_id"], test_cutoff, horizon_days).to_numpy()
    for name, (frame, y) in {"training": (train, y_train), "evaluation": (test, y_test)}.items():
        if len(frame) < MIN_CUSTOMERS or y.sum() < MIN_POSITIVES or y.sum() == len(y):
            raise NotEnoughHistory(f"propensity models need at least {MIN_CUSTOMERS} customers and {MIN_POSITIVES} "
                                   f"buyers in the {name} period; there are {len(frame)} and {int(y.sum())}")
    x_train, x_test = _matrix(train), _matrix(test)
    rows = []
    for name, model in candidate_models(random_state).items():
        fitted = clone(model).fit(x_train, y_train)
        rows.append({"model": name, "kind": "model", **_scores(y_test, fitted.predict_proba(x_test)[:, 1])})
    rows.append(_calibrated_baseline("recency only", -train["recency_days"].to_numpy(), y_train,
                                     -test["recency_days"].to_numpy(), y_test))
    for name, scorer in (baselines or {}).items():
        train_scores = scorer(train_cutoff).reindex(train["customer_id"].to_numpy()).fillna(0).to_numpy()
        test_scores = scorer(test_cutoff).reindex(test["customer_id"].to_numpy()).fillna(0).to_numpy()
        rows.append(_calibrated_baseline(name, train_scores, y_train, test_scores, y_test))
    table = pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True)
    winner = str(table[table["kind"] == "model"].iloc[0]["model"])
    return Comparison(table=table, winner=winner, train_cutoff=train_cutoff, test_cutoff=test_cutoff,
                      sizes={"train_customers": len(train), "train_buyers": int(y_train.sum()),
                             "test_customers": len(test), "test_buyers": int(y_test.sum())})
