"""Syncing a shop's database into the store: incremental by watermark, updates not duplicates,
resume after the source goes away, read-only with a time limit.

Each test runs on both backends: a SQLite store reading a SQLite shop, a PostgreSQL store reading a
PostgreSQL shop (a database of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import InternalError, OperationalError

from db import sync_states
from db.engine import make_engine
from db.importers.sql_source import SourceError, SourceQuery, open_source
from db.importers.sync import SyncOptions, sync_query
from db.models import Customer, Order, OrderLine
from tests.conftest import _fresh_postgres_database
from tests.shop_database import CUSTOMERS_QUERY, ORDERS_QUERY, STATUSES, Item, ShopDatabase

T0 = datetime(2024, 3, 1, 9, 0)
ORDERS = SourceQuery("shop", "orders", ORDERS_QUERY, "updated_at", "order_id")
CUSTOMERS = SourceQuery("shop", "customers", CUSTOMERS_QUERY, "updated_at", "customer_id")


@pytest.fixture(scope="module")
def postgres_shop_url() -> Iterator[str]:
    yield from _fresh_postgres_database("shop")


@pytest.fixture
def shop_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The shop on the store's own kind of database."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return str(request.getfixturevalue("postgres_shop_url"))


@pytest.fixture
def shop(shop_url: str) -> Iterator[ShopDatabase]:
    engine = make_engine(shop_url)
    database = ShopDatabase(engine)
    database.add_customer(1, "ana@example.com", "Ana", "Portugal", T0)
    database.add_customer(2, "ben@example.com", "Ben", "EIRE", T0)
    for n in range(1, 13):
        database.add_order(f"W{n:04d}", 1 + n % 2, T0 + timedelta(days=n),
                           [Item("MUG", "Blue mug", 2, "4.50"), Item(f"P{n}", f"Print {n}", 1, "12.00")],
                           T0 + timedelta(days=n, hours=1))
    yield database
    engine.dispose()


@pytest.fixture
def source(shop: ShopDatabase, shop_url: str) -> Iterator[Engine]:
    engine = open_source(shop_url, timeout_seconds=30, timezone="UTC")
    yield engine
    engine.dispose()


def options(tmp_path: Path, **changes: object) -> SyncOptions:
    return SyncOptions(batch_rows=5, statuses=STATUSES, reject_dir=tmp_path / "rejects", **changes)  # type: ignore[arg-type]


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(connection.execute(select(func.count()).select_from(table)).scalar_one()  # type: ignore[return-value]
                     for table in (Customer.__table__, Order.__table__, OrderLine.__table__))


def test_first_sync_stores_everything_then_only_what_changed(engine: Engine, source: Engine, shop: ShopDatabase,
                                                             tmp_path: Path) -> None:
    customers = sync_query(engine, source, CUSTOMERS, options(tmp_path))
    orders = sync_query(engine, source, ORDERS, options(tmp_path))
    assert (customers.rows_read, orders.rows_read) == (2, 24)
    assert counts(engine) == (2, 12, 24)
    with engine.connect() as connection:
        ben = connection.execute(select(Customer.country, Customer.email).where(Customer.external_id == "2")).one()
        assert tuple(ben) == ("Ireland", "ben@example.com")  # the importers' normalisation applies
        currencies = set(connection.execute(select(Order.currency)).scalars())
    assert currencies == {"EUR"}
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and state.first_sync_done and state.watermark is not None
    assert state.watermark["value"].startswith("2024-03-13")

    again = sync_query(engine, source, ORDERS, options(tmp_path))
    # Only the last order's two lines lie within the overlap: read again, stored once.
    assert (again.rows_read, again.stored_new, again.already_stored) == (2, 0, 2)

    shop.add_order("W0100", 1, T0 + timedelta(days=20), [Item("MUG", "Blue mug", 1, "4.50")],
                   T0 + timedelta(days=20))
    later = sync_query(engine, source, ORDERS, options(tmp_path))
    assert (later.stored_new, later.new_orders) == (1, 1)
    assert counts(engine) == (2, 13, 25)


def test_a_status_change_updates_the_order_and_late_rows_are_not_missed(engine: Engine, source: Engine,
                                                                        shop: ShopDatabase, tmp_path: Path) -> None:
    sync_query(engine, source, ORDERS, options(tmp_path))
    last = T0 + timedelta(days=12, hours=1)
    shop.set_status("W0003", "refunded", last + timedelta(minutes=5))
    # Committed late by the shop: its timestamp is before the last watermark, within the overlap.
    shop.add_order("W0200", 2, last, [Item("MUG", "Blue mug", 3, "4.50")], last - timedelta(minutes=3))
    # Same timestamp as the watermark itself.
    shop.add_order("W0201", 2, last, [Item("MUG", "Blue mug", 4, "4.50")], last)
    report = sync_query(engine, source, ORDERS, options(tmp_path))
    assert report.notes["orders_changed"] == 1
    assert report.new_orders == 2
    with engine.connect() as connection:
        refunded = connection.execute(select(Order.kind, Order.status, func.count())
                                      .where(Order.external_id == "W0003").group_by(Order.kind, Order.status)).all()
        lines_of_w3 = connection.execute(select(func.count()).select_from(OrderLine).join(Order)
                                         .where(Order.external_id == "W0003")).scalar_one()
    assert [tuple(r) for r in refunded] == [("return", "refunded", 1)]
    assert lines_of_w3 == 2  # updated in place, never stored twice
    assert counts(engine) == (2, 14, 26)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server that restarts mid-read
def test_a_source_that_goes_away_mid_sync_resumes_from_its_last_batch(engine: Engine, source: Engine,
                                                                      shop: ShopDatabase, tmp_path: Path) -> None:
    stop_after = 2
    batches: list[int] = []

    def go_away(rows: int, _estimate: int) -> None:
        batches.append(rows)
        if len(batches) == stop_after:  # the shop's database disappears between two fetches
            _take_source_away(shop)

    with pytest.raises(SourceError, match=r"failed after 10 rows.*resumes"):
        sync_query(engine, source, ORDERS, options(tmp_path), progress=go_away)
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and not state.first_sync_done and state.failing_since is not None
    assert counts(engine)[2] == 10  # two whole batches, nothing half-written
    report = sync_query(engine, source, ORDERS, options(tmp_path))
    assert counts(engine) == (2, 12, 24)
    assert report.already_stored >= 1  # the last batch's watermark is read again: nothing doubled
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and state.first_sync_done and state.failing_since is None and state.error is None
    assert state.failures_total == 1


def _take_source_away(shop: ShopDatabase) -> None:
    with shop.engine.connect() as connection:  # the server ends the sync's session, as a restart would
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                "datname = current_database() AND pid <> pg_backend_pid()"))
        connection.commit()


def test_a_query_missing_a_column_says_which_and_writes_nothing(engine: Engine, source: Engine,
                                                                tmp_path: Path) -> None:
    query = SourceQuery("shop", "orders", ORDERS_QUERY.replace("l.sku, ", ""), "updated_at", "order_id")
    with pytest.raises(SourceError, match=r"missing required column\(s\): sku \(or product_code"):
        sync_query(engine, source, query, options(tmp_path))
    no_watermark = SourceQuery("shop", "orders", ORDERS_QUERY.replace(", o.updated_at", ""), "updated_at",
                               "order_id")
    with pytest.raises(SourceError, match="watermark column 'updated_at' is not in the query"):
        sync_query(engine, source, no_watermark, options(tmp_path))
    assert counts(engine) == (0, 0, 0)
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and "watermark column 'updated_at'" in (state.error or "")  # the latest failure


def test_rows_without_a_watermark_are_read_on_full_syncs_and_counted(engine: Engine, source: Engine,
                                                                     shop: ShopDatabase, tmp_path: Path) -> None:
    shop.add_order("W0300", 1, T0, [Item("MUG", "Blue mug", 1, "4.50")], None)
    sync_query(engine, source, ORDERS, options(tmp_path))
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and state.null_watermark_rows == 1
    assert counts(engine)[1] == 13
    shop.add_order("W0301", 1, T0, [Item("MUG", "Blue mug", 1, "4.50")], None)
    sync_query(engine, source, ORDERS, options(tmp_path))
    assert counts(engine)[1] == 13  # an incremental sync cannot see it...
    sync_query(engine, source, ORDERS, options(tmp_path, full=True))
    assert counts(engine)[1] == 14  # ...a full one does, and doubles nothing


def test_the_source_is_only_read_and_each_statement_is_time_limited(engine: Engine, shop: ShopDatabase,
                                                                   shop_url: str, tmp_path: Path) -> None:
    source = open_source(shop_url, timeout_seconds=0.5, timezone="UTC")
    try:
        if source.dialect.name == "postgresql":
            writing = SourceQuery("shop", "customers", "WITH gone AS (DELETE FROM customers RETURNING *) "
                                  "SELECT id AS customer_id, updated_at FROM gone", "updated_at", "customer_id")
            slow = SourceQuery("shop", "customers", "SELECT id AS customer_id, updated_at, pg_sleep(2) AS nap "
                               "FROM customers", "updated_at", "customer_id")
        else:
            writing = SourceQuery("shop", "customers", "SELECT id AS customer_id, updated_at FROM customers; "
                                  "DELETE FROM customers", "updated_at", "customer_id")
            slow = SourceQuery("shop", "customers", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                               "WHERE i < 100000000) SELECT i AS customer_id, i AS updated_at FROM n "
                               "ORDER BY i DESC", "updated_at", "customer_id")
        with pytest.raises(SourceError):
            sync_query(engine, source, writing, options(tmp_path))
        refused = OperationalError if source.dialect.name == "sqlite" else InternalError
        with source.connect() as connection, pytest.raises(refused, match=r"read-only|readonly"):
            connection.exec_driver_sql("DELETE FROM customers")  # the connection itself refuses any write
        with pytest.raises(SourceError, match=r"timeout|interrupted|canceling"):
            sync_query(engine, source, slow, options(tmp_path))
    finally:
        source.dispose()
    with shop.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM customers")).scalar_one() == 2


def test_an_erased_customer_does_not_come_back_through_a_sync(engine: Engine, source: Engine,
                                                              tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    from db.erasure import erase_customer
    sync_query(engine, source, CUSTOMERS, options(tmp_path))
    sync_query(engine, source, ORDERS, options(tmp_path))
    with Session(engine) as session:
        erase_customer(session, "1", "U0ADMIN", datetime(2024, 4, 1))
        session.commit()
    report = sync_query(engine, source, CUSTOMERS, options(tmp_path, full=True))
    assert report.rejected["erased_customer"] == 1
    sync_query(engine, source, ORDERS, options(tmp_path, full=True))
    with engine.connect() as connection:
        ids = set(connection.execute(select(Customer.external_id)).scalars())
        guests = connection.execute(select(func.count()).select_from(Order)
                                    .where(Order.customer_id.is_(None))).scalar_one()
    assert ids == {"2"} and guests == 6


def test_a_query_whose_dates_cannot_be_read_fails_with_the_layout_to_use(engine: Engine, source: Engine,
                                                                          tmp_path: Path) -> None:
    from db.importers.source import ImportFileError
    unreadable = ORDERS_QUERY.replace("o.placed_at AS ordered_at", "'9 Mar 2024' AS ordered_at")
    query = SourceQuery("shop", "orders", unreadable, "updated_at", "order_id")
    with pytest.raises(ImportFileError, match="none of the dates in the first rows could be read"):
        sync_query(engine, source, query, options(tmp_path))
    state = sync_states.get(engine, "shop", "orders")
    assert state is not None and state.failing_since is not None and counts(engine) == (0, 0, 0)
