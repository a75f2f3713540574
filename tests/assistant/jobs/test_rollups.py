"""The pre-aggregated sales a refresh writes answer every question exactly as the order lines do,
and are set aside as soon as an import or an erasure changes what they summed."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.jobs.refresh.run import RefreshSummary
from assistant.views.digest import risk_key
from db import rollups, snapshots
from db.models import ImportRun
from db.semantic import METRICS, Filters, NotMeasurable, Snapshot, measure

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]

PERIODS = [(None, None), (datetime(2011, 11, 1), datetime(2011, 12, 1)), (datetime(2011, 3, 14), datetime(2011, 9, 2))]
FILTERS = [Filters(), Filters(country="France"), Filters(segment="Champions"), Filters(cluster=0),
           Filters(product="85123A"), Filters(country="United Kingdom", segment="Loyal")]
GROUPS = [None, "country", "segment", "cluster", "product", "customer", "month"]
MONTHS = [(datetime(2011, m, 1), datetime(2011, m + 1, 1)) for m in range(1, 12)]


def _snapshot(session: Session) -> Snapshot:
    run = snapshots.latest_run(session)
    assert run is not None
    run_id, model_id, from_p_alive = risk_key(session, run)
    return Snapshot(run_id, model_id, from_p_alive, rollups=rollups.is_current(session, run_id, model_id))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _compare(engine: Engine, combinations: list[tuple[str, tuple[datetime | None, datetime | None], Filters,
                                                       str | None]]) -> int:
    """Measure each combination from the rollups and from the order lines; return how many compared."""
    compared = 0
    with Session(engine) as session:
        rolled = _snapshot(session)
        assert rolled.rollups, "the refresh wrote current rollups"
        raw = replace(rolled, rollups=False)
        for metric, (start, end), filters, group in combinations:
            buckets = MONTHS if group == "month" else ()
            try:
                expected = measure(session, metric, start, end, filters, group, raw, buckets)
            except NotMeasurable:
                with pytest.raises(NotMeasurable):
                    measure(session, metric, start, end, filters, group, rolled, buckets)
                continue
            got = measure(session, metric, start, end, filters, group, rolled, buckets)
            where = f"{metric} {start}..{end} {filters} by {group}"
            assert _same(got.total, expected.total), where
            left = expected.rows.set_index("key")["value"].astype(float).sort_index()
            right = got.rows.set_index("key")["value"].astype(float).sort_index()
            pd.testing.assert_series_equal(right, left, check_names=False, rtol=1e-9, obj=where)
            compared += 1
    return compared


def test_each_metric_grouping_filter_and_period_equals_the_order_lines(refreshed: Refreshed) -> None:
    # every metric with every grouping, the filters and periods taking turns (the full product: -m slow)
    combinations = [(metric, PERIODS[i % len(PERIODS)], FILTERS[i % len(FILTERS)], group)
                    for i, (metric, group) in enumerate(itertools.product(METRICS, GROUPS))]
    assert _compare(refreshed[0], combinations) > 40


@pytest.mark.full_length
def test_every_metric_filter_grouping_and_period_equals_the_order_lines(refreshed: Refreshed) -> None:
    assert _compare(refreshed[0], list(itertools.product(METRICS, PERIODS, FILTERS, GROUPS))) > 600


def test_an_import_or_an_erasure_since_the_refresh_sets_them_aside(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        snapshot = _snapshot(session)
        assert snapshot.rollups
        session.add(ImportRun(source_format="orders", source_name="late.csv", source_sha256="0" * 64,
                              started_at=datetime(2026, 12, 2), status="completed"))
        session.flush()
        assert not rollups.is_current(session, snapshot.run_id, snapshot.propensity_model_id)
        session.rollback()
        assert rollups.is_current(session, snapshot.run_id, snapshot.propensity_model_id)
        assert not rollups.is_current(session, snapshot.run_id, (snapshot.propensity_model_id or 0) + 1)
