"""The file formats crm-bot imports: their columns and how a row's order kind is decided.

docs/importing.md documents these for users; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from db.importers.order_lines import OrderKindRule
from db.importers.rules import STATUS_KINDS
from db.importers.source import ColumnSpec
from db.models import ORDER_KINDS


@dataclass(frozen=True)
class OrderFormat:
    """An orders-like CSV layout."""

    name: str
    columns: tuple[ColumnSpec, ...]
    order_kind_rule: OrderKindRule
    bad_kind_detail: str = ""
    currency: str | None = None
    """The currency its prices are in, when the format fixes one."""


def _online_retail_kind(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    # UCI Online Retail: an invoice number starting with C is a cancellation (credit note),
    # with A a bad-debt adjustment; every other invoice is a sale.
    prefix = frame["order_id"].str[:1].str.upper()
    kind = pd.Series("sale", index=frame.index, dtype=object)
    kind[prefix == "C"] = "cancellation"
    kind[prefix == "A"] = "adjustment"
    return kind, pd.Series(None, index=frame.index, dtype=object)


def _status_kind(frame: pd.DataFrame, kinds: Mapping[str, str] = STATUS_KINDS) -> tuple[pd.Series, pd.Series]:
    status = frame["status"].str.strip()
    kind = status.str.lower().map(kinds)
    return kind.where(kind.notna(), None), status.where(status != "", None)


def with_statuses(fmt: OrderFormat, statuses: Mapping[str, str]) -> OrderFormat:
    """``fmt`` reading a source's own status words too (``{"wc-completed": "sale"}``), beside the
    generic ones.  Raises ``ValueError`` for a kind that is not an order kind."""
    wrong = {status: kind for status, kind in statuses.items() if kind not in ORDER_KINDS}
    if wrong:
        status, kind = next(iter(wrong.items()))
        raise ValueError(f"status {status!r} is mapped to {kind!r}; map it to one of {', '.join(ORDER_KINDS)}")
    kinds = {**STATUS_KINDS, **{status.strip().lower(): kind for status, kind in statuses.items()}}
    known = ", ".join(sorted(status for status in statuses))
    return replace(fmt, order_kind_rule=lambda frame: _status_kind(frame, kinds),
                   bad_kind_detail=f" (not a generic status, nor one of this source's: {known})" if known
                   else fmt.bad_kind_detail)


ONLINE_RETAIL = OrderFormat(
    name="online-retail",
    columns=(
        ColumnSpec("order_id", ("InvoiceNo", "Invoice"), help="invoice number; C... = cancellation"),
        ColumnSpec("sku", ("StockCode",)),
        ColumnSpec("description", ("Description",), required=False),
        ColumnSpec("quantity", ("Quantity",)),
        ColumnSpec("date", ("InvoiceDate",)),
        ColumnSpec("unit_price", ("UnitPrice", "Price")),
        ColumnSpec("customer_id", ("CustomerID", "Customer ID")),
        ColumnSpec("country", ("Country",), required=False),
        ColumnSpec("status", (), required=False),
    ),
    order_kind_rule=_online_retail_kind,
    currency="GBP",  # the UCI data sets document prices in pounds sterling
)

GENERIC_ORDERS = OrderFormat(
    name="orders",
    columns=(
        ColumnSpec("order_id", ("order", "order_number", "order_no", "invoice", "invoice_no")),
        ColumnSpec("customer_id", ("customer", "customer_no", "client_id"), required=False),
        ColumnSpec("date", ("order_date", "ordered_at", "invoice_date", "created_at")),
        ColumnSpec("sku", ("product_code", "product_id", "stock_code", "item_code")),
        ColumnSpec("description", ("product_name", "product", "item_name"), required=False),
        ColumnSpec("quantity", ("qty",)),
        ColumnSpec("unit_price", ("price", "item_price")),
        ColumnSpec("status", ("order_status",), required=False),
        ColumnSpec("country", ("ship_country", "shipping_country"), required=False),
        ColumnSpec("currency", ("currency_code",), required=False),
    ),
    order_kind_rule=_status_kind,
    bad_kind_detail=" (expected e.g. completed, shipped, pending, cancelled, returned, refunded)",
)

CUSTOMER_COLUMNS = (
    ColumnSpec("customer_id", ("id", "customer", "customer_no", "client_id")),
    ColumnSpec("name", ("full_name", "customer_name", "company"), required=False),
    ColumnSpec("email", ("e_mail", "email_address"), required=False),
    ColumnSpec("phone", ("telephone", "phone_number", "mobile"), required=False),
    ColumnSpec("country", (), required=False),
    ColumnSpec("created_at", ("created", "signup_date", "customer_since"), required=False),
    ColumnSpec("owner", ("account_owner", "rep", "sales_rep"), required=False),
)
