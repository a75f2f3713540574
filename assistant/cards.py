"""The customer card's content: who, what they bought, how they score, what to offer, each with why.

Slack-free: ``customer_card`` returns a view (or the candidates when a query matches several
customers); ``assistant.render.customer`` turns it into a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.insights import Candidates, resolve_customer
from assistant.predictions import ExplainView, explain_customer
from db import orders, predictions, snapshots
from db.models import Customer
from db.snapshot_models import ClusterStat


@dataclass
class CustomerCard:
    """Everything the card shows about one customer."""

    customer: Customer
    outlook: ExplainView
    totals: dict[str, object]
    cluster: str | None = None
    recommendations: pd.DataFrame = field(default_factory=pd.DataFrame)


def customer_card(session: Session, text: str) -> CustomerCard | Candidates:
    """The card for the customer ``text`` names, from the latest completed snapshot."""
    found = resolve_customer(session, text)
    if isinstance(found, Candidates):
        return found
    run = snapshots.latest_run(session)
    builder = [m for m in predictions.latest_models(session) if m.run_id is None]
    outlook = explain_customer(session, found, run, builder)
    card = CustomerCard(customer=found, outlook=outlook,
                        totals=orders.customer_totals(session, found.id, run.as_of if run else None))
    if run is not None:
        score = outlook.score
        if score is not None and score.cluster is not None:
            card.cluster = session.scalar(select(ClusterStat.description).where(
                ClusterStat.run_id == run.id, ClusterStat.cluster == score.cluster))
        card.recommendations = snapshots.recommendations_for(session, run.id, found.id).head(3)
    return card
