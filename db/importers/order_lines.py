"""Turning raw rows of an orders-like export into accepted lines and rejected rows.

Both order formats (Online Retail and the generic orders CSV) come through here; they differ
only in how a row's order kind is decided (invoice prefix or status column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from db.importers.rules import categorise_lines, product_kind
from db.importers.source import RowChunk
from db.normalise import (
    normalise_country,
    normalise_identifier,
    parse_datetime,
    parse_integer,
    parse_price_micros,
)

MAX_ID = 64
MAX_DESCRIPTION = 300

@dataclass
class Rejection:
    """One rejected row: where it was, why, and what it held."""

    line: int
    reason: str
    detail: str
    fields: list[str]


@dataclass
class PreparedLines:
    """The outcome of one chunk: accepted lines and rejections, one per input row."""

    accepted: pd.DataFrame
    rejected: list[Rejection] = field(default_factory=list)


OrderKindRule = Callable[[pd.DataFrame], tuple[pd.Series, pd.Series]]
"""Returns (order kind or None where unreadable, status text or None) for each row."""


def _map_unique(values: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """``values.map(function)``, calling ``function`` once per distinct value."""
    uniques = values.unique()
    lookup = pd.Series([function(v) for v in uniques], index=uniques, dtype=object)
    return pd.Series(lookup.reindex(values.to_numpy()).to_numpy(), index=values.index, dtype=object)


def _currency_codes(frame: pd.DataFrame) -> pd.Series:
    """Each row's ISO currency code, None where the source gives none, ``?`` where it is unreadable."""
    if "currency" not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    code = frame["currency"].str.strip().str.upper()
    readable = code.str.fullmatch(r"[A-Z]{3}")
    return code.where(readable, "?").where(code != "", None)


def prepare_lines(chunk: RowChunk, order_kind_rule: OrderKindRule, date_format: str | None,
                  bad_kind_detail: str = "") -> PreparedLines:
    """Parse and check every row of ``chunk``; each row is either accepted or rejected once."""
    frame = chunk.frame
    rejected = [Rejection(line, "malformed_row", reason, fields) for line, reason, fields in chunk.malformed]
    lines = pd.Series(chunk.line_numbers, index=frame.index, dtype="int64")
    reason = pd.Series(None, index=frame.index, dtype=object)
    detail = pd.Series("", index=frame.index, dtype=object)

    def reject(mask: pd.Series, code: str, describe: Callable[[pd.Series], pd.Series]) -> None:
        fresh = mask & reason.isna()
        if fresh.any():
            reason[fresh] = code
            detail[fresh] = describe(frame.loc[fresh]).astype(str)

    order_ref = normalise_identifier(frame["order_id"])
    customer_ref = normalise_identifier(frame["customer_id"])
    sku = frame["sku"]
    ordered_at = parse_datetime(frame["date"], date_format)
    quantity = parse_integer(frame["quantity"])
    price = parse_price_micros(frame["unit_price"])
    order_kind, status = order_kind_rule(frame)
    kinds = _map_unique(sku, product_kind)

    reject(order_ref.isna(), "missing_order_id", lambda f: pd.Series("", index=f.index))
    reject(sku == "", "missing_sku", lambda f: pd.Series("", index=f.index))
    too_long = (order_ref.str.len() > MAX_ID) | (sku.str.len() > MAX_ID) | (customer_ref.str.len() > MAX_ID) \
        | (status.fillna("").str.len() > 32)
    reject(too_long.fillna(False), "value_too_long",
           lambda f: pd.Series(f"ids, codes and statuses may have at most {MAX_ID} characters", index=f.index))
    reject(ordered_at.isna(), "bad_date", lambda f: "'" + f["date"] + "'")
    reject(quantity.isna(), "bad_quantity", lambda f: "'" + f["quantity"] + "'")
    reject(quantity == 0, "zero_quantity", lambda f: pd.Series("0", index=f.index))
    reject(price.isna(), "bad_price", lambda f: "'" + f["unit_price"] + "'")
    currency = _currency_codes(frame)
    reject(currency == "?", "bad_currency",
           lambda f: "'" + f["currency"] + "' (expected a three-letter ISO 4217 code such as EUR or USD)")
    reject(order_kind.isna(), "bad_status", lambda f: "'" + f["status"] + "'" + bad_kind_detail)
    negative_sale = (price < 0) & (order_kind != "adjustment") & (kinds != "adjustment")
    reject(negative_sale, "negative_price", lambda f: "'" + f["unit_price"] + "'")

    ok = reason.isna()
    for index in frame.index[~ok]:
        rejected.append(Rejection(int(lines[index]), str(reason[index]), str(detail[index]),
                                  [str(v) for v in frame.loc[index].tolist()]))

    countries = _map_unique(frame.loc[ok, "country"], normalise_country)
    description = frame.loc[ok, "description"].str.slice(0, MAX_DESCRIPTION)
    accepted = pd.DataFrame({
        "line": lines[ok],
        "order_ref": order_ref[ok],
        "customer_ref": customer_ref[ok],
        "ordered_at": ordered_at[ok],
        "sku": sku[ok],
        "description": description.where(description != "", None),
        "quantity": quantity[ok].astype("int64"),
        "price_micros": price[ok].astype("int64"),
        "order_kind": order_kind[ok],
        "status": status[ok],
        "country": countries.str[0],
        "country_code": countries.str[1],
        "product_kind": kinds[ok],
        "currency": currency[ok],
    })
    accepted["category"] = categorise_lines(accepted["order_kind"], accepted["product_kind"],
                                            accepted["quantity"], accepted["price_micros"])
    accepted = accepted.replace({np.nan: None})
    return PreparedLines(accepted=accepted.reset_index(drop=True), rejected=rejected)
