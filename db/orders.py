"""Order queries: what analytics and the bot need, aggregated in SQL or streamed in chunks.

Which lines count as *sales* is decided here, once (docs/data-model.md explains the rule):
lines of ``sale`` orders in the store's main currency (``db.currencies``), of merchandise (not
postage, fees, ...), with a positive quantity and price, counting a repeated identical line once.
Credit lines (negative quantities on cancellation or return documents) are the *returns* that
analytics nets against sales.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from db.models import Customer, Order, OrderLine, Product
from db.money import MICROS_PER_UNIT

SALE_ORDER: ColumnElement[bool] = and_(Order.kind == "sale", Order.in_main_currency)
"""A sale order the analytics count: in the store's main currency (``db.currencies``)."""

TRADE_ORDER: ColumnElement[bool] = and_(Order.kind != "adjustment", Order.in_main_currency)
"""A sale, cancellation or return (bad-debt adjustments are accounting, not trade) the analytics count."""

SALES_LINE: ColumnElement[bool] = and_(
    SALE_ORDER,
    Product.kind == "product",
    OrderLine.quantity > 0,
    OrderLine.unit_price_micros > 0,
    OrderLine.occurrence == 0,
)
"""The one definition of a sales line."""

CREDIT_LINE: ColumnElement[bool] = and_(
    Order.kind.in_(("cancellation", "return")),
    Order.in_main_currency,
    Product.kind == "product",
    OrderLine.quantity < 0,
    OrderLine.unit_price_micros > 0,
)
"""A line that takes back goods sold earlier (a cancellation or return)."""

LINE_COLUMNS = ("order_id", "customer_id", "sku", "quantity", "unit_price", "value")


def _lines_query(condition: ColumnElement[bool], as_of: datetime | None) -> Select:
    query = (
        select(Order.id, Order.customer_id, Product.sku, OrderLine.quantity, OrderLine.unit_price_micros)
        .join(Order, OrderLine.order_id == Order.id)
        .join(Product, OrderLine.product_id == Product.id)
        .where(condition)
        .order_by(OrderLine.id)
    )
    if as_of is not None:
        query = query.where(Order.ordered_at <= as_of)
    return query


def iter_sales_lines(session: Session, as_of: datetime | None = None, chunk_rows: int = 200_000,
                     include_credits: bool = False) -> Iterator[pd.DataFrame]:
    """Sales lines (and optionally credit lines) as DataFrames of ``LINE_COLUMNS``, chunk by chunk.

    Rows are streamed from the database cursor as plain tuples, never loaded as ORM objects.
    ``customer_id`` is ``<NA>`` on guest orders; ``value`` is quantity x unit price in currency
    units (negative on credit lines).  Order dates come from ``sale_orders``.
    """
    condition = SALES_LINE if not include_credits else (SALES_LINE | CREDIT_LINE)
    # Options on this statement only: Connection.execution_options would leave the session's
    # connection streaming, and a later executemany on it fails on PostgreSQL.
    result = session.execute(_lines_query(condition, as_of), execution_options={"yield_per": chunk_rows})
    for partition in result.partitions(chunk_rows):
        frame = pd.DataFrame(partition, columns=["order_id", "customer_id", "sku", "quantity", "unit_price_micros"])
        frame["customer_id"] = frame["customer_id"].astype("Int64")
        frame["unit_price"] = frame.pop("unit_price_micros") / MICROS_PER_UNIT
        frame["value"] = frame["quantity"] * frame["unit_price"]
        yield frame


def sales_lines(session: Session, as_of: datetime | None = None) -> pd.DataFrame:
    """All sales lines up to ``as_of`` in one DataFrame (streamed, then concatenated)."""
    chunks = list(iter_sales_lines(session, as_of))
    if not chunks:
        return pd.DataFrame({"order_id": pd.Series(dtype="int64"), "customer_id": pd.Series(dtype="Int64"),
                             "sku": pd.Series(dtype=object), "quantity": pd.Series(dtype="int64"),
                             "unit_price": pd.Series(dtype="float64"), "value": pd.Series(dtype="float64")})
    return pd.concat(chunks, ignore_index=True)


def credited_products(session: Session, as_of: datetime | None = None) -> pd.DataFrame:
    """Distinct ``customer_id, sku`` pairs of credit lines: products a customer cancelled or returned."""
    query = (select(Order.customer_id, Product.sku).distinct().select_from(OrderLine)
             .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
             .where(CREDIT_LINE, Order.customer_id.is_not(None)))
    if as_of is not None:
        query = query.where(Order.ordered_at <= as_of)
    return pd.DataFrame(session.connection().execute(query).all(), columns=["customer_id", "sku"])


