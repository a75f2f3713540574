"""The semantic layer: every metric and dimension people may ask about, declared once, with its SQL.

Each metric has a name, the words people use for it, a definition in words (quoted in every
answer, so nobody wonders what was counted) and how it is aggregated; each dimension names the
column it groups or filters by. ``measure`` turns one question (metric, period, filters, grouping)
into one aggregate query: rows per group, never rows per line, so an answer moves little data
out of the database whatever the store's size.

Where facts live: money and orders come from order lines (as the digest counts them: every sale
line less cancellations and returns, bad-debt adjustments left out, guest orders included); the
customer-state metrics (churn risk, expected value) from the latest analytics run; segments and
clusters are the customers' in that run.  Countries are the order's for order metrics (guests have
one) and the customer's for customer metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, case, distinct, func, literal, select
from sqlalchemy.orm import Session

from db.models import Customer, Order, OrderLine, Product
from db.money import MICROS_PER_UNIT
from db.orders import SALE_ORDER, TRADE_ORDER
from db.rollup_models import (
    CustomerFigureRollup,
    CustomerSalesRollup,
    CustomerTotalRollup,
    NewCustomerRollup,
    ProductSalesRollup,
    SalesRollup,
)
from db.snapshot_models import CustomerLifetime, CustomerPrediction, CustomerScore


@dataclass(frozen=True)
class Metric:
    """One number people ask for."""

    name: str
    label: str
    synonyms: tuple[str, ...]
    definition: str
    unit: str
    """``money``, ``count``, ``rate`` (a share, 0..1) or ``risk`` (a probability)."""
    source: str
    """``lines`` (order lines in the period), ``firsts`` (customers' first sales), ``customers``
    (the store's customers) or ``snapshot`` (the latest analytics run)."""


@dataclass(frozen=True)
class Dimension:
    """Something to group or filter by."""

    name: str
    label: str
    synonyms: tuple[str, ...]
    definition: str


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("net_revenue", "net revenue", ("revenue", "sales", "turnover", "income", "takings", "money", "spend",
                                          "spent", "sold", "sell", "made", "earned", "earn", "bring in", "brought in",
                                          "brings", "gmv"),
           "net revenue = merchandise and other sale lines minus cancellations and returns, guest orders included, "
           "bad-debt adjustments left out", "money", "lines"),
    Metric("orders", "orders", ("orders", "order count", "invoices", "purchases", "transactions", "baskets"),
           "orders = sale orders (invoices), cancellations not counted", "count", "lines"),
    Metric("active_customers", "active customers", ("active customers", "buyers", "customers who bought",
                                                    "purchasing customers", "shoppers"),
           "active customers = customers with at least one sale order in the period", "count", "lines"),
    Metric("new_customers", "new customers", ("new customers", "first-time buyers", "first time buyers",
                                              "new buyers", "acquired", "acquisitions", "first orders"),
           "new customers = customers whose first sale order ever falls in the period", "count", "firsts"),
    Metric("customers", "customers", ("customers", "clients", "accounts", "customer count", "customer base"),
           "customers = customers in the store (with at least one import row), whatever they bought", "count",
           "customers"),
    Metric("average_order_value", "average order value", ("average order value", "aov", "average order",
                                                          "average basket", "basket size", "order value",
                                                          "average sale", "avg order"),
           "average order value = net revenue / sale orders", "money", "lines"),
    Metric("units_sold", "units sold", ("units", "units sold", "items sold", "quantity", "pieces", "volume"),
           "units sold = quantities on merchandise sale lines", "count", "lines"),
    Metric("return_rate", "cancellation and return rate", ("return rate", "cancellation rate", "returns",
                                                           "cancellations", "refunds", "refund rate",
                                                           "cancelled", "returned"),
           "cancellation and return rate = value cancelled or returned / value sold", "rate", "lines"),
    Metric("average_churn_risk", "average churn risk", ("churn risk", "average churn", "risk of churn",
                                                        "churn", "risk"),
           "average churn risk = the mean of customers' churn risk in the latest analytics run", "risk", "snapshot"),
    Metric("expected_value", "expected 12-month value", ("expected value", "lifetime value", "clv", "ltv",
                                                         "future value", "12-month value", "predicted value",
                                                         "customer value"),
           "expected 12-month value = the sum of customers' discounted 12-month value from the lifetime model",
           "money", "snapshot"),
    Metric("average_expected_value", "average expected 12-month value", ("average lifetime value",
                                                                         "average clv", "average ltv",
                                                                         "average expected value",
                                                                         "average customer value"),
           "average expected 12-month value = the mean of customers' discounted 12-month value", "money",
           "snapshot"),
    Metric("revenue_share", "share of revenue", ("share of revenue", "revenue share", "share", "percentage of "
                                                 "revenue", "percent of revenue", "proportion of revenue"),
           "share of revenue = the group's net revenue / all net revenue in the period", "rate", "lines"),
)}

DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("country", "country", ("country", "countries", "market", "markets", "nation", "region"),
              "the order's country (the customer's for customer metrics)"),
    Dimension("segment", "segment", ("segment", "segments", "rfm segment", "group"),
              "the customer's RFM segment in the latest analytics run"),
    Dimension("cluster", "cluster", ("cluster", "clusters", "behaviour group"),
              "the customer's behavioural cluster in the latest analytics run"),
    Dimension("product", "product", ("product", "products", "item", "items", "sku", "skus", "article"),
              "the product of the order line (merchandise only)"),
    Dimension("customer", "customer", ("customer", "customers", "client", "clients", "account", "accounts",
                                       "buyer", "buyers"), "the customer (guest orders have none)"),
    Dimension("month", "month", ("month", "months", "monthly", "per month", "by month"), "the calendar month"),
    Dimension("week", "week", ("week", "weeks", "weekly", "per week", "by week"), "the week, Monday to Sunday"),
)}


@dataclass(frozen=True)
class Filters:
    """What the question narrows to; ``None`` everywhere means the whole store."""

    country: str | None = None
    segment: str | None = None
    cluster: int | None = None
    product: str | None = None
    """A sku."""
    owner: str | None = None
    """A Slack member id: "my customers" are the accounts the asker owns."""

    def said(self) -> list[str]:
        """The filters in words, for the answer."""
        parts = []
        if self.segment:
            parts.append(f"{self.segment} customers")
        if self.cluster is not None:
            parts.append(f"cluster {self.cluster}")
        if self.owner:
            parts.append("your accounts")
        if self.country:
            parts.append(f"in {self.country}")
        if self.product:
            parts.append(f"product {self.product}")
        return parts


@dataclass(frozen=True)
class Snapshot:
    """Which analytics run answers segment, cluster and risk questions, and how it measures risk."""

    run_id: int
    propensity_model_id: int | None
    risk_from_p_alive: bool
    rollups: bool = False
    """The run's pre-aggregated sales are current (``db.rollups.is_current``): answers read them."""


@dataclass
class Measured:
    """One metric over one period: the total, and rows per group when grouped (best first)."""

    metric: Metric
    total: float | None
    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["key", "label", "value"]))


NO_RUN = "segments, clusters, churn risk and expected value need an analytics run: run `crm-bot refresh` first"


class NotMeasurable(ValueError):
    """The question combines things the data cannot answer (a product's new customers); the
    message says why in words."""


@dataclass(frozen=True)
class Rank:
    """Only the first ``count`` groups, highest first (``lowest``: lowest first), chosen in SQL:
    a ranking of customers or products need not bring every one of them out of the database."""

    count: int
    lowest: bool = False


