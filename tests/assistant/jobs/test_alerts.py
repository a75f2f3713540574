"""Alerts against the fake Slack on the refreshed sample: to owners by DM, said once, never a flood."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request, UsageError
from assistant.commands.registry import route
from assistant.jobs.alerts import AlertSender
from assistant.slack.app import make_client
from assistant.slack.fake import BOT_USER, FakeSlack
from assistant.slack.poster import SlackPoster
from assistant.views.digest import risk_key
from db import kpis, snapshots
from db.access_models import AuditEntry
from db.models import Customer

REP = "U0REP0001"


@pytest.fixture(autouse=True)
def no_rep_owns_anything_after(store: Engine) -> Iterator[None]:
    """The owner a test gives customers is taken back (the store itself is cleaned by ``store``)."""
    yield
    with Session(store) as session:
        session.execute(update(Customer).where(Customer.owner == REP).values(owner=None))
        session.commit()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        running.add_channel("C0ALERTS1", "alerts", kind="private", members={BOT_USER})
        running.add_channel("C0PUBLIC1", "general", members={BOT_USER})
        running.add_channel("C0SHARED1", "with-partner", kind="shared", members={BOT_USER})
        running.add_user(REP, "robin")
        yield running


def _alert(text: str, engine: Engine, channel: str = "C0ALERTS1") -> str:
    spec, rest = route("/crm", "alert " + text)
    assert spec.check is not None
    spec.check(rest)
    context = Context(session_factory=sessionmaker(engine), clock=datetime.now, default_role="admin")
    return answer(spec.run, Request("U0ADMIN01", channel, rest), context).text


def _posts(fake: FakeSlack, channel: str) -> list[str]:
    return [str(m["text"]) for m in fake.messages_in(channel)]


def _sender(engine: Engine, fake: FakeSlack) -> AlertSender:
    return AlertSender(sessionmaker(engine), SlackPoster(make_client("xoxb-test", fake.url)))


def test_churn_alerts_go_to_the_owner_once_and_the_rest_to_the_channel(store: Engine, fake: FakeSlack) -> None:
    with Session(store) as session:
        run = snapshots.latest_run(session)
        previous = snapshots.latest_run(session, before_run=run.id)
        crossed = kpis.risk_jumps(session, risk_key(session, run), risk_key(session, previous), min_jump=0.0,
                                  limit=50, crossing=0.5)
        assert len(crossed) >= 3, "the sample's two runs must have customers crossing 0.5"
        owned = str(crossed["customer_ref"].iloc[0])
        session.execute(update(Customer).where(Customer.external_id == owned).values(owner=REP))
        session.commit()
    assert "churn risk crossing 0.50" in _alert("add churn --threshold 0.5 --max-per-hour 50", store)
    report = _sender(store, fake).run()
    assert report.sent == len(crossed)
    dm = _posts(fake, REP)
    assert len(dm) == 1 and owned in dm[0] and "/customer " + owned in dm[0]
    assert len(_posts(fake, "C0ALERTS1")) == len(crossed) - 1
    with Session(store) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert", AuditEntry.channel_id == REP,
                                                           AuditEntry.customer_ref == owned)).all()
    assert len(audited) == 1  # the DM to the owner is on record
    again = _sender(store, fake).run()  # the next tick: nothing new to say
    assert again.sent == 0 and len(_posts(fake, "C0ALERTS1")) == len(crossed) - 1


def test_alerts_over_the_hourly_limit_are_folded_into_one_line(store: Engine, fake: FakeSlack) -> None:
    _alert("add churn --threshold 0.5 --to <#C0ALERTS1|alerts> --max-per-hour 2", store)
    report = _sender(store, fake).run()
    posts = _posts(fake, "C0ALERTS1")
    assert report.sent == 2 and report.folded >= 1
    assert len(posts) == 3 and posts[-1].startswith(f"...and {report.folded} more churn risk alert")


def test_large_orders_and_kpi_anomalies_are_posted_once(store: Engine, fake: FakeSlack) -> None:
    _alert("add large-order --factor 1.5 --min-value 100 --max-per-hour 100", store)
    _alert("add anomaly --z 0.01 --max-per-hour 100", store)
    first = _sender(store, fake).run()
    posts = _posts(fake, "C0ALERTS1")
    assert first.sent == len(posts) and any("their usual" in p for p in posts)
    assert any("vs the 8-week median" in p for p in posts)
    assert _sender(store, fake).run().sent == 0


@pytest.mark.parametrize("channel", ["C0PUBLIC1", "C0SHARED1"])
def test_alerts_in_a_public_or_shared_channel_name_nobody(store: Engine, fake: FakeSlack, channel: str) -> None:
    _alert(f"add large-order --factor 1.5 --min-value 100 --max-per-hour 100 --to <#{channel}>", store)
    _alert(f"add churn --threshold 0.5 --max-per-hour 100 --to <#{channel}>", store)
    report = _sender(store, fake).run()
    posts = _posts(fake, channel)
    assert report.sent == len(posts) > 2
    with Session(store) as session:
        named = {str(c) for c in session.scalars(select(Customer.external_id).join(Customer.orders))}
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert",
                                                           AuditEntry.channel_id == channel)).all()
    for post in posts:
        assert "customer" in post and "not posted in a public or shared channel" in post
        assert not any(word.strip("*:,.()") in named for word in post.split()), post
    assert len(entries) == len(posts) and not any(e.detail["named"] for e in entries)


def test_alert_commands_list_remove_and_refuse_bad_input(store: Engine) -> None:
    said = _alert("add large-order --factor 4 --min-value 1000", store)
    rule_id = said.split("#")[1].split(":")[0]
    assert f"#{rule_id}: orders over 4x" in _alert("list", store)
    assert _alert(f"remove {rule_id}", store) == f"Alert rule #{rule_id} removed."
    assert "No alert rules" in _alert("list", store)
    for bad, words in (("add churn --threshold 2", "between 0 and 1"), ("add large-order --factor 0.5", "above 1"),
                       ("add anomaly --to owner", "only customer alerts"), ("add fire", "invalid choice"),
                       ("remove", "say which rule"), ("mute", "unknown alert command"),
                       ("add churn --to #sales", "channel mention")):
        with pytest.raises(UsageError, match=words):
            spec, rest = route("/crm", "alert " + bad)
            assert spec.check is not None
            spec.check(rest)
