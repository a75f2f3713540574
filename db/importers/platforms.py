"""The order exports e-commerce platforms produce, read as generic order lines.

- **Shopify** (Orders > Export, "CSV for Excel, Numbers, or other spreadsheet programs"): one row per
  line item; order-level fields (Email, Financial Status, Created at, Currency, Refunded Amount,
  Cancelled at, ...) only on an order's first row; times with the shop's UTC offset.
- **WooCommerce** (the Customer/Order/Coupon Export extension, "one row per item" layout): order
  fields on every row, line totals per item, per-item refunds.

Both become the generic orders' columns, so every cleaning rule applies.  The money that went back
is recorded as credits, the way Online Retail's credit notes are: a cancelled order gets a
cancellation document ``NAME-C`` taking back every line, a refund a return document ``NAME-R``
(the refunded quantities where the export gives them; a partial refund the export gives only as an
amount is spread over the order's items in proportion to their value, since it does not say which
were refunded).  Each order keeps its own currency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, update

from db.clock import Clock, utc_now
from db.importers.formats import GENERIC_ORDERS, OrderFormat, with_statuses
from db.importers.report import ImportReport, RejectWriter
from db.importers.runner import (
    ChunkRun,
    ImportOptions,
    Progress,
    recorded_run,
    reject_path,
    skipped_as_imported,
    start_run,
    write_order_chunks,
)
from db.importers.source import ColumnSpec, RowChunk, inspect_file, read_chunks, resolve_columns
from db.models import Customer

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Platform:
    """A platform's export: its columns, how its rows become generic order lines, its status words."""

    name: str
    columns: tuple[ColumnSpec, ...]
    order_key: str
    """The column that names an order on each of its rows (rows of an order are consecutive)."""
    order_fields: tuple[str, ...]
    """Order-level columns, filled in from the order's first row where later rows leave them blank."""
    to_lines: Callable[[pd.DataFrame], pd.DataFrame]
    statuses: dict[str, str]

    @property
    def order_format(self) -> OrderFormat:
        return with_statuses(GENERIC_ORDERS, self.statuses)


def whole_orders(chunks: Iterable[RowChunk], key: str) -> Iterator[RowChunk]:
    """The chunks again, each holding whole orders: an order cut by a chunk boundary waits for the
    rest of its rows (a credit document needs all of an order's lines)."""
    held: RowChunk | None = None
    for arrived in chunks:
        chunk = arrived if held is None else RowChunk(
            pd.concat([held.frame, arrived.frame], ignore_index=True), held.line_numbers + arrived.line_numbers,
            held.malformed + arrived.malformed)
        names = chunk.frame[key]
        if len(names) == 0:
            held = chunk
            continue
        last = names.iloc[-1]
        cut = len(names) - _trailing(names, last)
        ready = RowChunk(chunk.frame.iloc[:cut].reset_index(drop=True), chunk.line_numbers[:cut], chunk.malformed)
        held = RowChunk(chunk.frame.iloc[cut:].reset_index(drop=True), chunk.line_numbers[cut:])
        if ready.rows_in_chunk:
            yield ready
    if held is not None and held.rows_in_chunk:
        yield held


def _trailing(names: pd.Series, last: str) -> int:
    """How many rows at the end belong to the order ``last``."""
    count = 0
    for name in reversed(names.tolist()):
        if name != last:
            break
        count += 1
    return count


def fill_order_fields(frame: pd.DataFrame, key: str, fields: Iterable[str]) -> pd.DataFrame:
    """Each order's first non-blank value of every order-level field, on all of its rows."""
    filled = frame.copy()
    for field in fields:
        if field in filled:
            values = filled[field].where(filled[field] != "")
            filled[field] = values.groupby(filled[key], sort=False).transform("first").fillna("")
    return filled


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().lstrip("$£€¥")) if text.strip() else None
    except InvalidOperation:
        return None


def _money(value: Decimal) -> str:
    return format(value.quantize(MICRO, rounding=ROUND_HALF_UP).normalize(), "f")


def _spread(amount: Decimal, values: list[Decimal]) -> list[Decimal]:
    """``amount`` in cents, in proportion to ``values``; the rounding remainder goes to the last."""
    total = sum(values)
    if total <= 0:
        return [Decimal(0)] * (len(values) - 1) + [amount]
    shares = [(amount * v / total).quantize(CENT, rounding=ROUND_HALF_UP) for v in values]
    shares[-1] += amount - sum(shares)
    return shares


def _credit_rows(order: pd.DataFrame, suffix: str, status: str, date: str,
                 quantities: list[int], prices: list[str]) -> list[dict[str, str]]:
    """The lines of ``order``'s credit document ``ORDER-suffix``, taking back ``quantities`` at ``prices``.

    ``status`` is a generic credit word (refund, cancellation): the platform's own words for the order
    (Shopify's "refunded") name the sale document, which stays a sale.
    """
    rows = []
    for (_, line), quantity, price in zip(order.iterrows(), quantities, prices, strict=True):
        if quantity:
            rows.append({**line.to_dict(), "order_id": f"{line['order_id']}-{suffix}", "status": status,
                         "date": date or line["date"], "quantity": str(-quantity), "unit_price": price})
    return rows


