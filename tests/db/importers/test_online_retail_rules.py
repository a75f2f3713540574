"""Every cleaning rule of the Online Retail importer on a small literal file, on both databases."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.importers import ImportOptions, import_file
from db.models import Customer, Order, OrderLine, Product
from db.money import from_micros

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",  # 2 sale
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",  # 3 sale
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",  # 4 repeated line
    "536366,POST,POSTAGE,1,2010-12-01 08:28:00,18.00,12583,France",  # 5 non-product
    "536366,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:28:00,3.75,12583,France",  # 6 sale
    "C536379,22728,ALARM CLOCK BAKELIKE PINK,-2,2010-12-02 09:41:00,3.75,12583,France",  # 7 cancellation
    "536380,22728,,-10,2010-12-02 10:00:00,0,,United Kingdom",  # 8 stock note, guest
    "536381,21777,FREE GIFT,1,2010-12-02 10:05:00,0,17850,United Kingdom",  # 9 zero price
    "A563186,B,Adjust bad debt,1,2011-08-12 14:50:00,-11062.06,,United Kingdom",  # 10 adjustment
    "536382,22728,ALARM CLOCK,1,not a date,3.75,17850,United Kingdom",  # 11 bad date
    "536383,22728,ALARM CLOCK,two,2010-12-03 10:00:00,3.75,17850,United Kingdom",  # 12 bad quantity
    "536384,22728,ALARM CLOCK,1,2010-12-03 10:00:00,abc,17850,United Kingdom",  # 13 bad price
    "536385,22728,ALARM CLOCK,1,2010-12-03 10:00:00,-1.00,17850,United Kingdom",  # 14 negative price
    "536386,22728,ALARM CLOCK,0,2010-12-03 10:00:00,3.75,17850,United Kingdom",  # 15 zero quantity
    ",22728,ALARM CLOCK,1,2010-12-03 10:00:00,3.75,17850,United Kingdom",  # 16 missing invoice
    "536387,,ALARM CLOCK,1,2010-12-03 10:00:00,3.75,17850,United Kingdom",  # 17 missing stock code
    "536388,22728,ALARM CLOCK,1,2010-12-03 10:00:00,3.75,17850,United Kingdom,extra",  # 18 malformed
    "536389,84029G,KNITTED UNION FLAG HOT WATER BOTTLE,3,2010-12-04 11:00:00,3.39,14911.0,EIRE",  # 19 sale
]


def write(tmp_path: Path, rows: list[str], name: str = "retail.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(engine: Engine, path: Path, tmp_path: Path, **options: object) -> object:
    return import_file(engine, "online-retail", path, ImportOptions(reject_dir=tmp_path / "rejects",
                                                                   **options))  # type: ignore[arg-type]


def test_each_row_is_stored_in_one_category_or_rejected_with_its_reason(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, ROWS), tmp_path)

    assert report.rows_read == len(ROWS)
    assert report.is_balanced()
    assert report.categories == {"sale": 5, "non_product": 1, "cancellation": 1, "stock_note": 1,
                                 "zero_price": 1, "adjustment": 1}
    assert report.rejected == {"bad_date": 1, "bad_quantity": 1, "bad_price": 1, "negative_price": 1,
                               "zero_quantity": 1, "missing_order_id": 1, "missing_sku": 1, "malformed_row": 1}
    assert report.notes == {"guest_lines": 2, "repeated_lines": 1}
    assert report.stored_new == 10 and report.already_stored == 0


def test_reject_file_names_line_and_reason_of_every_rejected_row(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, ROWS), tmp_path)

    with report.reject_file.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["line"]), r["reason"]) for r in rows] == [
        (11, "date cannot be read"), (12, "quantity is not a whole number"), (13, "unit price cannot be read"),
        (14, "negative unit price on a sale (only adjustments may be negative)"), (15, "quantity is zero"),
        (16, "no order/invoice number"), (17, "no product code"), (18, "wrong number of fields"),
    ]
    assert rows[0]["detail"] == "'not a date'"
    assert rows[0]["order_id"] == "536382"


def test_store_keeps_kinds_guests_repeats_and_exact_money(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, ROWS), tmp_path)

    with Session(engine) as session:
        kinds = dict(session.execute(select(Order.external_id, Order.kind)).all())
        assert kinds["C536379"] == "cancellation" and kinds["A563186"] == "adjustment"
        assert kinds["536365"] == "sale"
        assert session.scalar(select(Order.customer_id).where(Order.external_id == "536380")) is None
        assert session.scalar(select(Product.kind).where(Product.sku == "POST")) == "postage"
        assert session.scalar(select(Product.kind).where(Product.sku == "B")) == "adjustment"
        # the stock note's empty description does not become the product's name
        assert session.scalar(select(Product.description).where(Product.sku == "22728")) \
            == "ALARM CLOCK BAKELIKE PINK"
        occurrences = session.scalars(select(OrderLine.occurrence).join(Order)
                                      .where(Order.external_id == "536365").order_by(OrderLine.id)).all()
        assert occurrences == [0, 0, 1]
        total = session.scalar(select(func.sum(OrderLine.quantity * OrderLine.unit_price_micros)))
        expected = sum(Decimal(q) * Decimal(p) for q, p in [
            (6, "2.55"), (6, "3.39"), (6, "3.39"), (1, "18.00"), (24, "3.75"), (-2, "3.75"), (-10, "0"),
            (1, "0"), (1, "-11062.06"), (3, "3.39")])
        assert from_micros(total) == expected
        ireland = session.scalar(select(Customer).where(Customer.external_id == "14911"))
        assert (ireland.country, ireland.country_code) == ("Ireland", "IE")


def test_reimport_changes_nothing_and_overlapping_file_adds_only_new_rows(engine: Engine, tmp_path: Path) -> None:
    first = run(engine, write(tmp_path, ROWS), tmp_path)
    again = run(engine, write(tmp_path, ROWS), tmp_path, force=True)
    assert again.stored_new == 0 and again.already_stored == first.stored_new
    assert again.new_customers == again.new_products == again.new_orders == 0

    newer = [*ROWS[4:9], "536390,22728,ALARM CLOCK BAKELIKE PINK,12,2010-12-05 09:00:00,3.75,12583,France"]
    overlap = run(engine, write(tmp_path, newer, "newer.csv"), tmp_path)
    assert overlap.stored_new == 1
    assert overlap.already_stored == 5
    assert overlap.new_orders == 1
    with Session(engine) as session:
        assert session.scalar(select(func.count(OrderLine.id))) == first.stored_new + 1


def test_same_file_again_is_recognised_without_rereading(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, ROWS)
    first = run(engine, path, tmp_path)
    again = run(engine, path, tmp_path)
    assert again.status == "skipped"
    assert again.previous_run_id == first.run_id
    assert again.rows_read == first.rows_read


def test_online_retail_ii_spelling_and_gzip(engine: Engine, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "ii.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
                     "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085,"
                     "United Kingdom\n")
    report = run(engine, path, tmp_path)
    assert report.categories == {"sale": 1}
    with Session(engine) as session:
        assert session.scalar(select(Customer.external_id)) == "13085"


def test_an_order_claimed_by_two_customers_keeps_the_first(engine: Engine, tmp_path: Path) -> None:
    rows = ["536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,12583,United Kingdom"]
    report = run(engine, write(tmp_path, rows), tmp_path)
    assert report.rejected == {"order_conflict": 1}
    assert report.categories == {"sale": 1}
    assert report.is_balanced()
