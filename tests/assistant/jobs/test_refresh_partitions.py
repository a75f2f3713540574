"""The partitioned refresh: splitting, samples, a real Dask cluster, and faults.

The promise under test: how the work is split and where it runs never changes a result (the
snapshot of many partitions, or of a two-worker Dask LocalCluster with a worker killed mid-run,
equals the in-process one row for row), and a refresh that fails leaves no partial snapshot.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from assistant.errors import UserFacingError
from assistant.jobs.refresh.executor import OnDask, executor_for
from assistant.jobs.refresh.inputs import NothingToAnalyse, RefreshParams
from assistant.jobs.refresh.run import RefreshFailed, RefreshSummary, plan_refresh, run_refresh
from db import snapshots
from db.importers import ImportOptions, import_file
from db.sample import ONLINE_RETAIL_SAMPLE
from db.snapshot_models import AnalyticsRun, CustomerPrediction, CustomerScore, PredictionModel

SNAPSHOT_QUERIES = {
    "customer_scores": ("SELECT * FROM customer_scores WHERE run_id = :run", ["customer_id"]),
    "customer_lifetimes": ("SELECT * FROM customer_lifetimes WHERE run_id = :run", ["customer_id"]),
    "customer_predictions": ("SELECT p.* FROM customer_predictions p JOIN prediction_models m ON m.id = p.model_id "
                             "WHERE m.run_id = :run", ["customer_id"]),
    "recommendations": ("SELECT * FROM recommendations WHERE run_id = :run", ["customer_id", "rank"]),
    "segment_stats": ("SELECT * FROM segment_stats WHERE run_id = :run", ["segment"]),
    "cluster_stats": ("SELECT * FROM cluster_stats WHERE run_id = :run", ["cluster"]),
    "basket_rules": ("SELECT * FROM basket_rules WHERE run_id = :run", ["rank"]),
    "sales_rollup": ("SELECT * FROM sales_rollup WHERE run_id = :run", ["day", "country", "segment", "cluster"]),
}


def snapshot_rows(engine: Engine, run_id: int) -> dict[str, pd.DataFrame]:
    """Every row a run wrote, without the ids that differ between runs, in a fixed order."""
    tables = {}
    with engine.connect() as connection:
        for name, (sql, key) in SNAPSHOT_QUERIES.items():
            frame = pd.DataFrame(connection.execute(text(sql), {"run": run_id}).mappings().all())
            frame = frame.drop(columns=[c for c in ("id", "run_id", "model_id") if c in frame.columns])
            if "factors" in frame.columns:  # JSON text on SQLite, parsed on PostgreSQL
                frame["factors"] = frame["factors"].map(lambda v: v if isinstance(v, str) else json.dumps(v))
            tables[name] = frame.sort_values(key, ignore_index=True) if len(frame) else frame
    return tables


def assert_same_snapshot(engine: Engine, first: int, second: int) -> None:
    left, right = snapshot_rows(engine, first), snapshot_rows(engine, second)
    for name in SNAPSHOT_QUERIES:
        assert len(left[name]) == len(right[name]), name
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=False, rtol=1e-12, atol=1e-12,
                                      obj=name)


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""The PostgreSQL path (Arrow reads, binary COPY writes, many partitions) is proven by the Dask test below."""
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@contextmanager
def set_aside(engine: Engine, run_id: int) -> Iterator[None]:
    """Hide a completed run while the next refresh runs, so both measure movement against the same
    previous run (and so must agree on every column)."""
    runs = AnalyticsRun.__table__
    with engine.begin() as connection:
        connection.execute(update(runs).where(runs.c.id == run_id).values(status="failed"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(update(runs).where(runs.c.id == run_id).values(status="completed"))


def refresh_beside(engine: Engine, run_id: int, params: RefreshParams, **kwargs: Any) -> RefreshSummary:
    """A refresh whose previous run is ``run_id``'s previous run."""
    with set_aside(engine, run_id):
        return run_refresh(engine, params, **kwargs)


STORE_CUSTOMERS = 600
"""The first customers of the demo sample (and their guest-free orders): every model still trains, and
each refresh takes a few seconds."""


@pytest.fixture(scope="session")
def smaller_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False)
    keep = sorted(c for c in raw["CustomerID"].unique() if c)[:STORE_CUSTOMERS]
    path = tmp_path_factory.mktemp("smaller-sample") / "online_retail_600.csv"
    raw[raw["CustomerID"].isin(keep)].to_csv(path, index=False)
    return path


@pytest.fixture
def demo_store(engine: Engine, tmp_path: Path, smaller_sample: Path) -> Engine:
    import_file(engine, "online-retail", smaller_sample, ImportOptions(reject_dir=tmp_path))
    return engine


@pytest.mark.full_length  # the Dask test below proves the same on PostgreSQL in the default run
@SQLITE_ONLY
def test_many_partitions_write_exactly_the_snapshot_of_one(demo_store: Engine) -> None:
    run_refresh(demo_store)  # a previous run, so movement is compared too
    whole = run_refresh(demo_store)
    split = refresh_beside(demo_store, whole.run_id, RefreshParams(partition_customers=170))
    assert split.results["samples"]["partitions"] == 4 and whole.results["samples"]["partitions"] == 1
    assert_same_snapshot(demo_store, whole.run_id, split.run_id)
    assert split.customers == whole.customers == split.results["propensity"]["scored"]


@SQLITE_ONLY
def test_models_fit_on_a_sample_and_every_customer_is_scored(demo_store: Engine) -> None:
    summary = run_refresh(demo_store, RefreshParams(fit_sample=400, basket_sample=1_500, partition_customers=300))
    samples = summary.results["samples"]
    assert samples["fitting_customers"] == 400 and samples["fit_sample_limit"] == 400
    assert summary.results["lifetime"]["fitted_on"] <= 400
    assert 0.5 < samples["basket_share"] < 0.7
    assert 1_000 < summary.results["rules"]["basket_sample"]["sampled_orders"] < 2_000
    with Session(demo_store) as session:
        scored = session.scalar(select(func.count()).select_from(CustomerScore)
                                .where(CustomerScore.run_id == summary.run_id))
        model = session.scalar(select(PredictionModel.id).where(PredictionModel.run_id == summary.run_id))
        predicted = session.scalar(select(func.count()).select_from(CustomerPrediction)
                                   .where(CustomerPrediction.model_id == model))
    assert scored == predicted == summary.customers
    with Session(demo_store) as session:
        training = session.scalar(select(PredictionModel.training).where(PredictionModel.run_id == summary.run_id))
    assert training["samples"] == samples  # model-health prints them


@SQLITE_ONLY
def test_the_plan_says_what_the_refresh_would_do_without_doing_it(demo_store: Engine) -> None:
    plan = plan_refresh(demo_store, RefreshParams(partition_customers=200, fit_sample=400, basket_sample=1_500))
    text_ = "\n".join(plan.describe())
    assert "3 partition(s) of up to 200 customers" in text_ and "400 customers (seeded)" in text_
    assert f"of {plan.sale_orders:,} sale orders" in text_ and "in this process" in text_
    with Session(demo_store) as session:
        assert session.scalar(select(func.count()).select_from(AnalyticsRun)) == 0


@SQLITE_ONLY
def test_a_store_with_one_customer_and_one_with_no_sales_get_answers_not_tracebacks(engine: Engine,
                                                                                      tmp_path: Path) -> None:
    with pytest.raises(NothingToAnalyse):
        run_refresh(engine)
    raw = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False)
    one = raw[raw["CustomerID"] == raw["CustomerID"].replace("", pd.NA).dropna().iloc[0]]
    path = tmp_path / "one.csv"
    one.to_csv(path, index=False)
    import_file(engine, "online-retail", path, ImportOptions(reject_dir=tmp_path))
    summary = run_refresh(engine)
    assert summary.customers == 1
    assert "refused" in summary.results["clusters"] and "refused" in summary.results["lifetime"]