def _with_credits(lines: pd.DataFrame, cancelled: pd.Series, refund_all: pd.Series, refunds: pd.Series,
                  refunded_qty: pd.Series | None, refunded_value: pd.Series | None,
                  cancelled_at: pd.Series) -> pd.DataFrame:
    """``lines`` (the sale lines, one per item) plus each order's credit document rows."""
    credits: list[dict[str, str]] = []
    for _, order in lines.groupby("order_id", sort=False):
        first = order.index[0]
        quantities = [int(q) if str(q).lstrip("-").isdigit() else 0 for q in order["quantity"]]
        prices = list(order["unit_price"])
        if cancelled[first]:
            credits += _credit_rows(order, "C", "cancellation", cancelled_at[first], quantities, prices)
        elif refunded_qty is not None and refunded_value is not None and (
                (refunded_qty[order.index] > 0) | (refunded_value[order.index] > 0)).any():
            qty = [int(refunded_qty[i]) for i in order.index]
            value = [refunded_value[i] for i in order.index]
            credits += _credit_rows(order, "R", "refund", "", [q if q else (1 if v > 0 else 0)
                                                                 for q, v in zip(qty, value, strict=True)],
                                    [_money(v / q) if q else _money(v) for q, v in zip(qty, value, strict=True)])
        elif refund_all[first]:
            credits += _credit_rows(order, "R", "refund", "", quantities, prices)
        elif refunds[first] > 0:
            values = [Decimal(q) * (_decimal(p) or Decimal(0)) for q, p in zip(quantities, prices, strict=True)]
            shares = _spread(refunds[first], values)
            credits += _credit_rows(order, "R", "refund", "", [1 if s else 0 for s in shares],
                                    [_money(s) for s in shares])
    if not credits:
        return lines
    return pd.concat([lines, pd.DataFrame(credits, columns=lines.columns)], ignore_index=True)


def _shopify_lines(frame: pd.DataFrame) -> pd.DataFrame:
    lines = pd.DataFrame({
        "line": frame["line"],
        "order_id": frame["Name"],
        "customer_id": frame["Email"].str.lower(),
        "date": frame["Created at"],
        "sku": frame["Lineitem sku"].where(frame["Lineitem sku"] != "", frame["Lineitem name"].str.slice(0, 64)),
        "description": frame["Lineitem name"],
        "quantity": frame["Lineitem quantity"],
        "unit_price": frame["Lineitem price"],
        "status": frame["Financial Status"].where(frame["Financial Status"] != "", "paid"),
        "country": frame["Billing Country"].where(frame["Billing Country"] != "", frame["Shipping Country"]),
        "currency": frame["Currency"],
    })
    financial = frame["Financial Status"].str.lower()
    cancelled = (frame["Cancelled at"] != "") | (financial == "voided")
    refunds = frame["Refunded Amount"].map(lambda text: _decimal(text) or Decimal(0))
    return _with_credits(lines, cancelled, financial == "refunded", refunds, None, None, frame["Cancelled at"])


def _woocommerce_lines(frame: pd.DataFrame) -> pd.DataFrame:
    quantity = pd.to_numeric(frame["item_quantity"], errors="coerce").fillna(0)
    totals = frame["item_total"].map(_decimal)
    # The export gives each item's line total; the store keeps unit prices (an unreadable total stays as
    # written, so the row is rejected with it).
    unit = [_money(t / Decimal(int(q))) if t is not None and q % 1 == 0 and q != 0 else raw
            for t, q, raw in zip(totals, quantity, frame["item_total"], strict=True)]
    customer = frame["customer_id"].where(~frame["customer_id"].isin(["", "0"]), frame["billing_email"].str.lower())
    lines = pd.DataFrame({
        "line": frame["line"],
        "order_id": frame["order_number"].where(frame["order_number"] != "", frame["order_id"]),
        "customer_id": customer,
        "date": frame["order_date"],
        "sku": frame["item_sku"].where(frame["item_sku"] != "", frame["item_name"].str.slice(0, 64)),
        "description": frame["item_name"],
        "quantity": frame["item_quantity"],
        "unit_price": pd.Series(unit, index=frame.index, dtype=object),
        "status": frame["status"].str.removeprefix("wc-"),
        "country": frame["billing_country"].where(frame["billing_country"] != "", frame["shipping_country"]),
        "currency": frame["order_currency"],
    })
    status = lines["status"].str.lower()
    refunded_qty = pd.to_numeric(frame["item_refunded_qty"], errors="coerce").fillna(0).abs()
    refunded_value = frame["item_refunded"].map(lambda text: abs(_decimal(text) or Decimal(0)))
    no_refund = pd.Series(Decimal(0), index=frame.index, dtype=object)
    return _with_credits(lines, status == "cancelled", status == "refunded", no_refund, refunded_qty,
                         refunded_value, pd.Series("", index=frame.index))


def _optional(*names: str) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(name, required=False) for name in names)


