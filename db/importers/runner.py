"""The import loop: read a chunk, clean it, write it in one transaction, record progress.

Each batch commits together with the import run's progress counter, so after a crash
(even ``kill -9``) the store holds whole batches only and a re-run of the same command
completes the import: rows already stored are recognised by their natural keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, select, update

from db.bulk import new_id
from db.clock import Clock, store_time, utc_now
from db.currencies import mark_main_currency
from db.erased import ErasedIds
from db.importers.formats import OrderFormat
from db.importers.order_lines import PreparedLines, Rejection, prepare_lines
from db.importers.report import ImportReport, RejectWriter
from db.importers.source import ImportFileError, RowChunk, inspect_file, read_chunks, resolve_columns
from db.importers.writer import IdCache, write_order_lines
from db.maintenance import refresh_planner_statistics
from db.models import ImportRun
from db.normalise import price_currency

Progress = Callable[[int, int], None]
"""Called after each batch with (rows done, estimated rows in the file)."""

_COMMON_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S",
                        "%d.%m.%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d %H:%M")


@dataclass
class ImportOptions:
    """How to read the file and where to report."""

    encoding: str = "utf-8"
    date_format: str | None = None
    renames: dict[str, str] = field(default_factory=dict)
    batch_rows: int = 20_000
    reject_dir: Path = Path("rejects")
    force: bool = False
    """Re-check every row even if this exact file was imported before."""
    currency: str | None = None
    """ISO code of the file's prices (``--currency``), when the format and the prices do not say."""


def skipped_as_imported(engine: Engine, report: ImportReport, sha256: str, options: ImportOptions) -> bool:
    """True (and ``report`` says so) when this exact file already went in completely.

    Re-reading it would change nothing (imports are idempotent), so the user gets an instant
    answer; ``--force`` re-checks every row anyway, e.g. after deleting data by hand.
    """
    if options.force:
        return False
    table = ImportRun.__table__
    with engine.connect() as connection:
        previous = connection.execute(
            select(table.c.id, table.c.finished_at, table.c.counts)
            .where(table.c.source_sha256 == sha256, table.c.source_format == report.source_format,
                   table.c.status == "completed")
            .order_by(table.c.id.desc()).limit(1)).first()
    if previous is None:
        return False
    report.status = "skipped"
    report.previous_run_id = previous.id
    report.previous_finished_at = previous.finished_at
    report.rows_read = int((previous.counts or {}).get("rows_read", 0))
    return True


def start_run(engine: Engine, source_format: str, source_name: str, sha256: str, clock: Clock) -> int:
    """Record a new import run and return its id."""
    with engine.begin() as connection:
        result = connection.execute(ImportRun.__table__.insert().values(
            source_format=source_format, source_name=source_name[:500], source_sha256=sha256,
            started_at=store_time(clock()), status="running", rows_committed=0, counts={}))
        return new_id(result)


def finish_run(engine: Engine, report: ImportReport, clock: Clock, error: str | None = None) -> None:
    """Mark the run completed (or failed, with the error shown to the user)."""
    report.status = "failed" if error else "completed"
    if report.stored_new or report.updated:
        refresh_planner_statistics(engine)
    changed = bool(report.stored_new or report.updated or report.notes.get("orders_changed")
                   or report.new_customers or report.new_orders)
    with engine.begin() as connection:
        if report.new_orders:  # new orders may be in another currency, or change the main one
            mark_main_currency(connection)
        connection.execute(update(ImportRun.__table__).where(ImportRun.__table__.c.id == report.run_id).values(
            status=report.status, finished_at=store_time(clock()), counts=report.as_counts(), error=error,
            changed=changed,
            reject_file=str(report.reject_file) if report.reject_file else None, currency=report.currency))


def record_progress(connection: Connection, report: ImportReport) -> None:
    """Store how far the run got, inside the batch's own transaction (the resume point after a crash)."""
    connection.execute(update(ImportRun.__table__).where(ImportRun.__table__.c.id == report.run_id)
                       .values(rows_committed=report.rows_read, counts=report.as_counts()))


