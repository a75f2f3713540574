"""/customer and the card's buttons (Orders, Why?, Recommend, picking one of several matches)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from assistant.commands.base import Context, Request, UsageError
from assistant.errors import UserFacingError
from assistant.render import customer as render
from assistant.render import insights as render_insights
from assistant.render.blocks import Message
from assistant.views import examples, policy
from assistant.views.cards import CustomerCard, customer_card
from assistant.views.insights import Candidates, find_customer, recommend_view
from assistant.views.policy import Viewer
from assistant.views.predictions import explain_customer, explain_ties
from db import orders, predictions, snapshots
from db.models import Customer

MAX_QUERY = 200


def check_query(text: str) -> str:
    """A customer query must name someone and be of sane length."""
    query = text.strip()
    if not query:
        raise UsageError(f"say which customer: `/customer {examples.CUSTOMER}`, an e-mail, or part of a name")
    if len(query) > MAX_QUERY:
        raise UsageError(f"that is {len(query):,} characters; give a customer id, an e-mail or part of a name")
    return query


def _refuse_unless_individuals(session: Session, request: Request, context: Context) -> Viewer:
    """Before looking anyone up: a look-up's errors name people too ("did you mean ...", "matches
    several: ...") and would tell whether a customer exists."""
    me = context.viewer(session, request)
    policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
    return me


def _allowed(request: Request, context: Context, me: Viewer, customer: Customer, what: str,
             fields: tuple[str, ...]) -> str:
    """The disclosure level for this customer here (or a refusal in words); owed to the audit log
    (``answer`` records it with the command before the answer is shown)."""
    level = policy.customer_level(me, customer.owner)
    policy.require_individuals(me, level, sorted(context.admins))
    request.disclosures.append({"what": what, "customer_ref": customer.external_id,
                                "detail": {"fields": list(fields), "level": level, "role": me.role,
                                           "place": me.place}})
    return level


CARD_FIELDS = ("id", "name", "country", "email", "phone", "owner", "orders", "value", "segment", "scores",
               "recommendations")


def run(request: Request, context: Context) -> Message:
    """The customer card for an id, e-mail or name fragment (a pick-list when several match)."""
    query = check_query(request.text)
    with context.session_factory() as session:
        me = _refuse_unless_individuals(session, request, context)
        found = customer_card(session, query)
        if isinstance(found, Candidates):
            return render.candidates(found)
        level = _allowed(request, context, me, found.customer, "customer card",
                         CARD_FIELDS + (("notes",) if level_shows_notes(me, found) else ()))
        return render.card(found, level, may_write(me, found.customer, context))


def level_shows_notes(me: Viewer, card: CustomerCard) -> bool:
    """Whether the card will show notes' text (owed to the audit log's list of fields)."""
    return bool(card.notes) and policy.customer_level(me, card.customer.owner) == policy.FULL


def may_write(me: Viewer, customer: Customer, context: Context) -> bool:
    """Whether the card offers Add note and Assign to this viewer."""
    try:
        policy.require_writer(me, customer.owner, sorted(context.admins), "writing")
    except UserFacingError:
        return False
    return True


def orders_page(request: Request, context: Context) -> Message:
    """Button "Orders"/"More": ``text`` is ``external_id|offset``."""
    ref, _, offset_text = request.text.partition("|")
    offset = int(offset_text) if offset_text.isdigit() else 0
    with context.session_factory() as session:
        me = _refuse_unless_individuals(session, request, context)
        customer = find_customer(session, ref)
        _allowed(request, context, me, customer, "orders", ("orders",))
        frame = orders.orders_of_customer(session, customer.id, limit=render.ORDERS_PAGE + 1, offset=offset)
        return render.orders_page(customer, frame.head(render.ORDERS_PAGE), offset, len(frame) > render.ORDERS_PAGE,
                                  snapshots.store_currency(session))


def why(request: Request, context: Context) -> Message:
    """Button "Why?": every factor of every score."""
    with context.session_factory() as session:
        me = _refuse_unless_individuals(session, request, context)
        found = find_customer(session, request.text)
        _allowed(request, context, me, found, "why", ("scores", "explanations"))
        builder = predictions.latest_builder_models(session)
        return render.why(explain_ties(session, explain_customer(session, found, snapshots.latest_run(session),
                                                                builder)))


def recommend(request: Request, context: Context) -> Message:
    """Button "Recommend" and ``/crm recommend``: products to offer, each with the reason."""
    check_query(request.text)
    with context.session_factory() as session:
        me = _refuse_unless_individuals(session, request, context)
        view = recommend_view(session, request.text)
        _allowed(request, context, me, view.customer, "recommendations", ("recommendations",))
        return render_insights.recommend(view)
