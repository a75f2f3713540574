"""``/crm ask`` under the same privacy as the commands: aggregates for everyone, small groups left
out where many read, customer rankings only where the customer policy allows, all on record."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands import ask
from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.jobs.refresh.run import RefreshSummary
from db.access_models import AuditEntry

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


def _context(engine: Engine, role: str) -> Context:
    return Context(session_factory=sessionmaker(engine), clock=datetime.now, default_role=role, min_group=5)


def _ask(engine: Engine, role: str, place: str, question: str) -> str:
    message = answer(ask.run, Request("U0ASKER01", "C0SOMEWHERE", question, place=place), _context(engine, role),
                     "/crm ask")
    return message.text + " " + json.dumps(message.blocks, ensure_ascii=False)


def test_a_viewer_in_a_public_channel_gets_aggregates_without_small_groups(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    public = _ask(engine, "viewer", "public", "revenue last month by country")
    private = _ask(engine, "viewer", "im", "revenue last month by country")
    assert "United Kingdom" in public and "France" in public  # 905 and 27 customers: described
    assert "Finland" in private and "Finland" not in public  # a handful of customers: only in a DM
    assert "smaller groups of fewer customers than this channel may see described are left out" in public
    refused = _ask(engine, "viewer", "public", "revenue in finland last month")
    assert "fewer than 5 customers" in refused and "£" not in refused
    assert "£" in _ask(engine, "viewer", "im", "revenue in finland last month")


def test_a_ranking_of_customers_follows_the_customer_policy_and_is_on_record(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    refused = _ask(engine, "viewer", "im", "top 5 customers")
    assert "16684" not in refused and "viewer" in refused.lower()
    assert "16684" not in _ask(engine, "admin", "public", "top 5 customers")  # a public channel: aggregates only
    shown = _ask(engine, "manager", "im", "top 5 customers")
    assert "1. 16684: £" in shown
    with Session(engine) as session:
        recorded = session.scalars(select(AuditEntry.customer_ref).where(AuditEntry.action == "disclosure",
                                                                        AuditEntry.what == "metric ranking")
                                   .order_by(AuditEntry.id.desc()).limit(5)).all()
    assert "16684" in recorded


def test_questions_it_cannot_answer_say_what_it_can(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    assert "the numbers I know are: net revenue, orders" in _ask(engine, "viewer", "im", "profit last month")
    assert "ask me something" in _ask(engine, "viewer", "im", "   ")
    assert "at most 500" in _ask(engine, "viewer", "im", "revenue " * 100)
    assert "Something went wrong" not in _ask(engine, "viewer", "im", "revenue in 2031 by country")


def _turn(context: Context, question: str, place: str = "im", thread: str = "") -> str:
    message = answer(ask.run, Request("U0ASKER01", "D0ASKER01" if place == "im" else "C0SOMEWHERE", question,
                                      place=place, thread=thread), context, "/crm ask")
    return message.text + " " + json.dumps(message.blocks, ensure_ascii=False)


def test_follow_ups_refine_the_last_question_of_the_conversation(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    context = _context(engine, "manager")
    first = _turn(context, "revenue last month")
    assert "Net revenue in November 2011" in first
    france = _turn(context, "and in France?")
    assert "Net revenue in France in November 2011 (2011-11-01 to 2011-11-30): £9,310" in france
    october = _turn(context, "what about october?")
    assert "Net revenue in France in October 2011" in october
    champions = _turn(context, "only champions")
    assert "Net revenue of Champions customers in France in October 2011" in champions
    why = _turn(context, "why?")
    assert "Counted: net revenue = merchandise" in why and "Only Champions customers, in France." in why
    ranked = _turn(context, "by country, top 3")  # grouped by country now: no longer only France
    assert "Top 3 countries by net revenue in October 2011 (2011-10-01 to 2011-10-31) (Champions customers)" \
        in ranked, ranked
    elsewhere = _turn(context, "and in France?", place="public", thread="1700000000.000100")
    assert "Net revenue" not in elsewhere  # another place, another conversation: a segment overview


def test_a_conversation_ends_after_its_idle_time(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    now = [datetime(2026, 12, 2, 9, 0)]
    context = Context(session_factory=sessionmaker(engine), clock=lambda: now[0], default_role="manager",
                      conversation_idle=timedelta(minutes=30))
    assert "Net revenue in November 2011" in _turn(context, "revenue last month", place="public", thread="17.1")
    now[0] += timedelta(minutes=20)
    assert "in France in November 2011" in _turn(context, "and in France?", place="public", thread="17.1")
    now[0] += timedelta(minutes=31)
    assert "Net revenue" not in _turn(context, "and in France?", place="public", thread="17.1")
