"""Predictions end to end on a real store (SQLite and PostgreSQL): scores, explanations, health, builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.jobs.refresh.run import RefreshSummary
from assistant.jobs.training import retrain_stale, train_target
from assistant.views.predictions import explain_view, model_health
from assistant.views.score_exports import score_export
from db import predictions
from db.importers import ImportOptions, import_file
from db.models import Customer
from db.snapshot_models import CustomerPrediction, CustomerScore, PredictionModel

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


def test_refresh_scores_every_customer_with_stored_explanations_that_add_up(refreshed: Refreshed) -> None:
    engine, _, latest = refreshed
    with Session(engine) as session:
        model = predictions.latest_model(session, "purchase_next_90_days", latest.run_id)
        assert model is not None and model.status == "trained"
        assert model.version == f"propensity-3:{model.model_name}:seed42"
        kinds = {row["model"]: row["kind"] for row in model.metrics}
        assert {"logistic regression", "decision tree", "linear SVM", "gradient boosting"} <= set(kinds)
        assert kinds["recency only"] == kinds["BG/NBD expected purchases"] == "baseline"
        assert model.reliability and sum(r["customers"] for r in model.reliability) == \
            model.training["comparison_sizes"]["test_customers"]
        assert {row["feature"] for row in model.drift} >= {"recency_days", "frequency"}
        rows = session.scalars(select(CustomerPrediction).where(CustomerPrediction.model_id == model.id)).all()
        scored = session.scalar(select(func.count()).select_from(CustomerScore)
                                .where(CustomerScore.run_id == latest.run_id))
        assert len(rows) == scored == latest.customers
        for row in rows:
            total = row.base_score + sum(f["contribution"] for f in row.factors)
            assert total == pytest.approx(row.score, abs=1e-9)
            assert 0 <= row.probability <= 1
            assert "in the next 90 days" in row.explanation
        assert any(r.counterfactual for r in rows)


def test_explain_gives_every_score_its_reason(refreshed: Refreshed) -> None:
    engine, _, latest = refreshed
    with Session(engine) as session:
        view = explain_view(session, "12748")
        assert view.propensity is not None and view.propensity[1] is not None
        assert view.propensity[1].explanation.startswith("likely to buy in the next 90 days")
        assert view.churn_why is not None and view.churn_why.startswith("churn risk")
        assert view.next_purchase is not None and view.next_purchase.startswith("next order expected in about")
        assert view.value_why is not None and "12-month value" in view.value_why
        with pytest.raises(UserFacingError, match="no customer matches"):
            explain_view(session, "no such customer")
        health = {item.model.target: item for item in model_health(session)}
        assert health["purchase_next_90_days"].scored == latest.customers
        assert health["purchase_next_90_days"].model.run_id == latest.run_id


TELCO_ROWS = 2000
"""The store-level test uses the first 2,000 Telco customers: the full-data figures are asserted by
tests/analytics/test_builder.py; here it is the path through the store that matters."""


@pytest.fixture
def telco_store(engine: Engine, datasets: Path, tmp_path: Path) -> Engine:
    source = datasets / "telco-customer-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    subset = tmp_path / "telco.csv"
    subset.write_text("".join(source.read_text().splitlines(keepends=True)[: TELCO_ROWS + 1]))
    import_file(engine, "customers", subset, ImportOptions(reject_dir=tmp_path, renames={"customerID": "customer_id"}))
    return engine


def test_prediction_builder_on_telco_churn_in_the_store(telco_store: Engine) -> None:
    with Session(telco_store) as session, pytest.raises(UserFacingError, match="no prediction models yet"):
        model_health(session)
    with pytest.raises(UserFacingError, match=r"no customer attribute called 'churned'; the attributes are: .*Churn"):
        train_target(telco_store, "churned")
    with pytest.raises(UserFacingError, match="'Contract' is not a yes/no column"):
        train_target(telco_store, "Contract")
    summary = train_target(telco_store, "Churn", budget_seconds=3, actionable=["Contract"], goal="lower")
    table = summary.result.table.set_index("model")
    assert table.loc[summary.result.winner, "roc_auc"] > 0.78
    assert table.loc[summary.result.winner, "roc_auc"] > table.loc["majority class", "roc_auc"] + 0.25
    assert summary.scored == TELCO_ROWS
    with Session(telco_store) as session:
        stored = session.get(PredictionModel, summary.model_id)
        assert stored.run_id is None and stored.status == "trained" and stored.target == "Churn"
        assert stored.training["left_out"]["country"] == "always empty"
        view = explain_view(session, "7590-VHVEG")
        assert view.run is None and len(view.builder) == 1
        _, prediction = view.builder[0]
        assert prediction is not None and "chance of Churn" in prediction.explanation
        total = prediction.base_score + sum(f["contribution"] for f in prediction.factors)
        assert total == pytest.approx(prediction.score, abs=1e-9)
        assert stored.training["actionable"] == ["Contract"] and stored.training["search"]["trials"] >= 2
        export = score_export(session, "Churn")
        rows = list(export.rows)
        assert len(rows) == TELCO_ROWS and [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
        assert all(r[2].startswith(("up: ", "down: ")) for r in rows) and rows[0][5].startswith("high chance")
        with pytest.raises(UserFacingError, match="no scores for 'churned': the targets are purchase, churn, Churn"):
            score_export(session, "churned")
        health = model_health(session)
        assert [h.model.target for h in health] == ["Churn"]
        assert health[0].drift and all(row["level"] == "stable" for row in health[0].drift)
        for customer in session.scalars(select(Customer).where(Customer.id % 2 == 0)):
            customer.attributes = {**customer.attributes, "Contract": "Two year"}
        session.commit()
        drift = {row["feature"]: row["level"] for row in model_health(session)[0].drift}
        assert drift["Contract"] == "major shift" and drift["tenure"] == "stable"


def test_last_weeks_answer_is_reproduced_by_the_same_date_and_seed(engine: Engine, tmp_path: Path) -> None:
    from datetime import datetime

    from assistant.jobs.refresh.inputs import RefreshParams
    from assistant.jobs.refresh.run import run_refresh
    from db.sample import ONLINE_RETAIL_SAMPLE

    import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=tmp_path))
    params = RefreshParams(as_of=datetime(2011, 11, 30, 23, 59), random_state=7)
    first, second = run_refresh(engine, params), run_refresh(engine, params)
    with Session(engine) as session:
        models = [predictions.latest_model(session, "purchase_next_90_days", run.run_id) for run in (first, second)]
        assert models[0].version == models[1].version and models[0].version.endswith(":seed7")
        assert models[0].metrics == models[1].metrics
        scores = [dict(session.execute(select(CustomerPrediction.customer_id, CustomerPrediction.probability)
                                       .where(CustomerPrediction.model_id == m.id)).all()) for m in models]
        assert scores[0] == scores[1] and len(scores[0]) > 500


# Which models are stale is read through the same queries as model-health, tested on both backends above.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_stale_builder_models_are_retrained_with_their_options_and_say_why(telco_store: Engine) -> None:
    first = train_target(telco_store, "Churn", budget_seconds=2, actionable=["Contract"], goal="lower")
    assert retrain_stale(telco_store, max_age_days=30) == []  # fresh and not drifted: left alone
    later = datetime.now(UTC) + timedelta(days=45)
    done = retrain_stale(telco_store, max_age_days=30, clock=lambda: later)
    assert [target for target, _ in done] == ["Churn"] and "trained 45 days ago" in done[0][1][0]
    with Session(telco_store) as session:
        newest = predictions.latest_model(session, "Churn")
        assert newest is not None and newest.id != first.model_id
        assert newest.training["retrained_because"] == done[0][1]
        assert newest.training["actionable"] == ["Contract"] and newest.training["goal"] == "lower"
        assert newest.training["budget_seconds"] == 2
