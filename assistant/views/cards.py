"""The customer card's content: who, what they bought, how they score, what to offer, each with why.

Slack-free: ``customer_card`` returns a view (or the candidates when a query matches several
customers); ``assistant.render.customer`` turns it into a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from analytics import words
from assistant.views.insights import Candidates, resolve_customer
from assistant.views.predictions import ExplainView, explain_customer
from db import notes, orders, predictions, snapshots
from db.models import Customer
from db.snapshot_models import CustomerScore
from db.work_models import CustomerNote


@dataclass
class CustomerCard:
    """Everything the card shows about one customer."""

    customer: Customer
    outlook: ExplainView
    totals: dict[str, object]
    cluster: str | None = None
    recommendations: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[CustomerNote] = field(default_factory=list)
    """The latest few notes, newest first (shown where the customer is shown in full)."""
    note_count: int = 0


def cluster_line(score: CustomerScore, group: str, currency: str | None) -> str:
    """The customer's behavioural cluster described as the *group's* figures, with the customer's
    own beside them (a group's median "last order 22 days ago" is not this customer's)."""
    own = (f"{words.count(score.frequency, 'order')}, average order "
           f"{words.money(score.monetary_micros / 1e6 / max(score.frequency, 1), currency)}, last order "
           f"{words.days_ago(score.recency_days)}")
    return f"cluster {score.cluster}: {group}. This customer: {own}"


CARD_NOTES = 2


def customer_card(session: Session, text: str) -> CustomerCard | Candidates:
    """The card for the customer ``text`` names, from the latest completed snapshot."""
    found = resolve_customer(session, text)
    if isinstance(found, Candidates):
        return found
    run = snapshots.latest_run(session)
    builder = predictions.latest_builder_models(session)
    outlook = explain_customer(session, found, run, builder)
    card = CustomerCard(customer=found, outlook=outlook,
                        totals=orders.customer_totals(session, found.id, run.as_of if run else None),
                        notes=notes.notes_of(session, found.id, CARD_NOTES),
                        note_count=notes.note_count(session, found.id))
    if run is not None:
        score = outlook.score
        if score is not None and score.cluster is not None:
            group = snapshots.cluster_description(session, run.id, score.cluster)
            if group:
                card.cluster = cluster_line(score, group, run.currency)
        card.recommendations = snapshots.recommendations_for(session, run.id, found.id).head(3)
    return card
