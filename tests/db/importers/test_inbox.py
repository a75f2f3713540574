"""The inbox folder: files recognised by their header, imported, moved to done/ or failed/ with the
reject report or the reason beside them; a file still arriving is left alone."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from db.importers.inbox import process_inbox, recognise
from db.importers.runner import ImportOptions
from db.models import Customer, Order
from db.sample import ONLINE_RETAIL_SAMPLE

EXPORTS = Path(__file__).parent / "exports"
LONG_AGO = time.time() - 3600


def drop(inbox: Path, name: str, text: str | None = None, source: Path | None = None, settled: bool = True) -> Path:
    path = inbox / name
    if source is not None:
        shutil.copyfile(source, path)
    else:
        path.write_text(text or "", encoding="utf-8")
    if settled:
        os.utime(path, (LONG_AGO, LONG_AGO))
    return path


def online_retail_rows(count: int) -> str:
    with gzip.open(ONLINE_RETAIL_SAMPLE, "rt", encoding="utf-8") as sample:
        return "".join(next(sample) for _ in range(count + 1))


def test_files_are_recognised_imported_and_moved_with_their_reports(engine: Engine, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop(inbox, "shop-march.csv", source=EXPORTS / "shopify_orders_export.csv")
    drop(inbox, "woo-may.csv", source=EXPORTS / "woocommerce_orders_export.csv")
    drop(inbox, "retail.csv", online_retail_rows(20))
    drop(inbox, "crm-customers.csv", "customer_id,name,email,plan\n12583,Chez Nous,chez@example.fr,gold\n")
    drop(inbox, "stock.csv", "warehouse,bin,units\nA,12,40\n")
    drop(inbox, "arriving.csv", online_retail_rows(5), settled=False)  # still being copied in
    drop(inbox, "upload.csv.part", online_retail_rows(5))
    done = {f.name: f for f in process_inbox(engine, inbox, ImportOptions(reject_dir=tmp_path / "rejects"))}

    assert {name: f.source_format for name, f in done.items()} == {
        "shop-march.csv": "shopify", "woo-may.csv": "woocommerce", "retail.csv": "online-retail",
        "crm-customers.csv": "customers", "stock.csv": None}
    assert sorted(p.name for p in (inbox / "done").iterdir()) == [
        "crm-customers.csv", "retail.csv", "shop-march.csv", "woo-may.csv", "woo-may.csv.rejects.csv"]
    assert "awaiting-shipment" in (inbox / "done" / "woo-may.csv.rejects.csv").read_text()
    reason = (inbox / "failed" / "stock.csv.reason.txt").read_text()
    assert "not a format crm-bot knows" in reason and "warehouse, bin, units" in reason
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["arriving.csv", "upload.csv.part"]
    with engine.connect() as connection:
        chez = connection.execute(select(Customer.name, Customer.attributes).where(Customer.external_id == "12583")
                                  ).one()
        orders = connection.execute(select(func.count()).select_from(Order)).scalar_one()
    assert chez.name == "Chez Nous" and chez.attributes == {"plan": "gold"}
    assert orders > 10

    again = drop(inbox, "shop-march.csv", source=EXPORTS / "shopify_orders_export.csv")
    [repeat] = process_inbox(engine, inbox, ImportOptions(reject_dir=tmp_path / "rejects"))
    assert repeat.report is not None and repeat.report.status == "skipped"
    assert repeat.moved_to == inbox / "done" / "shop-march.1.csv" and not again.exists()


def test_headers_are_read_most_specific_first() -> None:
    assert recognise(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                      "Country"]) == "online-retail"
    assert recognise(["order_id", "customer_id", "order_date", "sku", "qty", "price"]) == "orders"
    assert recognise(["id", "email"]) == "customers"
    assert recognise(["a", "b"]) is None
    # Another shop's order export (no product code): not a format, and never customers.
    assert recognise(["Order ID", "Customer ID", "Order Date", "Item Name", "Quantity", "Item Cost"]) is None
