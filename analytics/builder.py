"""The prediction builder: learn any yes/no customer attribute from the other attributes.

``crm-bot train --target churned`` reads the customers' attributes (and their behavioural
features when they have orders) and chooses as a careful data scientist would, on a training
part only (a quarter of the labelled customers is held out to judge the result):

1. each column's role from its values: a number, a category (one-hot / native splits), a
   high-cardinality category (target-encoded inside the folds), or left out with the reason
   (empty, constant, an id or free text, or the target in disguise: alone it predicts the
   label almost perfectly);
2. logistic regression and gradient boosting, their settings tuned by cross-validation within a
   time budget (``analytics.builder_search``);
3. feature selection only if leaving weak features out scores better in the same folds;
4. sigmoid or isotonic calibration, whichever fits the out-of-fold scores better;
5. the result against a majority-class and a single-best-feature baseline on the held-out part,
   with ties in the scores noted; then the winner is refitted on every labelled customer.

Customers whose label is empty are not trained on; they are scored with everyone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_selection import mutual_info_classif
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

from analytics.builder_limits import (
    DEFAULT_BUDGET_SECONDS,
    LEAKAGE_AUC,
    MAX_LEVELS,
    MIN_BUDGET_SECONDS,
    MIN_SIGNAL_SHARE,
    ONE_HOT_LEVELS,
)
from analytics.builder_models import FAMILIES, Columns
from analytics.builder_search import calibrated, choose_calibration, selection_check, tune
from analytics.propensity import MIN_CUSTOMERS, MIN_POSITIVES, scores

TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f"})
FEW_DISTINCT_SCORES = 20
"""Fewer distinct held-out probabilities than this are reported as ties."""


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
    """All category columns; ``target_encoded`` are those with too many levels to one-hot."""
    left_out: dict[str, str] = field(default_factory=dict)
    target_encoded: list[str] = field(default_factory=list)

    def columns(self) -> Columns:
        """The columns by how they are encoded."""
        return Columns(list(self.numeric), [c for c in self.categorical if c not in self.target_encoded],
                       list(self.target_encoded))

    def without(self, gone: dict[str, str]) -> FeaturePlan:
        """The same plan with the ``gone`` columns left out, for the reasons given."""
        return FeaturePlan([c for c in self.numeric if c not in gone], [c for c in self.categorical if c not in gone],
                           {**self.left_out, **gone}, [c for c in self.target_encoded if c not in gone])


def plan_features(frame: pd.DataFrame, target: str) -> FeaturePlan:
    """Decide each column's role from its values (never from its name alone)."""
    plan = FeaturePlan([], [])
    for column in frame.columns:
        if column == target:
            continue
        text = frame[column].astype("string").str.strip().mask(lambda s: s == "")
        present = text.dropna()
        if present.empty:
            plan.left_out[column] = "always empty"
            continue
        levels = present.nunique()
        if levels == 1 and len(present) == len(text):
            plan.left_out[column] = "the same value everywhere"
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().mean() >= 0.95:
            plan.numeric.append(column)
        elif levels > MAX_LEVELS or levels > len(present) / 2:
            plan.left_out[column] = f"{levels:,} distinct text values (an id or free text)"
        else:
            plan.categorical.append(column)
            if levels > ONE_HOT_LEVELS:
                plan.target_encoded.append(column)
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


def single_feature_auc(x: pd.DataFrame, y: np.ndarray, plan: FeaturePlan, random_state: int) -> pd.Series:
    """How well each feature alone ranks the labels (ROC AUC, 0.5 to 1; direction ignored).

    Numbers as they are, missing ranked below everything (a column filled only after the outcome
    shows up through its gaps); categories by their cross-fitted rate of the label, so a level
    seen only once cannot look predictive.
    """
    out = {}
    for column in plan.numeric:
        values = x[column].to_numpy(dtype="float64")
        present = values[~np.isnan(values)]
        floor = (present.min() - 1.0) if len(present) else 0.0
        auc = float(roc_auc_score(y, np.where(np.isnan(values), floor, values)))
        out[column] = max(auc, 1 - auc)
    if plan.categorical:
        text = x[plan.categorical].astype(object).where(x[plan.categorical].notna(), "(missing)")
        folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
        rates = TargetEncoder(target_type="binary", cv=folds).fit_transform(text, y)
        for j, column in enumerate(plan.categorical):
            auc = float(roc_auc_score(y, rates[:, j]))
            out[column] = max(auc, 1 - auc)
    return pd.Series(out, dtype="float64").sort_values(ascending=False)


