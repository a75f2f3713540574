"""Shopify and WooCommerce order exports, shaped as the platforms document them (exports/): blank
order-level fields on continuation rows, UTC offsets changing with daylight saving, quoted
multi-line notes, refunds and cancellations, a currency change mid-file, a status nobody mapped."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from db.importers import ImportFileError, ImportOptions, import_file
from db.models import Customer, Order, OrderLine, Product
from db.money import from_micros

EXPORTS = Path(__file__).parent / "exports"


Document = tuple[str, str | None, str | None, datetime, list[tuple[str, int, Decimal]]]


def documents(engine: Engine) -> dict[str, Document]:
    """Each stored order: kind, customer, currency, date and its lines (sku, quantity, unit price)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Order.external_id, Order.kind, Customer.external_id, Order.currency, Order.ordered_at, Product.sku,
                   OrderLine.quantity, OrderLine.unit_price_micros)
            .join(OrderLine, OrderLine.order_id == Order.id).join(Product, Product.id == OrderLine.product_id)
            .outerjoin(Customer, Customer.id == Order.customer_id).order_by(Order.external_id, OrderLine.id)).all()
    found: dict[str, Document] = {}
    for ref, kind, customer, currency, when, sku, quantity, micros in rows:
        found.setdefault(ref, (kind, customer, currency, when, []))[4].append((sku, quantity, from_micros(micros)))
    return found


def test_a_shopify_export_becomes_orders_with_their_credits_and_currencies(engine: Engine, tmp_path: Path) -> None:
    report = import_file(engine, "shopify", EXPORTS / "shopify_orders_export.csv", ImportOptions(reject_dir=tmp_path))
    assert report.is_balanced() and report.rejected_total == 0
    assert report.rows_read == 14 and report.notes["credit_lines"] == 4
    assert (report.notes["lines_in_USD"], report.notes["lines_in_CAD"]) == (11, 3)  # said, not added up as one
    stored = documents(engine)
    assert stored["#1001"] == ("sale", "ana.silva@example.com", "USD", datetime(2024, 3, 8, 10, 15, 2),
                               [("MUG-BLU", 2, Decimal("12.5")), ("TOWEL-L", 1, Decimal("8"))])
    assert stored["#1002-R"][:2] == ("return", "ben@example.com") and stored["#1002-R"][4] == [
        ("MUG-BLU", -1, Decimal("12.5"))]
    # A partial refund of 11.00 the export gives only as an amount: spread by value (25.00 and 30.00).
    assert stored["#1003"][3] == datetime(2024, 3, 11, 9, 5, 44)  # -0400 now: the wall time is kept
    assert stored["#1003-R"][4] == [("MUG-BLU", -1, Decimal("5")), ("Serving Board", -1, Decimal("6"))]
    assert stored["#1004-C"][0] == "cancellation" and stored["#1004-C"][3] == datetime(2024, 3, 12, 15, 30)
    assert stored["#1005"][1] is None  # no e-mail: a guest order
    assert stored["#1006"][2] == "CAD" and len(stored["#1006"][4]) == 3
    with engine.connect() as connection:
        people = dict(connection.execute(select(Customer.external_id, Customer.email)).all())
        countries = set(connection.execute(select(Customer.country)).scalars())
    assert people == {e: e for e in ("ana.silva@example.com", "ben@example.com", "cara@example.com",
                                     "dan@example.ca")}
    assert countries == {"United States", "Canada"}

    again = import_file(engine, "shopify", EXPORTS / "shopify_orders_export.csv",
                        ImportOptions(reject_dir=tmp_path, force=True))
    assert again.stored_new == 0 and again.already_stored == 14


def test_a_woocommerce_export_with_item_refunds_and_an_unknown_status(engine: Engine, tmp_path: Path) -> None:
    report = import_file(engine, "woocommerce", EXPORTS / "woocommerce_orders_export.csv",
                         ImportOptions(reject_dir=tmp_path))
    assert report.is_balanced() and report.rows_read == 11 and report.notes["credit_lines"] == 3
    assert dict(report.rejected) == {"bad_status": 1}  # "awaiting-shipment": a status is never guessed at
    assert report.reject_file is not None and "awaiting-shipment" in report.reject_file.read_text()
    stored = documents(engine)
    assert stored["2051"] == ("sale", "17", "EUR", datetime(2024, 5, 2, 9, 12, 40),
                              [("MUG-BLU", 3, Decimal("12.5")), ("TOWEL-L", 1, Decimal("8"))])
    assert stored["2052-R"][4] == [("MUG-BLU", -1, Decimal("12.5"))]  # the item's own refunded quantity
    assert stored["2053"][1] == "guest@example.fi" and stored["2053-R"][4] == [("BOARD", -1, Decimal("30"))]
    assert stored["2054-C"][0] == "cancellation"
    assert stored["2055"][0] == "cancellation" and stored["2055"][4] == [("MUG-BLU", 1, Decimal("12.5"))]
    assert "2056" not in stored


def test_an_export_of_another_platform_is_refused_before_anything_is_written(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"missing required column\(s\): Name; Created at"):
        import_file(engine, "shopify", EXPORTS / "woocommerce_orders_export.csv", ImportOptions(reject_dir=tmp_path))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Order)).scalar_one() == 0


def test_an_order_cut_by_a_batch_boundary_keeps_its_credit_whole(engine: Engine, tmp_path: Path) -> None:
    report = import_file(engine, "shopify", EXPORTS / "shopify_orders_export.csv",
                         ImportOptions(reject_dir=tmp_path, batch_rows=2))  # every order with two items is cut
    assert report.rows_read == 14 and report.is_balanced()
    stored = documents(engine)
    assert stored["#1003-R"][4] == [("MUG-BLU", -1, Decimal("5")), ("Serving Board", -1, Decimal("6"))]
    assert len(stored["#1006"][4]) == 3 and stored["#1006"][1] == "dan@example.ca"


def test_a_store_with_several_currencies_says_so(engine: Engine, tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    from db.currencies import kept_apart, mixed_currencies, order_currencies
    import_file(engine, "shopify", EXPORTS / "shopify_orders_export.csv", ImportOptions(reject_dir=tmp_path))
    with Session(engine) as session:
        assert order_currencies(session) == {"USD": 8, "CAD": 1}
        assert kept_apart(session) == {"CAD": 1}
        assert mixed_currencies(session) == ("the store holds orders in 2 currencies (USD 8, CAD 1 orders): figures "
                                             "count the USD orders only: 1 order in CAD is kept apart (amounts are "
                                             "never converted)")
