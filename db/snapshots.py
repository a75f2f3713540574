"""Writing and reading analytics snapshots (see db/snapshot_models.py).

Writers take a Connection inside the caller's transaction; readers take a Session and only
ever look at *completed* runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import JSON, Connection, case, delete, func, select, update
from sqlalchemy.orm import Session

from db.bulk import insert_new_rows, new_id
from db.currencies import main_currency
from db.models import Customer, Order, Product
from db.orders import SALE_ORDER
from db.rollup_models import ROLLUP_TABLES
from db.snapshot_models import (
    AnalyticsRun,
    BasketRule,
    ClusterStat,
    CustomerLifetime,
    CustomerPrediction,
    CustomerScore,
    PredictionModel,
    Recommendation,
    SegmentStat,
)
from db.stats import recorded_currency


def start_run(connection: Connection, as_of: datetime, params: dict[str, Any], started_at: datetime) -> int:
    """Record a running refresh and return its id."""
    result = connection.execute(AnalyticsRun.__table__.insert().values(
        as_of=as_of, started_at=started_at, status="running", params=json.loads(json.dumps(params, default=str)),
        input_sizes={}, results={}))
    return new_id(result)


def finish_run(connection: Connection, run_id: int, finished_at: datetime, input_sizes: dict[str, Any],
               results: dict[str, Any], error: str | None = None) -> None:
    """Mark a run completed (or failed) with what it found."""
    connection.execute(update(AnalyticsRun.__table__).where(AnalyticsRun.__table__.c.id == run_id).values(
        status="failed" if error else "completed", finished_at=finished_at, input_sizes=input_sizes,
        results=json.loads(json.dumps(results, default=str)), error=error))


SNAPSHOT_TABLES = (CustomerScore, CustomerLifetime, SegmentStat, ClusterStat, BasketRule, Recommendation,
                   *ROLLUP_TABLES)


def prune_runs(connection: Connection, keep: int) -> int:
    """Delete all but the newest ``keep`` completed runs (and failed runs older than those); returns how many.

    Child rows are deleted explicitly, table by table, so this does not depend on the database
    enforcing ``ON DELETE CASCADE``.
    """
    if keep < 1:
        raise ValueError("keep at least one completed run")
    runs = AnalyticsRun.__table__
    kept = [row[0] for row in connection.execute(
        select(runs.c.id).where(runs.c.status == "completed").order_by(runs.c.id.desc()).limit(keep))]
    if len(kept) < keep:
        return 0
    doomed = [row[0] for row in connection.execute(
        select(runs.c.id).where(runs.c.id < min(kept), runs.c.status != "running"))]
    if not doomed:
        return 0
    _delete_rows_of(connection, doomed)
    connection.execute(delete(runs).where(runs.c.id.in_(doomed)))
    return len(doomed)


def _delete_rows_of(connection: Connection, run_ids: list[int]) -> None:
    """Every row the runs wrote (not the runs themselves).

    Child rows are deleted explicitly, table by table, so this does not depend on the database
    enforcing ``ON DELETE CASCADE``.
    """
    for model in SNAPSHOT_TABLES:
        table = model.__table__
        connection.execute(delete(table).where(table.c.run_id.in_(run_ids)))
    models = PredictionModel.__table__
    doomed_models = select(models.c.id).where(models.c.run_id.in_(run_ids)).scalar_subquery()
    connection.execute(delete(CustomerPrediction.__table__).where(
        CustomerPrediction.__table__.c.model_id.in_(doomed_models)))
    connection.execute(delete(models).where(models.c.run_id.in_(run_ids)))


def discard_run(connection: Connection, run_id: int, finished_at: datetime, error: str) -> None:
    """Delete what a failed run wrote and mark it failed with ``error`` (readers never saw it)."""
    _delete_rows_of(connection, [run_id])
    finish_run(connection, run_id, finished_at, {}, {}, error=error)


def discard_abandoned_runs(connection: Connection, finished_at: datetime) -> list[int]:
    """Discard runs still marked running: called by a refresh holding the refresh lock, when no other
    refresh can be running, so these are leftovers of a refresh that was killed."""
    runs = AnalyticsRun.__table__
    abandoned = [row[0] for row in connection.execute(select(runs.c.id).where(runs.c.status == "running"))]
    for run_id in abandoned:
        discard_run(connection, run_id, finished_at, "abandoned: the refresh stopped before it finished")
    return abandoned


def write_frame(connection: Connection, table: Any, frame: pd.DataFrame) -> int:
    """Bulk-insert a DataFrame whose columns are named after ``table``'s columns."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    rows = frame.astype(object).where(frame.notna(), None)
    for column in columns:
        if isinstance(table.c[column].type, JSON):  # the bulk path binds text, as the JSON type would
            rows[column] = rows[column].map(lambda v: v if isinstance(v, str) or v is None else json.dumps(v))
    return insert_new_rows(connection, table, columns, list(rows.itertuples(index=False, name=None)))


