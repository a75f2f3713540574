"""Generate a large synthetic store, then time the refresh on it.

Realistic skew: product popularity follows a Zipf law, order sizes a geometric law, unit prices
and quantities lognormal laws, and customers' order counts a negative binomial, over two
years.  Rows go straight into the store (ids are assigned here): on PostgreSQL through COPY with
the secondary indexes rebuilt afterwards, so 10M customers and 100M lines take minutes.

    python benchmarks/synthetic_store.py --database-url postgresql://postgres@127.0.0.1/crm_synth \\
        --customers 1000000 --lines 10000000 --products 20000 --refresh
    python benchmarks/synthetic_store.py --scale 0.2M 1M 10M --drop   # the table of docs/scaling.md
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

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


def generate(url: str, customers: int, lines: int, products: int, seed: int, chunk: int = 200_000) -> None:
    """Write customers, products, orders and lines; prints progress.

    On PostgreSQL rows go in through ``COPY`` with the secondary indexes and unique constraints
    dropped and rebuilt at the end, and foreign-key triggers off for the load (the ids are made
    here and consistent), so 100M lines take minutes; on SQLite through the bulk writer.
    """
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    migrate.upgrade(engine)
    postgres = engine.dialect.name == "postgresql"
    lines_per_order = 5.0
    orders_total = int(lines / lines_per_order)
    # Orders per customer: negative binomial, rescaled to hit the order total.
    weights = rng.negative_binomial(1, 0.35, customers) + 1.0
    per_customer = np.maximum(1, np.round(weights * orders_total / weights.sum())).astype(np.int64)
    popularity = 1.0 / np.arange(1, products + 1) ** 1.07
    popularity /= popularity.sum()
    base_price = np.round(np.exp(rng.normal(1.0, 0.8, products)), 2).clip(0.1, 500)
    started = time.perf_counter()
    write = _copier(engine) if postgres else _bulk_writer(engine)
    rebuild = _drop_secondary_indexes(engine) if postgres else (lambda: None)
    numbers = range(1, products + 1)
    write("products", pd.DataFrame({"id": np.arange(1, products + 1), "sku": [f"P{i:05d}" for i in numbers],
                                    "description": [f"Synthetic product {i}" for i in numbers], "kind": "product"}))
    order_id = 0
    written = 0
    for first in range(0, customers, chunk):
        ids = np.arange(first, min(first + chunk, customers))
        frames = _chunk(rng, ids, per_customer[ids], order_id, written, base_price, popularity, lines_per_order)
        for table in ("customers", "orders", "order_lines"):
            write(table, frames[table])
        order_id += len(frames["orders"])
        written += len(frames["order_lines"])
        print(f"  {ids[-1] + 1:,} customers, {order_id:,} orders, {written:,} lines "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"  rows written in {time.perf_counter() - started:.0f} s; building indexes", flush=True)
    rebuild()
    with engine.begin() as connection:
        if postgres:
            for table in ("customers", "products", "orders", "order_lines"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
    refresh_planner_statistics(engine)
    print(f"generated in {time.perf_counter() - started:.0f} s")


def _chunk(rng: np.random.Generator, ids: np.ndarray, counts: np.ndarray, order_id: int, written: int,
           base_price: np.ndarray, popularity: np.ndarray, lines_per_order: float) -> dict[str, pd.DataFrame]:
    """Customers ``ids`` with ``counts`` orders each, their orders and lines (ids continue from the last chunk)."""
    n_orders = int(counts.sum())
    order_customer = np.repeat(ids + 1, counts)
    # Each customer is active over a random window; orders fall uniformly inside it.
    begin = rng.integers(0, DAYS - 1, len(ids))
    span = (rng.exponential(200, len(ids)) + 1).astype(np.int64)
    offsets = np.repeat(begin, counts) + (rng.random(n_orders) * np.repeat(span, counts)).astype(np.int64)
    minutes = np.minimum(offsets, DAYS - 1) * 1440 + rng.integers(480, 1080, n_orders)
    ordered_at = np.datetime64(START, "m") + minutes.astype("timedelta64[m]")
    sizes = rng.geometric(1 / lines_per_order, n_orders)
    n_lines = int(sizes.sum())
    line_order = np.repeat(np.arange(order_id + 1, order_id + n_orders + 1), sizes)
    product = rng.choice(len(popularity), size=n_lines, p=popularity) + 1
    quantity = np.maximum(1, np.round(np.exp(rng.normal(1.2, 0.9, n_lines)))).astype(np.int64)
    price = np.round(base_price[product - 1] * 1_000_000).astype(np.int64)
    lines = pd.DataFrame({"id": np.arange(written + 1, written + n_lines + 1), "order_id": line_order,
                          "product_id": product, "quantity": quantity, "unit_price_micros": price})
    lines["occurrence"] = lines.groupby(["order_id", "product_id", "quantity"]).cumcount()
    order_ids = np.arange(order_id + 1, order_id + n_orders + 1)
    return {"customers": pd.DataFrame({"id": ids + 1, "external_id": [f"S{i + 1:07d}" for i in ids],
                                       "country": [COUNTRIES[i % len(COUNTRIES)] for i in ids], "attributes": "{}"}),
            "orders": pd.DataFrame({"id": order_ids, "external_id": [f"O{i:09d}" for i in order_ids],
                                    "customer_id": order_customer, "ordered_at": ordered_at, "kind": "sale"}),
            "order_lines": lines}


LOADED_TABLES = ("customers", "orders", "order_lines")


def _drop_secondary_indexes(engine: Engine) -> Callable[[], None]:
    """Drop the loaded tables' unique constraints and secondary indexes; return what rebuilds them."""
    with engine.begin() as connection:
        constraints = connection.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'u' AND conrelid::regclass::text = ANY(:tables)"), {"tables": list(LOADED_TABLES)}).all()
        for table, name, _ in constraints:
            connection.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        indexes = connection.execute(text(  # indexes no constraint owns (the primary keys stay)
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)"),
            {"tables": list(LOADED_TABLES)}).all()
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))

    def rebuild() -> None:
        with engine.begin() as connection:
            connection.execute(text("SET maintenance_work_mem = '1GB'"))
            for table, name, definition in constraints:
                connection.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
            for _, definition in indexes:
                connection.execute(text(definition))
    return rebuild


