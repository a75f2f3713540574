"""Named locks in the store: one holder at a time across processes, a crashed holder's lease runs out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from db import locks

NOW = datetime(2026, 11, 24, 2, 0)
LEASE = timedelta(hours=3)


def test_one_holder_at_a_time_and_a_dead_holders_lease_runs_out(engine: Engine) -> None:
    locks.acquire(engine, "refresh", "host-a:1", NOW, LEASE)
    with pytest.raises(locks.LockHeld, match="already running on host-a:1 since 2026-11-24 02:00"):
        locks.acquire(engine, "refresh", "host-b:2", NOW + timedelta(minutes=5), LEASE)
    locks.acquire(engine, "other-job", "host-b:2", NOW, LEASE)  # locks are by name
    locks.acquire(engine, "refresh", "host-b:2", NOW + LEASE + timedelta(seconds=1), LEASE)  # host-a died
    locks.release(engine, "refresh", "host-a:1")  # too late: not its lock any more, nothing happens
    with pytest.raises(locks.LockHeld, match="host-b:2"):
        locks.acquire(engine, "refresh", "host-c:3", NOW + LEASE + timedelta(minutes=1), LEASE)
    locks.release(engine, "refresh", "host-b:2")
    with locks.held(engine, "refresh", "host-c:3", NOW + LEASE + timedelta(minutes=2), LEASE), \
            pytest.raises(locks.LockHeld):
        locks.acquire(engine, "refresh", "host-d:4", NOW + LEASE + timedelta(minutes=3), LEASE)
    locks.acquire(engine, "refresh", "host-d:4", NOW + LEASE + timedelta(minutes=4), LEASE)  # released on exit


def test_a_kept_lock_lives_as_long_as_its_holder_and_a_silent_one_runs_out(engine: Engine) -> None:
    import time

    from db.clock import store_time, utc_now

    def now() -> datetime:
        return store_time(utc_now())

    lease = timedelta(seconds=0.6)
    with locks.kept(engine, "sync", "host-a:1", now, lease):
        time.sleep(2.0)  # over three leases: the heartbeat renews it
        with pytest.raises(locks.LockHeld, match="host-a:1"):
            locks.acquire(engine, "sync", "host-b:2", now(), lease)
    locks.acquire(engine, "sync", "host-b:2", now(), lease)  # released on exit
    # host-b "dies" (no heartbeat): its lease runs out and the next holder takes over.
    time.sleep(0.8)
    locks.acquire(engine, "sync", "host-c:3", now(), lease)
