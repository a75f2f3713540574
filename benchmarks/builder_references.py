"""The prediction builder's whole procedure replayed in outer cross-validation, against tuned references.

    .venv/bin/python benchmarks/builder_references.py                 # Telco, Online Shoppers, wide
    .venv/bin/python benchmarks/builder_references.py --dataset telco --folds 5 --budget-seconds 20

For each outer fold (stratified, shuffled, seed 0) the builder gets the training rows exactly as
``crm-bot train`` gets them (text columns, its own roles, holdout, tuning and refit) and scores
the test rows; on the same folds the references are fitted:

- tuned logistic regression: one-hot + standardised numbers, ``GridSearchCV`` over C (L2), 3-fold;
- gradient boosting with default settings (scikit-learn ``HistGradientBoostingClassifier``,
  native categories);
- tuned gradient boosting: the same, ``RandomizedSearchCV`` over learning rate, leaves, leaf
  size, L2 and iterations (30 draws, 3-fold).

Prints ROC AUC, Brier and top-decile capture (share of all positives in the top 10%) per method,
mean and standard deviation over the folds, and the builder's training time per fold.

Datasets: Telco customer churn and Online Shoppers Intention from ``CRM_DATASETS_DIR``, and
``wide``: a generated 6,000 x 85 table (integer-coded attributes, a 51-level state column, 6%
positives) for the training-time target.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from analytics.builder import binary_labels, design_matrix, plan_features, train_builder

DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def telco() -> tuple[pd.DataFrame, str]:
    """IBM Telco customer churn (7,043 customers, 27% churn)."""
    frame = pd.read_csv(DATASETS / "telco-customer-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv", dtype=str,
                        keep_default_na=False)
    return frame, "Churn"


def shoppers() -> tuple[pd.DataFrame, str]:
    """Online Shoppers Purchasing Intention (12,330 sessions, 15.5% buy)."""
    frame = pd.read_csv(DATASETS / "online-shoppers-intention" / "online_shoppers_intention.csv", dtype=str,
                        keep_default_na=False)
    return frame, "Revenue"


def wide(customers: int = 6_000, columns: int = 85, seed: int = 7) -> tuple[pd.DataFrame, str]:
    """A CoIL-like table: integer-coded socio-demographic columns driven by a few latent traits,
    a 51-level state, 6% positives; the outcome depends on combinations of columns."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(customers, 4))
    data: dict[str, object] = {"customer_ref": [f"C{i:06d}" for i in range(customers)]}
    weights = rng.normal(size=(4, columns - 2))
    coded = latent @ weights + rng.normal(scale=1.5, size=(customers, columns - 2))
    for j in range(columns - 2):
        levels = int(rng.choice([2, 5, 10]))
        cut = np.quantile(coded[:, j], np.linspace(0, 1, levels + 1)[1:-1])
        data[f"attr_{j:02d}"] = np.searchsorted(cut, coded[:, j]).astype(str)
    states = [f"S{k:02d}" for k in range(51)]
    state = rng.choice(51, customers, p=rng.dirichlet(np.ones(51) * 2))
    data["state"] = np.array(states)[state]
    effect = rng.normal(scale=0.8, size=51)
    logit = (-3.4 + 0.9 * latent[:, 0] - 0.6 * latent[:, 1] * (latent[:, 2] > 0) + effect[state]
             + 0.5 * (coded[:, 3] > 1) * (coded[:, 7] < 0))
    data["bought"] = np.where(rng.random(customers) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(data), "bought"


def _reference_inputs(train: pd.DataFrame, test: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                       list[str], list[str]]:
    """The references see the columns the builder's roles allow (so ids are out for everyone)."""
    plan = plan_features(train, target)
    return design_matrix(train, plan), design_matrix(test, plan), plan.numeric, plan.categorical


def tuned_logistic(numeric: list[str], categorical: list[str]) -> GridSearchCV:
    """One-hot + scaled numbers, C tuned over 9 values."""
    encode = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
        ("cat", Pipeline([("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
                          ("hot", OneHotEncoder(handle_unknown="ignore"))]), categorical)])
    model = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=5000))])
    return GridSearchCV(model, {"model__C": np.logspace(-3, 2, 9)}, scoring="roc_auc",
                        cv=StratifiedKFold(3, shuffle=True, random_state=1))