@contextmanager
def recorded_run(engine: Engine, report: ImportReport, rejects: RejectWriter, clock: Clock) -> Iterator[None]:
    """Close the reject file and record how the run ended, whether it completed or raised."""
    try:
        yield
    except BaseException as exc:
        report.reject_file = rejects.close()
        finish_run(engine, report, clock, error=str(exc) or type(exc).__name__)
        raise
    report.reject_file = rejects.close()
    finish_run(engine, report, clock)


def suggest_date_format(values: pd.Series) -> str | None:
    """The first common layout that reads every sample value, for the error message."""
    sample = values[values != ""].head(200)
    for fmt in _COMMON_DATE_FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def _check_dates_readable(prepared: PreparedLines, chunk_dates: pd.Series, options: ImportOptions) -> None:
    bad = sum(1 for r in prepared.rejected if r.reason == "bad_date")
    if len(prepared.accepted) == 0 and bad and bad >= len(chunk_dates[chunk_dates != ""]):
        example = chunk_dates[chunk_dates != ""].iloc[0]
        expected = options.date_format or "ISO 8601 (e.g. 2011-12-09 12:50)"
        hint = suggest_date_format(chunk_dates)
        advice = f"pass --date-format '{hint}'" if hint else "pass --date-format with its strftime layout"
        raise ImportFileError(f"none of the dates in the first rows could be read as {expected}, "
                              f"e.g. {example!r}: {advice}.")


def _assign_occurrence(lines: pd.DataFrame, seen: pd.Series) -> pd.Series:
    """Number identical lines within an order across the whole file (see OrderLine).

    ``seen`` counts the lines met so far by a 64-bit hash of (order, sku, quantity, price);
    the updated counts are returned.  A hash collision would need ~4 billion distinct lines
    to become likely.
    """
    if lines.empty:
        lines["occurrence"] = pd.Series(dtype="int64")
        return seen
    key = pd.util.hash_pandas_object(lines[["order_ref", "sku", "quantity", "price_micros"]], index=False)
    earlier = seen.reindex(key.to_numpy()).fillna(0).astype("int64").to_numpy()
    lines["occurrence"] = lines.groupby(key.to_numpy(), sort=False).cumcount().to_numpy() + earlier
    counts = key.value_counts()
    return seen.add(counts, fill_value=0).astype("int64")


BatchHook = Callable[[Connection, RowChunk], None]
"""Called inside each batch's transaction after its rows are written (a sync records its watermark)."""


@dataclass
class ChunkRun:
    """Where a stream of row chunks goes: its report, its reject file and who hears of progress."""

    report: ImportReport
    rejects: RejectWriter
    options: ImportOptions
    estimated_rows: int = 0
    progress: Progress | None = None
    on_batch: BatchHook | None = None

    @property
    def run_id(self) -> int:
        """The import run the rows are recorded under (started before any chunk is written)."""
        if self.report.run_id is None:
            raise RuntimeError("start the import run before writing its rows")
        return self.report.run_id

    def batch_done(self) -> None:
        if self.progress:
            self.progress(self.report.rows_read, max(self.estimated_rows, self.report.rows_read))


def import_order_file(engine: Engine, path: Path, fmt: OrderFormat, options: ImportOptions,
                      progress: Progress | None = None, clock: Clock = utc_now) -> ImportReport:
    """Import an orders-like CSV (plain or .gz) into the store and return what happened.

    Raises ``ImportFileError`` (before writing anything) when the file cannot be imported.
    """
    facts = inspect_file(path, options.encoding)
    positions = resolve_columns(facts.header, fmt.columns, options.renames, path.name)
    report = ImportReport(source_format=fmt.name, source_name=str(path))
    if skipped_as_imported(engine, report, facts.sha256, options):
        return report
    report.currency = fmt.currency or options.currency
    report.run_id = start_run(engine, fmt.name, str(path), facts.sha256, clock)
    rejects = RejectWriter(reject_path(options, path.name, report.run_id), [spec.name for spec in fmt.columns])
    run = ChunkRun(report, rejects, options, max(facts.line_count - 1, 0), progress)
    with recorded_run(engine, report, rejects, clock):
        write_order_chunks(engine, read_chunks(path, facts, options.encoding, positions, fmt.columns,
                                               options.batch_rows), fmt, run)
    return report


