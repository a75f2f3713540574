"""Coordination between processes: named locks with a lease (one refresh at a time, any replica), and
how far each data source has been synced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base


class JobLock(Base):
    """A named lock: held by ``holder`` until released or until ``lease_until`` passes (a crash)."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime] = mapped_column(DateTime)


class SyncState(Base):
    """How far one query of a data source (``part``: customers or orders) has been synced.

    ``watermark`` is the largest watermark value stored so far, written in the same transaction
    as each batch, so a sync that dies resumes from its last committed batch.
    """

    __tablename__ = "sync_states"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[str] = mapped_column(String(16), primary_key=True)
    watermark: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"type": "datetime" | "date" | "int" | "text", "value": "..."}``; None before the first batch."""
    first_sync_done: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)
    """The first failure since the last success; None while the source syncs."""
    error: Mapped[str | None] = mapped_column(Text)
    failures_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_last: Mapped[int] = mapped_column(Integer, default=0)
    """Rows read by the last completed sync."""
    null_watermark_rows: Mapped[int] = mapped_column(Integer, default=0)
    """Rows of the last full read whose watermark was empty (an incremental sync cannot see them change)."""
