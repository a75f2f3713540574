"""Generate a large synthetic store, then time the refresh on it.

Realistic skew: product popularity follows a Zipf law, order sizes a geometric law, unit prices
and quantities lognormal laws, and customers' order counts a negative binomial, over two
years.  Rows go straight into the store with the same bulk writer the importers use (ids are
assigned here), so generating 10M lines takes minutes, not hours.

    python benchmarks/synthetic_store.py --database-url postgresql://postgres@127.0.0.1/crm_synth \\
        --customers 1000000 --lines 10000000 --products 20000 --refresh
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db import migrate  # noqa: E402
from db.bulk import insert_new_rows  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.maintenance import refresh_planner_statistics  # noqa: E402
from db.models import Customer, Order, OrderLine, Product  # noqa: E402

START = datetime(2022, 1, 1)
DAYS = 730
COUNTRIES = ["United Kingdom"] * 8 + ["Germany", "France", "Ireland", "Netherlands", "Spain"]


def generate(url: str, customers: int, lines: int, products: int, seed: int, chunk: int = 100_000) -> None:
    """Write customers, products, orders and lines; prints progress."""
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    migrate.upgrade(engine)
    lines_per_order = 5.0
    orders_total = int(lines / lines_per_order)
    # Orders per customer: negative binomial, rescaled to hit the order total.
    weights = rng.negative_binomial(1, 0.35, customers) + 1.0
    per_customer = np.maximum(1, np.round(weights * orders_total / weights.sum())).astype(np.int64)
    popularity = 1.0 / np.arange(1, products + 1) ** 1.07
    popularity /= popularity.sum()
    base_price = np.round(np.exp(rng.normal(1.0, 0.8, products)), 2).clip(0.1, 500)
    started = time.perf_counter()
    with engine.begin() as connection:
        insert_new_rows(connection, Product.__table__, ["id", "sku", "description", "kind"],
                        [(i + 1, f"P{i + 1:05d}", f"Synthetic product {i + 1}", "product") for i in range(products)])
    order_id = 0
    written = 0
    for first in range(0, customers, chunk):
        ids = np.arange(first, min(first + chunk, customers))
        counts = per_customer[ids]
        n_orders = int(counts.sum())
        order_customer = np.repeat(ids + 1, counts)
        # Each customer is active over a random window; orders fall uniformly inside it.
        begin = rng.integers(0, DAYS - 1, len(ids))
        span = (rng.exponential(200, len(ids)) + 1).astype(np.int64)
        offsets = np.repeat(begin, counts) + (rng.random(n_orders) * np.repeat(span, counts)).astype(np.int64)
        ordered_at = [START + timedelta(days=int(min(d, DAYS - 1)), minutes=int(m))
                      for d, m in zip(offsets, rng.integers(480, 1080, n_orders), strict=True)]
        sizes = rng.geometric(1 / lines_per_order, n_orders)
        n_lines = int(sizes.sum())
        line_order = np.repeat(np.arange(order_id + 1, order_id + n_orders + 1), sizes)
        product = rng.choice(products, size=n_lines, p=popularity) + 1
        quantity = np.maximum(1, np.round(np.exp(rng.normal(1.2, 0.9, n_lines)))).astype(np.int64)
        price = np.round(base_price[product - 1] * 1_000_000).astype(np.int64)
        frame = pd.DataFrame({"order_id": line_order, "product_id": product, "quantity": quantity,
                              "unit_price_micros": price})
        frame["occurrence"] = frame.groupby(["order_id", "product_id", "quantity"]).cumcount()
        with engine.begin() as connection:
            insert_new_rows(connection, Customer.__table__, ["id", "external_id", "country", "attributes"],
                            [(int(i) + 1, f"S{int(i) + 1:07d}", COUNTRIES[int(i) % len(COUNTRIES)], "{}") for i in ids])
            insert_new_rows(connection, Order.__table__, ["id", "external_id", "customer_id", "ordered_at", "kind"],
                            [(order_id + k + 1, f"O{order_id + k + 1:08d}", int(c), at, "sale")
                             for k, (c, at) in enumerate(zip(order_customer, ordered_at, strict=True))])
            insert_new_rows(connection, OrderLine.__table__, list(frame.columns),
                            list(frame.itertuples(index=False, name=None)))
        order_id += n_orders
        written += n_lines
        print(f"  {ids[-1] + 1:,} customers, {order_id:,} orders, {written:,} lines "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in ("customers", "products", "orders", "order_lines"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
    refresh_planner_statistics(engine)
    print(f"generated in {time.perf_counter() - started:.0f} s")


def time_refresh(url: str) -> None:
    """Run `crm-bot refresh` as its own process; print wall time and peak memory."""
    crm_bot = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"
    started = time.perf_counter()
    process = subprocess.Popen([crm_bot, "refresh"], env={**os.environ, "DATABASE_URL": url, "COLUMNS": "160"})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    print(f"refresh: exit {os.waitstatus_to_exitcode(status)}, {seconds:.0f} s wall, "
          f"peak memory {usage.ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="an empty store (it is migrated first)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--refresh", action="store_true", help="time `crm-bot refresh` afterwards")
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    if not args.skip_generate:
        generate(args.database_url, args.customers, args.lines, args.products, args.seed)
    if args.refresh:
        time_refresh(args.database_url)


if __name__ == "__main__":
    main()
