"""The order history of a set of customers as of a date, read at Arrow speed, for the refresh.

A refresh never holds every order line at once: it reads one customer partition (an id range)
or one sample (a list of ids) at a time through these queries, with the sales and credit rules
of ``db.orders`` (the one definition of a sales line).  Money stays in integer micros until the
analytics turn it into currency units, so sums are exact whichever way they are split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, func, literal, select

from db.frames import FrameIO
from db.models import Customer, Order, OrderLine, Product
from db.money import MICROS_PER_UNIT
from db.orders import CREDIT_LINE, SALES_LINE
from db.snapshot_models import CustomerScore

CustomerCondition = Callable[[Any], ColumnElement[bool]]
"""Builds the condition on a customer-id column that picks the customers of one read."""


def id_range(low: int, high: int) -> CustomerCondition:
    """Customers whose id lies in ``[low, high]``."""
    return lambda column: column.between(low, high)


def id_list(ids: Sequence[int]) -> CustomerCondition:
    """Exactly these customers (a sample)."""
    values = [int(i) for i in ids]
    return lambda column: column.in_(values) if values else literal(False)


@dataclass
class History:
    """What the analytics read about some customers, up to ``as_of``."""

    sale_orders: pd.DataFrame
    """One row per sale order with a sales line: ``order_id, customer_id, ordered_at, country, value``."""
    lines: pd.DataFrame
    """Sales lines: ``order_id, customer_id, sku, quantity, unit_price, value``."""
    credit_orders: pd.DataFrame
    """Cancellations and returns: ``customer_id, ordered_at, value`` (value positive)."""
    credited_products: pd.DataFrame
    """``customer_id, sku`` pairs the customer cancelled or returned."""

    @property
    def customers(self) -> int:
        """Customers with a sale order."""
        return int(self.sale_orders["customer_id"].nunique())


def _money(micros: pd.Series) -> pd.Series:
    return micros.astype("float64") / MICROS_PER_UNIT


def history_queries(as_of: datetime, who: CustomerCondition) -> dict[str, Select]:
    """The four statements of ``read_history``, by name (a benchmark times them against the database)."""
    customer = Order.customer_id
    value = func.sum(OrderLine.quantity * OrderLine.unit_price_micros)
    return {
        "sale_orders": select(Order.id, customer, Order.ordered_at, Order.country, value)
        .join(OrderLine, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE, who(customer), Order.ordered_at <= as_of)
        .group_by(Order.id, customer, Order.ordered_at, Order.country).order_by(Order.id),
        "credit_orders": select(customer, Order.ordered_at, -value)
        .join(OrderLine, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(CREDIT_LINE, who(customer), Order.ordered_at <= as_of)
        .group_by(Order.id, customer, Order.ordered_at).order_by(Order.id),
        "lines": select(Order.id, customer, Product.sku, OrderLine.quantity, OrderLine.unit_price_micros)
        .select_from(OrderLine).join(Order, OrderLine.order_id == Order.id)
        .join(Product, OrderLine.product_id == Product.id)
        .where(SALES_LINE, who(customer), Order.ordered_at <= as_of).order_by(OrderLine.id),
        "credited_products": select(customer, Product.sku).distinct().select_from(OrderLine)
        .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
        .where(CREDIT_LINE, who(customer), Order.ordered_at <= as_of),
    }


def read_orders(io: FrameIO, as_of: datetime, who: CustomerCondition) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sale orders (with their sales value) and the credit notes of the customers ``who`` picks."""
    queries = history_queries(as_of, who)
    orders = io.read(queries["sale_orders"], ["order_id", "customer_id", "ordered_at", "country", "value_micros"])
    orders["order_id"] = orders["order_id"].astype("int64")
    orders["customer_id"] = orders["customer_id"].astype("int64")
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["country"] = orders["country"].astype(object).where(orders["country"].notna(), None)
    orders["value"] = _money(orders.pop("value_micros"))
    credits = io.read(queries["credit_orders"], ["customer_id", "ordered_at", "micros"])
    credits["customer_id"] = credits["customer_id"].astype("int64")
    credits["ordered_at"] = pd.to_datetime(credits["ordered_at"])
    credits["value"] = _money(credits.pop("micros"))
    return orders, credits


