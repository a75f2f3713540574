"""The prediction builder: learn any yes/no customer attribute from the other attributes.

``crm-bot train --target churned`` reads the customers' attributes (and their behavioural
features when they have orders), keeps the label out of the features, encodes categories,
imputes missing values, reports which features carry signal, compares the same four model
families as purchase propensity, and checks the winner against a majority-class and a
single-best-feature baseline on a held-out sample it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import mutual_info_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from analytics.propensity import MIN_CUSTOMERS, MIN_POSITIVES, candidate_models, scores

TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f"})
MAX_LEVELS = 50
"""Text columns with more distinct values than this are free text or ids, not categories."""
MIN_SIGNAL_SHARE = 0.01
"""Features carrying less than 1% of the total mutual information are reported and left out."""


class BuilderError(ValueError):
    """The target or the data cannot make an honest model; the message says what to change."""


def binary_labels(values: pd.Series, target: str) -> pd.Series:
    """yes/no, true/false, 1/0 (any case) -> 1.0/0.0; empty -> NaN; anything else -> ``BuilderError``."""
    text = values.astype("string").str.strip().str.lower()
    text = text.mask(text == "")
    original = values.astype("string").str.strip()
    odd = sorted(set(original[text.notna() & ~text.isin(TRUE_WORDS | FALSE_WORDS)]))
    if odd:
        raise BuilderError(f"{target!r} is not a yes/no column: it also holds {', '.join(map(repr, odd[:5]))}; "
                           "the builder predicts two-valued labels (yes/no, true/false, 1/0)")
    return text.map(lambda v: np.nan if pd.isna(v) else float(v in TRUE_WORDS)).astype("float64")


@dataclass
class FeaturePlan:
    """Which columns go in, as numbers or categories, and which were left out and why."""

    numeric: list[str]
    categorical: list[str]
    left_out: dict[str, str] = field(default_factory=dict)


def plan_features(frame: pd.DataFrame, target: str) -> FeaturePlan:
    """Decide each column's role from its values (never from its name alone)."""
    plan = FeaturePlan([], [])
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column]
        text = values.astype("string").str.strip().mask(lambda s: s == "")
        present = text.dropna()
        if present.empty:
            plan.left_out[column] = "always empty"
            continue
        if present.nunique() == 1:
            plan.left_out[column] = "the same value everywhere"
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().mean() >= 0.95:
            plan.numeric.append(column)
        elif present.nunique() > MAX_LEVELS:
            plan.left_out[column] = f"{present.nunique():,} distinct text values (an id or free text)"
        else:
            plan.categorical.append(column)
    return plan


