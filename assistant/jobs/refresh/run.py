"""The refresh job: read the store, run the analytics, store one snapshot per run.

Heavy work happens here, never inside a command: commands read the latest completed run.
The three phases are separate modules: ``inputs.read_inputs`` (one read, as of a date),
``compute.compute`` (pure steps over those inputs) and ``snapshot.write_snapshot`` (one
transaction together with the run's "completed" mark).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.jobs.refresh.compute import Stopwatch, compute
from assistant.jobs.refresh.inputs import REFRESH_LOCK, RefreshParams, read_inputs
from assistant.jobs.refresh.snapshot import start_snapshot, write_snapshot
from db import locks, predictions, rollups, snapshots
from db.clock import Clock, store_time, utc_now
from db.maintenance import refresh_planner_statistics

log = logging.getLogger(__name__)

REFRESH_LEASE = timedelta(hours=3)
"""Longer than any refresh should take; a crashed refresh blocks the next one at most this long."""


class RefreshBusy(UserFacingError):
    """Another refresh holds the store's refresh lock."""


@dataclass
class RefreshSummary:
    """What a refresh produced, for the terminal."""

    run_id: int
    as_of: datetime
    customers: int
    seconds: float
    results: dict[str, Any]


def run_refresh(engine: Engine, params: RefreshParams | None = None, clock: Clock = utc_now,
                progress: Callable[[str], None] | None = None, keep_runs: int | None = None) -> RefreshSummary:
    """Compute every snapshot as of ``params.as_of`` and store it as a new completed run.

    With ``keep_runs``, older runs beyond the newest ``keep_runs`` completed ones are deleted
    in the same transaction (movement needs at least the previous run, so keep 2 or more).
    """
    params = params or RefreshParams()
    say = progress or (lambda _step: None)
    started = time.perf_counter()
    watch = Stopwatch()
    say("reading the store")
    with Session(engine) as session:
        inputs = read_inputs(session, params)
    watch.lap("read")
    computed = compute(inputs, params, say, watch)
    say("storing the snapshot")
    with engine.begin() as connection:
        run_id = start_snapshot(connection, computed, params, store_time(clock()))
        write_snapshot(connection, run_id, computed, store_time(clock()))
        watch.lap("store")
        say("pre-aggregating sales for questions about numbers")
        with Session(bind=connection) as session:  # the model this run trained: what its churn risk uses
            model = predictions.model_of_run(session, predictions.propensity_target(params.horizon_days), run_id)
        rollups.build(connection, run_id, model.id if model else None, store_time(clock()))
        watch.lap("rollups")
        computed.timings = watch.timings
        results = computed.results()
        snapshots.finish_run(connection, run_id, store_time(clock()), inputs.sizes(len(computed.rfm)), results)
        if keep_runs is not None:
            results["pruned_runs"] = snapshots.prune_runs(connection, keep_runs)
    refresh_planner_statistics(engine)
    seconds = time.perf_counter() - started
    log.info("refresh run %s as of %s: %s customers in %.1f s", run_id, inputs.as_of, len(computed.rfm), seconds)
    return RefreshSummary(run_id=run_id, as_of=inputs.as_of, customers=len(computed.rfm), seconds=seconds,
                          results=results)


def run_refresh_exclusive(engine: Engine, params: RefreshParams | None = None, clock: Clock = utc_now,
                          **kwargs: Any) -> RefreshSummary:
    """``run_refresh`` holding the store-wide refresh lock: never two refreshes at once, from any
    process or machine.  The bot keeps answering from the previous snapshot meanwhile."""
    try:
        with locks.held(engine, REFRESH_LOCK, locks.process_name(), store_time(clock()), REFRESH_LEASE):
            return run_refresh(engine, params, clock=clock, **kwargs)
    except locks.LockHeld as exc:
        raise RefreshBusy(f"not started: a refresh {exc.running}; the bot answers from the previous snapshot "
                          "meanwhile") from exc
