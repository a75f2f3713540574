"""Query modules against the imported demo sample, checked with an independent pandas computation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db import customers, orders
from db.importers.rules import product_kind
from db.models import Customer
from db.sample import ONLINE_RETAIL_SAMPLE
from db.stats import store_summary


def _expected_sales() -> pd.DataFrame:
    """Sales per customer straight from the CSV, following docs/data-model.md."""
    raw = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False)
    raw = raw[raw["CustomerID"] != ""]
    raw = raw.assign(quantity=raw["Quantity"].astype(int), price=raw["UnitPrice"].map(Decimal))
    raw = raw[~raw.duplicated(["InvoiceNo", "StockCode", "Quantity", "UnitPrice"])]
    merchandise = raw["StockCode"].map(product_kind) == "product"
    sales = raw[raw["InvoiceNo"].str[0].str.isdigit() & merchandise & (raw["quantity"] > 0)
                & (raw["price"] > 0)]
    sales = sales.assign(value=[q * p for q, p in zip(sales["quantity"], sales["price"], strict=True)],
                         date=pd.to_datetime(sales["InvoiceDate"]))
    return sales.groupby("CustomerID").agg(orders=("InvoiceNo", "nunique"), value=("value", "sum"),
                                           last=("date", "max"), first=("date", "min"))


def test_customer_order_totals_match_an_independent_computation(sample_store: Engine) -> None:
    expected = _expected_sales()
    with Session(sample_store) as session:
        totals = orders.customer_order_totals(session).set_index("customer_ref")
    buyers = totals[totals["orders"] > 0]
    assert sorted(buyers.index) == sorted(expected.index)
    assert (buyers.loc[expected.index, "orders"] == expected["orders"]).all()
    assert buyers["sales_value"].sum() == pytest.approx(float(expected["value"].sum()), rel=1e-12)
    for ref in ("12748", "18118", "14056"):
        assert buyers.at[ref, "sales_value"] == pytest.approx(float(expected.at[ref, "value"]), abs=1e-6)
        assert buyers.at[ref, "last_order_at"] == expected.at[ref, "last"].to_pydatetime()
        assert buyers.at[ref, "first_order_at"] == expected.at[ref, "first"].to_pydatetime()


def test_totals_as_of_a_date_ignore_later_orders(sample_store: Engine) -> None:
    cutoff = datetime(2011, 6, 30, 23, 59)
    with Session(sample_store) as session:
        totals = orders.customer_order_totals(session, as_of=cutoff)
    assert (totals["last_order_at"].dropna() <= cutoff).all()
    expected = _expected_sales()
    assert len(totals[totals["orders"] > 0]) < len(expected)


def test_sales_lines_stream_in_chunks_and_add_up(sample_store: Engine) -> None:
    with Session(sample_store) as session:
        chunks = list(orders.iter_sales_lines(session, chunk_rows=10_000))
        totals = orders.customer_order_totals(session)
    assert len(chunks) > 1
    lines = pd.concat(chunks)
    assert list(lines.columns) == list(orders.LINE_COLUMNS)
    assert (lines["quantity"] > 0).all()
    by_customer = lines.dropna(subset=["customer_id"]).groupby("customer_id")["value"].sum()
    assert by_customer.sum() == pytest.approx(totals["sales_value"].sum(), rel=1e-12)
    assert lines["customer_id"].isna().any()  # guest orders are sales too


def test_sale_orders_carry_dates_and_values(sample_store: Engine) -> None:
    with Session(sample_store) as session:
        sale_orders = orders.sale_orders(session)
        lines = orders.sales_lines(session)
    assert sale_orders["order_id"].is_unique
    assert set(sale_orders["order_id"]) == set(lines["order_id"])
    assert sale_orders["value"].sum() == pytest.approx(lines["value"].sum(), rel=1e-12)
    assert sale_orders["ordered_at"].min().isoformat().startswith("2010-12-01")


def test_customer_lookups(sample_store: Engine) -> None:
    with Session(sample_store) as session:
        customer = customers.by_external_id(session, " 12748 ")
        assert customer is not None and customer.country == "United Kingdom"
        customer.email, customer.name = "buyer@example.com", "Percy Buyer"
        session.flush()  # visible to the queries below, rolled back when the session closes
        assert [c.external_id for c in customers.by_email(session, "Buyer@Example.com")] == ["12748"]
        assert customers.search(session, "12748")[0].external_id == "12748"
        assert [c.external_id for c in customers.search(session, "percy")] == ["12748"]
        assert customers.search(session, "%") == []  # wildcards match literally
        assert customers.count(session) == 1_000
        recent = orders.orders_of_customer(session, customer.id, limit=5)
        assert len(recent) == 5 and recent["ordered_at"].is_monotonic_decreasing


def test_store_summary(sample_store: Engine) -> None:
    with Session(sample_store) as session:
        summary = store_summary(session)
        assert summary.customers == 1_000
        assert summary.lines == 96_115
        assert summary.first_order_at.date().isoformat() == "2010-12-01"
        assert summary.last_order_at.date().isoformat() == "2011-12-09"
        # product sales include guest orders; the customer part matches the CSV exactly
        customer_sales = _expected_sales()["value"].sum()
        assert summary.sales_value > customer_sales
        assert summary.guest_orders > 0
        assert session.get(Customer, 1) is not None
