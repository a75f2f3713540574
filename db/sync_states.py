"""How far each data source has been synced (table ``sync_states``): read by ``crm-bot sync``, the
doctor, the readiness probe's detail, the metrics and the digest's data-quality line.

Functions take an engine or a connection and commit their own change, except ``advance``, which
writes inside the caller's batch transaction (the resume point must commit with the rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.clock import store_time
from db.ops_models import SyncState

_TABLE = SyncState.__table__


def _ensure(connection: Connection, source: str, part: str) -> None:
    insert = postgresql.insert(_TABLE) if connection.dialect.name == "postgresql" else sqlite.insert(_TABLE)
    connection.execute(insert.values(source=source, part=part, first_sync_done=False, failures_total=0,
                                     rows_total=0, rows_last=0, null_watermark_rows=0).on_conflict_do_nothing())


def get(engine: Engine, source: str, part: str) -> SyncState | None:
    """The state of one query of a source, or None before its first sync."""
    with engine.connect() as connection:
        row = connection.execute(select(_TABLE).where(_TABLE.c.source == source, _TABLE.c.part == part)).first()
    return SyncState(**row._mapping) if row else None


def all_states(session: Session) -> list[SyncState]:
    """Every source's states, by source then part (detached copies: safe after the session closes)."""
    rows = session.execute(select(_TABLE).order_by(_TABLE.c.source, _TABLE.c.part)).all()
    return [SyncState(**row._mapping) for row in rows]


def started(engine: Engine, source: str, part: str, now: datetime) -> None:
    """A sync of the query begins."""
    with engine.begin() as connection:
        _ensure(connection, source, part)
        connection.execute(update(_TABLE).where(_TABLE.c.source == source, _TABLE.c.part == part)
                           .values(started_at=store_time(now)))


def advance(connection: Connection, source: str, part: str, watermark: dict[str, Any] | None, rows: int) -> None:
    """Record a committed batch: the watermark reached and the rows it brought (caller's transaction)."""
    values: dict[str, Any] = {"rows_total": _TABLE.c.rows_total + rows}
    if watermark is not None:
        values["watermark"] = watermark
    connection.execute(update(_TABLE).where(_TABLE.c.source == source, _TABLE.c.part == part).values(**values))


def succeeded(engine: Engine, source: str, part: str, now: datetime, rows: int, null_rows: int | None) -> None:
    """The sync read everything there was; ``null_rows`` is counted on full reads only (None keeps it)."""
    values: dict[str, Any] = {"first_sync_done": True, "succeeded_at": store_time(now), "failing_since": None,
                              "error": None, "rows_last": rows}
    if null_rows is not None:
        values["null_watermark_rows"] = null_rows
    with engine.begin() as connection:
        connection.execute(update(_TABLE).where(_TABLE.c.source == source, _TABLE.c.part == part).values(**values))


def failed(engine: Engine, source: str, part: str, now: datetime, error: str) -> None:
    """The sync stopped on ``error``; ``failing_since`` keeps the first failure since the last success."""
    moment = store_time(now)
    with engine.begin() as connection:
        _ensure(connection, source, part)
        state = connection.execute(select(_TABLE.c.failing_since).where(
            _TABLE.c.source == source, _TABLE.c.part == part)).scalar_one()
        connection.execute(update(_TABLE).where(_TABLE.c.source == source, _TABLE.c.part == part).values(
            failed_at=moment, failing_since=state or moment, error=error[:2000],
            failures_total=_TABLE.c.failures_total + 1))



def failing(session: Session) -> list[SyncState]:
    """The queries of sources that fail to sync now (``failing_since`` set), earliest failure first."""
    rows = session.execute(select(_TABLE).where(_TABLE.c.failing_since.is_not(None))
                           .order_by(_TABLE.c.failing_since, _TABLE.c.source, _TABLE.c.part)).all()
    return [SyncState(**row._mapping) for row in rows]
