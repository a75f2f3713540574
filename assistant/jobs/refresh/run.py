"""The refresh job: read the store a partition at a time, fit on samples, score everyone, store one run.

Heavy work happens here, never inside a command: commands read the latest completed run.  The
phases (docs/scaling.md has the measured path from one machine to a cluster):

1. ``plan.make_plan``: customer-id partitions and the samples' sizes;
2. ``partitions.gather`` per partition: RFM inputs, main countries, the fitting sample's history;
3. ``fit.fit_everything`` here: RFM cuts of everyone, every model on its sample, basket rules;
4. ``partitions.score`` per partition: every customer's rows, written under the run's id;
5. ``snapshot.write_run_tables`` + rollups, in the transaction that marks the run completed.

Steps 2 and 4 run in this process or on a Dask cluster (``executor.py``); a run that fails is
discarded, so readers only ever see completed runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.jobs.refresh.executor import Executor, InProcess
from assistant.jobs.refresh.fit import FitRecords, fit_everything, merge_gathered
from assistant.jobs.refresh.inputs import REFRESH_LOCK, NothingToAnalyse, RefreshParams
from assistant.jobs.refresh.partitions import GatherTask, Scored, ScoreTask, gather, score
from assistant.jobs.refresh.plan import RefreshPlan, make_plan
from assistant.jobs.refresh.snapshot import write_run_tables
from db import currencies, locks, predictions, rollups, snapshots, stats
from db.clock import Clock, store_time, utc_now
from db.frames import FrameIO
from db.maintenance import analyse_tables, refresh_planner_statistics
from db.snapshot_models import CustomerLifetime, CustomerPrediction, CustomerScore, Recommendation

log = logging.getLogger(__name__)

REFRESH_LEASE = timedelta(minutes=10)
"""Renewed by a heartbeat while the refresh runs (``locks.kept``); a killed refresh blocks the next one at
most this long."""


class RefreshBusy(UserFacingError):
    """Another refresh holds the store's refresh lock."""


class RefreshFailed(UserFacingError):
    """The refresh stopped part-way (the database went away, a task kept failing); nothing of it is served."""


@dataclass
class RefreshSummary:
    """What a refresh produced, for the terminal."""

    run_id: int
    as_of: datetime
    customers: int
    seconds: float
    results: dict[str, Any]


