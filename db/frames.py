"""Reading query results into DataFrames, and writing DataFrames into tables, at Arrow speed.

PostgreSQL goes through the ADBC PostgreSQL driver: it reads with binary ``COPY`` into Arrow
columns (no Python object per value) and writes with binary ``COPY`` from Arrow
(``adbc_ingest``).  A refresh's read of 2M order lines takes close to the database's own time
for the query instead of 6x it through row tuples (docs/scaling.md).  SQLite keeps the plain
path: rows through the DBAPI cursor, writes by ``executemany``.

One ``FrameIO`` serves one unit of work (a refresh's driver, one partition task): it opens one
ADBC connection lazily and keeps it, so reads and the write of a partition share a transaction
when the caller asks for it (``transaction``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
from sqlalchemy import JSON, BigInteger, Boolean, Engine, Float, Integer, Select, SmallInteger, String, Table, delete
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement


def adbc_uri(engine: Engine) -> str:
    """The libpq URI of a PostgreSQL engine (the ADBC driver speaks libpq, not SQLAlchemy URLs)."""
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def postgres_sql(query: Any) -> str:
    """A SQLAlchemy statement as PostgreSQL text with its values inlined.

    The values come from the product (ids, dates of the refresh), never from a person's input;
    inlining them lets one statement text run through ADBC, which takes no SQLAlchemy binds.
    """
    return str(query.compile(dialect=postgresql.dialect(paramstyle="named"), compile_kwargs={"literal_binds": True}))


class FrameIO:
    """Arrow-speed reads and writes on one store, for one unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._adbc: Any = None
        self._writing = False

    def _connection(self) -> Any:
        if self._adbc is None:
            import adbc_driver_postgresql.dbapi as adbc  # loaded only where PostgreSQL is used

            self._adbc = adbc.connect(adbc_uri(self.engine))
        return self._adbc

    def close(self) -> None:
        """Close the ADBC connection (rolling back anything not committed)."""
        if self._adbc is not None:
            try:
                self._adbc.close()
            finally:
                self._adbc = None

    def __enter__(self) -> FrameIO:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, query: Select, columns: Sequence[str]) -> pd.DataFrame:
        """Run ``query`` and return its rows as a DataFrame with ``columns`` (in select order)."""
        if self.postgres:
            connection = self._connection()
            with connection.cursor() as cursor:
                cursor.execute(postgres_sql(query))
                table = cursor.fetch_arrow_table()
            if not self._writing:  # a read alone holds no transaction (and no snapshot) open afterwards
                connection.rollback()
            frame = table.to_pandas()
            frame.columns = list(columns)
            return frame
        with self.engine.connect() as connection:
            # Plain tuples: pandas probes each SQLAlchemy Row for attributes, which costs more than the query.
            rows = list(map(tuple, connection.execute(query)))
        if not rows:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
        return pd.DataFrame.from_records(rows, columns=list(columns))

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """A write transaction: everything written through the ``Writer`` commits together or not at all."""
        if self.postgres:
            connection = self._connection()
            self._writing = True
            try:
                yield _PostgresWriter(connection)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                self._writing = False
            return
        with self.engine.begin() as connection:
            yield _SqliteWriter(connection)


class Writer:
    """Deletes and bulk inserts inside one ``FrameIO.transaction``."""

    def delete(self, table: Table, condition: ColumnElement[bool]) -> None:
        """Delete the rows of ``table`` matching ``condition``."""
        raise NotImplementedError

    def insert(self, table: Table, frame: pd.DataFrame) -> int:
        """Append ``frame`` (columns named after ``table``'s) to ``table``; returns the row count."""
        raise NotImplementedError


def _json_as_text(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """JSON columns as their text, as the JSON type would bind them."""
    out = frame
    for column in frame.columns:
        if isinstance(table.c[column].type, JSON):
            if out is frame:
                out = frame.copy()
            out[column] = frame[column].map(lambda v: v if isinstance(v, str) or v is None else json.dumps(v))
    return out


class _PostgresWriter(Writer):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def delete(self, table: Table, condition: ColumnElement[bool]) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(postgres_sql(delete(table).where(condition)))

    def insert(self, table: Table, frame: pd.DataFrame) -> int:
        import pyarrow as pa

        if frame.empty:
            return 0
        arrow = pa.Table.from_pandas(_arrow_ready(table, _json_as_text(table, frame)), preserve_index=False)
        with self.connection.cursor() as cursor:
            return int(cursor.adbc_ingest(table.name, arrow, mode="append"))


def _arrow_ready(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns typed exactly as the table's, because binary COPY takes no conversions: an INTEGER
    column needs 32-bit values, a BIGINT 64-bit ones, and a column of ``None`` needs its type."""
    out = {}
    for name in frame.columns:
        column_type, values = table.c[name].type, frame[name]
        if isinstance(column_type, BigInteger):
            out[name] = values.astype("Int64")
        elif isinstance(column_type, SmallInteger):
            out[name] = values.astype("Int16")
        elif isinstance(column_type, Integer):
            out[name] = values.astype("Int32")
        elif isinstance(column_type, Float):
            out[name] = values.astype("float64")
        elif isinstance(column_type, Boolean):
            out[name] = values.astype("boolean")
        elif isinstance(column_type, String | JSON):
            out[name] = values.astype(object).where(values.notna(), None).astype("string")
        else:
            out[name] = values
    return pd.DataFrame(out)


class _SqliteWriter(Writer):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def delete(self, table: Table, condition: ColumnElement[bool]) -> None:
        self.connection.execute(delete(table).where(condition))

    def insert(self, table: Table, frame: pd.DataFrame) -> int:
        from db.bulk import insert_new_rows

        if frame.empty:
            return 0
        rows = _json_as_text(table, frame).astype(object)
        rows = rows.where(frame.notna(), None)
        return insert_new_rows(self.connection, table, list(frame.columns),
                               list(rows.itertuples(index=False, name=None)))
