"""Every customer's score with its top reasons, row by row, for a campaign tool (``crm-bot scores``).

Targets: a prediction-builder target (``churned``), ``purchase`` (the latest refresh's purchase
propensity) or ``churn`` (its churn risk: 1 - P(alive) when the lifetime model identifies
drop-out, else the chance of no order in the horizon, whose reasons are the propensity's with
their direction turned round).  Rows are streamed from the store, never held all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from analytics.explain import stored_factors
from assistant.errors import UserFacingError
from assistant.views.digest import risk_key
from db import predictions, snapshots

EXPORT_COLUMNS = ("customer_id", "score", "reason_1", "reason_2", "reason_3", "explanation", "what_if")
REASONS = 3


@dataclass
class ScoreExport:
    """What the scores are and the rows (``EXPORT_COLUMNS``), highest score first."""

    target: str
    meaning: str
    rows: Iterator[tuple[Any, ...]]


def _reasons(factors: Any, flip: bool = False) -> list[str]:
    """The strongest stored factors as "up: ..." / "down: ..." (the remainder only when material)."""
    shown = [f for f in stored_factors(factors) if f["feature"] != "other factors" or f.get("material")]
    shown.sort(key=lambda f: -abs(float(f["contribution"])))
    out = []
    for f in shown[:REASONS]:
        up = (float(f["contribution"]) > 0) != flip
        out.append(f"{'up' if up else 'down'}: {f['phrase']}")
    return out + [""] * (REASONS - len(out))


def _model_rows(session: Session, model_id: int, flip: bool = False) -> Iterator[tuple[Any, ...]]:
    for ref, probability, factors, explanation, what_if in predictions.stream_scores(session, model_id):
        score = 1 - probability if flip else probability
        yield (ref, round(score, 6), *_reasons(factors, flip), "" if flip else explanation, what_if or "")


def _lifetime_rows(session: Session, run_id: int) -> Iterator[tuple[Any, ...]]:
    for ref, risk, expected, orders, days in predictions.stream_lifetime_risk(session, run_id):
        why = f"{orders} order{'s' if orders != 1 else ''}, the last {days:.0f} days ago"
        yield (ref, round(risk, 6), f"up: {why}" if risk >= 0.5 else f"down: {why}", "", "",
               f"chance of having stopped buying {risk:.2f} ({why}; {expected:.1f} orders expected)", "")


def score_export(session: Session, target: str) -> ScoreExport:
    """The rows of ``target``'s latest scores; a clear error naming the targets there are otherwise."""
    run = snapshots.latest_run(session)
    if target in ("purchase", "churn"):
        if run is None:
            raise UserFacingError(f"no {target} scores yet: run `crm-bot refresh` first")
        run_id, model_id, use_p_alive = risk_key(session, run)
        horizon = run.params.get("horizon_days", 90)
        if target == "churn" and (use_p_alive or model_id is None):
            return ScoreExport(target, "churn risk: 1 - P(alive) from the lifetime model",
                               _lifetime_rows(session, run_id))
        if model_id is None:
            raise UserFacingError("the latest refresh trained no purchase-propensity model (see `crm-bot "
                                  "model-health` for why)")
        if target == "churn":
            return ScoreExport(target, f"churn risk: the chance of no order in the next {horizon} days",
                               _model_rows(session, model_id, flip=True))
        return ScoreExport(target, f"purchase propensity: the chance of an order in the next {horizon} days",
                           _model_rows(session, model_id))
    model = next((m for m in predictions.latest_builder_models(session) if m.target == target), None)
    if model is None:
        known = sorted(m.target for m in predictions.latest_builder_models(session))
        raise UserFacingError(f"no scores for {target!r}: the targets are purchase, churn"
                              + "".join(f", {k}" for k in known)
                              + " (train one with `crm-bot train --target ATTRIBUTE`)")
    return ScoreExport(target, f"chance of {target} (prediction builder, {model.model_name})",
                       _model_rows(session, model.id))