def reject_path(options: ImportOptions, name: str, run_id: int) -> Path:
    """Where a run's rejected rows go: beside the others, named after the source and the run."""
    return options.reject_dir / f"{name.split('.', maxsplit=1)[0]}.run{run_id}.rejects.csv"


def write_order_chunks(engine: Engine, chunks: Iterable[RowChunk], fmt: OrderFormat, run: ChunkRun) -> None:
    """Clean and store every chunk of order lines, one transaction per chunk (see the module doc)."""
    report, options = run.report, run.options
    cache = IdCache()
    seen = pd.Series(dtype="int64")
    first = True
    for chunk in chunks:
        prepared = prepare_lines(chunk, fmt.order_kind_rule, options.date_format, fmt.bad_kind_detail)
        if first and len(chunk.frame):
            _check_dates_readable(prepared, chunk.frame["date"], options)
            report.currency = report.currency or price_currency(chunk.frame["unit_price"])
            first = False
        lines = prepared.accepted
        with engine.begin() as connection:
            # Read per batch, in its transaction: an erasure while a long import runs holds from the next batch.
            erased_lines = _forget_erased(lines, ErasedIds.load(connection))
            seen = _assign_occurrence(lines, seen)
            outcome = write_order_lines(connection, lines, cache, run.run_id, report.currency)
            conflicts = set(outcome.conflicts)
            batch_rejects = prepared.rejected + [
                Rejection(int(lines.at[i, "line"]), "order_conflict",
                          f"order {lines.at[i, 'order_ref']} is stored for another customer", [])
                for i in sorted(conflicts)]
            kept = lines.drop(index=list(conflicts))
            _count_batch(report, chunk.rows_in_chunk, kept, batch_rejects, outcome.new_lines, erased_lines)
            report.new_customers += outcome.new_customers
            report.new_products += outcome.new_products
            report.new_orders += outcome.new_orders
            if outcome.changed_orders:
                report.notes["orders_changed"] += outcome.changed_orders
            record_progress(connection, report)
            if run.on_batch:
                run.on_batch(connection, chunk)
        cache.merge(outcome.learned)
        run.rejects.write(batch_rejects)
        run.batch_done()


def _forget_erased(lines: pd.DataFrame, erased: ErasedIds) -> int:
    """Lines of customers erased on request become guest lines (their totals stay, the person
    does not come back); returns how many."""
    if not erased or lines.empty:
        return 0
    refs = lines["customer_ref"].dropna().unique()
    gone = [ref for ref in refs if ref in erased]
    if not gone:
        return 0
    mask = lines["customer_ref"].isin(gone)
    lines.loc[mask, "customer_ref"] = None
    return int(mask.sum())


def _count_batch(report: ImportReport, rows: int, kept: pd.DataFrame, rejected: list[Rejection],
                 new_lines: int, erased_lines: int) -> None:
    report.rows_read += rows
    report.categories.update(kept["category"].value_counts().to_dict())
    report.rejected.update(r.reason for r in rejected)
    report.stored_new += new_lines
    report.already_stored += len(kept) - new_lines
    guest = int(kept["customer_ref"].isna().sum()) - erased_lines
    if erased_lines:
        report.notes["erased_customer_lines"] += erased_lines
    repeated = int((kept["occurrence"] > 0).sum())
    if guest:
        report.notes["guest_lines"] += guest
    if repeated:
        report.notes["repeated_lines"] += repeated
