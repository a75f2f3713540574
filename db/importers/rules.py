"""The cleaning rules shared by the order-line formats, each named and counted.

A row of an orders file ends up in exactly one place: rejected with a reason, or stored in
one category.  The report prints both tables and they add up to the rows read.  The same
rules are described for users in docs/importing.md; keep the two in step.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Why a row was not stored, in words a user can act on.
REJECT_REASONS: dict[str, str] = {
    "malformed_row": "wrong number of fields",
    "missing_order_id": "no order/invoice number",
    "missing_sku": "no product code",
    "bad_date": "date cannot be read",
    "bad_quantity": "quantity is not a whole number",
    "zero_quantity": "quantity is zero",
    "bad_price": "unit price cannot be read",
    "negative_price": "negative unit price on a sale (only adjustments may be negative)",
    "value_too_long": "a value is longer than the store allows",
    "bad_status": "unknown order status",
    "bad_currency": "currency is not a three-letter ISO code",
    "order_conflict": "order already belongs to another customer",
    "bad_customer_id": "customer id cannot be read",
    "missing_customer_id": "no customer id",
    "bad_email": "e-mail address is not valid",
    "erased_customer": "customer erased on request (the row's values are not copied here; remove it from the source)",
}

#: Categories of stored order lines; only ``sale`` lines count as product sales in analytics.
LINE_CATEGORIES: dict[str, str] = {
    "sale": "sales of products",
    "cancellation": "cancellations (credit notes, recorded apart from sales)",
    "return": "returns (recorded apart from sales)",
    "adjustment": "accounting adjustments (e.g. bad debt)",
    "non_product": "postage, fees, discounts, vouchers and other non-product codes",
    "stock_note": "stock write-offs (negative quantity at zero price, no sale)",
    "zero_price": "free items (zero price)",
}

#: Accepted rows of a customers file.
CUSTOMER_OUTCOMES: dict[str, str] = {
    "new": "new customers",
    "updated": "customers updated (a value changed)",
    "unchanged": "customers already stored as in the file",
}

#: Facts counted alongside the categories (a row may carry several).
NOTES: dict[str, str] = {
    "guest_lines": "lines without a customer id (guest orders: kept for totals, not for customer analytics)",
    "erased_customer_lines": "lines of customers erased on request (kept as guest orders, without the person)",
    "repeated_lines": "lines repeating an identical earlier line of the same order (kept, marked)",
    "attribute_columns": "extra columns kept as customer attributes",
    "orders_changed": "orders stored earlier whose status changed (updated, not stored twice)",
    "credit_lines": "credit lines made for cancelled and refunded orders (in rows read: the money that went back)",
}

# Stock codes that are not merchandise.  Matched case-insensitively against the whole code.
_NON_PRODUCT_CODES: dict[str, str] = {
    "POST": "postage",
    "DOT": "postage",
    "C2": "postage",
    "M": "manual",
    "D": "discount",
    "S": "sample",
    "BANK CHARGES": "fee",
    "AMAZONFEE": "fee",
    "CRUK": "fee",
    "PADS": "adjustment",
    "B": "adjustment",
    "ADJUST": "adjustment",
    "ADJUST2": "adjustment",
}
_NON_PRODUCT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^gift_\d+_\d+$", re.IGNORECASE), "voucher"),
    (re.compile(r"^TEST\d*$", re.IGNORECASE), "sample"),
)


def product_kind(sku: str) -> str:
    """``product`` for merchandise, otherwise what the non-product code stands for."""
    kind = _NON_PRODUCT_CODES.get(sku.upper())
    if kind:
        return kind
    for pattern, pattern_kind in _NON_PRODUCT_PATTERNS:
        if pattern.match(sku):
            return pattern_kind
    return "product"


def categorise_lines(order_kind: pd.Series, product_kinds: pd.Series, quantity: pd.Series,
                     price_micros: pd.Series) -> pd.Series:
    """The single category of each accepted line, by the first rule that applies."""
    conditions = [
        order_kind == "cancellation",
        (order_kind == "return") | ((quantity < 0) & (price_micros > 0) & (product_kinds == "product")),
        (order_kind == "adjustment") | (product_kinds == "adjustment"),
        product_kinds != "product",
        (quantity < 0) & (price_micros == 0),
        price_micros == 0,
    ]
    choices = ["cancellation", "return", "adjustment", "non_product", "stock_note", "zero_price"]
    return pd.Series(np.select(conditions, choices, default="sale"), index=order_kind.index)


#: Generic ``status`` values and the order kind they are stored as.
STATUS_KINDS: dict[str, str] = {
    **dict.fromkeys(["", "completed", "complete", "paid", "shipped", "delivered", "fulfilled", "closed",
                     "invoiced", "pending", "processing", "on-hold", "on hold", "open"], "sale"),
    **dict.fromkeys(["cancelled", "canceled", "cancellation", "void", "voided"], "cancellation"),
    **dict.fromkeys(["returned", "return", "refunded", "refund", "credit", "credit note"], "return"),
    **dict.fromkeys(["adjustment", "write-off", "writeoff"], "adjustment"),
}
