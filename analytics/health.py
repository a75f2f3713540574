"""Model health: is a model calibrated, has its population drifted, should anyone trust it?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

PSI_MODERATE = 0.10
PSI_MAJOR = 0.25
"""The usual population-stability reading: under 0.1 stable, 0.1-0.25 moderate shift, above 0.25 major."""


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed rate in equal-width probability bins (empty bins left out).

    Columns: ``bin`` ("0.0-0.1"), ``customers``, ``mean_predicted``, ``observed_rate``.
    """
    y, p = np.asarray(y, dtype="float64"), np.clip(np.asarray(p, dtype="float64"), 0, 1)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "customers": int(mask.sum()),
                         "mean_predicted": float(p[mask].mean()), "observed_rate": float(y[mask].mean())})
    return pd.DataFrame(rows, columns=["bin", "customers", "mean_predicted", "observed_rate"])


def calibration_error(table: pd.DataFrame) -> float:
    """Expected calibration error: customer-weighted mean gap between predicted and observed."""
    if table.empty:
        return 0.0
    weights = table["customers"] / table["customers"].sum()
    return float((weights * (table["mean_predicted"] - table["observed_rate"]).abs()).sum())


def population_stability(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (decile bins of the reference).

    Repeated values (counts, flags) collapse bins, which is right: a bin per distinct edge.
    """
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    reference, current = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    ref_share, cur_share = np.clip(ref_share, 1e-4, None), np.clip(cur_share, 1e-4, None)
    return float(((cur_share - ref_share) * np.log(cur_share / ref_share)).sum())


def drift_level(psi: float) -> str:
    """Words for a PSI value."""
    if psi >= PSI_MAJOR:
        return "major shift"
    return "moderate shift" if psi >= PSI_MODERATE else "stable"


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, features: list[str]) -> list[dict[str, object]]:
    """PSI of each feature between the training population and the population being scored."""
    rows = []
    for feature in features:
        psi = population_stability(reference[feature].to_numpy(), current[feature].to_numpy())
        rows.append({"feature": feature, "psi": round(psi, 4), "level": drift_level(psi)})
    return sorted(rows, key=lambda row: -float(row["psi"]))  # type: ignore[arg-type]


def health_warnings(comparison: pd.DataFrame, winner: str, calibration: float, drift: list[dict[str, object]],
                    positives: int, minimum_positives: int) -> list[str]:
    """Plain-words warnings a model owner should read before trusting the scores."""
    warnings = []
    table = comparison.set_index("model")
    baselines = table[table["kind"] == "baseline"]
    if not baselines.empty:
        best_name = str(baselines["roc_auc"].idxmax())
        lead = float(table.loc[winner, "roc_auc"] - baselines["roc_auc"].max())
        if lead <= 0:
            warnings.append(f"{winner} does not beat the {best_name} baseline on ROC AUC ({lead:+.3f}): "
                            "prefer the baseline's ranking")
        elif lead < 0.01:
            warnings.append(f"{winner} beats the {best_name} baseline by only {lead:.3f} ROC AUC")
    if calibration > 0.05:
        warnings.append(f"probabilities are off by {calibration:.2f} on average (calibration error): "
                        "read them as a ranking more than as exact odds")
    major = [str(row["feature"]) for row in drift if row["level"] == "major shift"]
    if major:
        warnings.append("major population shift since training in: " + ", ".join(major))
    if positives < 3 * minimum_positives:
        warnings.append(f"trained on only {positives} positive examples: scores are rough")
    return warnings


def distribution_profile(values: pd.Series, categorical: bool, bins: int = 10) -> dict[str, object]:
    """A compact picture of a feature's training distribution, to measure drift against later."""
    if categorical:
        shares = values.fillna("(missing)").astype(str).value_counts(normalize=True)
        return {"kind": "category", "shares": {str(k): float(v) for k, v in shares.items()}}
    numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")
    if len(numbers) == 0:
        return {"kind": "number", "edges": [], "shares": [1.0]}
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, numbers, side="right"), minlength=len(edges) + 1) / len(numbers)
    return {"kind": "number", "edges": edges.tolist(), "shares": shares.tolist()}


