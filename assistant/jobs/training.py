"""The prediction builder's job: learn a yes/no customer attribute, score everyone, store the model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from analytics.builder import DEFAULT_BUDGET_SECONDS, BuilderError, BuilderResult, train_builder
from analytics.builder_explain import score_builder
from analytics.health import calibration_error, distribution_profile, health_warnings, reliability_table
from analytics.propensity import MIN_POSITIVES
from assistant.errors import UserFacingError
from assistant.views.predictions import IDENTITY_COLUMNS, builder_frame
from db import predictions
from db.clock import Clock, store_time, utc_now

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
                 goal: str | None = None) -> TrainSummary:
    """Train, compare, score everyone (the unlabelled too) and store a builder model for ``target``.

    ``budget_seconds`` bounds the tuning; ``actionable`` names the columns what-ifs may change and
    ``goal`` ("lower"/"higher") which way of the score is wanted.
    """
    started = time.perf_counter()
    with Session(engine) as session:
        frame = builder_frame(session)
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
                     "base_rate": round(result.base_rate, 4),
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
