"""Prediction models and customer scores: writing them with a run, reading the latest ones.

A refresh writes its propensity model inside the run's transaction (readers only see models
of completed runs, or builder models, which are complete when committed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Label, Select, delete, func, or_, select
from sqlalchemy.orm import Session

from db.bulk import new_id
from db.models import Customer
from db.snapshot_models import AnalyticsRun, CustomerLifetime, CustomerPrediction, CustomerScore, PredictionModel
from db.snapshots import write_frame

KEEP_BUILDER_MODELS = 5
"""Builder models kept per target (the newest), with their scores."""


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: PostgreSQL's JSON (rightly) rejects them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def record_model(connection: Connection, values: dict[str, Any]) -> int:
    """Insert one prediction model row (JSON-safe values) and return its id."""
    clean = _json_safe(json.loads(json.dumps(values, default=str)))
    for key in ("trained_at", "data_as_of"):
        clean[key] = values.get(key)
    result = connection.execute(PredictionModel.__table__.insert().values(**clean))
    return new_id(result)


def write_predictions(connection: Connection, model_id: int, table: pd.DataFrame) -> int:
    """Store a scores table (``customer_id, probability, score, base_score, factors, explanation,
    counterfactual``) for ``model_id``."""
    frame = table[["customer_id", "probability", "score", "base_score", "factors", "explanation",
                   "counterfactual"]].copy()
    frame.insert(0, "model_id", model_id)
    frame["explanation"] = frame["explanation"].str.slice(0, 600)
    return write_frame(connection, CustomerPrediction.__table__, frame)


def prune_builder_models(connection: Connection, target: str, keep: int = KEEP_BUILDER_MODELS) -> int:
    """Delete builder models of ``target`` (those without a run) beyond the newest ``keep``."""
    models = PredictionModel.__table__
    kept = [row[0] for row in connection.execute(
        select(models.c.id).where(models.c.target == target, models.c.run_id.is_(None))
        .order_by(models.c.id.desc()).limit(keep))]
    if len(kept) < keep:
        return 0
    doomed = select(models.c.id).where(models.c.target == target, models.c.run_id.is_(None),
                                       models.c.id < min(kept))
    connection.execute(delete(CustomerPrediction.__table__).where(
        CustomerPrediction.__table__.c.model_id.in_(doomed.scalar_subquery())))
    return connection.execute(delete(models).where(models.c.target == target, models.c.run_id.is_(None),
                                                   models.c.id < min(kept))).rowcount or 0


def _visible(query: Any) -> Any:
    """Only models of completed runs, or builder models (no run)."""
    return query.outerjoin(AnalyticsRun, AnalyticsRun.id == PredictionModel.run_id).where(
        or_(PredictionModel.run_id.is_(None), AnalyticsRun.status == "completed"))


def latest_model(session: Session, target: str, run_id: int | None = None) -> PredictionModel | None:
    """The newest visible model for ``target`` (of ``run_id`` when given)."""
    query = _visible(select(PredictionModel)).where(PredictionModel.target == target)
    if run_id is not None:
        query = query.where(PredictionModel.run_id == run_id)
    return session.scalar(query.order_by(PredictionModel.id.desc()).limit(1))


def propensity_target(horizon_days: int) -> str:
    """The target a refresh trains purchase propensity for."""
    return f"purchase_next_{horizon_days}_days"


def model_of_run(session: Session, target: str, run_id: int) -> PredictionModel | None:
    """The newest model ``run_id`` trained for ``target``, while the run is still being written
    (``latest_model`` shows only completed runs' models)."""
    return session.scalar(select(PredictionModel).where(PredictionModel.target == target,
                                                        PredictionModel.run_id == run_id)
                          .order_by(PredictionModel.id.desc()).limit(1))


def latest_models(session: Session) -> list[PredictionModel]:
    """The newest visible model of every target, newest first.

    Ids first, then only the winners' rows: model rows carry large JSON (metrics, drift), and
    every customer card asks this.
    """
    newest: dict[str, int] = {}
    for model_id, target in session.execute(_visible(select(PredictionModel.id, PredictionModel.target))
                                            .order_by(PredictionModel.id.desc())):
        newest.setdefault(target, model_id)
    if not newest:
        return []
    return list(session.scalars(select(PredictionModel).where(PredictionModel.id.in_(newest.values()))
                                .order_by(PredictionModel.id.desc())))


def customer_prediction(session: Session, model_id: int, customer_id: int) -> CustomerPrediction | None:
    """One customer's score from one model."""
    return session.get(CustomerPrediction, (model_id, customer_id))


def latest_builder_models(session: Session) -> list[PredictionModel]:
    """The newest builder model of every target (models trained by ``crm-bot train``, not by a refresh)."""
    return [model for model in latest_models(session) if model.run_id is None]


def prediction_count(session: Session, model_id: int) -> int:
    """How many customers ``model_id`` scored."""
    return int(session.scalar(select(func.count()).select_from(CustomerPrediction)
                              .where(CustomerPrediction.model_id == model_id)) or 0)


def sharing_probability(session: Session, model_id: int, probability: float) -> int:
    """How many customers ``model_id`` gave exactly this probability (calibration steps make ties)."""
    return int(session.scalar(select(func.count()).select_from(CustomerPrediction)
                              .where(CustomerPrediction.model_id == model_id,
                                     CustomerPrediction.probability == probability)) or 0)


Rows = Select[*tuple[Any, ...]]
"""A query of rows of any columns."""


def at_risk_query(run_id: int, model_id: int | None, use_p_alive: bool, segment: str | None = None,
                  owner: str | None = None, country: str | None = None) -> tuple[Rows, Label[Any]]:
    """Every customer of ``run_id`` by value at stake (12-month value x churn risk), highest first,
    and the churn risk column.

    Churn risk is ``1 - P(alive)`` when the lifetime model identifies drop-out, otherwise the
    chance of no order in the horizon (``1 - purchase propensity`` of ``model_id``).
    """
    if use_p_alive or model_id is None:
        risk = (1 - CustomerLifetime.p_alive).label("risk")
        query = select(Customer.external_id, Customer.name, Customer.owner, CustomerScore.segment,
                       CustomerLifetime.clv_micros, risk)
    else:
        risk = (1 - CustomerPrediction.probability).label("risk")
        query = (select(Customer.external_id, Customer.name, Customer.owner, CustomerScore.segment,
                        CustomerLifetime.clv_micros, risk)
                 .join(CustomerPrediction, (CustomerPrediction.customer_id == CustomerLifetime.customer_id)
                       & (CustomerPrediction.model_id == model_id)))
    query = (query.select_from(CustomerLifetime)
             .join(CustomerScore, (CustomerScore.run_id == CustomerLifetime.run_id)
                   & (CustomerScore.customer_id == CustomerLifetime.customer_id))
             .join(Customer, Customer.id == CustomerLifetime.customer_id)
             .where(CustomerLifetime.run_id == run_id))
    if segment is not None:
        query = query.where(CustomerScore.segment == segment)
    if owner is not None:
        query = query.where(Customer.owner == owner)
    if country is not None:
        query = query.where(Customer.country == country)
    return query.order_by((CustomerLifetime.clv_micros * risk.element).desc(), Customer.external_id), risk


def at_risk(session: Session, run_id: int, model_id: int | None, use_p_alive: bool, segment: str | None = None,
            limit: int = 10, owner: str | None = None, offset: int = 0, country: str | None = None) -> pd.DataFrame:
    """A page of the customers with the most value at stake (``at_risk_query``), in SQL."""
    query, _ = at_risk_query(run_id, model_id, use_p_alive, segment, owner, country)
    frame = pd.DataFrame(session.execute(query.offset(offset).limit(limit)).all(),
                         columns=["customer_ref", "name", "owner", "segment", "clv_micros", "risk"])
    frame["value_at_stake"] = frame["clv_micros"] / 1e6 * frame["risk"]
    return frame


SCORE_BATCH_ROWS = 5_000
"""Rows fetched at a time when a whole model's scores are streamed out (never all in memory)."""


def stream_scores(session: Session, model_id: int) -> Iterator[tuple[str, float, Any, str, str | None]]:
    """Every customer ``model_id`` scored, highest probability first: (customer ref, probability,
    factors, explanation, what-if), fetched in batches."""
    query = (select(Customer.external_id, CustomerPrediction.probability, CustomerPrediction.factors,
                    CustomerPrediction.explanation, CustomerPrediction.counterfactual)
             .join(Customer, Customer.id == CustomerPrediction.customer_id)
             .where(CustomerPrediction.model_id == model_id)
             .order_by(CustomerPrediction.probability.desc(), Customer.external_id))
    for row in session.execute(query, execution_options={"yield_per": SCORE_BATCH_ROWS}):
        yield row.external_id, float(row.probability), row.factors, row.explanation, row.counterfactual


def stream_lifetime_risk(session: Session, run_id: int) -> Iterator[tuple[str, float, float, int, float]]:
    """Every customer of ``run_id`` by lifetime churn risk, highest first: (customer ref, 1 - P(alive),
    expected orders, orders so far, days since the last order), fetched in batches."""
    query = (select(Customer.external_id, CustomerLifetime.p_alive, CustomerLifetime.expected_purchases,
                    CustomerScore.frequency, CustomerScore.recency_days)
             .select_from(CustomerLifetime)
             .join(CustomerScore, (CustomerScore.run_id == CustomerLifetime.run_id)
                   & (CustomerScore.customer_id == CustomerLifetime.customer_id))
             .join(Customer, Customer.id == CustomerLifetime.customer_id)
             .where(CustomerLifetime.run_id == run_id)
             .order_by(CustomerLifetime.p_alive, Customer.external_id))
    for row in session.execute(query, execution_options={"yield_per": SCORE_BATCH_ROWS}):
        yield (row.external_id, 1 - float(row.p_alive), float(row.expected_purchases), int(row.frequency),
               float(row.recency_days))