def signal_report(x: pd.DataFrame, y: np.ndarray, plan: FeaturePlan, random_state: int) -> pd.DataFrame:
    """Mutual information of each feature with the label (categories ordinal-coded, numbers imputed)."""
    columns = plan.numeric + plan.categorical
    coded = pd.DataFrame(index=x.index)
    for column in plan.numeric:
        coded[column] = x[column].fillna(x[column].median())
    if plan.categorical:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        coded[plan.categorical] = encoder.fit_transform(x[plan.categorical].astype(object).fillna("(missing)"))
    discrete = [c in plan.categorical for c in columns]
    mi = mutual_info_classif(coded[columns], y, discrete_features=np.array(discrete), random_state=random_state)
    report = pd.DataFrame({"feature": columns, "mutual_information": mi})
    total = report["mutual_information"].sum() or 1.0
    report["share"] = report["mutual_information"] / total
    report["kept"] = True
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
    settings: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What a data scientist would want said: the selection decision, ties, the budget, leakage."""
    seconds: float = 0.0
    actionable: list[str] = field(default_factory=list)
    """Columns a person can change (a what-if is offered only for these)."""
    goal: str | None = None
    """"lower" or "higher" when one direction of the score is the one wanted (what-ifs then only
    go that way); None: a what-if points away from the customer's verdict."""
    related: list[list[str]] = field(default_factory=list)
    """The features in groups explained as one reason (singletons for most)."""
    holdout_index: pd.Index = field(default_factory=lambda: pd.Index([]))
    """The held-out rows' labels in the frame given to ``train_builder`` (to group them later)."""

    @property
    def base_rate(self) -> float:
        """Share of labelled customers whose answer is yes."""
        return self.sizes["positives"] / max(self.sizes["labelled"], 1)


def _check_labels(frame: pd.DataFrame, target: str) -> pd.Series:
    if target not in frame.columns:
        raise BuilderError(f"no customer attribute called {target!r}")
    labels = binary_labels(frame[target], target)
    y = labels.dropna()
    if y.empty:
        raise BuilderError(f"no customer has a value for {target!r}: fill it in (yes/no) for the customers whose "
                           "outcome you know, and import them again")
    if y.nunique() == 1:
        answer = "yes" if y.iloc[0] == 1 else "no"
        raise BuilderError(f"every labelled customer has the same answer for {target!r} ({answer}, {len(y):,} "
                           "customers): there is nothing to tell apart; import customers with both outcomes")
    positives = int(y.sum())
    if len(y) < MIN_CUSTOMERS or min(positives, len(y) - positives) < MIN_POSITIVES:
        raise BuilderError(f"the builder needs at least {MIN_CUSTOMERS} labelled customers with at least "
                           f"{MIN_POSITIVES} of each answer; {target!r} has {len(y)} labelled, {positives} yes and "
                           f"{len(y) - positives} no")
    return labels