def boosting(numeric: list[str], categorical: list[str], tuned: bool) -> Pipeline | RandomizedSearchCV:
    """scikit-learn's histogram gradient boosting with native categories; tuned or default."""
    encode = ColumnTransformer([
        ("num", "passthrough", numeric),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                               encoded_missing_value=np.nan), categorical)])
    flags = [False] * len(numeric) + [True] * len(categorical)
    model = Pipeline([("encode", encode), ("model", HistGradientBoostingClassifier(
        categorical_features=flags, random_state=0, early_stopping=False))])
    if not tuned:
        return model
    space = {"model__learning_rate": loguniform(0.01, 0.3), "model__max_leaf_nodes": randint(3, 64),
             "model__min_samples_leaf": randint(5, 200), "model__l2_regularization": loguniform(1e-3, 10),
             "model__max_iter": randint(50, 600)}
    return RandomizedSearchCV(model, space, n_iter=30, scoring="roc_auc", random_state=0,
                              cv=StratifiedKFold(3, shuffle=True, random_state=1))


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]
    return {"roc_auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p)),
            "top_decile_capture": float(y[top].sum() / y.sum())}


def replay(frame: pd.DataFrame, target: str, folds: int, budget: float) -> pd.DataFrame:
    """Every method on every outer fold: one row per (fold, method)."""
    y_all = binary_labels(frame[target], target).to_numpy()
    rows = []
    for k, (train_rows, test_rows) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0)
                                                .split(frame, y_all)):
        train, test = frame.iloc[train_rows], frame.iloc[test_rows]
        y_train, y_test = y_all[train_rows].astype(int), y_all[test_rows].astype(int)
        started = time.perf_counter()
        result = train_builder(train, target, random_state=42, budget_seconds=budget)
        seconds = time.perf_counter() - started
        x_test = design_matrix(test, result.plan)[result.features]
        p = result.model.predict_proba(x_test)[:, 1]
        rows.append({"fold": k, "method": f"crm-bot ({result.winner})", "seconds": seconds, **_scores(y_test, p)})
        x_train_ref, x_test_ref, numeric, categorical = _reference_inputs(train, test, target)
        references: dict[str, Any] = {
            "tuned logistic regression": tuned_logistic(numeric, categorical),
            "gradient boosting, default": boosting(numeric, categorical, tuned=False),
            "gradient boosting, tuned": boosting(numeric, categorical, tuned=True)}
        for name, model in references.items():
            started = time.perf_counter()
            model.fit(x_train_ref, y_train)
            p = model.predict_proba(x_test_ref)[:, 1]
            rows.append({"fold": k, "method": name, "seconds": time.perf_counter() - started, **_scores(y_test, p)})
        print(f"  fold {k}: " + ", ".join(f"{r['method']} {r['roc_auc']:.4f}" for r in rows[-4:]), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["telco", "shoppers", "wide", "all"], default="all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="the builder's tuning budget (default: the builder's own default)")
    args = parser.parse_args()
    from analytics.builder import DEFAULT_BUDGET_SECONDS

    budget = args.budget_seconds if args.budget_seconds is not None else DEFAULT_BUDGET_SECONDS
    chosen = ["telco", "shoppers", "wide"] if args.dataset == "all" else [args.dataset]
    for name in chosen:
        frame, target = {"telco": telco, "shoppers": shoppers, "wide": wide}[name]()
        print(f"{name}: {len(frame):,} rows x {frame.shape[1] - 1} columns, target {target!r}, "
              f"{args.folds}-fold, builder budget {budget:g} s", flush=True)
        table = replay(frame, target, args.folds, budget)
        table["method"] = table["method"].str.replace(r"crm-bot \(.*\)", "crm-bot builder", regex=True)
        summary = table.groupby("method", sort=False).agg(
            roc_auc=("roc_auc", "mean"), roc_auc_sd=("roc_auc", "std"), brier=("brier", "mean"),
            top_decile_capture=("top_decile_capture", "mean"), seconds=("seconds", "mean"))
        print(summary.round(4).to_string(), "\n", flush=True)


if __name__ == "__main__":
    main()
