"""Benchmark: `crm-bot sync` from a shop's PostgreSQL database.

The full UCI Online Retail data (541,909 lines) is loaded into a shop-like schema
(customers, orders, order_items: tests/shop_database.py) in a database of its own; then, into a
fresh PostgreSQL store, as `crm-bot sync` runs it (the same job, in this process, timed around it):

1. the first sync (customers and orders);
2. an incremental sync with nothing new;
3. an incremental sync after the shop took N new orders and changed the status of M others.

`--store-customers 1000000` first fills the store with the synthetic store of that size
(benchmarks/synthetic_store.py) so the incremental syncs land in a large store. Every database
made here is dropped at the end.

    python benchmarks/sync_source.py                      # Online Retail into an empty store
    python benchmarks/sync_source.py --store-customers 1000000 --new-orders 9000 --changed-orders 1000
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch import scratch_store  # noqa: E402

from assistant.jobs.sync import run_sync  # noqa: E402
from assistant.ops.sources import load_sources  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import make_engine  # noqa: E402
from tests.shop_database import ShopDatabase  # noqa: E402

DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))


def load_online_retail(shop: ShopDatabase, path: Path) -> tuple[int, datetime]:
    """The Online Retail lines as the shop's customers, orders and items; returns (lines, the latest update)."""
    with gzip.open(path, "rt", encoding="utf-8") as raw:
        lines = pd.read_csv(raw, dtype=str, keep_default_na=False)
    shop.load_invoices(lines)
    return len(lines), pd.to_datetime(lines["InvoiceDate"], format="ISO8601").max().to_pydatetime()


def shop_changes(shop: ShopDatabase, new_orders: int, changed_orders: int, after: datetime) -> None:
    """The shop takes ``new_orders`` (two lines each) and refunds ``changed_orders`` earlier ones."""
    with shop.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO orders (id, number, customer_id, placed_at, status, currency, updated_at) "
            "SELECT 10000000 + g, 'N' || g, (SELECT id FROM customers ORDER BY id OFFSET (g %% 4000) LIMIT 1), "
            "%(t)s, 'paid', 'GBP', %(t)s FROM generate_series(1, %(n)s) g", {"t": after, "n": new_orders})
        connection.exec_driver_sql(
            "INSERT INTO order_items (order_id, sku, title, qty, price) "
            "SELECT 10000000 + g, s.sku, s.title, 1 + g %% 5, 2.95 FROM generate_series(1, %(n)s) g "
            "CROSS JOIN (VALUES ('85123A', 'WHITE HANGING HEART T-LIGHT HOLDER'), "
            "('22423', 'REGENCY CAKESTAND 3 TIER')) s(sku, title)", {"n": new_orders})
        connection.exec_driver_sql(
            "UPDATE orders SET status = 'refunded', updated_at = %(t)s WHERE id IN (SELECT id FROM orders WHERE "
            "status = 'paid' AND id < 10000000 ORDER BY id LIMIT %(m)s)", {"t": after, "m": changed_orders})


def timed(what: str, action: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = action()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{what:<58} {time.perf_counter() - start:8.2f} s   peak RSS {peak:7.0f} MB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store-customers", type=int, default=0,
                        help="fill the store with a synthetic store of this many customers first")
    parser.add_argument("--new-orders", type=int, default=9_000)
    parser.add_argument("--changed-orders", type=int, default=1_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    args = parser.parse_args()
    data = DATASETS / "online-retail" / "online_retail.csv.gz"
    if not data.exists():
        sys.exit(f"Online Retail not found at {data} (set CRM_DATASETS_DIR)")
    with scratch_store("postgresql") as (shop_url, workdir), scratch_store("postgresql") as (store_url, _):
        shop = ShopDatabase(make_engine(shop_url))
        lines, latest = timed("load Online Retail into the shop", lambda: load_online_retail(shop, data))
        print(f"shop: {lines:,} order lines")
        store = make_engine(store_url)
        migrate.upgrade(store)
        if args.store_customers:
            from synthetic_store import generate
            timed(f"synthetic store of {args.store_customers:,} customers", lambda: generate(
                store_url, args.store_customers, args.store_customers * 10, 20_000, seed=7))
        sources_file = workdir / "sources.toml"
        sources_file.write_text(shop.sources_toml("env:SHOP_DATABASE_URL", batch_rows=str(args.batch_rows)))
        sources = load_sources(sources_file, {"SHOP_DATABASE_URL": shop_url})

        def sync() -> object:
            return run_sync(store, sources, timezone="UTC", reject_dir=workdir / "rejects")

        for label in ("first sync (customers and orders)", "incremental sync, nothing new"):
            outcome = timed(label, sync)
            print("   " + "; ".join(f"{p.part}: {p.report.rows_read:,} read, {p.report.stored_new:,} new"
                                    for p in outcome.parts if p.report))  # type: ignore[attr-defined]
        shop_changes(shop, args.new_orders, args.changed_orders, latest + timedelta(days=1))
        outcome = timed(f"incremental sync, {args.new_orders:,} new + {args.changed_orders:,} changed orders", sync)
        for part in outcome.parts:  # type: ignore[attr-defined]
            if part.report:
                print(f"   {part.part}: {part.report.rows_read:,} read, {part.report.new_orders:,} new orders, "
                      f"{part.report.notes.get('orders_changed', 0):,} orders changed")
        store.dispose()
        shop.engine.dispose()


if __name__ == "__main__":
    main()