def sale_orders(session: Session, as_of: datetime | None = None) -> pd.DataFrame:
    """One row per sale order with at least one sales line: ``order_id, customer_id, ordered_at, country, value``.

    Aggregated in SQL; the date table analytics join to lines when they need time.
    """
    query = (
        select(Order.id, Order.customer_id, Order.ordered_at, Order.country,
               func.sum(OrderLine.quantity * OrderLine.unit_price_micros))
        .join(OrderLine, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE).group_by(Order.id, Order.customer_id, Order.ordered_at, Order.country).order_by(Order.id)
    )
    if as_of is not None:
        query = query.where(Order.ordered_at <= as_of)
    frame = pd.DataFrame(session.connection().execute(query).all(),
                         columns=["order_id", "customer_id", "ordered_at", "country", "value_micros"])
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["value"] = frame.pop("value_micros").astype("float64") / MICROS_PER_UNIT
    return frame


def credit_orders(session: Session, as_of: datetime | None = None) -> pd.DataFrame:
    """Cancellations and returns of known customers: ``customer_id, ordered_at, value`` (value positive).

    Dated, so analytics built "as of" a cutoff see only the credits issued by then.
    """
    query = (
        select(Order.customer_id, Order.ordered_at, (-func.sum(OrderLine.quantity * OrderLine.unit_price_micros)))
        .join(OrderLine, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(CREDIT_LINE, Order.customer_id.is_not(None)).group_by(Order.id, Order.customer_id, Order.ordered_at)
    )
    if as_of is not None:
        query = query.where(Order.ordered_at <= as_of)
    frame = pd.DataFrame(session.connection().execute(query).all(), columns=["customer_id", "ordered_at", "micros"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["value"] = frame.pop("micros").astype("float64") / MICROS_PER_UNIT
    return frame


def customer_order_totals(session: Session, as_of: datetime | None = None) -> pd.DataFrame:
    """Per customer, aggregated in SQL: first and last sale, sale orders, sales value, credits.

    Columns: ``customer_id, customer_ref, first_order_at, last_order_at, orders, sales_value,
    credit_value`` (values in currency units, credits as a positive amount).  Customers with
    neither sales nor credits are absent.  This is the input of RFM, pushed down to the database.
    """
    value = func.sum(OrderLine.quantity * OrderLine.unit_price_micros)
    sales = (
        select(Order.customer_id.label("customer_id"), func.min(Order.ordered_at).label("first_order_at"),
               func.max(Order.ordered_at).label("last_order_at"),
               func.count(func.distinct(Order.id)).label("orders"), value.label("sales_micros"))
        .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE, Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
    )
    credits = (
        select(Order.customer_id.label("customer_id"), (-value).label("credit_micros"))
        .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(CREDIT_LINE, Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
    )
    if as_of is not None:
        sales = sales.where(Order.ordered_at <= as_of)
        credits = credits.where(Order.ordered_at <= as_of)
    sales_sq, credits_sq = sales.subquery(), credits.subquery()
    query = (
        select(Customer.id.label("customer_id"), Customer.external_id.label("customer_ref"),
               sales_sq.c.first_order_at, sales_sq.c.last_order_at,
               func.coalesce(sales_sq.c.orders, 0).label("orders"),
               func.coalesce(sales_sq.c.sales_micros, 0).label("sales_micros"),
               func.coalesce(credits_sq.c.credit_micros, 0).label("credit_micros"))
        .outerjoin(sales_sq, sales_sq.c.customer_id == Customer.id)
        .outerjoin(credits_sq, credits_sq.c.customer_id == Customer.id)
        .where((sales_sq.c.customer_id.is_not(None)) | (credits_sq.c.customer_id.is_not(None)))
        .order_by(Customer.id)
    )
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=["customer_id", "customer_ref", "first_order_at", "last_order_at", "orders",
                                  "sales_micros", "credit_micros"])
    frame["sales_value"] = frame.pop("sales_micros").astype("float64") / MICROS_PER_UNIT
    frame["credit_value"] = frame.pop("credit_micros").astype("float64") / MICROS_PER_UNIT
    return frame


def orders_of_customer(session: Session, customer_id: int, limit: int = 20, offset: int = 0) -> pd.DataFrame:
    """A customer's orders, newest first, with currency, line count and value (for the bot's "Orders" view:
    every order, also those in a currency the analytics keep apart)."""
    query = (
        select(Order.external_id.label("order_ref"), Order.ordered_at, Order.kind, Order.currency,
               func.count(OrderLine.id).label("lines"),
               func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_micros), 0).label("value_micros"))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.customer_id == customer_id)
        .group_by(Order.id, Order.external_id, Order.ordered_at, Order.kind, Order.currency)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(limit).offset(offset)
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=["order_ref", "ordered_at", "kind", "currency",
                                                                "lines", "value_micros"])
    frame["value"] = frame.pop("value_micros").astype("float64") / MICROS_PER_UNIT
    return frame


