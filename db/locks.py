"""Named locks in the store, so two processes on any machines never run the same job at once.

Portable (SQLite and PostgreSQL): the lock is a row under a primary key.  Taking it is an
insert (one winner) or, when the holder's lease ran out (it crashed), a compare-and-set update.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.ops_models import JobLock

log = logging.getLogger(__name__)


def process_name() -> str:
    """Who holds a lock or a claim: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LockHeld(RuntimeError):
    """Someone else holds the lock; ``holder`` and ``since`` say who and since when."""

    def __init__(self, name: str, holder: str, since: datetime) -> None:
        self.name, self.holder, self.since = name, holder, since
        super().__init__(f"{name} is {self.running}")

    @property
    def running(self) -> str:
        """Where and since when, for a message: ``already running on HOST:PID since ... UTC``."""
        return f"already running on {self.holder} since {self.since:%Y-%m-%d %H:%M} UTC"


def acquire(engine: Engine | Connection, name: str, holder: str, now: datetime, lease: timedelta) -> None:
    """Take the lock or raise ``LockHeld``."""
    with Session(engine) as session:
        session.add(JobLock(name=name, holder=holder, acquired_at=now, lease_until=now + lease))
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()
        current = session.get(JobLock, name)
        if current is None:  # released in between: try once more from the top
            return acquire(engine, name, holder, now, lease)
        if current.lease_until > now:
            raise LockHeld(name, current.holder, current.acquired_at)
        taken = session.execute(update(JobLock).where(JobLock.name == name, JobLock.holder == current.holder,
                                                      JobLock.acquired_at == current.acquired_at)
                                .values(holder=holder, acquired_at=now, lease_until=now + lease))
        session.commit()
        if rows_affected(taken) != 1:
            raise LockHeld(name, "another process", now)
        return None


def release(engine: Engine | Connection, name: str, holder: str) -> None:
    """Give the lock back (only if still ours)."""
    with Session(engine) as session:
        session.execute(delete(JobLock).where(JobLock.name == name, JobLock.holder == holder))
        session.commit()


@contextmanager
def held(engine: Engine | Connection, name: str, holder: str, now: datetime, lease: timedelta) -> Iterator[None]:
    """``with held(...):`` runs the body holding the lock (``LockHeld`` if someone else has it)."""
    acquire(engine, name, holder, now, lease)
    try:
        yield
    finally:
        release(engine, name, holder)


def renew(engine: Engine | Connection, name: str, holder: str, now: datetime, lease: timedelta) -> bool:
    """Extend the lease of a lock we hold (a long job does so as it progresses); False if it is no longer ours."""
    with Session(engine) as session:
        renewed = session.execute(update(JobLock).where(JobLock.name == name, JobLock.holder == holder)
                                  .values(lease_until=now + lease))
        session.commit()
        return rows_affected(renewed) == 1


@contextmanager
def kept(engine: Engine, name: str, holder: str, clock: Callable[[], datetime], lease: timedelta) -> Iterator[None]:
    """``held``, with a heartbeat renewing the lease every third of it while the body runs.

    A long job (a refresh, a first sync) keeps its lock for as long as it lives, whatever it takes,
    and a killed one frees it within one ``lease``: the lease can be minutes, not hours.
    """
    acquire(engine, name, holder, clock(), lease)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                if not renew(engine, name, holder, clock(), lease):
                    log.warning("lock %s was taken from %s (its lease ran out)", name, holder)
                    return
            except Exception:  # the database blinked: try again at the next beat, the lease has slack
                log.warning("could not renew lock %s; retrying", name, exc_info=True)

    heartbeat = threading.Thread(target=beat, name=f"lock-{name}", daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join()
        release(engine, name, holder)