SHOPIFY = Platform(
    name="shopify",
    columns=(ColumnSpec("Name", help="the order's name, e.g. #1001"), ColumnSpec("Created at"),
             ColumnSpec("Lineitem quantity"), ColumnSpec("Lineitem name"), ColumnSpec("Lineitem price"),
             *_optional("Email", "Financial Status", "Lineitem sku", "Billing Country", "Shipping Country",
                        "Cancelled at", "Refunded Amount", "Currency")),
    order_key="Name",
    order_fields=("Email", "Financial Status", "Created at", "Billing Country", "Shipping Country", "Cancelled at",
                  "Refunded Amount", "Currency"),
    to_lines=_shopify_lines,
    # Every financial status is a sale document; what went back is in its credit document.
    statuses=dict.fromkeys(["pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded",
                            "voided", "expired", "unpaid"], "sale"),
)

WOOCOMMERCE = Platform(
    name="woocommerce",
    columns=(ColumnSpec("order_id"), ColumnSpec("order_date"), ColumnSpec("status"), ColumnSpec("item_name"),
             ColumnSpec("item_quantity"), ColumnSpec("item_total"),
             *_optional("order_number", "customer_id", "billing_email", "billing_country", "shipping_country",
                        "item_sku", "item_refunded", "item_refunded_qty", "order_currency")),
    order_key="order_id",
    order_fields=("order_date", "status", "customer_id", "billing_email", "billing_country", "shipping_country",
                  "order_currency", "order_number"),
    to_lines=_woocommerce_lines,
    # A failed or draft order never stood: kept as a cancellation with its own quantities, counted nowhere.
    statuses={"completed": "sale", "processing": "sale", "on-hold": "sale", "pending": "sale",
              "pending payment": "sale", "cancelled": "sale", "refunded": "sale", "failed": "cancellation",
              "checkout-draft": "cancellation", "draft": "cancellation"},
)

PLATFORMS = {platform.name: platform for platform in (SHOPIFY, WOOCOMMERCE)}


def platform_chunks(chunks: Iterable[RowChunk], platform: Platform, report: ImportReport) -> Iterator[RowChunk]:
    """A platform's rows as chunks of generic order lines (credit documents included, counted in
    ``report.notes``, as are the lines of each currency when the file has several)."""
    currencies: Counter[str] = Counter()
    for chunk in whole_orders(chunks, platform.order_key):
        frame = fill_order_fields(chunk.frame.assign(line=chunk.line_numbers), platform.order_key,
                                  platform.order_fields)
        lines = platform.to_lines(frame) if len(frame) else pd.DataFrame(
            columns=["line", *(spec.name for spec in GENERIC_ORDERS.columns)])
        if len(lines) > len(frame):
            report.notes["credit_lines"] += len(lines) - len(frame)
        generic = pd.DataFrame({spec.name: lines.get(spec.name, "") for spec in GENERIC_ORDERS.columns}).fillna("")
        currencies.update(code.upper() for code in generic["currency"] if code)
        yield RowChunk(generic, [int(n) for n in lines["line"]], chunk.malformed)
    if len(currencies) > 1:  # said, never added up as one: see docs/importing.md
        for code, count in currencies.items():
            report.notes[f"lines_in_{code}"] = count


def import_platform_file(engine: Engine, path: Path, platform: Platform, options: ImportOptions,
                         progress: Progress | None = None, clock: Clock = utc_now) -> ImportReport:
    """Import a platform's order export; returns the report.  Raises ``ImportFileError`` before writing
    anything when the file cannot be imported (not this platform's export, say)."""
    facts = inspect_file(path, options.encoding)
    positions = resolve_columns(facts.header, platform.columns, options.renames, path.name)
    report = ImportReport(source_format=platform.name, source_name=str(path))
    if skipped_as_imported(engine, report, facts.sha256, options):
        return report
    report.currency = options.currency
    report.run_id = start_run(engine, platform.name, str(path), facts.sha256, clock)
    rejects = RejectWriter(reject_path(options, path.name, report.run_id),
                           [spec.name for spec in GENERIC_ORDERS.columns])
    run = ChunkRun(report, rejects, options, max(facts.line_count - 1, 0), progress, on_batch=record_contacts)
    rows = read_chunks(path, facts, options.encoding, positions, platform.columns, options.batch_rows)
    with recorded_run(engine, report, rejects, clock):
        write_order_chunks(engine, platform_chunks(rows, platform, report), platform.order_format, run)
    return report


def record_contacts(connection: Connection, chunk: RowChunk) -> None:
    """Customers known by their e-mail (a platform's export has no other id) get it as their e-mail too,
    so ``/customer ana@example.com`` finds them; a stored e-mail is never overwritten."""
    emails = sorted({c for c in chunk.frame["customer_id"] if "@" in c and len(c) <= 64})
    if emails:
        table = Customer.__table__
        connection.execute(update(table).where(table.c.external_id == bindparam("b_id"), table.c.email.is_(None))
                           .values(email=bindparam("b_id")), [{"b_id": email} for email in emails])
