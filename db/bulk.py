"""Fast, idempotent bulk inserts of plain tuples, for importers and snapshot jobs.

SQLAlchemy's executemany path spends most of its time building parameter dictionaries; for
hundreds of thousands of rows we hand tuples straight to the driver instead:

* SQLite: ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` (the C loop of sqlite3);
* PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT
  DO NOTHING``, the fastest way psycopg offers.

Both run on the caller's connection, inside the caller's transaction, and return how many
rows were new.  Table and column names come from the models, never from user input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Result, Table


def insert_new_rows(connection: Connection, table: Table, columns: Sequence[str],
                    rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order), skipping natural-key duplicates.

    Returns the number of rows actually inserted.
    """
    if not rows:
        return 0
    for name in columns:
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name!r}")
    column_list = ", ".join(f'"{name}"' for name in columns)
    dbapi = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        return _copy_then_insert(dbapi, table.name, column_list, rows)
    placeholders = ", ".join("?" for _ in columns)
    if dbapi is None:
        raise RuntimeError("the SQLite connection has no DBAPI connection (it was closed)")
    cursor = dbapi.cursor()
    try:
        # Names come from the models' metadata, never from input; the values are bound.
        cursor.executemany(
            f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders}) ON CONFLICT DO NOTHING',  # noqa: S608
            rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _copy_then_insert(dbapi: Any, table_name: str, column_list: str, rows: Sequence[tuple[Any, ...]]) -> int:
    staging = f"staging_{table_name}"
    with dbapi.cursor() as cursor:
        cursor.execute(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" '
                       f'(LIKE "{table_name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS')
        cursor.execute(f'TRUNCATE "{staging}"')
        with cursor.copy(f'COPY "{staging}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f'INSERT INTO "{table_name}" ({column_list}) SELECT {column_list} FROM "{staging}" '  # noqa: S608
                       "ON CONFLICT DO NOTHING")
        return int(cursor.rowcount)


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an INSERT added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` changed.

    ``Session.execute`` is typed as returning any ``Result``; for DML it is a ``CursorResult``.
    """
    return int(cast(CursorResult[Any], result).rowcount or 0)
