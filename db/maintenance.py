"""Housekeeping the database needs after bulk writes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, Table, text

from db.schema import metadata


def refresh_planner_statistics(engine: Engine) -> None:
    """Update the query planner's statistics after a bulk load.

    Without it PostgreSQL keeps planning for the empty tables it saw before the import (nested
    loops over hundreds of thousands of rows: seconds instead of milliseconds) until autovacuum
    gets round to it.  SQLite's ``PRAGMA optimize`` does the same job there.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.execute(text(f"ANALYZE {tables}"))
        else:
            connection.execute(text("PRAGMA optimize"))


def analyse_tables(connection: Connection, tables: Sequence[Table]) -> None:
    """Planner statistics for ``tables`` inside the caller's transaction (PostgreSQL; SQLite plans
    without them): the refresh's rollups join the rows its partitions just wrote, and planned for
    the tables as they were before, PostgreSQL picks nested loops over a million rows."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE " + ", ".join(f'"{t.name}"' for t in tables)))
