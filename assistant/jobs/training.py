"""The prediction builder's job: learn a yes/no customer attribute, score everyone, store the model."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from analytics.builder import DEFAULT_BUDGET_SECONDS, BuilderError, BuilderResult, train_builder
from analytics.builder_explain import score_builder
from analytics.health import (
    GROUP_MIN_CUSTOMERS,
    calibration_error,
    distribution_profile,
    group_performance,
    group_warnings,
    health_warnings,
    reliability_table,
)
from analytics.propensity import MIN_POSITIVES
from assistant.errors import UserFacingError
from assistant.views.predictions import IDENTITY_COLUMNS, builder_frame, model_health, retrain_reasons
from db import predictions, snapshots
from db.clock import Clock, store_time, utc_now

log = logging.getLogger(__name__)

BUILDER_VERSION = "builder-2"


@dataclass
class TrainSummary:
    """What ``crm-bot train`` did: the comparison, what went in, how many customers were scored."""

    model_id: int
    result: BuilderResult
    scored: int
    method: str
    seconds: float
    warnings: list[str]
    reliability: pd.DataFrame


def _available(frame: pd.DataFrame) -> str:
    names = [c for c in frame.columns if c not in IDENTITY_COLUMNS]
    return ", ".join(names[:25]) + (" ..." if len(names) > 25 else "") if names else "none"


def train_target(engine: Engine, target: str, random_state: int = 42, clock: Clock = utc_now,
                 budget_seconds: float = DEFAULT_BUDGET_SECONDS, actionable: Sequence[str] = (),
                 goal: str | None = None, retrained_because: Sequence[str] = ()) -> TrainSummary:
    """Train, compare, score everyone (the unlabelled too) and store a builder model for ``target``.

    ``budget_seconds`` bounds the tuning; ``actionable`` names the columns what-ifs may change and
    ``goal`` ("lower"/"higher") which way of the score is wanted; ``retrained_because`` records
    why a scheduled retraining ran.
    """
    started = time.perf_counter()
    with Session(engine) as session:
        frame = builder_frame(session)
        run = snapshots.latest_run(session)
        segments = snapshots.segments_of_run(session, run.id) if run is not None else {}
    if frame.empty:
        raise UserFacingError("the store has no customers yet: import them first "
                              "(crm-bot import customers FILE)")
    if target not in frame.columns or target in IDENTITY_COLUMNS:
        raise UserFacingError(f"no customer attribute called {target!r}; the attributes are: {_available(frame)}")
    try:
        result = train_builder(frame.drop(columns=list(IDENTITY_COLUMNS)), target, random_state,
                               budget_seconds=budget_seconds, actionable=actionable, goal=goal)
    except BuilderError as exc:
        raise UserFacingError(str(exc)) from exc
    table, method = score_builder(result, frame)
    reliability = reliability_table(result.holdout_labels, result.holdout_predictions)
    warnings = health_warnings(result.table, result.winner, calibration_error(reliability), [],
                               result.sizes["positives"], MIN_POSITIVES)
    groups = _group_report(result, frame, segments)
    warnings += group_warnings(groups, float(result.table.set_index("model").loc[result.winner, "roc_auc"]))
    profiles = {f: distribution_profile(frame[f], f in result.plan.categorical) for f in result.features}
    row = {
        "run_id": None, "target": target, "status": "trained", "model_name": result.winner,
        "version": f"{BUILDER_VERSION}:{result.winner}:seed{random_state}", "random_state": random_state,
        "trained_at": store_time(clock()), "data_as_of": None,
        "training": {**result.sizes, "split": "stratified, 25% held out", "features": result.features,
                     "numeric": result.plan.numeric, "categorical": result.plan.categorical,
                     "target_encoded": result.plan.target_encoded,
                     "left_out": result.plan.left_out, "explanation_method": method,
                     "best_single_feature": result.best_single_feature, "settings": result.settings,
                     "calibration": result.calibration, "search": result.search, "notes": result.notes,
                     "explained_together": [g for g in result.related if len(g) > 1],
                     "actionable": result.actionable, "goal": result.goal,
                     "base_rate": round(result.base_rate, 4), "groups": groups,
                     "budget_seconds": budget_seconds, "retrained_because": list(retrained_because),
                     "calibration_error": round(calibration_error(reliability), 4), "profiles": profiles},
        "metrics": result.table.round(4).to_dict("records"), "reliability": reliability.round(4).to_dict("records"),
        "drift": [], "feature_selection": result.selection.round(4).to_dict("records"), "warnings": warnings,
    }
    with engine.begin() as connection:
        model_id = predictions.record_model(connection, row)
        predictions.write_predictions(connection, model_id, table)
        predictions.prune_builder_models(connection, target)
    return TrainSummary(model_id=model_id, result=result, scored=len(table), method=method,
                        seconds=time.perf_counter() - started, warnings=warnings, reliability=reliability)


def _group_report(result: BuilderResult, frame: pd.DataFrame, segments: dict[int, str]
                  ) -> dict[str, list[dict[str, object]]]:
    """The winner's held-out ROC AUC and calibration per country and per segment (of the latest run)."""
    held = frame.loc[result.holdout_index]
    y, p = result.holdout_labels, result.holdout_predictions
    report = {}
    if "country" in held.columns and held["country"].notna().any():
        report["country"] = group_performance(y, p, held["country"].reset_index(drop=True), GROUP_MIN_CUSTOMERS)
    if segments:
        report["segment"] = group_performance(y, p, held["customer_id"].map(segments).reset_index(drop=True),
                                              GROUP_MIN_CUSTOMERS)
    return report


def retrain_stale(engine: Engine, max_age_days: float, clock: Clock = utc_now) -> list[tuple[str, list[str]]]:
    """Train again every builder target whose newest model is too old or whose features drifted,
    with the seed, budget, levers and goal it was trained with; (target, reasons) of each retrained.

    A target that cannot be trained any more (its column gone, too few labels) is logged and kept
    as it is: the scheduled refresh that calls this must not fail because of it.
    """
    with Session(engine) as session:
        try:
            stale = [(item.model, reasons) for item in model_health(session, clock())
                     for reasons in [retrain_reasons(item, max_age_days)] if reasons]
        except UserFacingError:  # no models at all
            return []
    done = []
    for model, reasons in stale:
        training = model.training or {}
        try:
            train_target(engine, model.target, model.random_state, clock,
                         budget_seconds=float(training.get("budget_seconds", DEFAULT_BUDGET_SECONDS)),
                         actionable=training.get("actionable") or (), goal=training.get("goal"),
                         retrained_because=reasons)
        except UserFacingError as exc:
            log.warning("builder target %s not retrained (%s): %s", model.target, "; ".join(reasons), exc)
            continue
        log.info("builder target %s retrained: %s", model.target, "; ".join(reasons))
        done.append((model.target, reasons))
    return done