def customer_totals(session: Session, customer_id: int, as_of: datetime | None = None) -> dict[str, object]:
    """One customer's first and last sale, sale orders and net value (sales minus credits), in SQL."""
    value = func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_micros), 0)
    base = (select(func.min(Order.ordered_at), func.max(Order.ordered_at), func.count(func.distinct(Order.id)), value)
            .join(OrderLine, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
            .where(Order.customer_id == customer_id))
    credit = select(value).join(Order, OrderLine.order_id == Order.id).join(
        Product, OrderLine.product_id == Product.id).where(Order.customer_id == customer_id, CREDIT_LINE)
    sales = base.where(SALES_LINE)
    if as_of is not None:
        sales, credit = sales.where(Order.ordered_at <= as_of), credit.where(Order.ordered_at <= as_of)
    first, last, count, micros = session.execute(sales).one()
    credit_micros = session.scalar(credit) or 0
    return {"first_order_at": first, "last_order_at": last, "orders": int(count or 0),
            "net_value": (int(micros or 0) + int(credit_micros)) / MICROS_PER_UNIT}


@dataclass(frozen=True)
class PurchaseSpan:
    """A customer's sale orders up to a date: how many, on how many days, the first and last day."""

    orders: int
    days: int
    first: date | None
    last: date | None


def purchase_span(session: Session, customer_id: int, as_of: datetime) -> PurchaseSpan:
    """How many sale orders (with a sales line, as the analytics count them) ``customer_id`` placed
    up to ``as_of``, on how many different days (several orders on one day are one visit, as the
    lifetime model counts them), and the first and last day."""
    day = func.date(Order.ordered_at)
    row = session.execute(select(func.count(func.distinct(Order.id)), func.count(func.distinct(day)), func.min(day),
                                 func.max(day))
                          .select_from(Order).join(OrderLine, OrderLine.order_id == Order.id)
                          .join(Product, OrderLine.product_id == Product.id)
                          .where(Order.customer_id == customer_id, SALES_LINE, Order.ordered_at <= as_of)).one()
    return PurchaseSpan(orders=int(row[0] or 0), days=int(row[1] or 0), first=_as_date(row[2]), last=_as_date(row[3]))


def _as_date(value: object) -> date | None:
    """SQLite's ``date()`` is text, PostgreSQL's a date."""
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def sale_count(session: Session, customer_id: int, as_of: datetime) -> int:
    """How many sale orders ``customer_id`` placed up to ``as_of``."""
    return int(session.scalar(select(func.count(Order.id)).where(
        Order.customer_id == customer_id, SALE_ORDER, Order.ordered_at <= as_of)) or 0)


def bought_with(session: Session, sku: str, as_of: datetime, limit: int = 10) -> pd.DataFrame:
    """The products most often in the same sale order as ``sku`` up to ``as_of``, for rules too weak
    to be mined: ``sku, together, baskets`` (orders holding both; orders holding that product), plus
    ``with_product`` (orders holding ``sku``) and ``orders`` (all sale orders) on every row."""
    columns = ["sku", "together", "baskets", "with_product", "orders"]
    sold = (select(OrderLine.order_id).join(Order, OrderLine.order_id == Order.id)
            .join(Product, OrderLine.product_id == Product.id).where(SALES_LINE, Order.ordered_at <= as_of))
    holding = sold.where(Product.sku == sku).distinct().subquery()
    with_product = int(session.scalar(select(func.count()).select_from(holding)) or 0)
    if with_product == 0:
        return pd.DataFrame(columns=columns)
    together = session.execute(
        select(Product.sku, func.count(func.distinct(OrderLine.order_id)).label("together"))
        .select_from(OrderLine).join(Order, OrderLine.order_id == Order.id)
        .join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE, OrderLine.order_id.in_(select(holding.c.order_id)), Product.sku != sku)
        .group_by(Product.sku).order_by(func.count(func.distinct(OrderLine.order_id)).desc(), Product.sku)
        .limit(limit)).all()
    if not together:
        return pd.DataFrame(columns=columns)
    skus = [row.sku for row in together]
    baskets = dict(session.execute(
        select(Product.sku, func.count(func.distinct(OrderLine.order_id))).select_from(OrderLine)
        .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE, Order.ordered_at <= as_of, Product.sku.in_(skus)).group_by(Product.sku)).all())
    orders = int(session.scalar(select(func.count(func.distinct(sold.subquery().c.order_id)))) or 0)
    return pd.DataFrame([(row.sku, int(row.together), int(baskets.get(row.sku, 0)), with_product, orders)
                         for row in together], columns=columns)