def _copier(engine: Engine) -> Callable[[str, pd.DataFrame], None]:
    """``write(table, frame)``: one COPY of the frame as CSV, foreign-key triggers off (ids are consistent)."""
    connection = engine.raw_connection()

    def write(table: str, frame: pd.DataFrame) -> None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN WITH (FORMAT csv)') as copy:
                copy.write(buffer.getvalue())
        connection.commit()
    return write


def _bulk_writer(engine: Engine) -> Callable[[str, pd.DataFrame], None]:
    tables = {"customers": Customer, "products": Product, "orders": Order, "order_lines": OrderLine}

    def write(table: str, frame: pd.DataFrame) -> None:
        if "ordered_at" in frame.columns:
            frame = frame.assign(ordered_at=pd.to_datetime(frame["ordered_at"]).dt.to_pydatetime())
        with engine.begin() as connection:
            insert_new_rows(connection, tables[table].__table__, list(frame.columns),
                            list(frame.astype(object).itertuples(index=False, name=None)))
    return write


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (worker processes included), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    family, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in family]
        family.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in family) / 2**20


def time_refresh(url: str, extra: list[str] | None = None) -> dict[str, float]:
    """Run `crm-bot refresh` as its own process; print and return wall time, its peak memory and the
    peak of it plus any worker processes it starts (sampled every half second)."""
    crm_bot = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"
    started = time.perf_counter()
    process = subprocess.Popen([crm_bot, "refresh", *(extra or [])],
                               env={**os.environ, "DATABASE_URL": url, "COLUMNS": "160"})
    peak_tree = 0.0
    while process.poll() is None:
        peak_tree = max(peak_tree, _tree_rss_mb(process.pid))
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = process.returncode
    print(f"refresh: exit {code}, {seconds:.0f} s wall, peak memory {usage.ru_maxrss / 1024:.0f} MB "
          f"(with its worker processes: {peak_tree:.0f} MB)")
    if code != 0:
        raise SystemExit(f"the refresh failed (exit {code})")
    return {"wall": seconds, "peak_mb": usage.ru_maxrss / 1024, "tree_mb": peak_tree}


def step_timings(url: str) -> dict[str, float]:
    """The per-step seconds the latest completed run recorded."""
    engine = make_engine(url)
    with engine.connect() as connection:
        results = connection.execute(text("SELECT results FROM analytics_runs WHERE status = 'completed' "
                                          "ORDER BY id DESC LIMIT 1")).scalar_one()
    engine.dispose()
    return dict((results if isinstance(results, dict) else json.loads(results))["timings"])


