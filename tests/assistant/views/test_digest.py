"""The digest on the refreshed demo sample: KPIs against the raw CSV, privacy by channel, commands, schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.registry import route
from assistant.jobs.schedule import due_now, latest_fire, period_key
from assistant.render.chart import trend_chart
from assistant.render.digest import digest_message
from assistant.views.digest import build_digest
from db.access_models import AuditEntry
from db.digest_models import DigestSubscription
from db.sample import ONLINE_RETAIL_SAMPLE


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame["value"] = frame["Quantity"] * frame["UnitPrice"]
    frame["prefix"] = frame["InvoiceNo"].str[0]
    frame["CustomerID"] = frame["CustomerID"].str.replace(r"\.0$", "", regex=True)
    return frame


def test_weekly_kpis_equal_the_raw_export(store: Engine, raw: pd.DataFrame) -> None:
    with Session(store) as session:
        digest = build_digest(session)
    assert digest.end == datetime(2011, 12, 10)  # midnight after the sample's last sale
    sales = raw[~raw["prefix"].isin(["C", "A"])]
    firsts = sales.dropna(subset=["CustomerID"]).groupby("CustomerID")["InvoiceDate"].min()
    for i, (start, end) in enumerate(digest.periods):
        window = raw[(raw["InvoiceDate"] >= start) & (raw["InvoiceDate"] < end)]
        in_sales = window[~window["prefix"].isin(["C", "A"])]
        row = digest.kpis.iloc[i]
        assert row["net_revenue_micros"] == round(window.loc[window["prefix"] != "A", "value"].sum() * 1e6)
        assert row["orders"] == in_sales["InvoiceNo"].nunique()
        assert row["active_customers"] == in_sales["CustomerID"].dropna().nunique()
        assert row["new_customers"] == ((firsts >= start) & (firsts < end)).sum()
    assert digest.changes[0].now == pytest.approx(digest.kpis["net_revenue"].iloc[-1])


def test_digest_names_customers_only_where_the_channel_may_show_them(store: Engine) -> None:
    with Session(store) as session:
        digest = build_digest(session)
    assert digest.previous_run is not None and digest.moved_total > 0 and not digest.risk_jumps.empty
    private, public = digest_message(digest, disclose_people=True), digest_message(digest, disclose_people=False)
    for message in (private, public):
        assert len(message.blocks) <= 50
        for raw_block in message.blocks:
            Block.parse(raw_block).validate_json()  # type: ignore[union-attr]
    ref = str(digest.risk_jumps["customer_ref"].iloc[0])
    assert ref in json.dumps(private.blocks)
    assert ref not in json.dumps(public.blocks) and "/crm atrisk" in json.dumps(public.blocks)
    assert public.text == private.text and "revenue" in public.text
    png = trend_chart(digest)
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


def test_segment_digest_counts_only_that_segments_customers(store: Engine) -> None:
    with Session(store) as session:
        everyone = build_digest(session)
        champions = build_digest(session, segment="Champions")
    assert (champions.kpis["active_customers"] <= everyone.kpis["active_customers"]).all()
    assert champions.kpis["net_revenue_micros"].sum() < everyone.kpis["net_revenue_micros"].sum()
    assert all("Champions" in (m.from_segment, m.to_segment) for m in champions.moves.itertuples())


def test_digest_commands_subscribe_list_preview_unsubscribe(store: Engine) -> None:
    context = Context(session_factory=sessionmaker(store), clock=lambda: datetime(2026, 11, 24, 6, 0),
                      default_role="admin", default_timezone="Europe/London")

    def run(text: str, channel: str = "C0SALES01") -> str:
        spec, rest = route("/crm", "digest " + text)
        if spec.check is not None:
            spec.check(rest)
        return answer(spec.run, Request("U0ADMIN01", channel, rest), context).text

    said = run("subscribe weekly fri 17:30")
    assert "<#C0SALES01> will get the weekly digest on Fri at 17:30 Europe/London" in said
    assert "the first on Fri 27 Nov 2026 17:30 GMT" in said
    other = run("subscribe <#C0OTHER01|other> daily 8:00 America/New_York --segment at risk --quiet skip")
    assert "daily digest about At risk at 08:00 America/New_York" in other
    listed = run("list all")
    assert "<#C0SALES01>: weekly on Fri at 17:30" in listed and "<#C0OTHER01> about At risk" in listed
    run("subscribe weekly mon 09:00")  # again: updated, not duplicated
    with Session(store) as session:
        subs = session.query(DigestSubscription).filter_by(channel_id="C0SALES01").all()
        assert len(subs) == 1 and (subs[0].weekday, subs[0].hour) == (0, 9)
    assert "Weekly digest" in run("preview")
    assert run("unsubscribe").startswith("Stopped 1 digest subscription")
    assert "No digest subscriptions in <#C0SALES01>" in run("list")
    for bad, words in (("subscribe Mars/Olympus", "unknown time zone"), ("subscribe #sales", "mention the channel"),
                       ("subscribe at noon", "did not understand"), ("frobnicate", "unknown digest command"),
                       ("subscribe --segment nope", "no segment called"), ("subscribe --quiet loud", "invalid")):
        with pytest.raises(Exception, match=words):
            route_and_check("/crm", "digest " + bad)


def test_a_shared_channel_gets_digests_only_if_an_admin_allows_it(store: Engine) -> None:
    kinds = {"C0PARTNER": "shared", "C0SALES01": "public"}
    context = Context(session_factory=sessionmaker(store), clock=lambda: datetime(2026, 11, 24, 6, 0),
                      default_role="marketer", admins=frozenset({"U0ADMIN01"}), channel_kind=kinds.__getitem__)

    def run(user: str, text: str, channel: str = "C0PARTNER") -> str:
        spec, rest = route("/crm", "digest " + text)
        return answer(spec.run, Request(user, channel, rest), context).text

    refused = run("U0MARKET1", "subscribe weekly")
    assert "shared with another organisation (Slack Connect)" in refused and "--allow-shared" in refused
    assert "<@U0ADMIN01>" in refused
    assert "<#C0PARTNER> will get" not in run("U0MARKET1", "subscribe <#C0PARTNER> weekly", channel="C0SALES01")
    assert "allowing digests in a shared channel needs the admin role; ask <@U0ADMIN01>" in run(
        "U0MARKET1", "subscribe weekly --allow-shared")
    assert "<#C0PARTNER> will get the weekly digest" in run("U0ADMIN01", "subscribe weekly --allow-shared")
    assert "<#C0SALES01> will get the weekly digest" in run("U0MARKET1", "subscribe weekly", channel="C0SALES01")
    with Session(store) as session:
        allowed = dict(session.query(DigestSubscription.channel_id, DigestSubscription.allow_shared).all())
        entries = session.query(AuditEntry).filter_by(action="digest", what="allowed in a shared channel").all()
    assert allowed == {"C0PARTNER": True, "C0SALES01": False}
    assert [(e.user_id, e.channel_id) for e in entries] == [("U0ADMIN01", "C0PARTNER")]


@pytest.mark.parametrize(("role", "named"), [("admin", True), ("marketer", True), ("viewer", False)])
def test_the_preview_names_customers_only_for_roles_that_may_see_them(store: Engine, role: str, named: bool) -> None:
    context = Context(session_factory=sessionmaker(store), clock=datetime.now, default_role=role)
    with Session(store) as session:
        jumps = build_digest(session).risk_jumps
    assert len(jumps) > 0, "the sample's two runs must have risk jumps"
    spec, rest = route("/crm", "digest preview")
    text = json.dumps(answer(spec.run, Request("U0SOMEONE", "C0SALES01", rest), context).blocks)
    assert (str(jumps["customer_ref"].iloc[0]) in text) is named


def route_and_check(command: str, text: str) -> None:
    spec, rest = route(command, text)
    assert spec.check is not None
    spec.check(rest)


def _sub(**kwargs: object) -> DigestSubscription:
    values: dict[str, object] = {"cadence": "daily", "weekday": 0, "hour": 1, "minute": 30,
                                 "timezone": "Europe/London", "updated_at": datetime(2026, 1, 1)}
    values.update(kwargs)
    return DigestSubscription(**values)


def test_schedules_follow_the_time_zone_through_daylight_saving_changes() -> None:
    sub = _sub()
    # Clocks go back on 25 Oct 2026: 01:30 happens twice, but it is one day, one period.
    first = latest_fire(sub, datetime(2026, 10, 25, 0, 45, tzinfo=UTC))   # 01:30 BST = 00:30 UTC
    second = latest_fire(sub, datetime(2026, 10, 25, 1, 45, tzinfo=UTC))  # 01:30 GMT = 01:30 UTC
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC) and second == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert period_key(sub, first) == period_key(sub, second) == "2026-10-25"
    # Clocks go forward on 29 Mar 2026: 01:30 does not exist; it fires once that day.
    spring = latest_fire(sub, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    assert spring is not None and period_key(sub, spring) == "2026-03-29"
    assert latest_fire(sub, datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    # Weekly in New York: Monday 09:00 local is 14:00 UTC in winter and 13:00 UTC in summer.
    weekly = _sub(cadence="weekly", weekday=0, hour=9, minute=0, timezone="America/New_York")
    assert latest_fire(weekly, datetime(2026, 1, 6, tzinfo=UTC)) == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert latest_fire(weekly, datetime(2026, 7, 7, tzinfo=UTC)) == datetime(2026, 7, 6, 13, 0, tzinfo=UTC)
    assert period_key(weekly, datetime(2026, 7, 6, 13, 0, tzinfo=UTC)) == "2026-W28"


def test_only_the_latest_period_is_owed_and_nothing_before_the_subscription() -> None:
    sub = _sub(hour=9, minute=0, timezone="UTC", updated_at=datetime(2026, 11, 20, 12, 0))
    owed = due_now([sub], datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert [d.period_key for d in owed] == ["2026-11-24"]  # not the 21st, 22nd and 23rd as well
    assert due_now([_sub(updated_at=datetime(2026, 11, 24, 9, 30), hour=9, minute=0, timezone="UTC")],
                   datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == []
    assert owed[0].late_by(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == timedelta(hours=1)
