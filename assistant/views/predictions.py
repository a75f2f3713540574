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

from analytics import words
from analytics.health import drift_level, stability_against_profile
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
        from analytics.propensity import features_as_of  # scikit-learn: loaded only by the builder

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


def retrain_reasons(item: ModelHealth, max_age_days: float) -> list[str]:
    """Why a builder model should be trained again now (empty: it is current)."""
    if item.model.run_id is not None or item.model.status != "trained":
        return []
    reasons = []
    if item.age_days > max_age_days:
        reasons.append(f"trained {item.age_days:.0f} days ago (older than {max_age_days:g})")
    shifted = [str(row["feature"]) for row in item.drift if row["level"] == "major shift"]
    if shifted:
        reasons.append("major population shift in " + ", ".join(shifted[:5]))
    return reasons


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
    sharing: int = 0
    """Other customers with exactly this propensity (filled by ``explain_ties``)."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rhythm:
    """How often a customer buys, counted as the lifetime model counts: days with a purchase."""

    orders: int
    purchase_days: int
    recency_days: int
    gap_days: float | None
    """Average days between purchase days (``None`` with a single purchase day)."""

    def words(self) -> str:
        """``28 orders on 16 different days, about every 24 days``; ``3 orders, all on one day``."""
        orders = words.count(self.orders, "order")
        if self.purchase_days <= 1:
            return "a single order" if self.orders == 1 else f"{orders}, all on one day"
        days = f" on {self.purchase_days} different days" if self.purchase_days != self.orders else ""
        return f"{orders}{days}, about every {words.count(self.gap_days or 0, 'day')}"


def churn_reason(p_active: float, rhythm: Rhythm,
                 meaning: str = "chance they have stopped buying, lifetime model") -> str:
    """Why the churn risk (1 - ``p_active``) is what it is, from the facts the models read."""
    head = f"churn risk {1 - p_active:.2f} ({meaning})"
    last = words.days_ago(rhythm.recency_days)
    gap = rhythm.gap_days
    if gap is None:
        return f"{head}: {rhythm.words()}, {last}"
    if gap >= 1 and rhythm.recency_days > 1.5 * gap:
        return (f"{head}: {rhythm.words()}, but none for {words.count(rhythm.recency_days, 'day')} "
                f"({rhythm.recency_days / gap:.1f} times the usual gap)")
    return f"{head}: {rhythm.words()}, the last {last} (on rhythm)"


def next_order_reason(days_to_next: float | None, as_of: datetime, rhythm: Rhythm, p_active: float,
                      population_gap_days: float | None) -> str:
    """When the lifetime model expects the next order, and why that differs from the customer's
    own rhythm when it does (the model weighs a short history against the average customer's pace,
    and the chance that they have stopped)."""
    if days_to_next is None:
        return "next order: not expected within a year at their current pace"
    when = as_of + timedelta(days=days_to_next)
    text = f"next order expected in about {words.count(days_to_next, 'day')} (around {when:%Y-%m-%d})"
    gap = rhythm.gap_days
    if gap is None or gap < 1 or abs(days_to_next - gap) <= max(0.25 * gap, 3):
        return text
    why = []
    if population_gap_days and (days_to_next - gap) * (population_gap_days - gap) > 0:
        why.append(f"weighs their {words.count(rhythm.purchase_days, 'purchase day')} against the average "
                   f"customer's pace (about every {words.count(population_gap_days, 'day')})")
    if days_to_next > gap and p_active < 0.9:
        why.append(f"allows for the {1 - p_active:.0%} chance that they have stopped")
    pace = "later" if days_to_next > gap else "sooner"
    reason = ("the lifetime model " + " and ".join(why)) if why else "the lifetime model reads their whole history"
    return f"{text}: {pace} than their own rhythm (about every {words.count(gap, 'day')}) because {reason}"


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


def explain_ties(session: Session, view: ExplainView) -> ExplainView:
    """Count the customers sharing this customer's exact propensity: calibration maps the model's
    scores onto steps (isotonic regression), so many customers can carry the same figure."""
    model, prediction = view.propensity or (None, None)
    if model is not None and prediction is not None:
        view.sharing = max(predictions.sharing_probability(session, model.id, prediction.probability) - 1, 0)
    return view


def _lifetime_reasons(session: Session, view: ExplainView) -> None:
    life, score, run = view.lifetime, view.score, view.run
    if life is None or score is None or run is None:
        return
    rhythm = customer_rhythm(session, view.customer, score, run.as_of)
    if run.results.get("lifetime", {}).get("dropout_identified", True):
        view.churn_why = churn_reason(life.p_alive, rhythm)
    elif view.propensity is not None and view.propensity[1] is not None:
        horizon = run.params.get("horizon_days", 90)
        view.churn_why = churn_reason(view.propensity[1].probability, rhythm,
                                      f"chance of no order in the next {horizon} days")
    months = run.params.get("clv_months", 12)
    discount = run.params.get("annual_discount", 0.10)
    spend = life.expected_spend_micros / 1e6
    money = run.currency
    if spend > 0:
        view.value_why = (f"{months}-month value {words.money(life.clv_micros / 1e6, money)} (range "
                          f"{words.money(life.clv_low_micros / 1e6, money)} to "
                          f"{words.money(life.clv_high_micros / 1e6, money)}): about "
                          f"{life.clv_micros / life.expected_spend_micros:.1f} orders expected (discounted at "
                          f"{discount:.0%} a year) x about {words.money(spend, money)} an order; "
                          "the range is how sure we are of their order size")
    view.next_purchase = next_order_reason(life.days_to_next, run.as_of, rhythm, life.p_alive,
                                           population_gap_days(run))


def customer_rhythm(session: Session, customer: Customer, score: CustomerScore, as_of: datetime) -> Rhythm:
    """The customer's purchase rhythm up to ``as_of``: all their sale orders (the RFM frequency may
    cover a shorter window), the days they bought on, and the average gap between those days."""
    span = orders.purchase_span(session, customer.id, as_of)
    gap = (span.last - span.first).days / (span.days - 1) if span.first and span.last and span.days > 1 else None
    return Rhythm(orders=span.orders, purchase_days=span.days, recency_days=score.recency_days, gap_days=gap)


def population_gap_days(run: AnalyticsRun) -> float | None:
    """The average customer's days between purchases, from the fitted purchase model (alpha / r,
    in its time unit): the pace a short history is pulled towards."""
    fitted = run.results.get("lifetime", {}).get("purchases") or {}
    unit = {"week": 7.0, "day": 1.0}.get(run.results.get("lifetime", {}).get("time_unit", "week"), 7.0)
    if not fitted.get("r") or not fitted.get("alpha"):
        return None
    return float(fitted["alpha"]) / float(fitted["r"]) * unit
