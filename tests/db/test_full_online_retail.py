"""The full UCI Online Retail file in the store reproduces the dataset's published figures exactly.

Slow (a full import per backend); figures are checked against the dataset README and against
an independent computation with pandas on the raw file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.importers import ImportOptions, import_file
from db.models import Customer, Order, OrderLine
from db.money import from_micros

pytestmark = pytest.mark.slow

README_FIGURES = {"rows": 541_909, "invoices": 25_900, "customers": 4_372,
                  "sum_value": Decimal("9747747.934"), "cancellation_lines": 9_288}
OVERLAP_ROWS = 22_523  # Online Retail II 2009-2010 shares 2010-12-01..09 with Online Retail


def _independent_figures(path: Path) -> dict[str, object]:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {
        "rows": len(raw),
        "invoices": raw["InvoiceNo"].nunique(),
        "cancellation_invoices": raw.loc[raw["InvoiceNo"].str.startswith("C"), "InvoiceNo"].nunique(),
        "customers": raw.loc[raw["CustomerID"] != "", "CustomerID"].nunique(),
        "sum_value": sum((Decimal(q) * Decimal(p) for q, p in zip(raw["Quantity"], raw["UnitPrice"], strict=True)),
                         Decimal(0)),
    }


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.full_length)],
                         indirect=True)  # the PostgreSQL run (~100 s) with `pytest -m slow`; the sample covers COPY
def test_full_file_reproduces_oracles_reimports_as_no_op_and_overlaps_exactly(
        engine: Engine, online_retail_path: Path, datasets: Path, tmp_path: Path) -> None:
    options = ImportOptions(reject_dir=tmp_path / "rejects")
    expected = _independent_figures(online_retail_path)
    assert {k: expected[k] for k in ("rows", "invoices", "customers", "sum_value")} == {
        k: README_FIGURES[k] for k in ("rows", "invoices", "customers", "sum_value")}

    report = import_file(engine, "online-retail", online_retail_path, options)
    assert report.rows_read == README_FIGURES["rows"] and report.is_balanced()
    assert report.rejected_total == 0
    assert report.categories["cancellation"] == README_FIGURES["cancellation_lines"]
    with Session(engine) as session:
        assert session.scalar(select(func.count(Customer.id))) == README_FIGURES["customers"]
        assert session.scalar(select(func.count(Order.id))) == README_FIGURES["invoices"]
        assert session.scalar(select(func.count(Order.id)).where(Order.kind == "cancellation")) \
            == expected["cancellation_invoices"]
        assert session.scalar(select(func.count(OrderLine.id))) == README_FIGURES["rows"]
        total = from_micros(session.scalar(select(func.sum(OrderLine.quantity * OrderLine.unit_price_micros))))
        assert total == README_FIGURES["sum_value"]

    again = import_file(engine, "online-retail", online_retail_path,
                        ImportOptions(reject_dir=tmp_path / "rejects", force=True))
    assert (again.stored_new, again.updated, again.already_stored) == (0, 0, README_FIGURES["rows"])
    assert (again.new_customers, again.new_products, again.new_orders) == (0, 0, 0)

    older = datasets / "online-retail" / "online_retail_ii_2009_2010.csv.gz"
    previous_year = import_file(engine, "online-retail", older, options)
    assert previous_year.is_balanced()
    assert previous_year.already_stored == OVERLAP_ROWS
    assert previous_year.stored_new == previous_year.accepted - OVERLAP_ROWS