def measure(session: Session, metric_name: str, start: datetime | None, end: datetime | None,
            filters: Filters = Filters(), group_by: str | None = None, snapshot: Snapshot | None = None,
            buckets: Sequence[tuple[datetime, datetime]] = (), rank: Rank | None = None) -> Measured:
    """``metric_name`` over [start, end) (``None``: all data), narrowed by ``filters``, optionally per
    ``group_by`` (``buckets`` are the periods of a ``month``/``week`` grouping; ``rank`` keeps the
    first groups of a ranking of customers or products)."""
    metric = METRICS[metric_name]
    if group_by in ("month", "week") and not buckets:
        raise NotMeasurable(f"a {group_by} series needs its periods")
    if _needs_score(filters, group_by) and snapshot is None:
        raise NotMeasurable(NO_RUN)
    rank = rank if group_by in ("customer", "product") else None  # the groups that run to thousands
    if metric.source == "lines":
        return _lines(session, metric, start, end, filters, group_by, snapshot, buckets, rank)
    if metric.source == "firsts":
        return _firsts(session, metric, start, end, filters, group_by, snapshot, buckets)
    if metric.source == "customers":
        return _customers(session, metric, filters, group_by, snapshot)
    if snapshot is None:
        raise NotMeasurable(NO_RUN)
    return _snapshot(session, metric, filters, group_by, snapshot, rank)


def _key(group_by: str | None, buckets: Sequence[tuple[Any, Any]], country: Any, time: Any,
         segment: Any = CustomerScore.segment, cluster: Any = CustomerScore.cluster) -> tuple[Any, Any]:
    """The grouping column (and its label column) for ``group_by``."""
    if group_by is None:
        return None, None
    if group_by == "country":
        return country, country
    if group_by == "segment":
        return segment, segment
    if group_by == "cluster":
        return cluster, cluster
    if group_by == "product":
        return Product.sku, func.max(Product.description)
    if group_by == "customer":
        return Customer.external_id, func.max(Customer.name)
    if group_by in ("month", "week"):
        bucket = case(*[(and_(time >= s, time < e), i) for i, (s, e) in enumerate(buckets)])
        return bucket, bucket
    raise NotMeasurable(f"cannot group by {group_by}")


def _columns(key: Any, label: Any) -> list[Any]:
    """The ``key, label`` columns of a grouped query (NULLs when not grouped)."""
    if key is None:
        return [literal(None).label("key"), literal(None).label("label")]
    return [key.label("key"), label.label("label")]


def _counted(session: Session, metric: Metric, query: Select, key: Any, filters: Filters, group_by: str | None,
             snapshot: Snapshot | None) -> Measured:
    """A count of customers (``query``'s third column), narrowed by ``filters``, in all and per group."""
    if _needs_score(filters, group_by) and snapshot is not None:
        query = query.join(CustomerScore, (CustomerScore.customer_id == Customer.id)
                           & (CustomerScore.run_id == snapshot.run_id))
    query = _narrow(query, filters, Customer.country)
    if key is None:
        return Measured(metric, float(session.execute(query).one()[2] or 0))
    frame = _frame(session.execute(query.group_by(key)).all(), lambda r: float(r[2] or 0))
    return Measured(metric, float(frame["value"].sum()), frame)


def _narrow(query: Select, filters: Filters, country: Any, segment: Any = CustomerScore.segment,
            cluster: Any = CustomerScore.cluster) -> Select:
    """The question's filters (segment and cluster need ``CustomerScore`` joined: ``_scored``)."""
    if filters.country:
        query = query.where(country == filters.country)
    if filters.owner:
        query = query.where(Customer.owner == filters.owner)
    if filters.segment:
        query = query.where(segment == filters.segment)
    if filters.cluster is not None:
        query = query.where(cluster == filters.cluster)
    return query


def _needs_score(filters: Filters, group_by: str | None) -> bool:
    return bool(filters.segment) or filters.cluster is not None or group_by in ("segment", "cluster")


