"""Analytics snapshots: what a refresh computed, as of a date, kept per run.

A run's rows are written in the same transaction that marks it completed, so readers that
take "the latest completed run" never see a half-written snapshot.  Movement between
segments is stored on each customer's row (``previous_segment``), so "who moved from Loyal to
At risk" is a single indexed query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base


class AnalyticsRun(Base):
    """One refresh: as of when, with which parameters, on how much data, and what it found."""

    __tablename__ = "analytics_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_sizes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Silhouette scores, stability, rule statistics, feature importance, and refusals in words."""
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),)

    @property
    def currency(self) -> str | None:
        """ISO code of this run's amounts (``CRM_CURRENCY`` or the imports', at refresh time); ``None``: unknown."""
        return (self.results or {}).get("currency")


class CustomerScore(Base):
    """A customer's RFM figures, segment and cluster in one run."""

    __tablename__ = "customer_scores"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    recency_days: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary_micros: Mapped[int] = mapped_column(BigInteger)
    r_score: Mapped[int] = mapped_column(Integer)
    f_score: Mapped[int] = mapped_column(Integer)
    m_score: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(32))
    previous_segment: Mapped[str | None] = mapped_column(String(32))
    """The segment in the previous completed run (``None``: not scored then)."""
    cluster: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_customer_scores_run_segment", "run_id", "segment", "previous_segment"),
        Index("ix_customer_scores_customer_run", "customer_id", "run_id"),
    )


class CustomerLifetime(Base):
    """A customer's churn and value outlook in one run (MBG/NBD + Gamma-Gamma)."""

    __tablename__ = "customer_lifetimes"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    p_alive: Mapped[float] = mapped_column(Float)
    expected_purchases: Mapped[float] = mapped_column(Float)
    """Expected purchases in the run's horizon (``params.horizon_days``)."""
    expected_spend_micros: Mapped[int] = mapped_column(BigInteger)
    clv_micros: Mapped[int] = mapped_column(BigInteger)
    clv_low_micros: Mapped[int] = mapped_column(BigInteger)
    clv_high_micros: Mapped[int] = mapped_column(BigInteger)
    days_to_next: Mapped[float | None] = mapped_column(Float)
    """Days until one more purchase is expected (``None``: not expected within a year)."""


class SegmentStat(Base):
    """Size, value and suggested action of an RFM segment in one run."""

    __tablename__ = "segment_stats"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    customers: Mapped[int] = mapped_column(Integer)
    customer_share: Mapped[float] = mapped_column(Float)
    revenue_micros: Mapped[int] = mapped_column(BigInteger)
    revenue_share: Mapped[float] = mapped_column(Float)
    median_recency_days: Mapped[float | None] = mapped_column(Float)
    median_orders: Mapped[float | None] = mapped_column(Float)
    previous_customers: Mapped[int | None] = mapped_column(Integer)
    moved_in: Mapped[int] = mapped_column(Integer, default=0)
    moved_out: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(String(300))


class ClusterStat(Base):
    """A behavioural cluster of one run, profiled in words."""

    __tablename__ = "cluster_stats"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    cluster: Mapped[int] = mapped_column(Integer, primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    customer_share: Mapped[float] = mapped_column(Float)
    revenue_share: Mapped[float] = mapped_column(Float)
    median_orders: Mapped[float] = mapped_column(Float)
    median_order_value: Mapped[float] = mapped_column(Float)
    median_recency_days: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(String(400))


class BasketRule(Base):
    """"Customers who buy these also buy that", with its metrics, in one run."""

    __tablename__ = "basket_rules"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    antecedent: Mapped[list[str]] = mapped_column(JSON)
    """Stock codes on the left-hand side (one or two)."""
    consequent: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    leverage: Mapped[float] = mapped_column(Float)
    conviction: Mapped[float | None] = mapped_column(Float)
    """``None`` when confidence is 1 (conviction is infinite)."""

    __table_args__ = (Index("ix_basket_rules_run_consequent", "run_id", "consequent"),)


class Recommendation(Base):
    """A product proposed to a customer in one run, with the reason."""

    __tablename__ = "recommendations"

    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    """``rule`` or ``cooccurrence``."""
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(500))


class PredictionModel(Base):
    """One trained prediction (purchase propensity in a refresh, or a builder target), versioned.

    Holds what model owners need to trust it: when and on what it was trained, the out-of-time
    (or out-of-sample) comparison against baselines, the reliability table, feature drift and
    warnings; or, when the data was too thin, the refusal in words and which baseline stands in.
    """

    __tablename__ = "prediction_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("analytics_runs.id", ondelete="CASCADE"), index=True)
    """The refresh that trained it (``None`` for a builder model trained outside a refresh)."""
    target: Mapped[str] = mapped_column(String(64))
    """``purchase_next_90_days`` for propensity, the label attribute for the builder."""
    status: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(80))
    random_state: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(DateTime)
    data_as_of: Mapped[datetime | None] = mapped_column(DateTime)
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Cutoffs or split, sizes (customers, positives), features used, explanation method."""
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """One row per model and baseline: roc_auc, brier, top-decile precision and recall, kind."""
    reliability: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    drift: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    feature_selection: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    refusal: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('trained', 'baseline', 'refused')", name="status"),
        Index("ix_prediction_models_target_id", "target", "id"),
    )


class CustomerPrediction(Base):
    """A customer's score from one prediction model, with its additive explanation in words."""

    __tablename__ = "customer_predictions"

    model_id: Mapped[int] = mapped_column(ForeignKey("prediction_models.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    """The model's raw score (its own scale); ``base_score + sum of factor contributions`` equals it."""
    base_score: Mapped[float | None] = mapped_column(Float)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(String(600))
    counterfactual: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_customer_predictions_customer_model", "customer_id", "model_id"),)
