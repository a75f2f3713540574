"""Reading a business's own database (a shop, an ERP) as rows for the importers.

A source query is wrapped, never edited: ``SELECT * FROM (query) AS src WHERE src.<watermark> >=
:since ORDER BY src.<watermark>, src.<key>``.  Rows arrive through a server-side cursor in batches
and become the same string rows a CSV gives, so every cleaning rule, reject report and natural-key
rule of the importers applies unchanged.  The connection is read-only and each statement (each
fetch of a server-side cursor on PostgreSQL) has a time limit: a sync can never change or stall
the shop's database.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from db.importers.source import ColumnSpec, ImportFileError, RowChunk, describe_missing, frame_of_raw, match_columns

PARTS = ("customers", "orders")


class SourceError(ImportFileError):
    """A source that cannot be read as configured; the message says what to change."""


@dataclass(frozen=True)
class SourceQuery:
    """One query of a source: which part of the store it feeds and how it is read incrementally."""

    source: str
    part: str
    sql: str
    watermark: str | None
    """Column whose value grows when a row changes (``updated_at``); None reads everything each time."""
    key: str
    """The importer column (``order_id``) whose source column orders rows with the same watermark."""

    @property
    def label(self) -> str:
        return f"source {self.source!r}, {self.part} query"


def open_source(url: str | URL, timeout_seconds: float, timezone: str) -> Engine:
    """An engine on the source that can only read, with a time limit on each statement.

    PostgreSQL also gives its ``timestamptz`` values in ``timezone`` (the business's), the zone the
    store keeps local times in.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.database and not parsed.database.startswith("file:"):
        # A read-only open: SQLite itself refuses any write, and a missing file is an error, not a new one.
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={**parsed.query, "uri": "true"})
    if backend == "sqlite":
        engine = create_engine(parsed)
    else:  # a source that is down must fail the sync in seconds, not hang it
        connect_args = {"connect_timeout": 10} if backend in ("postgresql", "mysql", "mariadb") else {}
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=1, max_overflow=0, connect_args=connect_args)
    millis = max(int(timeout_seconds * 1000), 1)

    def session_rules(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if backend == "postgresql":
            cursor.execute("SET default_transaction_read_only = on")
            cursor.execute(f"SET statement_timeout = {millis}")
            cursor.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
        elif backend in ("mysql", "mariadb"):
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute(f"SET SESSION max_execution_time = {millis}")
        elif backend == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()
        if backend != "sqlite":
            dbapi_connection.commit()

    event.listen(engine, "connect", session_rules)
    if backend == "sqlite":
        _sqlite_time_limit(engine, timeout_seconds)
    return engine


def _sqlite_time_limit(engine: Engine, seconds: float) -> None:
    """SQLite has no statement timeout: a progress handler interrupts a statement past its deadline,
    which each statement (and each batch fetched, see ``_restart_deadline``) sets afresh."""

    def arm(dbapi_connection: Any, record: Any) -> None:
        deadline = {"until": time.monotonic() + seconds, "seconds": seconds}
        record.info["deadline"] = deadline
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_progress_handler(lambda: int(time.monotonic() > deadline["until"]), 10_000)

    def restart(connection: Connection, *_args: Any) -> None:
        _restart_deadline(connection)

    event.listen(engine, "connect", arm)
    event.listen(engine, "before_cursor_execute", restart)


def _restart_deadline(connection: Connection) -> None:
    deadline = connection.connection.info.get("deadline")
    if deadline is not None:
        deadline["until"] = time.monotonic() + deadline["seconds"]


def _wrapped(connection: Connection, query: SourceQuery, condition: str, order_key: str | None) -> str:
    quote = connection.dialect.identifier_preparer.quote
    # The query is the operator's own, from the sources file, run read-only: wrapping it is the point.
    sql = f"SELECT * FROM ({query.sql.strip().rstrip(';')}) src"  # noqa: S608
    if condition:
        sql += f" WHERE {condition}"
    if order_key and query.watermark:
        mark = f"src.{quote(query.watermark)}"
        sql += f" ORDER BY CASE WHEN {mark} IS NULL THEN 0 ELSE 1 END, {mark}, src.{quote(order_key)}"
    return sql


def source_columns(connection: Connection, query: SourceQuery) -> list[str]:
    """The columns the query returns (it is run with a condition that selects nothing)."""
    try:
        result = connection.execute(text(_wrapped(connection, query, "1 = 0", None)))
        return list(result.keys())
    except Exception as exc:
        raise SourceError(f"{query.label} cannot run: {first_line(exc)}") from exc


def check_columns(columns: Sequence[str], query: SourceQuery, specs: Sequence[ColumnSpec]) -> dict[str, int]:
    """Positions of the importer's columns in the query's result, or a ``SourceError`` naming what is missing."""
    positions, missing = match_columns(columns, specs)
    if missing:
        raise SourceError(f"{query.label}: missing required column(s): {describe_missing(missing)}. "
                          f"The query returns: {', '.join(columns) or 'nothing'}. Name the column with AS in the "
                          f"query, e.g. SELECT ... your_column AS {missing[0].name}.")
    if query.watermark and query.watermark not in columns:
        raise SourceError(f"{query.label}: the watermark column {query.watermark!r} is not in the query's "
                          f"result ({', '.join(columns)}); add it to the SELECT or change watermark.")
    return positions


def as_text(value: Any) -> str:
    """A value from the source as the importers read it in a CSV."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        # The wall time as the source gives it (in the business's zone): the store keeps local times.
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _texts(values: list[Any]) -> np.ndarray:
    """``as_text`` of a column's values, converting each distinct value once (prices, codes and dates repeat)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    texts = np.array([as_text(value) for value in uniques] + [""], dtype=object)
    return texts[codes]  # the sentinel -1 (None) picks the trailing ""


def encode_watermark(value: Any) -> dict[str, Any] | None:
    """A watermark value as JSON for the sync state (its type kept, so it binds back the same)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return {"type": "int" if isinstance(value, int) else "decimal", "value": str(value)}
    return {"type": "text", "value": str(value)}


def decode_watermark(stored: dict[str, Any] | None, overlap: timedelta) -> Any:
    """The value to read from again: the stored watermark, ``overlap`` earlier where it is a time.

    The overlap catches rows the source committed late with an earlier timestamp; re-reading
    rows already stored adds nothing (natural keys).
    """
    if not stored:
        return None
    kind, raw = stored["type"], stored["value"]
    if kind == "datetime":
        return datetime.fromisoformat(raw) - overlap
    if kind == "date":
        return date.fromisoformat(raw) - timedelta(days=overlap.days + (1 if overlap.seconds else 0))
    if kind == "int":
        return int(raw)
    if kind == "decimal":
        return Decimal(raw)
    try:  # a time stored as text (SQLite has no time type): step back as text in the same layout
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    earlier = moment - overlap
    return earlier.isoformat(sep="T" if "T" in raw else " ", timespec="microseconds" if "." in raw else "seconds")


def read_batches(engine: Engine, query: SourceQuery, specs: Sequence[ColumnSpec], since: Any,
                 batch_rows: int, keep_extra: bool = False) -> Iterator[RowChunk]:
    """The query's rows from ``since`` on (all rows when None), as chunks in watermark order.

    Each chunk carries its largest watermark and how many rows had none.  A source that fails
    part-way raises ``SourceError``; the chunks before it have been yielded whole.
    """
    with engine.connect() as connection:
        columns = source_columns(connection, query)
        positions = check_columns(columns, query, specs)
        mark = columns.index(query.watermark) if query.watermark else None
        condition = ""
        params: dict[str, Any] = {}
        if since is not None and query.watermark:
            condition = f"src.{connection.dialect.identifier_preparer.quote(query.watermark)} >= :since"
            params["since"] = since
        row_number = 0
        try:
            result = connection.execution_options(yield_per=batch_rows).execute(
                text(_wrapped(connection, query, condition, columns[positions[query.key]])), params)
            for rows in result.partitions(batch_rows):
                raw = pd.DataFrame({i: _texts([row[i] for row in rows]) for i in range(len(columns))},
                                   index=range(len(rows)))
                lines = list(range(row_number + 1, row_number + len(rows) + 1))
                row_number += len(rows)
                frame = frame_of_raw(raw, columns, positions, specs, keep_extra)
                # The watermark changes on every edit: kept as an attribute it would make every row "updated".
                chunk = RowChunk(frame.drop(columns=[f"extra:{query.watermark}"], errors="ignore"), lines)
                if mark is not None:
                    marks = [row[mark] for row in rows if row[mark] is not None]
                    chunk.watermark = marks[-1] if marks else None
                    chunk.null_watermarks = len(rows) - len(marks)
                yield chunk
                _restart_deadline(connection)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"{query.label} failed after {row_number} rows: {first_line(exc)}. "
                              "Rows read before are stored; the next sync resumes from there.",
                              nothing_written=row_number == 0) from exc


def first_line(exc: BaseException) -> str:
    """The database's own first line of an error, for a message."""
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