def _frame(rows: Sequence[Any], convert: Any) -> pd.DataFrame:
    frame = pd.DataFrame([(r[0], r[1], convert(r)) for r in rows], columns=["key", "label", "value"])
    return frame.dropna(subset=["value"]).sort_values(["value", "key"], ascending=[False, True],
                                                      key=lambda c: c if c.name == "value" else c.astype(str))


LINE_AGGREGATES = {"net_revenue": ("net",), "revenue_share": ("net",), "orders": ("orders",),
                   "active_customers": ("active",), "units_sold": ("units",),
                   "average_order_value": ("net", "orders"), "return_rate": ("sold", "credited")}
"""The aggregates of order lines each line metric is computed from."""


def _lines(session: Session, metric: Metric, start: datetime | None, end: datetime | None, filters: Filters,
           group_by: str | None, snapshot: Snapshot | None,
           buckets: Sequence[tuple[datetime, datetime]], rank: Rank | None = None) -> Measured:
    needed = LINE_AGGREGATES[metric.name]  # only what the metric needs: each distinct count costs a sort
    rolled = _rolled_lines(metric, start, end, filters, group_by, snapshot, buckets)
    query, key, aggregates = rolled if rolled is not None else _raw_lines(metric, start, end, filters, group_by,
                                                                          snapshot, buckets)
    if rank is not None and key is not None:
        query = _ranked(query, _line_value(metric.name, aggregates), key, rank,
                        nullable=metric.name in ("average_order_value", "return_rate"))

    def of(row: Any) -> float | None:
        got = {n: float(row._mapping[n] or 0) for n in needed}
        if metric.name in ("net_revenue", "revenue_share"):
            return got["net"] / MICROS_PER_UNIT
        if metric.name == "average_order_value":
            return got["net"] / MICROS_PER_UNIT / got["orders"] if got["orders"] else None
        if metric.name == "return_rate":
            return got["credited"] / got["sold"] if got["sold"] else None
        return got[needed[0]]
    rows = session.execute(query).all()
    if key is None:
        total = of(rows[0]) if rows else None
        if metric.name == "revenue_share":
            total = 1.0 if total else None
        return Measured(metric, total)
    frame = _frame(rows, of)
    grand = measure(session, metric.name if metric.name != "revenue_share" else "net_revenue", start, end, filters,
                    None, snapshot)
    if metric.name == "revenue_share":
        whole = grand.total or 0.0
        frame["value"] = frame["value"] / whole if whole else None
        return Measured(metric, 1.0 if whole else None, frame)
    return Measured(metric, grand.total, frame)


def _raw_lines(metric: Metric, start: datetime | None, end: datetime | None, filters: Filters,
               group_by: str | None, snapshot: Snapshot | None,
               buckets: Sequence[tuple[datetime, datetime]]) -> tuple[Select, Any, dict[str, Any]]:
    """The aggregate query over the order lines themselves (and its aggregates by name)."""
    value = OrderLine.quantity * OrderLine.unit_price_micros
    sale = Order.kind == "sale"
    merchandise_sale = and_(sale, Product.kind == "product", OrderLine.quantity > 0, OrderLine.occurrence == 0)
    credit = Order.kind.in_(("cancellation", "return"))
    available = {
        "net": func.sum(value), "orders": func.count(distinct(case((sale, Order.id)))),
        "active": func.count(distinct(case((sale, Order.customer_id)))),
        "units": func.sum(case((merchandise_sale, OrderLine.quantity), else_=0)),
        "sold": func.sum(case((sale, value), else_=0)), "credited": func.sum(case((credit, -value), else_=0)),
    }
    needed = LINE_AGGREGATES[metric.name]
    key, label = _key(group_by, buckets, Order.country, Order.ordered_at)
    query = (select(*_columns(key, label), *(available[n].label(n) for n in needed)).select_from(OrderLine)
             .join(Order, Order.id == OrderLine.order_id).where(TRADE_ORDER))
    if filters.product or group_by == "product" or "units" in needed:
        query = query.join(Product, Product.id == OrderLine.product_id)
    if filters.owner or group_by == "customer":
        query = query.join(Customer, Customer.id == Order.customer_id)
    if start is not None:
        query = query.where(Order.ordered_at >= start)
    if end is not None:
        query = query.where(Order.ordered_at < end)
    if filters.product:
        query = query.where(Product.sku == filters.product)
    if group_by == "product":
        query = query.where(Product.kind == "product")
    if _needs_score(filters, group_by) and snapshot is not None:
        query = query.join(CustomerScore, (CustomerScore.customer_id == Order.customer_id)
                           & (CustomerScore.run_id == snapshot.run_id))
    query = _narrow(query, filters, Order.country)
    return (query.group_by(key) if key is not None else query), key, available