def design_matrix(frame: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """Numbers as floats (unparseable -> missing), categories as text with missing kept missing."""
    out = pd.DataFrame(index=frame.index)
    for column in plan.numeric:
        out[column] = pd.to_numeric(frame[column].astype("string").str.strip(), errors="coerce").astype("float64")
    for column in plan.categorical:
        text = frame[column].astype("string").str.strip()
        out[column] = text.mask(text == "").astype(object).where(lambda s: s.notna(), None)
    return out


def preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Per column: median-impute + scale numbers (with a missing flag), one-hot categories.

    One transformer per column, so every encoded column's name starts with its feature's name
    and contributions can be summed back to the feature.
    """
    parts = [(c, make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), [c])
             for c in numeric]
    parts += [(c, make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                OneHotEncoder(handle_unknown="ignore", min_frequency=5)), [c]) for c in categorical]
    return ColumnTransformer(parts, verbose_feature_names_out=True)


def signal_report(x: pd.DataFrame, y: np.ndarray, plan: FeaturePlan, random_state: int) -> pd.DataFrame:
    """Mutual information of each feature with the label (categories ordinal-coded, numbers imputed)."""
    columns = plan.numeric + plan.categorical
    coded = pd.DataFrame(index=x.index)
    for column in plan.numeric:
        coded[column] = x[column].fillna(x[column].median())
    if plan.categorical:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        coded[plan.categorical] = encoder.fit_transform(x[plan.categorical].fillna("(missing)"))
    discrete = [c in plan.categorical for c in columns]
    mi = mutual_info_classif(coded[columns], y, discrete_features=np.array(discrete), random_state=random_state)
    report = pd.DataFrame({"feature": columns, "mutual_information": mi})
    total = report["mutual_information"].sum() or 1.0
    report["share"] = report["mutual_information"] / total
    report["kept"] = report["share"] >= MIN_SIGNAL_SHARE
    return report.sort_values("mutual_information", ascending=False, ignore_index=True)


@dataclass
class BuilderResult:
    """The comparison on held-out customers, the chosen model refitted on all, and the reasoning."""

    target: str
    table: pd.DataFrame
    winner: str
    model: CalibratedClassifierCV
    features: list[str]
    plan: FeaturePlan
    selection: pd.DataFrame
    holdout_labels: np.ndarray
    holdout_predictions: np.ndarray
    training_mean: np.ndarray
    sizes: dict[str, int]
    best_single_feature: str


def _single_feature_baseline(x_train: pd.DataFrame, y_train: np.ndarray, plan: FeaturePlan,
                             random_state: int) -> tuple[str, CalibratedClassifierCV]:
    """The one feature whose own logistic model ranks best in cross-validation on the training set."""
    folds = StratifiedKFold(3, shuffle=True, random_state=random_state)
    best, best_auc = "", -1.0
    for column in plan.numeric + plan.categorical:
        single = FeaturePlan([column] if column in plan.numeric else [], [column] if column in plan.categorical else [])
        model = make_pipeline(preprocessor(single.numeric, single.categorical), LogisticRegression(max_iter=1000))
        auc = float(cross_val_score(model, x_train[[column]], y_train, cv=folds, scoring="roc_auc").mean())
        if auc > best_auc:
            best, best_auc = column, auc
    single = FeaturePlan([best] if best in plan.numeric else [], [best] if best in plan.categorical else [])
    pipeline = Pipeline([("prep", preprocessor(single.numeric, single.categorical)),
                         ("model", LogisticRegression(max_iter=1000))])
    return best, CalibratedClassifierCV(pipeline, method="isotonic", cv=folds, ensemble=False)


def train_builder(frame: pd.DataFrame, target: str, random_state: int = 42, holdout: float = 0.25) -> BuilderResult:
    """Compare the model families on ``frame`` (one row per customer, ``target`` among its columns).

    The winner is chosen by cross-validated ROC AUC on the training part only; every model and
    baseline is then scored on the held-out part; the winner is refitted on all labelled rows.
    """
    if target not in frame.columns:
        raise BuilderError(f"no customer attribute called {target!r}")
    labels = binary_labels(frame[target], target)
    labelled = frame[labels.notna()]
    y = labels[labels.notna()].to_numpy().astype("int64")
    positives = int(y.sum())
    if len(y) < MIN_CUSTOMERS or min(positives, len(y) - positives) < MIN_POSITIVES:
        raise BuilderError(f"the builder needs at least {MIN_CUSTOMERS} labelled customers with at least "
                           f"{MIN_POSITIVES} of each answer; {target!r} has {len(y)} labelled, {positives} yes and "
                           f"{len(y) - positives} no")
    plan = plan_features(labelled, target)
    if not plan.numeric and not plan.categorical:
        raise BuilderError(f"no usable feature to predict {target!r} from: " + "; ".join(
            f"{k}: {v}" for k, v in plan.left_out.items()))
    x = design_matrix(labelled, plan)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=holdout, stratify=y,
                                                        random_state=random_state)
    selection = signal_report(x_train, y_train, plan, random_state)
    kept = set(selection.loc[selection["kept"], "feature"])
    for column in selection.loc[~selection["kept"], "feature"]:
        plan.left_out[column] = "no measurable signal (mutual information under 1% of the total)"
    plan = FeaturePlan([c for c in plan.numeric if c in kept], [c for c in plan.categorical if c in kept],
                       plan.left_out)
    features = plan.numeric + plan.categorical
    prep = [("prep", preprocessor(plan.numeric, plan.categorical))]
    models = candidate_models(random_state, prep)
    folds = StratifiedKFold(3, shuffle=True, random_state=random_state)
    cv_auc = {name: float(cross_val_score(m.estimator, x_train[features], y_train, cv=folds,
                                          scoring="roc_auc").mean()) for name, m in models.items()}
    winner = max(cv_auc, key=lambda name: cv_auc[name])
    rows, predictions = [], {}
    for name, model in models.items():
        predictions[name] = clone(model).fit(x_train[features], y_train).predict_proba(x_test[features])[:, 1]
        rows.append({"model": name, "kind": "model", "cv_roc_auc": cv_auc[name],
                     **scores(y_test, predictions[name])})
    rate = float(y_train.mean())
    rows.append({"model": "majority class", "kind": "baseline", **scores(y_test, np.full(len(y_test), rate))})
    best_single, single_model = _single_feature_baseline(x_train, y_train, plan, random_state)
    single_p = single_model.fit(x_train[[best_single]], y_train).predict_proba(x_test[[best_single]])[:, 1]
    rows.append({"model": f"best single feature ({best_single})", "kind": "baseline", **scores(y_test, single_p)})
    final = clone(models[winner]).fit(x[features], y)
    from analytics.explain import transformed_mean

    return BuilderResult(
        target=target, table=pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True),
        winner=winner, model=final, features=features, plan=plan, selection=selection, holdout_labels=y_test,
        holdout_predictions=predictions[winner], training_mean=transformed_mean(final, x[features]),
        sizes={"labelled": len(y), "positives": positives, "train": len(y_train), "holdout": len(y_test)},
        best_single_feature=best_single)
