"""Writing accepted order lines to the store: idempotent upserts by natural key.

All writes of one batch happen on one connection inside one transaction (the caller's), so a
batch is either wholly in the store or not at all.  Id caches are only updated by the caller
after the commit succeeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from db.bulk import insert_new_rows
from db.models import Customer, Order, OrderLine, Product

_IN_LIST_SIZE = 2000


def insert_ignoring_conflicts(connection: Connection, table: Table, rows: list[dict[str, Any]],
                              returning: Sequence[Any] = ()) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING for many rows; returns the RETURNING rows of new ones."""
    if not rows:
        return []
    dialect = connection.dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_nothing()
    if returning:
        return list(connection.execute(statement.returning(*returning), rows))
    connection.execute(statement, rows)
    return []


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_LIST_SIZE):
        yield values[start:start + _IN_LIST_SIZE]


@dataclass
class IdCache:
    """Natural key -> id maps that survive across batches of one import."""

    customers: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)
    products_without_description: set[str] = field(default_factory=set)
    orders: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    """order ref -> (order id, customer id)."""

    def merge(self, other: IdCache) -> None:
        self.customers.update(other.customers)
        self.products.update(other.products)
        self.products_without_description -= set(other.products)
        self.products_without_description |= other.products_without_description
        self.orders.update(other.orders)


@dataclass
class BatchOutcome:
    """What one batch added; ``conflicts`` are row positions rejected as ``order_conflict``."""

    new_lines: int = 0
    new_customers: int = 0
    new_products: int = 0
    new_orders: int = 0
    changed_orders: int = 0
    """Stored orders whose status (and so kind) changed in the source."""
    conflicts: list[int] = field(default_factory=list)
    learned: IdCache = field(default_factory=IdCache)


def _ensure_customers(connection: Connection, lines: pd.DataFrame, cache: IdCache, run_id: int,
                      outcome: BatchOutcome) -> dict[str, int]:
    known = {**cache.customers}
    with_customer = lines[lines["customer_ref"].notna()]
    firsts = with_customer.drop_duplicates("customer_ref")
    missing = firsts[~firsts["customer_ref"].isin(known.keys())]
    if missing.empty:
        return known
    rows = [{"external_id": r.customer_ref, "country": r.country, "country_code": r.country_code,
             "import_run_id": run_id, "attributes": {}} for r in missing.itertuples()]
    outcome.new_customers += len(insert_ignoring_conflicts(
        connection, Customer.__table__, rows, returning=[Customer.id]))
    refs = list(missing["customer_ref"])
    for part in _chunks(refs):
        for customer_id, external_id in connection.execute(
                select(Customer.id, Customer.external_id).where(Customer.external_id.in_(part))):
            known[external_id] = customer_id
            outcome.learned.customers[external_id] = customer_id
    return known


def _ensure_products(connection: Connection, lines: pd.DataFrame, cache: IdCache,
                     outcome: BatchOutcome) -> dict[str, int]:
    known = {**cache.products}
    # Prefer a description from a priced sale line: zero-price stock notes say "damaged", "?"...
    described = lines[lines["description"].notna()].sort_values("price_micros", ascending=False, kind="stable")
    descriptions = described.drop_duplicates("sku").set_index("sku")["description"].to_dict()
    kinds = lines.drop_duplicates("sku").set_index("sku")["product_kind"].to_dict()
    missing = [sku for sku in kinds if sku not in known]
    if missing:
        rows = [{"sku": sku, "description": descriptions.get(sku), "kind": kinds[sku]} for sku in missing]
        outcome.new_products += len(insert_ignoring_conflicts(
            connection, Product.__table__, rows, returning=[Product.id]))
        for part in _chunks(missing):
            for product_id, sku, description in connection.execute(
                    select(Product.id, Product.sku, Product.description).where(Product.sku.in_(part))):
                known[sku] = product_id
                outcome.learned.products[sku] = product_id
                if description is None:
                    outcome.learned.products_without_description.add(sku)
    fill = [sku for sku in (cache.products_without_description | outcome.learned.products_without_description)
            if sku in descriptions]
    if fill:
        connection.execute(update(Product.__table__).where(Product.__table__.c.sku == bindparam("b_sku")),
                           [{"b_sku": sku, "description": descriptions[sku]} for sku in fill])
        outcome.learned.products_without_description.difference_update(fill)
        cache.products_without_description.difference_update(fill)
    return known


