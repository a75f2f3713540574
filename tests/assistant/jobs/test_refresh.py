"""The refresh job on the demo sample (SQLite and PostgreSQL), checked against pandas on the raw CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from analytics.rfm import SEGMENTS
from assistant.errors import UserFacingError
from assistant.jobs.refresh.inputs import NothingToAnalyse
from assistant.jobs.refresh.run import RefreshSummary, run_refresh
from assistant.views.insights import recommend_view, rules_view, segments_view
from db import snapshots
from db.importers import ImportOptions, import_file
from db.importers.rules import product_kind
from db.models import Customer
from db.rollup_models import ROLLUP_TABLES, RollupRun, SalesRollup
from db.sample import ONLINE_RETAIL_SAMPLE
from db.snapshot_models import (
    AnalyticsRun,
    BasketRule,
    CustomerLifetime,
    CustomerPrediction,
    CustomerScore,
    PredictionModel,
    Recommendation,
    SegmentStat,
)


def _independent_rfm(as_of: datetime) -> pd.DataFrame:
    raw = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False)
    raw = raw[(raw["CustomerID"] != "") & (raw["StockCode"].map(product_kind) == "product")]
    raw = raw.assign(q=raw["Quantity"].astype(int), p=raw["UnitPrice"].map(Decimal),
                     at=pd.to_datetime(raw["InvoiceDate"]))
    raw = raw[raw["at"] <= as_of]
    first_lines = raw[~raw.duplicated(["InvoiceNo", "StockCode", "Quantity", "UnitPrice"])]
    sales = first_lines[first_lines["InvoiceNo"].str[0].str.isdigit() & (first_lines["q"] > 0) & (first_lines["p"] > 0)]
    credits = raw[raw["InvoiceNo"].str.startswith("C") & (raw["q"] < 0) & (raw["p"] > 0)]
    value = lambda f: (f["q"].map(Decimal) * f["p"]).groupby(f["CustomerID"]).sum()  # noqa: E731
    frame = sales.groupby("CustomerID").agg(orders=("InvoiceNo", "nunique"), last=("at", "max"))
    frame["monetary"] = value(sales).add(value(credits).reindex(frame.index).fillna(Decimal(0)))  # credits < 0
    frame["recency_days"] = (pd.Timestamp(as_of).normalize() - frame["last"].dt.normalize()).dt.days
    return frame


def _stored_scores(engine: Engine, run_id: int) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.execute(select(Customer.external_id, CustomerScore.recency_days, CustomerScore.frequency,
                                      CustomerScore.monetary_micros, CustomerScore.segment,
                                      CustomerScore.previous_segment, CustomerScore.cluster)
                               .join(Customer, Customer.id == CustomerScore.customer_id)
                               .where(CustomerScore.run_id == run_id)).all()
    return pd.DataFrame(rows, columns=["ref", "recency_days", "frequency", "monetary_micros", "segment",
                                       "previous_segment", "cluster"]).set_index("ref")


def test_rfm_figures_match_an_independent_computation(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    engine, first, second = refreshed
    for summary in (first, second):
        stored = _stored_scores(engine, summary.run_id)
        expected = _independent_rfm(summary.as_of)
        assert sorted(stored.index) == sorted(expected.index)  # every customer with a sale, once
        for ref in ("12748", "18118", "14056", expected.index[0], expected.index[-1]):
            assert stored.at[ref, "frequency"] == expected.at[ref, "orders"], ref
            assert stored.at[ref, "recency_days"] == expected.at[ref, "recency_days"], ref
            assert Decimal(int(stored.at[ref, "monetary_micros"])) / 1_000_000 == expected.at[ref, "monetary"], ref
        assert (stored["frequency"] == expected.loc[stored.index, "orders"]).all()


def test_segments_partition_the_customers(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    engine, _, second = refreshed
    stored = _stored_scores(engine, second.run_id)
    assert stored["segment"].isin(list(SEGMENTS)).all()
    with Session(engine) as session:
        sizes = dict(session.execute(select(SegmentStat.segment, SegmentStat.customers)
                                     .where(SegmentStat.run_id == second.run_id)).all())
    assert set(sizes) == set(SEGMENTS)
    assert sum(sizes.values()) == len(stored) == second.customers
    assert stored["segment"].value_counts().to_dict() == {k: v for k, v in sizes.items() if v}
    assert stored["cluster"].notna().all()


def test_movement_is_one_query(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    engine, first, second = refreshed
    before = _stored_scores(engine, first.run_id)["segment"]
    now = _stored_scores(engine, second.run_id)
    assert (now["previous_segment"].dropna() == before.reindex(now["previous_segment"].dropna().index)).all()
    moved = now[(now["previous_segment"] == "Loyal") & (now["segment"] == "At risk")]
    with Session(engine) as session:
        movers = snapshots.movers(session, second.run_id, "Loyal", "At risk")
        stats = {s.segment: s for s in session.scalars(select(SegmentStat).where(SegmentStat.run_id == second.run_id))}
    assert sorted(movers["customer_ref"]) == sorted(moved.index)
    for segment, stat in stats.items():
        here_now, here_before = now["segment"] == segment, before == segment
        assert stat.previous_customers == int(here_before.sum()), segment
        assert stat.moved_in == int((here_now & (now["previous_segment"] != segment)).sum()), segment
        stayed = now.index[here_now & (now["previous_segment"] == segment)]
        assert stat.moved_out == int(here_before.sum()) - len(stayed), segment


def test_run_records_params_sizes_and_refusals(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    engine, first, second = refreshed
    with Session(engine) as session:
        run = session.get(AnalyticsRun, second.run_id)
        assert run.status == "completed" and run.as_of == second.as_of
        assert run.params["rules"]["min_support"] == 0.01 and run.params["random_state"] == 42
        assert run.input_sizes["customers_with_sales"] == second.customers
        assert run.results["previous_run"] == first.run_id
        assert set(run.results["clusters"]["silhouette_by_k"]) >= {"2", "3"}
        assert 0 <= run.results["clusters"]["stability_ari"] <= 1
        assert {"segment", "cluster", "purchase_next_90_days"} <= set(run.results["feature_importance"])
        assert session.scalar(select(func.count()).select_from(BasketRule).where(BasketRule.run_id == run.id)) \
            == run.results["rules"]["rules"] > 0
        recs = session.scalar(select(func.count()).select_from(Recommendation).where(Recommendation.run_id == run.id))
        assert recs == run.results["recommendations"]["rows"] > 0
        lifetime = run.results["lifetime"]
        assert lifetime["model"] == f"{lifetime['choice']['chosen']} + Gamma-Gamma"
        assert lifetime["fitted_on"] == second.customers and lifetime["choice"]["reason"]
        assert set(lifetime["choice"]["held_out_log_likelihood"]) == {"BG/NBD", "MBG/NBD"}
        propensity = session.scalar(select(PredictionModel).where(PredictionModel.run_id == run.id))
        groups = propensity.training["groups"]
        assert [row["group"] for row in groups["country"]][:1] == ["United Kingdom"]  # the only country of 100+
        assert {row["group"] for row in groups["segment"]} <= set(SEGMENTS) and groups["segment"]
        assert all(0 <= row["roc_auc"] <= 1 and isinstance(row["flagged"], bool)
                   for rows in groups.values() for row in rows)
        assert propensity.training["stacked_cutoffs"] == 5 and "low" in propensity.training["against_previous"]
        assert session.scalar(select(func.count()).select_from(CustomerLifetime)
                              .where(CustomerLifetime.run_id == run.id)) == second.customers
        table = CustomerLifetime
        low, clv, high = session.execute(select(func.max(table.clv_low_micros - table.clv_micros),
                                                func.min(table.clv_micros),
                                                func.min(table.clv_high_micros - table.clv_micros))
                                         .where(table.run_id == run.id)).one()
        assert low <= 0 <= high and clv >= 0


def test_views_for_people(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    engine, _, second = refreshed
    with Session(engine) as session:
        view = segments_view(session, "can\u2019t lose them")  # as Slack types it
        assert view.segment == "Can't lose them" and view.run.id == second.run_id
        with pytest.raises(UserFacingError, match="the segments are: Champions"):
            segments_view(session, "VIPs")
        rules = rules_view(session, "85123A")  # every mined rule about it leads *to* it; from it, only weaker pairs
        assert rules.reverse_sentences and all("also buy WHITE HANGING HEART T-LIGHT HOLDER:" in s
                                               for s in rules.reverse_sentences)
        assert not rules.sentences and rules.weaker_sentences
        assert all(s.startswith("Customers who buy WHITE HANGING HEART T-LIGHT HOLDER also buy")
                   for s in rules.weaker_sentences)
        assert rules_view(session, "POST").refusal.startswith("POST (POSTAGE) is a postage code")
        with pytest.raises(UserFacingError, match="no product with code"):
            rules_view(session, "NOPE")
        recommended = recommend_view(session, "12748")
        assert not recommended.recommendations.empty
        assert recommended.lifetime is not None and recommended.lifetime.p_alive > 0.9
        owned = set(pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str).query("CustomerID == '12748'")["StockCode"])
        assert not set(recommended.recommendations["sku"]) & owned
        one_order = _stored_scores(engine, second.run_id).query("frequency == 1").index[0]
        assert "Only one order so far" in " ".join(recommend_view(session, one_order).notes)


def _small_store(engine: Engine, tmp_path: Path, customers: int, orders_each: int) -> None:
    rows = ["order_id,customer_id,date,sku,quantity,unit_price"]
    for c in range(customers):
        for o in range(orders_each):
            rows += [f"{c}-{o},C{c},2024-0{1 + o % 9}-1{c % 10} 10:00,SKU{(c + o) % 7},1,{2 + c % 5}.50",
                     f"{c}-{o},C{c},2024-0{1 + o % 9}-1{c % 10} 10:00,SKU{(c + o + 1) % 7},2,3.00"]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(rows) + "\n")
    import_file(engine, "orders", path, ImportOptions(reject_dir=tmp_path))


def test_thin_data_gets_honest_refusals(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NothingToAnalyse, match="no sales to analyse"):
        run_refresh(engine)
    _small_store(engine, tmp_path, customers=30, orders_each=2)
    summary = run_refresh(engine)
    assert summary.customers == 30
    assert summary.results["clusters"] == {"refused": "clusters need at least 100 customers with a purchase; "
                                                      "there are 30"}
    assert summary.results["rules"] == {"refused": "basket rules need at least 100 orders; there are 60"}
    assert summary.results["lifetime"] == {"refused": "lifetime models need at least 200 customers; there are 30"}
    assert summary.results["propensity"] == {"refused": "propensity models need at least 300 customers and 30 "
                                                        "buyers in the training period; there are 0 and 0"}
    with Session(engine) as session:
        assert rules_view(session).refusal.startswith("No basket rules: basket rules need at least 100 orders")
        notes = " ".join(recommend_view(session, "C1").notes)
        assert "No basket rules this run" in notes
        assert segments_view(session).table["customers"].sum() == 30


def test_old_runs_are_pruned_with_their_rows(engine: Engine, tmp_path: Path) -> None:
    _small_store(engine, tmp_path, customers=30, orders_each=2)
    first = run_refresh(engine, keep_runs=2)
    run_refresh(engine, keep_runs=2)
    third = run_refresh(engine, keep_runs=2)
    assert third.results["pruned_runs"] == 1
    with Session(engine) as session:
        assert session.scalars(select(AnalyticsRun.id).order_by(AnalyticsRun.id)).all() == [first.run_id + 1,
                                                                                              third.run_id]
        assert session.scalar(select(func.count()).select_from(CustomerScore)
                              .where(CustomerScore.run_id == first.run_id)) == 0
        assert session.scalar(select(func.count()).select_from(SegmentStat)
                              .where(SegmentStat.run_id == first.run_id)) == 0
        assert session.get(AnalyticsRun, third.run_id).results["previous_run"] == first.run_id + 1
        assert session.scalars(select(PredictionModel.run_id).order_by(PredictionModel.id)).all() == [
            first.run_id + 1, third.run_id]
        assert session.scalars(select(RollupRun.run_id).order_by(RollupRun.run_id)).all() == [first.run_id + 1,
                                                                                               third.run_id]
        for table in ROLLUP_TABLES:  # each run's pre-aggregated sales go with it
            assert session.scalar(select(func.count()).select_from(table).where(table.run_id == first.run_id)) == 0
        assert session.scalar(select(func.count()).select_from(SalesRollup)
                              .where(SalesRollup.run_id == third.run_id)) > 0


def test_too_little_history_for_a_model_gets_the_labelled_lifetime_baseline(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = ["order_id,customer_id,date,sku,quantity,unit_price"]
    for c in range(250):  # buy-till-you-die buyers: own rate (gamma mixed), own lifetime (exponential)
        rate, day, stop = rng.gamma(0.8, 1 / 30), rng.uniform(0, 200), rng.exponential(250)
        price = rng.lognormal(2.0, 0.8)  # each buyer's own typical spend
        start, o = day, 0
        while o == 0 or (day < min(start + stop, 330)):
            when = datetime(2024, 1, 1, 10) + timedelta(days=float(day))
            rows.append(f"{c}-{o},C{c},{when:%Y-%m-%d %H:%M},SKU{rng.integers(20)},1,{price * rng.gamma(4, 0.25):.2f}")
            day, o = day + rng.exponential(1 / rate), o + 1
    (tmp_path / "orders.csv").write_text("\n".join(rows) + "\n")
    import_file(engine, "orders", tmp_path / "orders.csv", ImportOptions(reject_dir=tmp_path))
    summary = run_refresh(engine)
    assert "lifetime" in summary.results and "refused" not in summary.results["lifetime"]
    assert summary.results["propensity"]["refused"].startswith("propensity models need at least 300 customers")
    assert summary.results["propensity"]["stand_in"] == "lifetime model baseline"
    with Session(engine) as session:
        model = session.scalar(select(PredictionModel).where(PredictionModel.run_id == summary.run_id))
        assert model.status == "baseline" and model.refusal.startswith("propensity models need")
        rows = session.scalars(select(CustomerPrediction).where(CustomerPrediction.model_id == model.id)).all()
        assert len(rows) == 250
        assert all(r.explanation.startswith("baseline estimate (not enough history for a trained model)")
                   and 0 <= r.probability <= 1 and r.score is None for r in rows)