def _ties_note(predictions: np.ndarray) -> str | None:
    distinct = len(np.unique(np.round(predictions, 6)))
    if distinct < FEW_DISTINCT_SCORES:
        return (f"the chosen model gives only {distinct} distinct probabilities on the held-out customers: "
                "customers sharing one cannot be ranked against each other")
    top = np.sort(predictions)[::-1][: max(1, len(predictions) // 10)]
    tied = int((predictions == top[-1]).sum())
    if tied > len(top) // 4:
        return (f"{tied:,} held-out customers share the probability at the top-decile cut ({top[-1]:.3f}): "
                "a top-10% list is partly arbitrary")
    return None


def _single_feature_baseline(x_train: pd.DataFrame, y_train: np.ndarray, x_test: pd.DataFrame, column: str,
                             plan: FeaturePlan, random_state: int) -> np.ndarray:
    """Held-out probabilities of a calibrated logistic model on one feature."""
    columns = Columns([column] if column in plan.numeric else [], [column] if column in plan.columns().categorical
                      else [], [column] if column in plan.target_encoded else [])
    model = calibrated("logistic regression", {"C": 1.0}, columns, "sigmoid", random_state)
    return np.asarray(model.fit(x_train[[column]], y_train).predict_proba(x_test[[column]])[:, 1])


def train_builder(frame: pd.DataFrame, target: str, random_state: int = 42, holdout: float = 0.25,
                  budget_seconds: float = DEFAULT_BUDGET_SECONDS, actionable: Sequence[str] = (),
                  goal: str | None = None) -> BuilderResult:
    """Choose, judge and fit a model of ``target`` from the other columns of ``frame`` (one row per customer).

    Everything that is chosen (roles, settings, features, calibration) is chosen on the training
    part; the held-out part only judges; the winner is then refitted on every labelled row.
    ``actionable`` names the columns a person can change, for the what-ifs, and ``goal`` ("lower",
    "higher") which way of the score is wanted.
    """
    started = time.perf_counter()
    if not budget_seconds >= MIN_BUDGET_SECONDS:
        raise BuilderError(f"a time budget of {budget_seconds:g} s leaves no time to compare models: give at "
                           f"least {MIN_BUDGET_SECONDS:g} s (the default, {DEFAULT_BUDGET_SECONDS:g} s, tunes both "
                           "model families on about 10,000 customers)")
    if goal not in (None, "lower", "higher"):
        raise BuilderError(f"the goal is 'lower' or 'higher' (which way of the score is wanted), not {goal!r}")
    labels = _check_labels(frame, target)
    labelled = frame[labels.notna()]
    y = labels[labels.notna()].to_numpy().astype("int64")
    plan = plan_features(labelled, target)
    if not plan.numeric and not plan.categorical:
        raise BuilderError(f"no usable feature to predict {target!r} from: " + "; ".join(
            f"{k}: {v}" for k, v in plan.left_out.items()))
    x = design_matrix(labelled, plan)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=holdout, stratify=y,
                                                        random_state=random_state)
    alone = single_feature_auc(x_train, y_train, plan, random_state)
    leaks = {c: (f"the target in disguise: alone it ranks {target!r} almost perfectly (ROC AUC {auc:.3f}); "
                 "it is probably recorded after the outcome") for c, auc in alone.items() if auc > LEAKAGE_AUC}
    plan = plan.without(leaks)
    if not plan.numeric and not plan.categorical:
        raise BuilderError(f"no usable feature to predict {target!r} from: " + "; ".join(
            f"{k}: {v}" for k, v in plan.left_out.items()))
    alone = alone.drop(list(leaks))
    levers = _levers(actionable, frame, target, plan)
    selection = signal_report(x_train, y_train, plan, random_state)
    strong = set(selection.loc[selection["share"] >= MIN_SIGNAL_SHARE, "feature"]) | set(levers)
    search = tune(x_train, y_train, plan.columns(), budget_seconds, random_state)
    columns, best, selection_note = selection_check(search.best, plan.columns(), strong, x_train, y_train,
                                                    random_state)
    selection["kept"] = selection["feature"].isin(columns.all)
    dropped = {c: "weak: leaving it out scored better in cross-validation" for c in plan.numeric + plan.categorical
               if c not in columns.all}
    plan = plan.without(dropped)
    method, brier = choose_calibration(best.out_of_fold, y_train, random_state)
    features = columns.all
    rows, predictions = [], {}
    for family in FAMILIES:  # both on the chosen features (``plan`` already left the dropped ones out)
        chosen = best if family == best.family else search.best_of(family)
        model = calibrated(family, chosen.settings, columns, method, random_state)
        predictions[family] = model.fit(x_train[features], y_train).predict_proba(x_test[features])[:, 1]
        rows.append({"model": family, "kind": "model", "cv_roc_auc": chosen.roc_auc, **scores(y_test,
                                                                                                predictions[family])})
    rate = float(y_train.mean())
    rows.append({"model": "majority class", "kind": "baseline", **scores(y_test, np.full(len(y_test), rate))})
    best_single = str(alone.index[0])
    single_p = _single_feature_baseline(x_train, y_train, x_test, best_single, plan, random_state)
    rows.append({"model": f"best single feature ({best_single})", "kind": "baseline", **scores(y_test, single_p)})
    from analytics.builder_explain import related_groups

    related = related_groups(x_train, plan, features, random_state)
    final = clone(calibrated(best.family, best.settings, columns, method, random_state)).fit(x[features], y)
    notes = [selection_note, f"settings: {search.stopped}"]
    notes += [f"{c} left out: {why}" for c, why in leaks.items()]
    ties = _ties_note(predictions[best.family])
    if ties:
        notes.append(ties)
    from analytics.explain import transformed_mean

    return BuilderResult(
        target=target, table=pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True),
        winner=best.family, model=final, features=features, plan=plan, selection=selection,
        holdout_labels=y_test, holdout_predictions=predictions[best.family], holdout_index=x_test.index,
        training_mean=transformed_mean(final, x[features]),
        sizes={"labelled": len(y), "positives": int(y.sum()), "train": len(y_train), "holdout": len(y_test),
               "unlabelled": int(labels.isna().sum())},
        best_single_feature=best_single, settings=best.settings,
        calibration={"method": method, "cv_brier": {k: round(v, 5) for k, v in brier.items()}},
        search=search.summary(), notes=notes, seconds=time.perf_counter() - started, actionable=levers,
        goal=goal, related=related)


def _levers(actionable: Sequence[str], frame: pd.DataFrame, target: str, plan: FeaturePlan) -> list[str]:
    """The actionable columns, each checked to be a feature (feature selection keeps them)."""
    for column in actionable:
        if column == target:
            raise BuilderError(f"{column!r} is the target; name the columns a person can change")
        if column not in frame.columns:
            raise BuilderError(f"no customer attribute called {column!r} to act on")
        if column not in plan.numeric + plan.categorical:
            why = plan.left_out.get(column, "not used by the model")
            raise BuilderError(f"{column!r} cannot be a lever: it is not a feature of the model ({why})")
    return list(dict.fromkeys(actionable))


def fitted_pipeline(result: BuilderResult) -> Pipeline:
    """The refitted winner's pipeline (encoder + estimator), as the calibrator reads it."""
    return result.model.calibrated_classifiers_[0].estimator

