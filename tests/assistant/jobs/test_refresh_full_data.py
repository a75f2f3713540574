"""The refresh on the full UCI Online Retail file: churn risk ranks the segments as a marketer expects.

Minutes of work (a full import and refresh), so under ``full_length`` (``pytest -m slow``); the
same check on the demo sample (a real 1,000-customer subset) runs by default in
``tests/assistant/views/test_cards.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.jobs.refresh.run import run_refresh
from db import predictions, snapshots
from db.importers import ImportOptions, import_file
from db.snapshot_models import CustomerLifetime, CustomerPrediction, CustomerScore

pytestmark = [pytest.mark.slow, pytest.mark.full_length]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_churn_risk_on_online_retail_ranks_lapsed_segments_well_above_the_best(
        engine: Engine, online_retail_path: Path, tmp_path: Path) -> None:
    import_file(engine, "online-retail", online_retail_path, ImportOptions(reject_dir=tmp_path))
    summary = run_refresh(engine)
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        assert run is not None and run.id == summary.run_id and run.currency == "GBP"
        if run.results["lifetime"].get("dropout_identified", True):
            query = select(CustomerScore.segment, (1 - CustomerLifetime.p_alive).label("risk")).join(
                CustomerLifetime, (CustomerLifetime.customer_id == CustomerScore.customer_id)
                & (CustomerLifetime.run_id == run.id))
        else:
            model = predictions.latest_model(session, "purchase_next_90_days", run.id)
            assert model is not None
            query = select(CustomerScore.segment, (1 - CustomerPrediction.probability).label("risk")).join(
                CustomerPrediction, (CustomerPrediction.customer_id == CustomerScore.customer_id)
                & (CustomerPrediction.model_id == model.id))
        risk = pd.DataFrame(session.execute(query.where(CustomerScore.run_id == run.id)).all(),
                            columns=["segment", "risk"]).groupby("segment")["risk"].mean()
    assert min(risk["Lost"], risk["Hibernating"]) > max(risk["Champions"], risk["Loyal"]) + 0.25, risk
    assert risk["At risk"] > risk["Champions"] and risk["Need attention"] > risk["Champions"], risk