def latest_run(session: Session, before_run: int | None = None) -> AnalyticsRun | None:
    """The newest completed run (or the newest completed one before ``before_run``)."""
    query = select(AnalyticsRun).where(AnalyticsRun.status == "completed")
    if before_run is not None:
        query = query.where(AnalyticsRun.id < before_run)
    return session.scalar(query.order_by(AnalyticsRun.id.desc()).limit(1))


def store_currency(session: Session) -> str | None:
    """The currency amounts are shown in: the latest run's, else the orders' main one, else the one the
    imports recorded."""
    run = latest_run(session)
    if run is not None and run.currency:
        return run.currency
    return main_currency(session) or recorded_currency(session)


def segments_of_run(session: Session, run_id: int) -> dict[int, str]:
    """customer id -> segment in a run (for movement)."""
    return dict(session.execute(select(CustomerScore.customer_id, CustomerScore.segment)
                                .where(CustomerScore.run_id == run_id)).all())


def segment_table(session: Session, run_id: int) -> pd.DataFrame:
    """The run's segments in display order."""
    rows = session.scalars(select(SegmentStat).where(SegmentStat.run_id == run_id).order_by(SegmentStat.position))
    return pd.DataFrame([{c.name: getattr(r, c.name) for c in SegmentStat.__table__.columns} for r in rows])


def cluster_table(session: Session, run_id: int) -> pd.DataFrame:
    """The run's clusters, largest revenue first."""
    rows = session.scalars(select(ClusterStat).where(ClusterStat.run_id == run_id).order_by(ClusterStat.cluster))
    return pd.DataFrame([{c.name: getattr(r, c.name) for c in ClusterStat.__table__.columns} for r in rows])


def segment_table_in(session: Session, run_id: int, country: str) -> pd.DataFrame:
    """The run's segments among one country's customers, aggregated in SQL, in display order.

    Same columns as ``segment_table`` (shares are of that country's customers and revenue);
    medians are not computed here (``None``), so the database only counts and sums.
    """
    moved_in = func.sum(case(((CustomerScore.previous_segment.is_not(None))
                              & (CustomerScore.previous_segment != CustomerScore.segment), 1), else_=0))
    query = (select(CustomerScore.segment, func.count(), func.sum(CustomerScore.monetary_micros), moved_in)
             .join(Customer, Customer.id == CustomerScore.customer_id)
             .where(CustomerScore.run_id == run_id, Customer.country == country)
             .group_by(CustomerScore.segment))
    counts = pd.DataFrame(session.execute(query).all(), columns=["segment", "customers", "revenue_micros", "moved_in"])
    counts[["customers", "revenue_micros", "moved_in"]] = counts[["customers", "revenue_micros", "moved_in"]].map(
        int)  # PostgreSQL sums bigints as numeric (Decimal)
    left = (select(CustomerScore.previous_segment, func.count())
            .join(Customer, Customer.id == CustomerScore.customer_id)
            .where(CustomerScore.run_id == run_id, Customer.country == country,
                   CustomerScore.previous_segment != CustomerScore.segment)
            .group_by(CustomerScore.previous_segment))
    moved_out = dict(session.execute(left).all())
    stored = segment_table(session, run_id)
    table = stored[["segment", "position", "action", "previous_customers"]].merge(counts, on="segment")
    table["previous_customers"] = None  # only known for the whole store
    table["customer_share"] = table["customers"] / max(int(table["customers"].sum()), 1)
    revenue = max(int(table["revenue_micros"].clip(lower=0).sum()), 1)
    table["revenue_share"] = table["revenue_micros"].clip(lower=0) / revenue
    table["moved_out"] = table["segment"].map(moved_out).fillna(0).astype(int)
    table["median_recency_days"] = None
    table["median_orders"] = None
    return table.sort_values("position").reset_index(drop=True)