def _line_value(metric: str, aggregates: dict[str, Any]) -> Any:
    """The metric as one SQL expression of its aggregates (what a ranking orders by)."""
    if metric == "average_order_value":
        return aggregates["net"] / func.nullif(aggregates["orders"], 0)
    if metric == "return_rate":
        return aggregates["credited"] * 1.0 / func.nullif(aggregates["sold"], 0)
    return aggregates[LINE_AGGREGATES[metric][0]]


def _ranked(query: Select, value: Any, key: Any, rank: Rank, nullable: bool = True) -> Select:
    """The first ``rank.count`` groups by ``value``.  A value that cannot be NULL (a sum) is ordered
    without NULLS LAST, so an index on it can serve the order (PostgreSQL reads it backwards)."""
    ordered = value.asc() if rank.lowest else value.desc()
    return query.order_by(ordered.nulls_last() if nullable else ordered, key).limit(rank.count)


def _midnight(moment: datetime | None) -> bool:
    return moment is None or moment == datetime(moment.year, moment.month, moment.day)


def _rolled_lines(metric: Metric, start: datetime | None, end: datetime | None, filters: Filters,
                  group_by: str | None, snapshot: Snapshot | None,
                  buckets: Sequence[tuple[datetime, datetime]]) -> tuple[Select, Any, dict[str, Any]] | None:
    """The same aggregate over the run's pre-aggregated sales (``db.rollup_models``), or ``None``
    where they cannot answer it (not current, a product with a customer filter, part days)."""
    if snapshot is None or not snapshot.rollups or not all(_midnight(t) for t in (start, end, *sum(buckets, ()))):
        return None
    by_product = bool(filters.product) or group_by == "product"
    per_customer = metric.name == "active_customers" or group_by == "customer" or bool(filters.owner)
    if by_product and (per_customer or _needs_score(filters, group_by)):
        return None
    all_time = group_by == "customer" and start is None and end is None and not filters.country
    rollup: Any = ProductSalesRollup if by_product else CustomerTotalRollup if all_time \
        else CustomerSalesRollup if per_customer else SalesRollup
    # all time, one row per customer: no grouping, so a ranking reads the first rows of an index
    total: Any = (lambda column: column) if all_time else func.sum
    facts: dict[str, Any] = {"net": total(rollup.net_micros), "orders": total(rollup.sale_orders),
                             "units": total(rollup.units), "sold": total(rollup.sold_micros),
                             "credited": total(rollup.credited_micros)}
    if per_customer:
        facts["active"] = case((rollup.sale_orders > 0, 1), else_=0) if all_time else \
            func.count(distinct(case((rollup.sale_orders > 0, rollup.customer_id))))
    days = [(s.date(), e.date()) for s, e in buckets]
    scored = {} if by_product else {"segment": rollup.segment, "cluster": rollup.cluster}
    key, label = (Customer.external_id, Customer.name) if all_time else _key(group_by, days, rollup.country,
                                                                             rollup.day, **scored)
    query = (select(*_columns(key, label), *(facts[n].label(n) for n in LINE_AGGREGATES[metric.name]))
             .select_from(rollup).where(rollup.run_id == snapshot.run_id))
    if by_product:
        query = query.join(Product, Product.id == rollup.product_id)
        query = query.where(Product.sku == filters.product) if filters.product else query
        query = query.where(Product.kind == "product") if group_by == "product" else query
    if filters.owner or group_by == "customer":
        query = query.join(Customer, Customer.id == rollup.customer_id)
    if start is not None:
        query = query.where(rollup.day >= start.date())
    if end is not None:
        query = query.where(rollup.day < end.date())
    if _needs_score(filters, group_by):
        query = query.where(rollup.segment.is_not(None))  # scored customers only, as the join with scores keeps
    query = _narrow(query, filters, rollup.country if not all_time else None, **scored)
    return (query.group_by(key) if key is not None and not all_time else query), key, facts