def read_floor(url: str, partitions: int = 8) -> tuple[float, float]:
    """Seconds the refresh's partition reads take through Arrow, and the database's own time for the
    same statements (``COPY (query) TO '/dev/null'``: executed and serialised, nothing sent), summed
    over up to ``partitions`` partitions spread over the store, measured side by side."""
    from assistant.jobs.refresh.inputs import RefreshParams
    from assistant.jobs.refresh.run import plan_refresh
    from db.frames import FrameIO, postgres_sql
    from db.histories import history_queries, id_range, read_history

    engine = make_engine(url)
    plan = plan_refresh(engine, RefreshParams())
    chosen = plan.partitions[:: max(1, len(plan.partitions) // partitions)][:partitions]
    arrow = database = 0.0
    with FrameIO(engine) as frames, engine.connect() as connection:
        for part in chosen:
            who = id_range(part.low, part.high)
            began = time.perf_counter()
            for query in history_queries(plan.as_of, who).values():
                connection.exec_driver_sql(f"COPY ({postgres_sql(query)}) TO '/dev/null'")
            database += time.perf_counter() - began
            began = time.perf_counter()
            read_history(frames, plan.as_of, who)
            arrow += time.perf_counter() - began
    engine.dispose()
    return arrow, database


SCALES = {"0.2M": 200_000, "1M": 1_000_000, "10M": 10_000_000}


def run_scales(server: str, names: list[str], regenerate: bool, drop: bool, products: int, seed: int) -> None:
    """Generate (when missing) and refresh each scale; print one table of the figures."""
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    rows = []
    for name in names:
        customers = SCALES[name]
        database = f"crm_scale_{name.replace('.', '_').lower()}"
        url = make_url(server).set(database=database).render_as_string(hide_password=False)
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first()
            if exists and regenerate:
                connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
            if not exists or regenerate:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
        if not exists or regenerate:
            print(f"{name}: generating {customers:,} customers, {customers * 10:,} lines")
            generate(url, customers, customers * 10, products, seed)
        print(f"{name}: refreshing")
        figures = time_refresh(url)
        steps = step_timings(url)
        arrow, floor = read_floor(url)
        rows.append((name, figures, steps, arrow / floor if floor else float("nan")))
        if drop:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
    admin.dispose()
    names_of_steps = list(dict.fromkeys(step for _, _, steps, _ in rows for step in steps))
    print("\n| store | wall | peak RSS (refresh and its workers) | read / database floor | "
          + " | ".join(names_of_steps) + " |")
    print("|---" * (4 + len(names_of_steps)) + "|")
    for name, figures, steps, ratio in rows:
        cells = " | ".join(f"{steps.get(step, 0):.1f}" for step in names_of_steps)
        print(f"| {name} | {figures['wall']:.0f} s | {figures['tree_mb']:,.0f} MB | {ratio:.2f}x | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty store (it is migrated first)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--refresh", action="store_true", help="time `crm-bot refresh` afterwards")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--scale", nargs="*", choices=list(SCALES), metavar="SIZE",
                        help="generate (if missing) and refresh stores of these sizes (default all: "
                             f"{', '.join(SCALES)} customers, 10 lines each) and print one table")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="with --scale: the PostgreSQL server the crm_scale_* databases are made on")
    parser.add_argument("--regenerate", action="store_true", help="with --scale: make the stores again")
    parser.add_argument("--drop", action="store_true", help="with --scale: drop each database after measuring it")
    args = parser.parse_args()
    if args.scale is not None:
        run_scales(args.server, args.scale or list(SCALES), args.regenerate, args.drop, args.products, args.seed)
        return
    if not args.database_url:
        parser.error("--database-url is required (or use --scale)")
    if not args.skip_generate:
        generate(args.database_url, args.customers, args.lines, args.products, args.seed)
    if args.refresh:
        time_refresh(args.database_url)
        print(step_timings(args.database_url))
        arrow, floor = read_floor(args.database_url)
        print(f"partition reads: {arrow:.1f} s through Arrow, database floor {floor:.1f} s ({arrow / floor:.2f}x)")


if __name__ == "__main__":
    main()