def stability_against_profile(profile: dict[str, object], values: pd.Series) -> float:
    """PSI of today's ``values`` against a stored ``distribution_profile``."""
    if profile["kind"] == "category":
        reference = pd.Series(profile["shares"], dtype="float64")
        current = values.fillna("(missing)").astype(str).value_counts(normalize=True)
        levels = reference.index.union(current.index)
        ref = np.clip(reference.reindex(levels).fillna(0).to_numpy(), 1e-4, None)
        cur = np.clip(current.reindex(levels).fillna(0).to_numpy(), 1e-4, None)
    else:
        numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")
        if len(numbers) == 0:
            return 0.0
        edges = np.asarray(profile["edges"], dtype="float64")
        ref = np.clip(np.asarray(profile["shares"], dtype="float64"), 1e-4, None)
        cur = np.clip(np.bincount(np.searchsorted(edges, numbers, side="right"), minlength=len(edges) + 1)
                      / len(numbers), 1e-4, None)
    return float(((cur - ref) * np.log(cur / ref)).sum())


def fast_roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic over average ranks (ties count half), equal to
    scikit-learn's ``roc_auc_score`` for binary labels without its per-call checks: bootstraps
    call it hundreds of times."""
    positives = y.astype(bool)
    n1 = int(positives.sum())
    n0 = len(y) - n1
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


GROUP_MIN_CUSTOMERS = 100
"""Groups smaller than this are not judged (too few to tell a bad model from bad luck); always
above the privacy floor's default."""
GROUP_MIN_EACH = 10
"""A group's ROC AUC is measured only with at least this many customers of each answer."""
CLEARLY_WORSE_AUC = 0.05
"""A group is flagged when its ROC AUC is this much below the model's overall ROC AUC and the top
of its 90% bootstrap interval is still below the overall figure."""


def group_performance(y: np.ndarray, p: np.ndarray, groups: pd.Series, min_group: int,
                      random_state: int = 0, resamples: int = 200) -> list[dict[str, object]]:
    """ROC AUC and calibration error of the scores ``p`` within each group of at least ``min_group``
    customers (and ``GROUP_MIN_EACH`` of each answer), each flagged when clearly worse than overall.

    ``groups`` is aligned with ``y`` and ``p`` (e.g. each customer's country or segment).
    """
    overall = fast_roc_auc(y, p)
    rng = np.random.default_rng(random_state)
    labels = groups.fillna("(unknown)").astype(str).to_numpy()
    rows: list[dict[str, object]] = []
    for name in pd.unique(labels):
        inside = labels == name
        yy, pp = y[inside], p[inside]
        positives = int(yy.sum())
        if len(yy) < min_group or min(positives, len(yy) - positives) < GROUP_MIN_EACH:
            continue
        auc = fast_roc_auc(yy, pp)
        draws = []
        for _ in range(resamples):
            rows_ = rng.integers(0, len(yy), len(yy))
            if yy[rows_].min() != yy[rows_].max():
                draws.append(fast_roc_auc(yy[rows_], pp[rows_]))
        high = float(np.percentile(draws, 95)) if draws else auc
        rows.append({"group": str(name), "customers": len(yy), "positives": positives, "roc_auc": round(auc, 4),
                     "roc_auc_high": round(high, 4), "calibration_error": round(calibration_error(
                         reliability_table(yy, pp)), 4),
                     "flagged": bool(auc <= overall - CLEARLY_WORSE_AUC and high < overall)})
    return sorted(rows, key=lambda row: -int(row["customers"]))  # type: ignore[call-overload]


def group_warnings(report: dict[str, list[dict[str, object]]], overall_auc: float) -> list[str]:
    """One warning per flagged group: the team should not act on these scores there."""
    return [f"clearly worse for {kind} {row['group']} (ROC AUC {row['roc_auc']:.2f} on {row['customers']:,} "
            f"customers, {overall_auc:.2f} overall): check before acting on these scores there"
            for kind, rows in report.items() for row in rows if row["flagged"]]