def _firsts(session: Session, metric: Metric, start: datetime | None, end: datetime | None, filters: Filters,
            group_by: str | None, snapshot: Snapshot | None,
            buckets: Sequence[tuple[datetime, datetime]]) -> Measured:
    if filters.product or group_by == "product":
        raise NotMeasurable("new customers are counted per customer, not per product: ask for a product's "
                            "orders or revenue instead")
    if group_by == "customer":
        raise NotMeasurable("new customers per customer is just a list of them: ask who the new customers are "
                            "with `/segments New`")
    if snapshot is not None and snapshot.rollups and not filters.owner and _midnight(start) and _midnight(end) \
            and all(_midnight(t) for t in sum(buckets, ())):
        return _rolled_firsts(session, metric, start, end, filters, group_by, snapshot, buckets)
    firsts = (select(Order.customer_id.label("customer_id"), func.min(Order.ordered_at).label("first_sale"))
              .where(SALE_ORDER, Order.customer_id.is_not(None)).group_by(Order.customer_id).subquery())
    key, label = _key(group_by, buckets, Customer.country, firsts.c.first_sale)
    columns = _columns(key, label)
    query = (select(*columns, func.count().label("n")).select_from(firsts)
             .join(Customer, Customer.id == firsts.c.customer_id))
    if start is not None:
        query = query.where(firsts.c.first_sale >= start)
    if end is not None:
        query = query.where(firsts.c.first_sale < end)
    return _counted(session, metric, query, key, filters, group_by, snapshot)


def _rolled_firsts(session: Session, metric: Metric, start: datetime | None, end: datetime | None,
                   filters: Filters, group_by: str | None, snapshot: Snapshot,
                   buckets: Sequence[tuple[datetime, datetime]]) -> Measured:
    """New customers from the run's first-sale rollup (the same count as ``_firsts``)."""
    r = NewCustomerRollup
    key, label = _key(group_by, [(s.date(), e.date()) for s, e in buckets], r.country, r.day, r.segment, r.cluster)
    query = select(*_columns(key, label), func.sum(r.customers)).where(r.run_id == snapshot.run_id)
    if start is not None:
        query = query.where(r.day >= start.date())
    if end is not None:
        query = query.where(r.day < end.date())
    if _needs_score(filters, group_by):
        query = query.where(r.segment.is_not(None))
    query = _narrow(query, filters, r.country, r.segment, r.cluster)
    if key is None:
        return Measured(metric, float(session.execute(query).one()[2] or 0))
    frame = _frame(session.execute(query.group_by(key)).all(), lambda row: float(row[2] or 0))
    return Measured(metric, float(frame["value"].sum()), frame)


def _customers(session: Session, metric: Metric, filters: Filters, group_by: str | None,
               snapshot: Snapshot | None) -> Measured:
    if filters.product or group_by in ("product", "customer", "month", "week"):
        raise NotMeasurable("the customer count is of the store's customers: group it by country, segment or "
                            "cluster (for buyers of a product, ask for its active customers)")
    key, label = _key(group_by, (), Customer.country, None)
    columns = _columns(key, label)
    query = select(*columns, func.count(Customer.id)).select_from(Customer)
    return _counted(session, metric, query, key, filters, group_by, snapshot)