def test_dask_on_sqlite_is_refused_with_the_reason() -> None:
    with pytest.raises(UserFacingError, match="PostgreSQL"):
        executor_for("tcp://127.0.0.1:8786", "sqlite")


def _on(step: str, done: int, action: Callable[[], None]) -> Callable[[str], None]:
    """A progress callback that runs ``action`` once, when ``step`` has ``done`` partitions done."""
    fired = []

    def progress(message: str) -> None:
        if not fired and message.startswith(f"{step}: {done}/"):
            fired.append(message)
            action()
    return progress


@POSTGRES_ONLY
def test_a_dask_cluster_of_many_partitions_writes_the_in_process_snapshot_even_when_a_worker_is_killed(
        demo_store: Engine) -> None:
    distributed = pytest.importorskip("distributed")
    params = RefreshParams(partition_customers=150)
    local = run_refresh(demo_store)  # one partition, in this process
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_class=distributed.Nanny) as cluster:
        executor = OnDask(cluster.scheduler_address)
        try:
            pids = executor.client.run(os.getpid)
            victim = sorted(pids.values())[0]
            on_cluster = refresh_beside(demo_store, local.run_id, params, executor=executor,
                                        progress=_on("scoring customers", 1, lambda: os.kill(victim, signal.SIGKILL)))
            assert victim not in executor.client.run(os.getpid).values()  # it was killed and replaced
        finally:
            executor.close()
    assert on_cluster.results["samples"]["partitions"] == 4
    assert_same_snapshot(demo_store, local.run_id, on_cluster.run_id)


@POSTGRES_ONLY
def test_the_database_going_away_mid_refresh_fails_cleanly_and_the_previous_snapshot_serves(
        demo_store: Engine) -> None:
    before: RefreshSummary = run_refresh(demo_store)
    name = demo_store.url.database

    def restart() -> None:  # what a restart does to every open connection of the refresh
        outside = create_engine(demo_store.url, poolclass=NullPool)
        with outside.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        outside.dispose()

    with pytest.raises(RefreshFailed, match="previous snapshot keeps serving"):
        run_refresh(demo_store, RefreshParams(partition_customers=200), progress=_on("scoring customers", 1, restart))
    with Session(demo_store) as session:
        assert snapshots.latest_run(session).id == before.run_id
        failed = session.scalar(select(AnalyticsRun).order_by(AnalyticsRun.id.desc()).limit(1))
        assert failed.status == "failed" and failed.id > before.run_id
        assert session.scalar(select(func.count()).select_from(CustomerScore)
                              .where(CustomerScore.run_id == failed.id)) == 0
