"""The generic customers and orders formats a business brings from its own systems."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db import stats
from db.importers import ImportFileError, ImportOptions, import_file
from db.models import Customer, ImportRun, Order, OrderLine


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(engine: Engine, fmt: str, path: Path, tmp_path: Path, **options: object):
    return import_file(engine, fmt, path, ImportOptions(reject_dir=tmp_path / "rejects", **options))  # type: ignore[arg-type]


CUSTOMERS = """id,name,email,phone,country,created_at,owner,plan,churned
C1,Ada Lovelace, Ada@Example.COM ,+44 20 7946 0000,UK,2020-01-15,U024BE7LH,gold,No
C2,Grace Hopper,grace@example.com,,USA,2021-03-02,,silver,Yes
C3,Bad Mail,not-an-email,,France,,,,
,No Id,x@example.com,,,,,,
C4,Late Date,,,,yesterday-ish,,,
"""


def test_customers_are_normalised_and_bad_rows_rejected(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, "customers", write(tmp_path, "customers.csv", CUSTOMERS), tmp_path)

    assert report.categories == {"new": 2}
    assert report.rejected == {"bad_email": 1, "missing_customer_id": 1, "bad_date": 1}
    assert report.is_balanced()
    with Session(engine) as session:
        ada = session.scalar(select(Customer).where(Customer.external_id == "C1"))
        assert ada.email == "ada@example.com"
        assert (ada.country, ada.country_code) == ("United Kingdom", "GB")
        assert ada.owner == "U024BE7LH"
        assert ada.created_at.year == 2020
        assert ada.attributes == {"plan": "gold", "churned": "No"}
        grace = session.scalar(select(Customer).where(Customer.external_id == "C2"))
        assert (grace.country_code, grace.phone) == ("US", None)
    with report.reject_file.open(encoding="utf-8") as handle:
        lines = [(int(r["line"]), r["reason"]) for r in csv.DictReader(handle)]
    assert lines == [(4, "e-mail address is not valid"), (5, "no customer id"), (6, "date cannot be read")]


def test_newer_customer_file_updates_values_and_blank_cells_keep_stored_ones(engine: Engine, tmp_path: Path) -> None:
    run(engine, "customers", write(tmp_path, "customers.csv", CUSTOMERS), tmp_path)
    newer = "customer_id,name,email,plan\nC1,Ada King,,platinum\nC2,Grace Hopper,grace@example.com,silver\nC9,New,,\n"
    report = run(engine, "customers", write(tmp_path, "newer.csv", newer), tmp_path)

    assert report.categories == {"updated": 1, "unchanged": 1, "new": 1}
    with Session(engine) as session:
        ada = session.scalar(select(Customer).where(Customer.external_id == "C1"))
        assert ada.name == "Ada King"
        assert ada.email == "ada@example.com"  # blank cell: kept
        assert ada.attributes == {"plan": "platinum", "churned": "No"}


def test_map_option_renames_columns(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "crm.csv", "Kundennummer,Name\n77,Zeiss\n")
    report = run(engine, "customers", path, tmp_path, renames={"Kundennummer": "customer_id"})
    assert report.categories == {"new": 1}
    with pytest.raises(ImportFileError, match="no column 'Kunde'"):
        run(engine, "customers", path, tmp_path, renames={"Kunde": "customer_id"}, force=True)


ORDERS = """order_id,customer_id,date,sku,description,quantity,unit_price,status
1001,C1,2024-03-01 10:00,SKU-1,Blue mug,2,9.50,completed
1001,C1,2024-03-01 10:00,SKU-2,Red mug,1,9.50,completed
1002,C7,2024-03-04,SKU-1,Blue mug,1,£9.50,shipped
1003,,2024-03-05,SKU-2,Red mug,3,9.5,paid
1004,C1,2024-03-06,SKU-1,Blue mug,1,9.50,cancelled
1005,C2,2024-03-07,SKU-1,Blue mug,-1,9.50,refunded
1006,C2,2024-03-08,SKU-1,Blue mug,1,9.50,lost in space
1007,C2,2024-03-09,SKU-1,Blue mug,1,"1,234.00",completed
"""


def test_orders_status_decides_the_kind_and_unknown_customers_are_created(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, "orders", write(tmp_path, "orders.csv", ORDERS), tmp_path)

    assert report.categories == {"sale": 4, "cancellation": 1, "return": 1}
    assert report.rejected == {"bad_status": 1, "bad_price": 1}
    assert report.notes["guest_lines"] == 1
    assert report.new_customers == 3  # C1, C7, C2 exist only in the orders file
    with Session(engine) as session:
        kinds = dict(session.execute(select(Order.external_id, Order.kind)).all())
        assert kinds == {"1001": "sale", "1002": "sale", "1003": "sale", "1004": "cancellation", "1005": "return"}
        statuses = dict(session.execute(select(Order.external_id, Order.status)).all())
        assert statuses["1005"] == "refunded"
        prices = session.scalars(select(OrderLine.unit_price_micros)).all()
        assert set(prices) == {9_500_000}
    with report.reject_file.open(encoding="utf-8") as handle:
        details = {r["reason"]: r["detail"] for r in csv.DictReader(handle)}
    assert "lost in space" in details["unknown order status"]
    assert "1,234.00" in details["unit price cannot be read"]


def test_orders_with_another_date_layout_need_the_date_format_option(engine: Engine, tmp_path: Path) -> None:
    text = "order_id,date,sku,quantity,unit_price\n1,31/12/2024 10:00,A,1,2.00\n2,01/01/2025 11:00,A,1,2.00\n"
    path = write(tmp_path, "eu.csv", text)
    with pytest.raises(ImportFileError, match=r"--date-format '%d/%m/%Y %H:%M'"):
        run(engine, "orders", path, tmp_path)
    report = run(engine, "orders", path, tmp_path, date_format="%d/%m/%Y %H:%M")
    assert report.categories == {"sale": 2}


def test_sub_second_timestamps_import_without_warnings(engine: Engine, tmp_path: Path,
                                                       recwarn: pytest.WarningsRecorder) -> None:
    """Exports with nanosecond clocks are normal input: kept to the microsecond, no warning per row."""
    orders = ("order_id,customer_id,date,sku,description,quantity,unit_price,status\n"
              "2001,C9,2024-03-01T10:00:00.123456789,SKU-1,Blue mug,2,9.50,completed\n"
              "2002,C9,2024-03-02 11:30:15.987654321,SKU-2,Red mug,1,9.50,completed\n")
    people = "customer_id,name,created_at\nC9,Nano Customer,2020-01-15T08:00:00.000000001\n"
    run(engine, "customers", write(tmp_path, "people.csv", people), tmp_path)
    report = run(engine, "orders", write(tmp_path, "nano.csv", orders), tmp_path)
    assert report.status == "completed" and not [w for w in recwarn if "nanoseconds" in str(w.message)]
    with Session(engine) as session:
        times = sorted(session.scalars(select(Order.ordered_at).where(Order.external_id.in_(["2001", "2002"]))))
    assert [t.microsecond for t in times] == [123456, 987654]


def test_each_import_records_the_currency_of_its_prices(engine: Engine, tmp_path: Path) -> None:
    """Online Retail is in pounds; an orders file says so by its price symbols or ``--currency``."""
    sterling = "order_id,date,sku,quantity,unit_price\n3001,2024-03-01 10:00,A,1,£2.50\n"
    euros = "order_id,date,sku,quantity,unit_price\n3002,2024-03-02 10:00,B,1,4.00\n"
    dollars = "order_id,date,sku,quantity,unit_price\n3003,2024-03-03 10:00,C,1,$1.00\n"
    assert run(engine, "orders", write(tmp_path, "gbp.csv", sterling), tmp_path).currency == "GBP"
    assert run(engine, "orders", write(tmp_path, "eur.csv", euros), tmp_path, currency="EUR").currency == "EUR"
    with Session(engine) as session:
        assert stats.recorded_currency(session) == "EUR"
    assert run(engine, "orders", write(tmp_path, "usd.csv", dollars), tmp_path).currency is None  # $: which dollar?
    with Session(engine) as session:
        assert stats.recorded_currency(session) == "EUR"  # an import that did not say leaves the last one said
        assert session.scalar(select(ImportRun.currency).order_by(ImportRun.id.desc()).limit(1)) is None