class Stopwatch:
    """Seconds per step, stored with the run (``timings``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        """Record the time since the previous lap under ``step``."""
        now = time.perf_counter()
        self.timings[step] = round(now - self._last, 3)
        self._last = now


def _store_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def plan_refresh(engine: Engine, params: RefreshParams | None = None, executor: Executor | None = None
                 ) -> RefreshPlan:
    """What a refresh of this store would do (``crm-bot refresh --explain-plan``), without doing it."""
    params = params or RefreshParams()
    with Session(engine) as session:
        as_of = params.as_of or snapshots.last_sale_at(session)
    if as_of is None:
        raise NothingToAnalyse("the store has no sales to analyse yet: import orders first "
                               "(crm-bot import ... or crm-bot demo)")
    with FrameIO(engine) as io:
        return make_plan(io, params, as_of, (executor or InProcess()).description)


def run_refresh(engine: Engine, params: RefreshParams | None = None, clock: Clock = utc_now,
                progress: Callable[[str], None] | None = None, keep_runs: int | None = None,
                executor: Executor | None = None) -> RefreshSummary:
    """Compute every snapshot as of ``params.as_of`` and store it as a new completed run.

    With ``keep_runs``, older runs beyond the newest ``keep_runs`` completed ones are deleted
    in the same transaction (movement needs at least the previous run, so keep 2 or more).
    """
    params = params or RefreshParams()
    say = progress or (lambda _step: None)
    executor = executor or InProcess()
    started = time.perf_counter()
    watch = Stopwatch()

    def partitions_done(step: str, done: int, total: int, left: float | None) -> None:
        eta = f", about {left:.0f} s left" if left is not None and done < total else ""
        say(f"{step}: {done}/{total} partitions{eta}")
        log.info("refresh %s: partition %d of %d done%s", step, done, total, eta)

    say("planning")
    main, kept = _mark_main_currency(engine, params, say)
    plan = plan_refresh(engine, params, executor)
    as_of, store = plan.as_of, _store_url(engine)
    log.info("refresh plan: %s", "; ".join(plan.describe()))
    with Session(engine) as session:
        previous = snapshots.latest_run(session)
        currency = main or params.currency or stats.recorded_currency(session)
    gathered = executor.map("reading the store", gather, [
        GatherTask(store, as_of, p, params.random_state, plan.candidate_bound) for p in plan.partitions],
        partitions_done)
    watch.lap("read")
    population = merge_gathered(gathered, as_of, params)
    del gathered
    with FrameIO(engine) as io, Session(engine) as session:
        fitted, records = fit_everything(population, io, plan, params, currency,
                                         lambda skus: snapshots.product_names(session, skus), say, watch.lap)
    customers = len(population.rfm)
    del population
    with engine.begin() as connection:
        snapshots.discard_abandoned_runs(connection, store_time(clock()))
        run_id = snapshots.start_run(connection, as_of, {**asdict(params), "as_of": as_of}, store_time(clock()))
        model = records.propensity.value.model  # model-health states the samples the models were fitted on
        model = {**model, "training": {**(model.get("training") or {}), "samples": records.samples}}
        model_id = predictions.record_model(connection, {**model, "run_id": run_id, "trained_at": store_time(clock())})
    try:
        scored = executor.map("scoring customers", score, [
            ScoreTask(store, run_id, model_id, previous.id if previous else None, as_of, p)
            for p in plan.partitions], partitions_done, shared=fitted)
        watch.lap("score_and_write")
        results = _finish(engine, run_id, model_id, records, scored, previous.id if previous else None,
                          {"customers_with_sales": customers, "sales_lines": sum(p.lines for p in scored),
                           "sale_orders": plan.sale_orders, "partitions": len(plan.partitions)},
                          currency, clock, say, watch, keep_runs,
                          # which currency was analysed and why: imports keep CRM_CURRENCY's choice (db.currencies)
                          {"currency_setting": params.currency, "kept_apart": kept})
    except UserFacingError as exc:
        _discard(engine, run_id, clock, exc)
        raise
    except Exception as exc:  # the database went away, a task kept failing: say so, serve the previous run
        _discard(engine, run_id, clock, exc)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        raise RefreshFailed(f"the refresh stopped: {type(exc).__name__}: {first_line}; nothing of it is shown, "
                            "the previous snapshot keeps serving") from exc
    except BaseException as exc:  # interrupted: discard, then let the interruption through
        _discard(engine, run_id, clock, exc)
        raise
    refresh_planner_statistics(engine)
    seconds = time.perf_counter() - started
    log.info("refresh run %s as of %s: %s customers in %.1f s", run_id, as_of, customers, seconds)
    return RefreshSummary(run_id=run_id, as_of=as_of, customers=customers, seconds=seconds, results=results)


def _mark_main_currency(engine: Engine, params: RefreshParams,
                        say: Callable[[str], None]) -> tuple[str | None, dict[str, int]]:
    """Mark the orders the run counts (before the plan counts anything) and say which are kept apart."""
    with engine.begin() as connection:
        main = currencies.mark_main_currency(connection, params.currency, setting_known=True)
        kept = currencies.kept_apart(connection)
    if kept:
        say(str(currencies.kept_apart_words(kept, main)))
    return main, kept


def _finish(engine: Engine, run_id: int, model_id: int, records: FitRecords, scored: list[Scored],
            previous_run: int | None,
            sizes: dict[str, int], currency: str | None, clock: Clock, say: Callable[[str], None], watch: Stopwatch,
            keep_runs: int | None, noted: dict[str, Any]) -> dict[str, Any]:
    """The run-wide tables and rollups, and the run marked completed: one transaction."""
    say("storing the snapshot")
    with engine.begin() as connection:
        write_run_tables(connection, run_id, records, scored, previous_run is not None, currency)
        watch.lap("store")
        say("pre-aggregating sales for questions about numbers")
        analyse_tables(connection, [m.__table__ for m in (CustomerScore, CustomerLifetime, CustomerPrediction,
                                                          Recommendation)])
        rollups.build(connection, run_id, model_id, store_time(clock()))
        watch.lap("rollups")
        results = {**_results(records, scored, previous_run, watch.timings, currency), **noted}
        snapshots.finish_run(connection, run_id, store_time(clock()), sizes, results)
        if keep_runs is not None:
            results["pruned_runs"] = snapshots.prune_runs(connection, keep_runs)
    return results


def _discard(engine: Engine, run_id: int, clock: Clock, exc: BaseException) -> None:
    """Delete what the failed run wrote; if the store is unreachable, the next refresh does it.

    Tried twice: after a database restart the first attempt may meet a connection the restart
    closed (SQLAlchemy then drops the whole pool, and the second gets a new one)."""
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                snapshots.discard_run(connection, run_id, store_time(clock()),
                                      f"{type(exc).__name__}: {exc}"[:2000])
            return
        except SQLAlchemyError:
            if attempt == 2:
                log.warning("run %s could not be discarded now (the store is unreachable); the next refresh will",
                            run_id)


def _results(records: FitRecords, scored: list[Scored], previous_run: int | None, timings: dict[str, float],
             currency: str | None) -> dict[str, Any]:
    """What the run records about itself: each step's figures or refusal, the samples and the timings."""
    propensity = dict(records.propensity.record)
    if "refused" not in propensity or "stand_in" in propensity:
        propensity["scored"] = sum(p.predictions for p in scored)
    lifetime = dict(records.lifetime)
    if "refused" not in lifetime:
        lifetime["scored"] = sum(p.lifetimes for p in scored)
        lifetime["left_out_implausible"] = sum(p.lifetimes_left_out for p in scored)
    recommendations = {"customers": sum(p.recommended_customers for p in scored),
                       "rows": sum(p.recommendations for p in scored)}
    return {"previous_run": previous_run, "clusters": records.clusters.record,
            "feature_importance": records.importance, "lifetime": lifetime, "propensity": propensity,
            "rules": records.rules.record, "recommendations": recommendations, "timings": timings,
            "currency": currency, "samples": records.samples}


def run_refresh_exclusive(engine: Engine, params: RefreshParams | None = None, clock: Clock = utc_now,
                          **kwargs: Any) -> RefreshSummary:
    """``run_refresh`` holding the store-wide refresh lock: never two refreshes at once, from any
    process or machine.  The bot keeps answering from the previous snapshot meanwhile."""
    try:
        with locks.kept(engine, REFRESH_LOCK, locks.process_name(), lambda: store_time(clock()), REFRESH_LEASE):
            return run_refresh(engine, params, clock=clock, **kwargs)
    except locks.LockHeld as exc:
        raise RefreshBusy(f"not started: a refresh {exc.running}; the bot answers from the previous snapshot "
                          "meanwhile") from exc