def _ensure_orders(connection: Connection, lines: pd.DataFrame, customer_ids: pd.Series, cache: IdCache,
                   run_id: int, currency: str | None, outcome: BatchOutcome) -> dict[str, tuple[int, int | None]]:
    known = {**cache.orders}
    frame = lines.assign(customer_id=customer_ids)
    first = frame.sort_values("line", kind="stable").groupby("order_ref", sort=False).agg(
        ordered_at=("ordered_at", "min"), order_kind=("order_kind", "first"), status=("status", "first"),
        country=("country", "first"), customer_id=("customer_id", "first"), currency=("currency", "first"))
    missing = first[~first.index.isin(list(known.keys()))]
    if not missing.empty:
        rows = [{"external_id": ref, "customer_id": None if pd.isna(r.customer_id) else int(r.customer_id),
                 "ordered_at": r.ordered_at.to_pydatetime(warn=False), "kind": r.order_kind, "status": r.status,
                 "country": r.country, "currency": r.currency or currency, "import_run_id": run_id}
                for ref, r in zip(missing.index, missing.itertuples(), strict=True)]
        outcome.new_orders += len(insert_ignoring_conflicts(
            connection, Order.__table__, rows, returning=[Order.id]))
        stored: dict[str, tuple[str, str | None]] = {}
        for part in _chunks(list(missing.index)):
            for order_id, external_id, customer_id, kind, status in connection.execute(
                    select(Order.id, Order.external_id, Order.customer_id, Order.kind, Order.status)
                    .where(Order.external_id.in_(part))):
                known[external_id] = (order_id, customer_id)
                outcome.learned.orders[external_id] = (order_id, customer_id)
                stored[external_id] = (kind, status)
        _follow_status_changes(connection, missing, stored, known, outcome)
    # A later file may name the customer of an order stored as a guest order: attach it.
    claims = first[first["customer_id"].notna()]
    attach = [(ref, int(cid)) for ref, cid in claims["customer_id"].items() if known[ref][1] is None]
    if attach:
        connection.execute(update(Order.__table__).where(Order.__table__.c.id == bindparam("b_id")),
                           [{"b_id": known[ref][0], "customer_id": cid} for ref, cid in attach])
        for ref, cid in attach:
            known[ref] = (known[ref][0], cid)
            outcome.learned.orders[ref] = known[ref]
    return known


def _follow_status_changes(connection: Connection, incoming: pd.DataFrame, stored: dict[str, tuple[str, str | None]],
                           known: dict[str, tuple[int, int | None]], outcome: BatchOutcome) -> None:
    """An order stored earlier whose source status has changed (paid, then refunded) takes the new
    status and kind: the order is updated, never stored twice.  Rows without a status (Online
    Retail's invoices) never change a stored order."""
    changed = [(ref, r.order_kind, r.status) for ref, r in zip(incoming.index, incoming.itertuples(), strict=True)
               if r.status is not None and ref in stored and stored[ref] != (r.order_kind, r.status)]
    if changed:
        connection.execute(update(Order.__table__).where(Order.__table__.c.id == bindparam("b_id")),
                           [{"b_id": known[ref][0], "kind": kind, "status": status} for ref, kind, status in changed])
        outcome.changed_orders += len(changed)


def write_order_lines(connection: Connection, lines: pd.DataFrame, cache: IdCache, run_id: int,
                      currency: str | None = None) -> BatchOutcome:
    """Upsert customers, products, orders and lines of one batch; count what was new.

    An order takes its line's ``currency`` where the source gives one, else ``currency`` (the run's).

    ``lines`` holds the accepted rows of a batch with an ``occurrence`` column.  Rows whose
    order is already stored for another customer are not written; their positions are
    returned in ``BatchOutcome.conflicts``.
    """
    outcome = BatchOutcome()
    if lines.empty:
        return outcome
    customers = _ensure_customers(connection, lines, cache, run_id, outcome)
    products = _ensure_products(connection, lines, cache, outcome)
    customer_ids = lines["customer_ref"].map(customers)
    orders = _ensure_orders(connection, lines, customer_ids, cache, run_id, currency, outcome)
    order_customers = lines["order_ref"].map({ref: ids[1] for ref, ids in orders.items()})
    conflict = customer_ids.notna() & order_customers.notna() & (customer_ids != order_customers)
    outcome.conflicts = [int(i) for i in lines.index[conflict]]
    keep = lines[~conflict]
    order_id_of = {ref: ids[0] for ref, ids in orders.items()}
    line_rows = pd.DataFrame({
        "order_id": keep["order_ref"].map(order_id_of),
        "product_id": keep["sku"].map(products),
        "quantity": keep["quantity"],
        "unit_price_micros": keep["price_micros"],
        "occurrence": keep["occurrence"],
    }).astype("int64")
    outcome.new_lines = insert_new_rows(connection, OrderLine.__table__, list(line_rows.columns),
                                        list(line_rows.itertuples(index=False, name=None)))
    return outcome
