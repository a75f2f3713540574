"""Building the pre-aggregated sales of a run (``db.rollup_models``) and telling whether they are current.

Built by the refresh in the transaction that completes the run, with two passes over the order
lines (per customer and day, per product and day); the other rollups are sums of the first or
small joins of the run's own rows.  The facts are those ``db.semantic`` sums from order lines,
with the same definitions, so an answer from the rollups equals the answer from the lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, literal, select, text
from sqlalchemy.orm import Session

from db.access_models import ErasedCustomer
from db.models import Customer, ImportRun, Order, OrderLine, Product
from db.orders import SALE_ORDER, TRADE_ORDER
from db.rollup_models import (
    CustomerFigureRollup,
    CustomerSalesRollup,
    CustomerTotalRollup,
    NewCustomerRollup,
    ProductSalesRollup,
    RollupRun,
    SalesRollup,
)
from db.snapshot_models import CustomerLifetime, CustomerPrediction, CustomerScore


def _line_facts() -> dict[str, Any]:
    """The sums ``db.semantic`` takes over order lines, by name (see ``semantic._lines``), except the
    order count, which ``_by_order`` turns into a plain count."""
    value = OrderLine.quantity * OrderLine.unit_price_micros
    sale = Order.kind == "sale"
    merchandise_sale = and_(sale, Product.kind == "product", OrderLine.quantity > 0, OrderLine.occurrence == 0)
    return {"net_micros": func.sum(value), "sold_micros": func.sum(case((sale, value), else_=0)),
            "credited_micros": func.sum(case((Order.kind.in_(("cancellation", "return")), -value), else_=0)),
            "units": func.sum(case((merchandise_sale, OrderLine.quantity), else_=0))}


FACTS = ("net_micros", "sold_micros", "credited_micros", "units", "sale_orders")
SUMS = FACTS[:-1]


def _by_order(*keys: Any) -> Any:
    """The line facts per order (and ``keys``), with whether the order is a sale.

    Summing these per group and counting the sale rows gives the same figures as the distinct order
    count over lines, without the sort a distinct count costs on millions of lines.
    """
    facts = _line_facts()
    return (select(Order.id.label("order_id"), *keys, (Order.kind == "sale").label("is_sale"),
                   *(facts[f].label(f) for f in SUMS))
            .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(TRADE_ORDER).group_by(Order.id, Order.kind, *keys).subquery())


def _summed(sub: Any) -> list[Any]:
    return [*(func.sum(getattr(sub.c, f)) for f in SUMS), func.count(case((sub.c.is_sale, 1)))]


def _watermark(connection: Connection) -> dict[str, int]:
    return {"max_order_id": int(connection.scalar(select(func.coalesce(func.max(Order.id), 0))) or 0),
            "max_line_id": int(connection.scalar(select(func.coalesce(func.max(OrderLine.id), 0))) or 0),
            "max_import_run_id": int(connection.scalar(select(func.coalesce(func.max(ImportRun.id), 0))
                                                       .where(ImportRun.changed)) or 0),
            "erased_customers": int(connection.scalar(select(func.count()).select_from(ErasedCustomer)) or 0)}


def build(connection: Connection, run_id: int, propensity_model_id: int | None, now: datetime) -> None:
    """Write the rollups of ``run_id`` from the store's order lines and the run's scores."""
    if connection.dialect.name == "postgresql":  # the groupings below hash millions of rows: in memory, not on disk
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
    day = func.date(Order.ordered_at)
    orders = _by_order(day.label("day"), Order.customer_id.label("customer_id"), Order.country.label("country"))
    score = and_(CustomerScore.customer_id == orders.c.customer_id, CustomerScore.run_id == run_id)
    per_customer = (select(literal(run_id), orders.c.day, orders.c.customer_id, orders.c.country,
                           func.max(CustomerScore.segment), func.max(CustomerScore.cluster), *_summed(orders))
                    .select_from(orders).outerjoin(CustomerScore, score)
                    .group_by(orders.c.day, orders.c.customer_id, orders.c.country))
    c = CustomerSalesRollup
    connection.execute(insert(c).from_select(["run_id", "day", "customer_id", "country", "segment", "cluster",
                                              *FACTS], per_customer))
    # One customer's orders of a day are theirs alone, so per-customer order counts add up.
    totals = (select(c.run_id, c.day, c.country, c.segment, c.cluster, *(func.sum(getattr(c, f)) for f in FACTS))
              .where(c.run_id == run_id).group_by(c.run_id, c.day, c.country, c.segment, c.cluster))
    connection.execute(insert(SalesRollup).from_select(["run_id", "day", "country", "segment", "cluster", *FACTS],
                                                       totals))
    customers = (select(c.run_id, c.customer_id, func.max(c.segment), func.max(c.cluster),
                        *(func.sum(getattr(c, f)) for f in FACTS))
                 .where(c.run_id == run_id, c.customer_id.is_not(None)).group_by(c.run_id, c.customer_id))
    connection.execute(insert(CustomerTotalRollup).from_select(["run_id", "customer_id", "segment", "cluster",
                                                                *FACTS], customers))
    products = _by_order(day.label("day"), Order.country.label("country"), OrderLine.product_id.label("product_id"))
    per_product = (select(literal(run_id), products.c.day, products.c.country, products.c.product_id,
                          *_summed(products))
                   .group_by(products.c.day, products.c.country, products.c.product_id))
    connection.execute(insert(ProductSalesRollup).from_select(["run_id", "day", "country", "product_id", *FACTS],
                                                              per_product))
    firsts = (select(Order.customer_id.label("customer_id"), func.min(Order.ordered_at).label("first_sale"))
              .where(SALE_ORDER, Order.customer_id.is_not(None)).group_by(Order.customer_id).subquery())
    first_day = func.date(firsts.c.first_sale)
    new = (select(literal(run_id), first_day, Customer.country, CustomerScore.segment, CustomerScore.cluster,
                  func.count())
           .select_from(firsts).join(Customer, Customer.id == firsts.c.customer_id)
           .outerjoin(CustomerScore, and_(CustomerScore.customer_id == Customer.id, CustomerScore.run_id == run_id))
           .group_by(first_day, Customer.country, CustomerScore.segment, CustomerScore.cluster))
    connection.execute(insert(NewCustomerRollup).from_select(["run_id", "day", "country", "segment", "cluster",
                                                              "customers"], new))
    predicted = and_(CustomerPrediction.customer_id == CustomerLifetime.customer_id,
                     CustomerPrediction.model_id == (propensity_model_id if propensity_model_id is not None else -1))
    figures = (select(literal(run_id), Customer.country, CustomerScore.segment, CustomerScore.cluster, func.count(),
                      func.sum(1 - CustomerLifetime.p_alive), func.sum(CustomerLifetime.clv_micros),
                      func.count(CustomerPrediction.probability),
                      func.coalesce(func.sum(1 - CustomerPrediction.probability), 0.0))
               .select_from(CustomerLifetime)
               .join(CustomerScore, and_(CustomerScore.customer_id == CustomerLifetime.customer_id,
                                         CustomerScore.run_id == CustomerLifetime.run_id))
               .join(Customer, Customer.id == CustomerLifetime.customer_id).outerjoin(CustomerPrediction, predicted)
               .where(CustomerLifetime.run_id == run_id)
               .group_by(Customer.country, CustomerScore.segment, CustomerScore.cluster))
    connection.execute(insert(CustomerFigureRollup).from_select(
        ["run_id", "country", "segment", "cluster", "lifetimes", "p_alive_risk", "clv_micros", "predicted",
         "propensity_risk"], figures))
    connection.execute(insert(RollupRun).values(run_id=run_id, built_at=now, propensity_model_id=propensity_model_id,
                                                **_watermark(connection)))


def is_current(session: Session, run_id: int, propensity_model_id: int | None) -> bool:
    """Whether ``run_id`` has rollups and nothing was imported or erased since they were built."""
    built = session.get(RollupRun, run_id)
    if built is None or built.propensity_model_id != propensity_model_id:
        return False
    now = _watermark(session.connection())
    return all(getattr(built, name) == value for name, value in now.items())
