"""Period KPIs and run-to-run changes, aggregated in SQL: what the digest reads.

Every query here scans only the periods asked for (``orders.ordered_at`` is indexed) or one
run's snapshot rows, and returns at most a row per period, segment or listed customer, so a
digest over a 1M-customer store moves little data out of the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from db.models import Customer, Order, OrderLine
from db.orders import SALE_ORDER, TRADE_ORDER
from db.snapshot_models import BasketRule, CustomerLifetime, CustomerPrediction, CustomerScore

Periods = Sequence[tuple[datetime, datetime]]
"""(start, end) pairs, end exclusive, oldest first."""

KPI_COLUMNS = ["period", "net_revenue_micros", "orders", "active_customers", "new_customers"]


def _bucket(column: ColumnElement[datetime] | QueryableAttribute[datetime], periods: Periods) -> ColumnElement[int]:
    return case(*[(and_(column >= start, column < end), i) for i, (start, end) in enumerate(periods)])


def _in_segment(query: Select, run_id: int | None, segment: str | None) -> Select:
    if segment is None or run_id is None:
        return query
    return query.join(CustomerScore, (CustomerScore.customer_id == Order.customer_id)
                      & (CustomerScore.run_id == run_id)).where(CustomerScore.segment == segment)


def period_kpis(session: Session, periods: Periods, run_id: int | None = None,
                segment: str | None = None) -> pd.DataFrame:
    """Net revenue, sale orders, active and new customers per period.

    Net revenue is every sale line less cancellations and returns; bad-debt adjustments are
    accounting, not trade, and are left out.
    "New" means the customer's first sale ever falls in the period.  With ``segment``, only
    customers in that segment in run ``run_id`` count.
    """
    first, last = periods[0][0], periods[-1][1]
    bucket = _bucket(Order.ordered_at, periods)
    revenue = _in_segment(
        select(bucket.label("period"), func.sum(OrderLine.quantity * OrderLine.unit_price_micros))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.ordered_at >= first, Order.ordered_at < last, TRADE_ORDER),
        run_id, segment).group_by("period")
    orders = _in_segment(
        select(bucket.label("period"), func.count(Order.id), func.count(distinct(Order.customer_id)))
        .where(SALE_ORDER, Order.ordered_at >= first, Order.ordered_at < last),
        run_id, segment).group_by("period")
    firsts = _in_segment(
        select(Order.customer_id.label("customer_id"), func.min(Order.ordered_at).label("first_sale"))
        .where(SALE_ORDER, Order.customer_id.is_not(None)), run_id, segment
    ).group_by(Order.customer_id).subquery()
    new = (select(_bucket(firsts.c.first_sale, periods).label("period"), func.count())
           .where(firsts.c.first_sale >= first, firsts.c.first_sale < last).group_by("period"))
    frame = pd.DataFrame({"period": range(len(periods))})
    for columns, query in ((["net_revenue_micros"], revenue), (["orders", "active_customers"], orders),
                           (["new_customers"], new)):
        part = pd.DataFrame(session.execute(query).all(), columns=["period", *columns])
        frame = frame.merge(part, on="period", how="left")
    return frame[KPI_COLUMNS].fillna(0).map(int).astype("int64")  # PostgreSQL sums bigints as numeric


def revenue_by_segment(session: Session, periods: Periods, run_id: int) -> pd.DataFrame:
    """Net revenue per period and per the customer's segment in ``run_id`` (guests: ``None``)."""
    first, last = periods[0][0], periods[-1][1]
    query = (select(_bucket(Order.ordered_at, periods).label("period"), CustomerScore.segment,
                    func.sum(OrderLine.quantity * OrderLine.unit_price_micros))
             .join(Order, Order.id == OrderLine.order_id)
             .outerjoin(CustomerScore, (CustomerScore.customer_id == Order.customer_id)
                        & (CustomerScore.run_id == run_id))
             .where(Order.ordered_at >= first, Order.ordered_at < last, TRADE_ORDER)
             .group_by("period", CustomerScore.segment))
    frame = pd.DataFrame(session.execute(query).all(), columns=["period", "segment", "net_revenue_micros"])
    frame["net_revenue_micros"] = frame["net_revenue_micros"].map(int).astype("int64")
    return frame


def segment_moves(session: Session, run_id: int) -> pd.DataFrame:
    """How many customers moved from one segment to another since the previous run, with the
    12-month value of those who moved (where the run has lifetime estimates)."""
    query = (select(CustomerScore.previous_segment, CustomerScore.segment, func.count(),
                    func.coalesce(func.sum(CustomerLifetime.clv_micros), 0))
             .outerjoin(CustomerLifetime, (CustomerLifetime.run_id == CustomerScore.run_id)
                        & (CustomerLifetime.customer_id == CustomerScore.customer_id))
             .where(CustomerScore.run_id == run_id, CustomerScore.previous_segment.is_not(None),
                    CustomerScore.previous_segment != CustomerScore.segment)
             .group_by(CustomerScore.previous_segment, CustomerScore.segment))
    frame = pd.DataFrame(session.execute(query).all(), columns=["from_segment", "to_segment", "customers",
                                                                "clv_micros"])
    frame["clv_micros"] = frame["clv_micros"].map(int).astype("int64")
    return frame.sort_values(["customers", "clv_micros"], ascending=False).reset_index(drop=True)