def read_history(io: FrameIO, as_of: datetime, who: CustomerCondition) -> History:
    """The sale orders, sales lines, credits and credited products of the customers ``who`` picks."""
    orders, credits = read_orders(io, as_of, who)
    queries = history_queries(as_of, who)
    lines = io.read(queries["lines"], ["order_id", "customer_id", "sku", "quantity", "unit_price_micros"])
    lines["order_id"] = lines["order_id"].astype("int64")
    lines["customer_id"] = lines["customer_id"].astype("Int64")
    lines["quantity"] = lines["quantity"].astype("int64")
    lines["sku"] = lines["sku"].astype(object)
    lines["unit_price"] = _money(lines.pop("unit_price_micros"))
    lines["value"] = lines["quantity"] * lines["unit_price"]
    credited = io.read(queries["credited_products"], ["customer_id", "sku"])
    credited["customer_id"] = credited["customer_id"].astype("int64")
    credited["sku"] = credited["sku"].astype(object)
    return History(orders, lines, credits, credited)


def concat_histories(parts: Sequence[History]) -> History:
    """Several customers' histories as one (each customer is in one part only)."""
    if not parts:
        raise ValueError("no histories to put together")
    return History(*(pd.concat([getattr(p, name) for p in parts], ignore_index=True)
                     for name in ("sale_orders", "lines", "credit_orders", "credited_products")))


def only_customers(history: History, ids: np.ndarray) -> History:
    """The part of ``history`` about the customers ``ids``."""
    keep = pd.Index(ids)
    return History(*(frame[frame["customer_id"].isin(keep)].reset_index(drop=True)
                     for frame in (history.sale_orders, history.lines, history.credit_orders,
                                   history.credited_products)))


def previous_segments(io: FrameIO, run_id: int | None, who: CustomerCondition) -> pd.Series:
    """Segment by customer id in run ``run_id`` for the customers ``who`` picks (empty without a run)."""
    if run_id is None:
        return pd.Series(dtype=object)
    frame = io.read(select(CustomerScore.customer_id, CustomerScore.segment)
                    .where(CustomerScore.run_id == run_id, who(CustomerScore.customer_id)),
                    ["customer_id", "segment"])
    return pd.Series(frame["segment"].astype(object).to_numpy(), index=frame["customer_id"].astype("int64").to_numpy(),
                     dtype=object)


def customer_ids(io: FrameIO) -> np.ndarray:
    """Every customer id in the store, ascending (the partitions are ranges of these)."""
    frame = io.read(select(Customer.id).order_by(Customer.id), ["customer_id"])
    return frame["customer_id"].to_numpy(dtype="int64")


def sampled_baskets(io: FrameIO, as_of: datetime, keep_share: float, seed: int) -> pd.DataFrame:
    """Sales lines (``order_id, customer_id, sku``) of a seeded share of the sale orders.

    The share is picked in SQL by a multiplicative hash of the order id (Knuth's constant), so the
    database returns only the sampled baskets; ``keep_share`` 1 reads every basket.  (The plan
    counts the sale orders the share is taken of.)
    """
    query = (select(Order.id, Order.customer_id, Product.sku).select_from(OrderLine)
             .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id)
             .where(SALES_LINE, Order.ordered_at <= as_of))
    if keep_share < 1:
        modulus = 2**32
        bucket = (Order.id * 2654435761 + seed * 40503) % modulus
        query = query.where(bucket < int(keep_share * modulus))
    frame = io.read(query.order_by(OrderLine.id), ["order_id", "customer_id", "sku"])
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    frame["sku"] = frame["sku"].astype(object)
    return frame
