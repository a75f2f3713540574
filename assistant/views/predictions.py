"""Predictions for people: explain a customer, check model health (training is ``assistant.jobs.training``).

Slack-free and terminal-free, like ``assistant.views.insights``: functions take a Session and
return view objects; problems the user can fix raise ``UserFacingError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from analytics.health import drift_level, stability_against_profile
from analytics.propensity import features_as_of
from assistant.errors import UserFacingError
from assistant.views.insights import find_customer
from db import customers, orders, predictions, snapshots
from db.clock import store_time, utc_now
from db.models import Customer
from db.snapshot_models import AnalyticsRun, CustomerLifetime, CustomerPrediction, CustomerScore, PredictionModel

IDENTITY_COLUMNS = ("customer_id", "external_id")


def builder_frame(session: Session) -> pd.DataFrame:
    """Customers' attributes plus, for stores with orders, their behavioural features today."""
    frame = customers.attribute_frame(session)
    as_of = snapshots.last_sale_at(session)
    if as_of is not None and not frame.empty:
        behaviour = features_as_of(orders.sale_orders(session, as_of), orders.sales_lines(session, as_of), as_of,
                                   orders.credit_orders(session, as_of))
        frame = frame.merge(behaviour, on="customer_id", how="left")
    return frame


@dataclass
class ModelHealth:
    """One model's health: the stored row plus drift measured now where it is measured on demand."""

    model: PredictionModel
    drift: list[dict[str, Any]]
    scored: int
    age_days: float


def model_health(session: Session, now: datetime | None = None) -> list[ModelHealth]:
    """Every target's newest model with its figures; builder drift measured against the store now."""
    models = predictions.latest_models(session)
    if not models:
        raise UserFacingError("no prediction models yet: `crm-bot refresh` trains purchase propensity, "
                              "`crm-bot train --target ATTRIBUTE` trains a builder model")
    now = store_time(now or utc_now())
    frame: pd.DataFrame | None = None
    out = []
    for model in models:
        drift = list(model.drift or [])
        profiles = (model.training or {}).get("profiles")
        if model.run_id is None and profiles:
            frame = builder_frame(session) if frame is None else frame
            drift = sorted(({"feature": f, "psi": round(psi, 4), "level": drift_level(psi)} for f, p in profiles.items()
                            if f in frame.columns for psi in [stability_against_profile(p, frame[f])]),
                           key=lambda r: -r["psi"])
        scored = predictions.prediction_count(session, model.id)
        out.append(ModelHealth(model=model, drift=drift, scored=scored,
                               age_days=(now - model.trained_at).total_seconds() / 86400))
    return out


@dataclass
class ExplainView:
    """Everything predicted about one customer, each with its why."""

    customer: Customer
    run: AnalyticsRun | None
    score: CustomerScore | None
    lifetime: CustomerLifetime | None
    propensity: tuple[PredictionModel, CustomerPrediction | None] | None
    builder: list[tuple[PredictionModel, CustomerPrediction | None]] = field(default_factory=list)
    churn_why: str | None = None
    value_why: str | None = None
    next_purchase: str | None = None
    notes: list[str] = field(default_factory=list)


def churn_reason(p_active: float, orders_count: int, recency_days: int, usual_gap_days: float | None,
                 meaning: str = "chance they have stopped buying, lifetime model") -> str:
    """Why the churn risk (1 - ``p_active``) is what it is, from the facts the models read."""
    head = f"churn risk {1 - p_active:.2f} ({meaning})"
    if orders_count <= 1:
        return f"{head}: a single order, {recency_days} days ago"
    gap = usual_gap_days or 0
    if gap >= 1 and recency_days > 1.5 * gap:
        return (f"{head}: {orders_count} orders about every {gap:.0f} days, but none for {recency_days} days "
                f"({recency_days / gap:.1f} times the usual gap)")
    if gap >= 1:
        return f"{head}: {orders_count} orders about every {gap:.0f} days, the last {recency_days} days ago (on rhythm)"
    return f"{head}: {orders_count} orders, the last {recency_days} days ago"


def explain_view(session: Session, text: str) -> ExplainView:
    """The customer's propensity, churn, next purchase, value and builder scores, each explained."""
    run = snapshots.latest_run(session)
    builder = predictions.latest_builder_models(session)
    if run is None and not builder:
        raise UserFacingError("no predictions yet: run `crm-bot refresh` (or `crm-bot demo`), or "
                              "`crm-bot train --target ATTRIBUTE`")
    return explain_customer(session, find_customer(session, text), run, builder)


def explain_customer(session: Session, customer: Customer, run: AnalyticsRun | None,
                     builder: list[PredictionModel]) -> ExplainView:
    """Everything predicted about ``customer`` in ``run`` and by the ``builder`` models."""
    view = ExplainView(customer=customer, run=run, score=None, lifetime=None, propensity=None)
    if run is not None:
        view.score = snapshots.customer_score(session, run.id, customer.id)
        view.lifetime = snapshots.customer_lifetime(session, run.id, customer.id)
        horizon = run.params.get("horizon_days", 90)
        model = predictions.latest_model(session, f"purchase_next_{horizon}_days", run.id)
        if model is not None:
            view.propensity = (model, predictions.customer_prediction(session, model.id, customer.id))
        _lifetime_reasons(session, view)
    view.builder = [(model, predictions.customer_prediction(session, model.id, customer.id)) for model in builder]
    if view.score is None and run is not None:
        view.notes.append(f"No purchase up to {run.as_of:%Y-%m-%d}: purchase and lifetime scores need one.")
    return view


def _lifetime_reasons(session: Session, view: ExplainView) -> None:
    life, score, run = view.lifetime, view.score, view.run
    if life is None or score is None or run is None:
        return
    first = orders.first_sale_at(session, view.customer.id, run.as_of)
    gap = None
    if first is not None and score.frequency > 1:
        tenure = (run.as_of.date() - first.date()).days
        gap = (tenure - score.recency_days) / (score.frequency - 1)
    if run.results.get("lifetime", {}).get("dropout_identified", True):
        view.churn_why = churn_reason(life.p_alive, score.frequency, score.recency_days, gap)
    elif view.propensity is not None and view.propensity[1] is not None:
        horizon = run.params.get("horizon_days", 90)
        view.churn_why = churn_reason(view.propensity[1].probability, score.frequency, score.recency_days, gap,
                                      f"chance of no order in the next {horizon} days")
    months = run.params.get("clv_months", 12)
    discount = run.params.get("annual_discount", 0.10)
    spend = life.expected_spend_micros / 1e6
    if spend > 0:
        view.value_why = (f"{months}-month value {life.clv_micros / 1e6:,.0f} (range {life.clv_low_micros / 1e6:,.0f} "
                          f"to {life.clv_high_micros / 1e6:,.0f}): about {life.clv_micros / 1e6 / spend:.1f} "
                          f"orders expected (discounted at {discount:.0%} a year) x about {spend:,.0f} an order; "
                          "the range is how sure we are of their order size")
    if life.days_to_next is None:
        view.next_purchase = "next order: not expected within a year at their current pace"
    else:
        when = run.as_of + timedelta(days=life.days_to_next)
        view.next_purchase = f"next order expected in about {life.days_to_next:.0f} days (around {when:%Y-%m-%d})"
