"""The customer card says nothing that contradicts itself: rhythm, next order, cluster, risk, money.

On the refreshed demo sample (real Online Retail customers), SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.jobs.refresh.run import RefreshSummary
from assistant.render.customer import card, orders_page, why
from assistant.render.insights import model_health as render_health
from assistant.views.cards import CustomerCard, customer_card
from assistant.views.predictions import explain_ties, explain_view, model_health
from db import orders, predictions, snapshots
from db.models import Customer
from db.snapshot_models import CustomerPrediction, CustomerScore

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


def _card(session: Session, ref: str) -> CustomerCard:
    found = customer_card(session, ref)
    assert isinstance(found, CustomerCard)
    return found


def _text(message: object) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)  # type: ignore[attr-defined]


def test_rhythm_counts_purchase_days_as_the_model_does_and_agrees_with_the_next_order(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        view = _card(session, "16684").outlook
        assert view.churn_why is not None and view.next_purchase is not None
        # 28 orders on 16 different days (several on one day are one visit): about every 24 days, not 13
        assert "28 orders on 16 different days, about every 24 days" in view.churn_why
        assert "about every 13 days" not in view.churn_why
        days = float(re.search(r"in about ([\d,]+) days", view.next_purchase).group(1))  # type: ignore[union-attr]
        assert abs(days - 24) <= max(0.25 * 24, 3) or "because" in view.next_purchase


def test_no_card_states_a_rhythm_and_a_next_order_that_disagree_without_saying_why(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        refs = list(session.scalars(select(Customer.external_id).join(CustomerScore, CustomerScore.customer_id
                                                                       == Customer.id)
                                    .where(CustomerScore.run_id == snapshots.latest_run(session).id)  # type: ignore[union-attr]
                                    .order_by(Customer.external_id).limit(250)))
        explained = 0
        for ref in refs:
            view = explain_view(session, ref)
            gap = re.search(r"about every ([\d,]+) days?", view.churn_why or "")
            nxt = re.search(r"next order expected in about ([\d,]+) days?", view.next_purchase or "")
            if gap is None or nxt is None:
                continue
            own, expected = float(gap.group(1).replace(",", "")), float(nxt.group(1).replace(",", ""))
            if abs(expected - own) > max(0.25 * own, 3):
                assert "because the lifetime model" in (view.next_purchase or ""), (ref, view.next_purchase)
                assert f"their own rhythm (about every {gap.group(1)} day" in (view.next_purchase or "")
                explained += 1
        assert explained > 0  # the sample has customers whose short history the model tempers


def test_the_cluster_line_is_the_groups_with_the_customers_own_figures_beside_it(refreshed: Refreshed) -> None:
    with Session(refreshed[0]) as session:
        found = _card(session, "12748")
        text = _text(card(found))
    assert re.search(r"Cluster \d+: [a-z ,-]+ buyers; a typical member: [\d,]+ orders?, median order £[\d,]+, "
                     r"last order [^;]+; \d+% of revenue\. This customer: 206 orders, average order £[\d,]+, "
                     r"last order today", text), text


def test_money_carries_the_stores_currency_and_counts_their_plural(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        assert run is not None and run.currency == "GBP"  # Online Retail's prices are in pounds sterling
        text = _text(card(_card(session, "12748")))
        assert re.search(r"Net value\*\\n£[\d,]+\.\d\d", text) and "12-month value £" in text and "x about £" in text
        single = session.scalar(select(Customer).join(CustomerScore, CustomerScore.customer_id == Customer.id)
                                .where(CustomerScore.run_id == run.id, CustomerScore.frequency == 1).limit(1))
        assert single is not None
        one = card(_card(session, single.external_id))
        assert ", 1 order, net value £" in one.text and "1 orders" not in _text(one)
        frame = orders.orders_of_customer(session, single.id, limit=10)
        lines = orders_page(single, frame, 0, False, "GBP")
        assert "1 lines" not in _text(lines) and "£" in _text(lines)


def test_churn_risk_ranks_lapsed_segments_well_above_the_best_and_ties_are_explained(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        assert run is not None
        model = predictions.latest_model(session, "purchase_next_90_days", run.id)
        assert model is not None
        rows = session.execute(select(CustomerScore.segment, CustomerPrediction.probability)
                               .join(CustomerPrediction, CustomerPrediction.customer_id == CustomerScore.customer_id)
                               .where(CustomerScore.run_id == run.id, CustomerPrediction.model_id == model.id)).all()
        risk = pd.DataFrame(rows, columns=["segment", "p"]).assign(risk=lambda f: 1 - f["p"]) \
            .groupby("segment")["risk"].mean()
        assert min(risk["Lost"], risk["Hibernating"]) > max(risk["Champions"], risk["Loyal"]) + 0.25, risk
        assert risk["At risk"] > risk["Champions"]
        view = explain_ties(session, explain_view(session, "12748"))
        told = _text(why(view))
        assert view.sharing > 0 and f"{view.sharing:,} other customer" in told and "calibration" in told


def test_model_health_says_which_date_is_the_clock_and_which_the_data(refreshed: Refreshed) -> None:
    with Session(refreshed[0]) as session:
        text = render_health(model_health(session)).text
    assert re.search(r"trained today \(\d{4}-\d\d-\d\d\) on data up to 2011-12-09", text), text
    assert "days ago)" not in text.split("trained", 1)[1][:30]
