"""A shop-like source database (customers, orders, order items), as an e-commerce platform or ERP
keeps them: what the sync tests and the sync benchmark read from.

The schema is plain SQL types so the same tables are built on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    update,
)

shop = MetaData()
customers = Table("customers", shop,
                  Column("id", Integer, primary_key=True), Column("email", String(200)),
                  Column("name", String(200)), Column("country", String(80)),
                  Column("created_at", DateTime), Column("updated_at", DateTime))
orders = Table("orders", shop,
               Column("id", Integer, primary_key=True), Column("number", String(32), unique=True),
               Column("customer_id", Integer, ForeignKey("customers.id")), Column("placed_at", DateTime),
               Column("status", String(20)), Column("currency", String(3)), Column("updated_at", DateTime))
order_items = Table("order_items", shop,
                    Column("id", Integer, primary_key=True), Column("order_id", Integer, ForeignKey("orders.id")),
                    Column("sku", String(32)), Column("title", String(200)), Column("qty", Integer),
                    Column("price", Numeric(12, 2)))

CUSTOMERS_QUERY = ("SELECT id AS customer_id, email, name, country, created_at, updated_at FROM customers")
ORDERS_QUERY = ("SELECT o.number AS order_id, o.customer_id, o.placed_at AS ordered_at, l.sku, "
                "l.title AS description, l.qty AS quantity, l.price AS unit_price, o.status, o.currency, "
                "o.updated_at FROM orders o JOIN order_items l ON l.order_id = o.id")
STATUSES = {"paid": "sale", "refunded": "return", "cancelled": "cancellation"}


@dataclass(frozen=True)
class Item:
    sku: str
    title: str
    qty: int
    price: str


class ShopDatabase:
    """The shop's tables on ``engine``, with the writes a shop makes (new orders, status changes)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        shop.drop_all(engine)
        shop.create_all(engine)
        self._next_order = 1

    def add_customer(self, customer_id: int, email: str, name: str, country: str, updated_at: datetime | None,
                     created_at: datetime | None = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(customers).values(id=customer_id, email=email, name=name, country=country,
                                                        created_at=created_at, updated_at=updated_at))

    def add_order(self, number: str, customer_id: int | None, placed_at: datetime, items: Sequence[Item],
                  updated_at: datetime | None, status: str = "paid", currency: str = "EUR") -> None:
        with self.engine.begin() as connection:
            order_id = self._next_order
            self._next_order += 1
            connection.execute(insert(orders).values(id=order_id, number=number, customer_id=customer_id,
                                                     placed_at=placed_at, status=status, currency=currency,
                                                     updated_at=updated_at))
            connection.execute(insert(order_items), [
                {"order_id": order_id, "sku": item.sku, "title": item.title, "qty": item.qty,
                 "price": Decimal(item.price)} for item in items])

    def load_invoices(self, lines: pd.DataFrame) -> None:
        """Online Retail style lines (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
        CustomerID, Country) as the shop's customers, orders and items, in three bulk inserts (the sync
        tests and benchmarks/sync_source.py fill a shop this way)."""
        when = pd.to_datetime(lines["InvoiceDate"], format="ISO8601")
        known = lines[lines["CustomerID"] != ""]
        people = known.assign(when=when).groupby("CustomerID", sort=False).agg(
            country=("Country", "first"), first=("when", "min")).reset_index()
        invoices = lines.assign(when=when).groupby("InvoiceNo", sort=False).agg(
            customer=("CustomerID", "first"), when=("when", "min")).reset_index()
        ids = {number: self._next_order + i for i, number in enumerate(invoices["InvoiceNo"])}
        self._next_order += len(invoices)
        with self.engine.begin() as connection:
            connection.execute(insert(customers), [
                {"id": int(r.CustomerID), "email": f"c{r.CustomerID}@example.com", "name": None, "country": r.country,
                 "created_at": r.first.to_pydatetime(), "updated_at": r.first.to_pydatetime()}
                for r in people.itertuples()])
            connection.execute(insert(orders), [
                {"id": ids[r.InvoiceNo], "number": r.InvoiceNo, "customer_id": int(r.customer) if r.customer else None,
                 "placed_at": r.when.to_pydatetime(), "status": "cancelled" if r.InvoiceNo.startswith("C") else "paid",
                 "currency": "GBP", "updated_at": r.when.to_pydatetime()} for r in invoices.itertuples()])
            connection.execute(insert(order_items), [
                {"order_id": ids[r.InvoiceNo], "sku": r.StockCode, "title": r.Description or None,
                 "qty": int(r.Quantity), "price": Decimal(r.UnitPrice)} for r in lines.itertuples()])

    def set_status(self, number: str, status: str, updated_at: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(orders).where(orders.c.number == number)
                               .values(status=status, updated_at=updated_at))

    def sources_toml(self, url: str, **extra: str) -> str:
        """A sources file naming this database as source ``shop``."""
        lines = ["[sources.shop]", f'url = "{url}"', f'customers = "{CUSTOMERS_QUERY}"',
                 f'orders = "{ORDERS_QUERY}"', 'watermark = "updated_at"',
                 "statuses = { " + ", ".join(f'{k} = "{v}"' for k, v in STATUSES.items()) + " }"]
        lines += [f"{key} = {value}" for key, value in extra.items()]
        return "\n".join(lines) + "\n"
