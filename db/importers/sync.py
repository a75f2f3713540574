"""Syncing one query of a source database into the store, incrementally by its watermark.

The rows go through the importers' own batch writers (``write_order_chunks``,
``write_customer_chunks``), so a synced row is cleaned, rejected, de-duplicated and kept from
erased people exactly as the same row in a CSV would be.  Each batch commits together with the
watermark it reached (``sync_states.advance``): a sync that dies, however long it ran, resumes
from its last committed batch, and a batch is either wholly stored or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from db import sync_states
from db.clock import Clock, utc_now
from db.importers.customers import write_customer_chunks
from db.importers.formats import CUSTOMER_COLUMNS, GENERIC_ORDERS, with_statuses
from db.importers.report import ImportReport, RejectWriter
from db.importers.runner import (
    ChunkRun,
    ImportOptions,
    Progress,
    recorded_run,
    reject_path,
    start_run,
    write_order_chunks,
)
from db.importers.source import ColumnSpec, RowChunk
from db.importers.sql_source import (
    SourceError,
    SourceQuery,
    check_columns,
    decode_watermark,
    encode_watermark,
    first_line,
    read_batches,
    source_columns,
)


@dataclass
class SyncOptions:
    """How a source is read: its batch size, overlap and time limit, and its own status words."""

    batch_rows: int = 5_000
    overlap: timedelta = timedelta(minutes=10)
    """How far before the last watermark an incremental sync reads again (late commits in the source)."""
    timeout_seconds: float = 300.0
    """Longest any one statement (or fetch of a batch) may take on the source (``open_source`` sets it)."""
    statuses: Mapping[str, str] = field(default_factory=dict)
    full: bool = False
    """Read every row again (rows without a watermark included); nothing already stored is doubled."""
    currency: str | None = None
    """ISO code of the source's prices when its orders query has no currency column."""
    reject_dir: Path = Path("rejects")


def specs_of(query: SourceQuery) -> tuple[ColumnSpec, ...]:
    """The importer columns a query of this part must return."""
    return CUSTOMER_COLUMNS if query.part == "customers" else GENERIC_ORDERS.columns


def query_columns(source: Engine, query: SourceQuery) -> tuple[list[str], dict[str, int]]:
    """The query's result columns and where the importer's columns are among them (``SourceError`` if a
    required one is missing or the source cannot be reached)."""
    try:
        with source.connect() as connection:
            columns = source_columns(connection, query)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"source {query.source!r} cannot be reached: {first_line(exc)}") from exc
    return columns, check_columns(columns, query, specs_of(query))


def sync_query(store: Engine, source: Engine, query: SourceQuery, options: SyncOptions,
               progress: Progress | None = None, clock: Clock = utc_now) -> ImportReport:
    """Bring the rows of ``query`` changed since the last sync into the store; returns the report.

    Raises ``SourceError`` when the source cannot be read; what was committed before stays, and
    the state records the failure (``sync_states.failed``) for the doctor and the digest.
    """
    state = sync_states.get(store, query.source, query.part)
    since = None if options.full or state is None else decode_watermark(state.watermark, options.overlap)
    report = ImportReport(source_format=f"sync:{query.part}", source_name=f"{query.source} ({query.part})")
    sync_states.started(store, query.source, query.part, clock())
    try:
        columns, positions = query_columns(source, query)
    except SourceError as exc:
        sync_states.failed(store, query.source, query.part, clock(), str(exc))
        raise
    fingerprint = hashlib.sha256(f"{query.source}\n{query.part}\n{query.sql}\n{since}".encode()).hexdigest()
    report.currency = options.currency
    report.run_id = start_run(store, f"sync:{query.part}", report.source_name, fingerprint, clock)
    import_options = ImportOptions(batch_rows=options.batch_rows, reject_dir=options.reject_dir)
    header = [spec.name for spec in specs_of(query)]
    if query.part == "customers":
        found = set(positions.values())
        header += [c for i, c in enumerate(columns) if i not in found and c != query.watermark]
    rejects = RejectWriter(reject_path(import_options, f"{query.source}-{query.part}", report.run_id), header)
    nulls = 0

    def on_batch(connection: Connection, chunk: RowChunk) -> None:
        nonlocal nulls
        nulls += chunk.null_watermarks
        sync_states.advance(connection, query.source, query.part, encode_watermark(chunk.watermark),
                            chunk.rows_in_chunk)

    run = ChunkRun(report, rejects, import_options, 0, progress, on_batch)
    chunks = read_batches(source, query, specs_of(query), since, options.batch_rows,
                          keep_extra=query.part == "customers")
    try:
        with recorded_run(store, report, rejects, clock):
            if query.part == "customers":
                write_customer_chunks(store, chunks, run)
            else:
                write_order_chunks(store, chunks, with_statuses(GENERIC_ORDERS, options.statuses), run)
    except Exception as exc:
        sync_states.failed(store, query.source, query.part, clock(), str(exc) or type(exc).__name__)
        raise
    sync_states.succeeded(store, query.source, query.part, clock(), report.rows_read,
                          nulls if since is None else None)
    return report

