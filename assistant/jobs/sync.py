"""``crm-bot sync``: every database source of the sources file, then the inbox folder, under one lock.

Never two syncs at once from any process or machine (the store's ``sync`` lock, kept by a heartbeat,
so a sync that runs for hours keeps it and a killed one frees it within minutes).  A source
that is down is recorded as failing and the others still sync; nothing it half-read is lost, as
each batch commits with its resume point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from assistant.errors import UserFacingError
from assistant.ops.sources import Source, load_sources
from db import locks
from db.clock import Clock, store_time, utc_now
from db.importers.inbox import process_inbox
from db.importers.report import ImportReport
from db.importers.runner import ImportOptions
from db.importers.source import ImportFileError
from db.importers.sql_source import open_source
from db.importers.sync import sync_query

SYNC_LOCK = "sync"
SYNC_LEASE = timedelta(minutes=10)
"""Renewed by a heartbeat (``locks.kept``): a live sync keeps the lock, a killed one frees it this long after."""
INBOX_SETTLE_SECONDS = 60.0
"""An inbox file is taken once unchanged this long (a copy still in progress keeps touching it)."""

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Told (what is syncing, rows read so far) after each batch."""


class SyncBusy(UserFacingError):
    """Another process is syncing."""


@dataclass
class PartOutcome:
    """How one query of a source (or one inbox file) ended: its import report, or why it failed."""

    source: str
    part: str
    report: ImportReport | None = None
    error: str | None = None

    @property
    def brought_data(self) -> bool:
        report = self.report
        return bool(report and (report.stored_new or report.updated or report.notes.get("orders_changed")))


@dataclass
class SyncOutcome:
    """Everything one sync did, in order."""

    parts: list[PartOutcome] = field(default_factory=list)

    @property
    def brought_data(self) -> bool:
        """Something new or changed reached the store: the analytics are worth refreshing."""
        return any(part.brought_data for part in self.parts)

    @property
    def failed(self) -> list[PartOutcome]:
        return [part for part in self.parts if part.error]


def sources_of(sources_file: Path | None, names: Sequence[str] = ()) -> list[Source]:
    """The sources to sync: all of the file's, or those ``names`` picks (an unknown name is an error)."""
    if sources_file is None:
        if names:
            raise UserFacingError("no sources file: set CRM_SOURCES_FILE to a TOML file naming the databases to "
                                  "sync (docs/syncing.md).")
        return []
    sources = load_sources(sources_file)
    if names:
        unknown = [name for name in names if name not in {s.name for s in sources}]
        if unknown:
            raise UserFacingError(f"no source named {unknown[0]!r} in {sources_file}; it names "
                                  f"{', '.join(s.name for s in sources)}.")
        sources = [s for s in sources if s.name in names]
    return sources


def run_sync(engine: Engine, sources: Sequence[Source], *, timezone: str, reject_dir: Path, full: bool = False,
             inbox: Path | None = None, batch_rows: int = 20_000, settle_seconds: float = INBOX_SETTLE_SECONDS,
             progress: Progress | None = None, clock: Clock = utc_now) -> SyncOutcome:
    """Sync ``sources``, then the ``inbox`` folder's files, into the store holding the sync lock;
    ``SyncBusy`` if another process syncs."""
    try:
        with locks.kept(engine, SYNC_LOCK, locks.process_name(), lambda: store_time(clock()), SYNC_LEASE):
            outcome = SyncOutcome()
            for source in sources:
                outcome.parts.extend(_sync_source(engine, source, timezone, reject_dir, full, progress,
                                                  clock))
            if inbox is not None:
                outcome.parts.extend(_inbox(engine, inbox, ImportOptions(batch_rows=batch_rows, reject_dir=reject_dir),
                                            settle_seconds, clock))
            return outcome
    except locks.LockHeld as exc:
        raise SyncBusy(f"not started: a sync is {exc.running}.") from exc


def _inbox(engine: Engine, inbox: Path, options: ImportOptions, settle_seconds: float,
           clock: Clock) -> list[PartOutcome]:
    if not inbox.is_dir():
        return [PartOutcome("inbox", str(inbox), error=f"CRM_INBOX_DIR={inbox} is not a folder; create it or unset "
                                                         "CRM_INBOX_DIR.")]
    parts = []
    for done in process_inbox(engine, inbox, options, settle_seconds, clock):
        if done.error:
            log.warning("inbox file %s moved to %s: %s", done.name, done.moved_to, done.error)
        parts.append(PartOutcome("inbox", done.name, report=done.report, error=done.error))
    return parts


def _sync_source(engine: Engine, source: Source, timezone: str, reject_dir: Path, full: bool,
                 progress: Progress | None, clock: Clock) -> list[PartOutcome]:
    options = replace(source.options, full=full, reject_dir=reject_dir)
    reader = open_source(source.url, options.timeout_seconds, timezone)
    parts: list[PartOutcome] = []
    try:
        for query in source.queries:
            def batch_done(rows: int, _estimate: int, label: str = f"{source.name} {query.part}") -> None:
                if progress:
                    progress(label, rows)

            try:
                report = sync_query(engine, reader, query, options, batch_done, clock)
            except ImportFileError as exc:  # the source (SourceError) or its rows as a whole (no date readable)
                log.warning("sync of %s (%s) failed: %s", source.name, query.part, exc)
                parts.append(PartOutcome(source.name, query.part, error=str(exc)))
                continue
            parts.append(PartOutcome(source.name, query.part, report=report))
    finally:
        reader.dispose()
    return parts