def _snapshot(session: Session, metric: Metric, filters: Filters, group_by: str | None,
              snapshot: Snapshot, rank: Rank | None = None) -> Measured:
    if filters.product or group_by in ("product", "month", "week"):
        raise NotMeasurable(f"{metric.label} is a customer's figure in the latest analytics run: group it by "
                            "country, segment, cluster or customer")
    from_propensity = metric.name == "average_churn_risk" and not snapshot.risk_from_p_alive \
        and snapshot.propensity_model_id is not None  # how the run measures risk (as the at-risk list does)
    if snapshot.rollups and group_by != "customer" and not filters.owner:
        return _rolled_snapshot(session, metric, filters, group_by, snapshot, from_propensity)
    figure: Any = {"average_churn_risk": 1 - (CustomerPrediction.probability if from_propensity
                                              else CustomerLifetime.p_alive)}.get(metric.name,
                                                                                    CustomerLifetime.clv_micros)
    aggregate = func.sum(figure) if metric.name == "expected_value" else func.avg(figure)
    key, label = _key(group_by, (), Customer.country, None)
    columns = _columns(key, label)
    query = (select(*columns, aggregate).select_from(CustomerLifetime)
             .join(CustomerScore, (CustomerScore.customer_id == CustomerLifetime.customer_id)
                   & (CustomerScore.run_id == CustomerLifetime.run_id))
             .join(Customer, Customer.id == CustomerLifetime.customer_id)
             .where(CustomerLifetime.run_id == snapshot.run_id))
    if from_propensity:
        query = query.join(CustomerPrediction, (CustomerPrediction.customer_id == CustomerLifetime.customer_id)
                           & (CustomerPrediction.model_id == snapshot.propensity_model_id))
    query = _narrow(query, filters, Customer.country)
    scale = 1.0 if metric.name == "average_churn_risk" else 1 / MICROS_PER_UNIT

    def of(row: Any) -> float | None:
        return None if row[2] is None else float(row[2]) * scale
    if key is None:
        return Measured(metric, of(session.execute(query).one()))
    grouped = query.group_by(key)
    frame = _frame(session.execute(_ranked(grouped, aggregate, key, rank) if rank else grouped).all(), of)
    whole = _snapshot(session, metric, filters, None, snapshot)
    return Measured(metric, whole.total, frame)


def _rolled_snapshot(session: Session, metric: Metric, filters: Filters, group_by: str | None, snapshot: Snapshot,
                     from_propensity: bool) -> Measured:
    """Churn risk and expected value from the run's per-group sums (the same figures as ``_snapshot``)."""
    r = CustomerFigureRollup
    if metric.name == "average_churn_risk":
        summed, over = (r.propensity_risk, r.predicted) if from_propensity else (r.p_alive_risk, r.lifetimes)
    else:
        summed, over = r.clv_micros, r.lifetimes
    key, label = _key(group_by, (), r.country, None, r.segment, r.cluster)
    scale = 1.0 if metric.name == "average_churn_risk" else 1 / MICROS_PER_UNIT

    def query(*columns: Any) -> Select:
        return _narrow(select(*columns, func.sum(summed), func.sum(over)).where(r.run_id == snapshot.run_id),
                       filters, r.country, r.segment, r.cluster)

    def of(row: Any) -> float | None:
        if not row[3]:
            return None
        return float(row[2]) * scale if metric.name == "expected_value" else float(row[2]) * scale / float(row[3])
    total = of(session.execute(query(*_columns(None, None))).one())
    if key is None:
        return Measured(metric, total)
    return Measured(metric, total, _frame(session.execute(query(*_columns(key, label)).group_by(key)).all(), of))
