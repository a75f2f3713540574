"""The customer card's content: who, what they bought, how they score, what to offer, each with why.

Slack-free: ``customer_card`` returns a view (or the candidates when a query matches several
customers); ``assistant.render.customer`` turns it into a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.insights import UserFacingError
from assistant.predictions import ExplainView, explain_customer
from db import customers, orders, predictions, snapshots
from db.models import Customer
from db.snapshot_models import ClusterStat

MAX_CANDIDATES = 5


@dataclass
class Candidates:
    """Several customers match the query: the rep picks one."""

    query: str
    customers: list[Customer]


@dataclass
class CustomerCard:
    """Everything the card shows about one customer."""

    customer: Customer
    outlook: ExplainView
    totals: dict[str, object]
    cluster: str | None = None
    recommendations: pd.DataFrame = field(default_factory=pd.DataFrame)


def resolve_customer(session: Session, text: str) -> Customer | Candidates:
    """One customer by id, e-mail or name fragment; several -> candidates; none -> a helpful error."""
    query = text.strip()
    if not query:
        raise UserFacingError("say which customer: a customer id (e.g. 12347), an e-mail or part of a name")
    exact = customers.by_external_id(session, query)
    if exact is not None:
        return exact
    found = customers.search(session, query, limit=MAX_CANDIDATES + 1)
    if len(found) == 1:
        return found[0]
    if found:
        return Candidates(query=query, customers=found[:MAX_CANDIDATES])
    close = customers.similar_names(session, query)
    hint = ("; did you mean " + ", ".join(f"{c.name or c.external_id} ({c.external_id})" for c in close) + "?"
            if close else "; try their customer id (e.g. 12347) or e-mail")
    raise UserFacingError(f"no customer matches {query[:80]!r}{hint}")


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