def _risk(run_id: int, model_id: int | None, use_p_alive: bool) -> Select:
    """customer_id, churn risk and 12-month value in a run (risk as the run defines it)."""
    if use_p_alive or model_id is None:
        return select(CustomerLifetime.customer_id, (1 - CustomerLifetime.p_alive).label("risk"),
                      CustomerLifetime.clv_micros).where(CustomerLifetime.run_id == run_id)
    return (select(CustomerLifetime.customer_id, (1 - CustomerPrediction.probability).label("risk"),
                   CustomerLifetime.clv_micros)
            .join(CustomerPrediction, (CustomerPrediction.customer_id == CustomerLifetime.customer_id)
                  & (CustomerPrediction.model_id == model_id))
            .where(CustomerLifetime.run_id == run_id))


def risk_jumps(session: Session, now: tuple[int, int | None, bool], before: tuple[int, int | None, bool],
               min_jump: float = 0.2, limit: int = 10, crossing: float | None = None,
               min_value_micros: int = 0) -> pd.DataFrame:
    """Customers whose churn risk rose by at least ``min_jump`` between two runs (and, with
    ``crossing``, went from below it to at or above it), worth at least ``min_value_micros``, the
    most value at stake first.  ``now``/``before``: (run id, propensity model id or None, risk
    from P(alive)).  ``attrs["total"]`` holds how many there are in all."""
    current = _risk(*now).subquery()
    earlier = _risk(*before).subquery()
    conditions = [current.c.risk - earlier.c.risk >= min_jump, current.c.clv_micros >= min_value_micros]
    if crossing is not None:
        conditions += [earlier.c.risk < crossing, current.c.risk >= crossing]
    query = (select(Customer.external_id, Customer.name, Customer.owner, earlier.c.risk, current.c.risk,
                    current.c.clv_micros)
             .join(earlier, earlier.c.customer_id == current.c.customer_id)
             .join(Customer, Customer.id == current.c.customer_id)
             .where(*conditions)
             .order_by((current.c.clv_micros * current.c.risk).desc(), Customer.external_id).limit(limit))
    frame = pd.DataFrame(session.execute(query).all(), columns=["customer_ref", "name", "owner", "risk_before",
                                                                "risk_now", "clv_micros"])
    count = session.scalar(select(func.count()).select_from(current)
                           .join(earlier, earlier.c.customer_id == current.c.customer_id).where(*conditions))
    frame.attrs["total"] = int(count or 0)
    return frame


def rules_of_run(session: Session, run_id: int) -> pd.DataFrame:
    """Every basket rule of a run: antecedent (tuple of skus), consequent, confidence, lift, count."""
    rows = session.execute(select(BasketRule.antecedent, BasketRule.consequent, BasketRule.confidence,
                                  BasketRule.lift, BasketRule.count).where(BasketRule.run_id == run_id)
                           .order_by(BasketRule.rank)).all()
    return pd.DataFrame([(tuple(a), c, conf, lift, n) for a, c, conf, lift, n in rows],
                        columns=["antecedent", "consequent", "confidence", "lift", "count"])


def large_orders(session: Session, since: datetime, until: datetime, factor: float, min_value_micros: int,
                 limit: int = 20) -> pd.DataFrame:
    """Sale orders placed in [since, until) worth at least ``factor`` x the customer's median
    order before ``since`` and at least ``min_value_micros``: unusually large for that customer."""
    value = func.sum(OrderLine.quantity * OrderLine.unit_price_micros)
    recent = (select(Order.id, Order.external_id, Order.customer_id, Order.ordered_at, value.label("value"))
              .join(OrderLine, OrderLine.order_id == Order.id)
              .where(SALE_ORDER, Order.customer_id.is_not(None), Order.ordered_at >= since,
                     Order.ordered_at < until)
              .group_by(Order.id, Order.external_id, Order.customer_id, Order.ordered_at)
              .having(value >= min_value_micros)).subquery()
    earlier = (select(Order.customer_id, value.label("value"))
               .join(OrderLine, OrderLine.order_id == Order.id)
               .where(SALE_ORDER, Order.ordered_at < since,
                      Order.customer_id.in_(select(recent.c.customer_id)))
               .group_by(Order.id, Order.customer_id))
    history = pd.DataFrame(session.execute(earlier).all(), columns=["customer_id", "value"]).astype({"value": float})
    usual = history.groupby("customer_id")["value"].median()
    found = pd.DataFrame(session.execute(select(recent, Customer.name, Customer.owner,
                                                Customer.external_id.label("customer_ref"))
                                         .join(Customer, Customer.id == recent.c.customer_id)).all(),
                         columns=["order_id", "order_ref", "customer_id", "ordered_at", "value_micros", "name",
                                  "owner", "customer_ref"])
    found["value_micros"] = found["value_micros"].map(int).astype("int64")  # PostgreSQL: numeric
    found["usual_micros"] = found["customer_id"].map(usual)
    found = found[found["usual_micros"].notna() & (found["value_micros"] >= factor * found["usual_micros"])]
    return found.sort_values("value_micros", ascending=False).head(limit).reset_index(drop=True)
