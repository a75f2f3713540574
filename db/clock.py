"""One clock for the whole product: aware UTC, and the naive UTC the store keeps.

Every job and command takes a ``Clock`` (``utc_now`` in production, a fixed time in tests) and
converts at the store's edge with ``store_time``: SQLite has no time zones, so every stored time
is naive UTC on both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, time-zone aware."""


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def store_time(moment: datetime) -> datetime:
    """``moment`` as the store keeps times: naive UTC (a naive ``moment`` is taken to be UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