def segment_members(session: Session, run_id: int, segment: str, limit: int = 10, offset: int = 0,
                    country: str | None = None) -> pd.DataFrame:
    """The most valuable customers of a segment in a run (optionally of one country), a page at a time."""
    query = (select(Customer.external_id, Customer.name, Customer.country, CustomerScore.recency_days,
                    CustomerScore.frequency, CustomerScore.monetary_micros, CustomerScore.previous_segment)
             .join(Customer, Customer.id == CustomerScore.customer_id)
             .where(CustomerScore.run_id == run_id, CustomerScore.segment == segment))
    if country is not None:
        query = query.where(Customer.country == country)
    query = query.order_by(CustomerScore.monetary_micros.desc(), Customer.external_id).offset(offset).limit(limit)
    return pd.DataFrame(session.execute(query).all(), columns=["customer_ref", "name", "country", "recency_days",
                                                               "frequency", "monetary_micros", "previous_segment"])


def movers(session: Session, run_id: int, from_segment: str, to_segment: str) -> pd.DataFrame:
    """Customers who were in ``from_segment`` last run and are in ``to_segment`` now: one query."""
    query = (select(Customer.external_id, Customer.name, CustomerScore.monetary_micros)
             .join(Customer, Customer.id == CustomerScore.customer_id)
             .where(CustomerScore.run_id == run_id, CustomerScore.previous_segment == from_segment,
                    CustomerScore.segment == to_segment)
             .order_by(CustomerScore.monetary_micros.desc()))
    return pd.DataFrame(session.execute(query).all(), columns=["customer_ref", "name", "monetary_micros"])


def customer_score(session: Session, run_id: int, customer_id: int) -> CustomerScore | None:
    """A customer's scores in a run (``None``: the customer had no sale by then)."""
    return session.get(CustomerScore, (run_id, customer_id))


def customer_lifetime(session: Session, run_id: int, customer_id: int) -> CustomerLifetime | None:
    """A customer's churn and value outlook in a run (``None``: not modelled then)."""
    return session.get(CustomerLifetime, (run_id, customer_id))


def rules_table(session: Session, run_id: int, sku: str | None = None, limit: int = 20) -> pd.DataFrame:
    """The run's rules, strongest first; with ``sku``, only rules that mention it on either side."""
    query = select(BasketRule).where(BasketRule.run_id == run_id).order_by(BasketRule.rank)
    if sku is None:
        query = query.limit(limit)
    rows = [{c.name: getattr(r, c.name) for c in BasketRule.__table__.columns} for r in session.scalars(query)]
    frame = pd.DataFrame(rows, columns=[c.name for c in BasketRule.__table__.columns])
    if sku is not None:
        frame = frame[(frame["consequent"] == sku) | frame["antecedent"].map(lambda a: sku in a)].head(limit)
    return frame.reset_index(drop=True)


def recommendations_for(session: Session, run_id: int, customer_id: int) -> pd.DataFrame:
    """A customer's recommendations in a run, best first, with product descriptions."""
    query = (select(Recommendation.rank, Recommendation.sku, Product.description, Recommendation.source,
                    Recommendation.confidence, Recommendation.lift, Recommendation.reason)
             .outerjoin(Product, Product.sku == Recommendation.sku)
             .where(Recommendation.run_id == run_id, Recommendation.customer_id == customer_id)
             .order_by(Recommendation.rank))
    return pd.DataFrame(session.execute(query).all(),
                        columns=["rank", "sku", "description", "source", "confidence", "lift", "reason"])


def product_names(session: Session, skus: Sequence[str] | None = None) -> dict[str, str]:
    """Description by sku (all products, or the given ones)."""
    query = select(Product.sku, Product.description)
    if skus is not None:
        query = query.where(Product.sku.in_(list(skus)))
    return {sku: description or sku for sku, description in session.execute(query).all()}


def first_sale_at(session: Session) -> datetime | None:
    """When the first sale order in the store was placed."""
    return session.scalar(select(func.min(Order.ordered_at)).where(SALE_ORDER))


def last_sale_at(session: Session) -> datetime | None:
    """When the latest sale order in the store was placed: the default ``as_of`` of a refresh."""
    return session.scalar(select(func.max(Order.ordered_at)).where(SALE_ORDER))


__all__ = ["AnalyticsRun", "BasketRule", "ClusterStat", "CustomerScore", "Recommendation", "SegmentStat"]


def cluster_description(session: Session, run_id: int, cluster: int) -> str | None:
    """The words that profile ``cluster`` in ``run_id``."""
    return session.scalar(select(ClusterStat.description).where(ClusterStat.run_id == run_id,
                                                                ClusterStat.cluster == cluster))
