"""Importing a customers CSV (the generic format of docs/importing.md).

A customer is matched by its id.  A value in the file replaces the stored one; an empty cell
keeps what is stored (an export with a blank column must not wipe data).  Columns the format
does not know are kept as customer attributes (e.g. ``churned``, ``plan``), which the
prediction builder can later learn from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, select, update

from db.clock import Clock, utc_now
from db.erased import ErasedIds
from db.importers.formats import CUSTOMER_COLUMNS
from db.importers.order_lines import MAX_ID, Rejection
from db.importers.report import ImportReport, RejectWriter
from db.importers.runner import (
    ChunkRun,
    ImportOptions,
    Progress,
    record_progress,
    recorded_run,
    reject_path,
    skipped_as_imported,
    start_run,
)
from db.importers.source import RowChunk, inspect_file, read_chunks, resolve_columns
from db.models import Customer
from db.normalise import normalise_country, normalise_email, normalise_identifier, parse_datetime

_FIELDS = ("name", "email", "phone", "country", "country_code", "created_at", "owner")
_MAX_LENGTH = {"name": 200, "phone": 40, "owner": 120, "email": 254}


def _parse_row(row: dict[str, Any], created: pd.Timestamp | None) -> tuple[dict[str, Any], str | None, str]:
    """Values to store for one row, or a rejection (reason, detail)."""
    values: dict[str, Any] = {}
    for name, limit in _MAX_LENGTH.items():
        if len(row.get(name) or "") > limit:
            return {}, "value_too_long", f"{name} is longer than {limit} characters"
    if row["email"]:
        try:
            values["email"] = normalise_email(row["email"])
        except ValueError as exc:
            return {}, "bad_email", f"'{row['email']}': {exc}"
    if row["created_at"]:
        if created is None or pd.isna(created):
            return {}, "bad_date", f"created_at '{row['created_at']}'"
        values["created_at"] = created.to_pydatetime(warn=False)  # sub-microsecond parts are normal input
    if row["country"]:
        values["country"], values["country_code"] = normalise_country(row["country"])
    for name in ("name", "phone", "owner"):
        if row[name]:
            values[name] = row[name]
    return values, None, ""


def _write_batch(connection: Connection, batch: list[tuple[str, dict[str, Any], dict[str, str]]],
                 run_id: int, report: ImportReport) -> None:
    ids = sorted({external_id for external_id, _, _ in batch})
    stored: dict[str, dict[str, Any]] = {}
    columns = [Customer.id, Customer.external_id, *(getattr(Customer, f) for f in _FIELDS), Customer.attributes]
    for start in range(0, len(ids), 2000):
        for row in connection.execute(select(*columns).where(Customer.external_id.in_(ids[start:start + 2000]))):
            stored[row.external_id] = dict(row._mapping)
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    for external_id, values, attributes in batch:
        current = inserts.get(external_id) or updates.get(external_id) or stored.get(external_id)
        if current is None:
            inserts[external_id] = {"external_id": external_id, **dict.fromkeys(_FIELDS), **values,
                                    "attributes": attributes, "import_run_id": run_id}
            report.categories["new"] += 1
            report.stored_new += 1
            continue
        merged = {**current, **values, "attributes": {**(current.get("attributes") or {}), **attributes}}
        if merged == current:
            report.categories["unchanged"] += 1
            report.already_stored += 1
            continue
        (inserts if external_id in inserts else updates)[external_id] = merged
        report.categories["updated"] += 1
        report.updated += 1
    if inserts:
        connection.execute(Customer.__table__.insert(), list(inserts.values()))
        report.new_customers += len(inserts)
    if updates:
        table = Customer.__table__
        connection.execute(
            update(table).where(table.c.id == bindparam("b_id")),
            [{"b_id": row["id"], **{f: row[f] for f in _FIELDS}, "attributes": row["attributes"]}
             for row in updates.values()])


def import_customer_file(engine: Engine, path: Path, options: ImportOptions, progress: Progress | None = None,
                         clock: Clock = utc_now) -> ImportReport:
    """Import a customers CSV; returns the report (new / updated / unchanged / rejected)."""
    facts = inspect_file(path, options.encoding)
    positions = resolve_columns(facts.header, CUSTOMER_COLUMNS, options.renames, path.name)
    report = ImportReport(source_format="customers", source_name=str(path))
    if skipped_as_imported(engine, report, facts.sha256, options):
        return report
    report.run_id = start_run(engine, "customers", str(path), facts.sha256, clock)
    extra_names = [h for i, h in enumerate(facts.header) if i not in positions.values()]
    rejects = RejectWriter(reject_path(options, path.name, report.run_id),
                           [spec.name for spec in CUSTOMER_COLUMNS] + extra_names)
    run = ChunkRun(report, rejects, options, max(facts.line_count - 1, 0), progress)
    with recorded_run(engine, report, rejects, clock):
        write_customer_chunks(engine, read_chunks(path, facts, options.encoding, positions, CUSTOMER_COLUMNS,
                                                  options.batch_rows, keep_extra=True), run)
        if extra_names:
            report.notes["attribute_columns"] = len(extra_names)
    return report


def write_customer_chunks(engine: Engine, chunks: Iterable[RowChunk], run: ChunkRun) -> None:
    """Check and store every chunk of customer rows, one transaction per chunk.

    Columns named ``extra:NAME`` are kept as the customer's attribute ``NAME``.
    """
    report = run.report
    for chunk in chunks:
        frame = chunk.frame
        with engine.connect() as connection:  # per batch: an erasure during a long import holds from the next
            erased = ErasedIds.load(connection)
        rejected = [Rejection(line, "malformed_row", why, fields) for line, why, fields in chunk.malformed]
        ids = normalise_identifier(frame["customer_id"])
        created = parse_datetime(frame["created_at"], run.options.date_format)
        extra_columns = [c for c in frame.columns if c.startswith("extra:")]
        batch: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        for position, (row, line) in enumerate(zip(frame.to_dict("records"), chunk.line_numbers, strict=True)):
            external_id = ids.iloc[position]
            fields = [str(v) for v in row.values()]
            if external_id is None or pd.isna(external_id):
                rejected.append(Rejection(line, "missing_customer_id", "", fields))
                continue
            if len(external_id) > MAX_ID:
                rejected.append(Rejection(line, "value_too_long", f"customer id over {MAX_ID} characters",
                                          fields))
                continue
            if external_id in erased:  # the reject file must not copy the person back either
                rejected.append(Rejection(line, "erased_customer", "", []))
                continue
            values, reason, detail = _parse_row(row, created.iloc[position])
            if reason:
                rejected.append(Rejection(line, reason, detail, fields))
                continue
            attributes = {c.removeprefix("extra:"): row[c] for c in extra_columns if row[c] != ""}
            batch.append((external_id, values, attributes))
        with engine.begin() as connection:
            _write_batch(connection, batch, run.run_id, report)
            report.rows_read += chunk.rows_in_chunk
            report.rejected.update(r.reason for r in rejected)
            record_progress(connection, report)
            if run.on_batch:
                run.on_batch(connection, chunk)
        run.rejects.write(rejected)
        run.batch_done()
