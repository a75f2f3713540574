"""Customer lists streamed out of the latest snapshot for a campaign export: a segment, a country,
the accounts at risk.  Rows come in batches (``yield_per``), never as one result in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Customer
from db.predictions import Rows, at_risk_query
from db.snapshot_models import CustomerLifetime, CustomerScore

BATCH_ROWS = 5_000
LIST_COLUMNS = ("customer_ref", "name", "email", "phone", "country", "owner", "segment", "orders", "net_value_micros",
                "days_since_last_order", "clv_micros", "churn_risk")


def _members(run_id: int) -> Rows:
    return (select(Customer.external_id, Customer.name, Customer.email, Customer.phone, Customer.country,
                   Customer.owner, CustomerScore.segment, CustomerScore.frequency, CustomerScore.monetary_micros,
                   CustomerScore.recency_days, CustomerLifetime.clv_micros, (1 - CustomerLifetime.p_alive))
            .select_from(CustomerScore)
            .join(Customer, Customer.id == CustomerScore.customer_id)
            .outerjoin(CustomerLifetime, (CustomerLifetime.run_id == CustomerScore.run_id)
                       & (CustomerLifetime.customer_id == CustomerScore.customer_id))
            .where(CustomerScore.run_id == run_id))


def stream_members(session: Session, run_id: int, segment: str | None, country: str | None
                   ) -> Iterator[tuple[Any, ...]]:
    """A segment's (or a country's, or both's) customers, most valuable first (``LIST_COLUMNS``)."""
    query: Rows = _members(run_id)
    if segment is not None:
        query = query.where(CustomerScore.segment == segment)
    if country is not None:
        query = query.where(Customer.country == country)
    query = query.order_by(CustomerScore.monetary_micros.desc(), Customer.external_id)
    for row in session.execute(query, execution_options={"yield_per": BATCH_ROWS}):
        yield tuple(row)


def stream_at_risk(session: Session, run_id: int, model_id: int | None, use_p_alive: bool, segment: str | None,
                   country: str | None) -> Iterator[tuple[Any, ...]]:
    """Every customer by value at stake (12-month value x churn risk), highest first (``LIST_COLUMNS``),
    with the churn risk the at-risk list uses."""
    query, risk = at_risk_query(run_id, model_id, use_p_alive, segment, None, country)
    query = query.with_only_columns(
        Customer.external_id, Customer.name, Customer.email, Customer.phone, Customer.country, Customer.owner,
        CustomerScore.segment, CustomerScore.frequency, CustomerScore.monetary_micros, CustomerScore.recency_days,
        CustomerLifetime.clv_micros, risk, maintain_column_froms=True)
    for row in session.execute(query, execution_options={"yield_per": BATCH_ROWS}):
        yield tuple(row)
