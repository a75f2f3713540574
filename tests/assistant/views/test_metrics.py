"""Questions about numbers, asked in words, equal an independent pandas computation from the raw CSV.

The store is the demo sample (SQLite and PostgreSQL); the oracle reads the same CSV with pandas and
applies the documented cleaning (docs/importing.md): invoices starting with C are cancellations,
with A bad-debt adjustments (left out of revenue); zero quantities are rejected; identical lines of
an invoice are kept (revenue) but count once for units; merchandise is what ``product_kind`` says.
Each question goes the whole way: the reader, then ``views.metrics.answer``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.commands.understanding.reader import read
from assistant.commands.understanding.vocabulary import Vocabulary, load
from assistant.errors import UserFacingError
from assistant.jobs.refresh.run import RefreshSummary
from assistant.views.metrics import MetricAnswer, answer
from db import snapshots
from db.importers.rules import product_kind
from db.models import Customer
from db.sample import ONLINE_RETAIL_SAMPLE
from db.snapshot_models import CustomerLifetime, CustomerScore

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False)
    frame["quantity"] = frame["Quantity"].astype(int)
    frame["price"] = frame["UnitPrice"].astype(float)
    frame = frame[frame["quantity"] != 0].copy()
    frame["at"] = pd.to_datetime(frame["InvoiceDate"])
    frame["kind"] = frame["InvoiceNo"].str[:1].str.upper().map({"C": "cancellation", "A": "adjustment"}) \
        .fillna("sale")
    frame["value"] = frame["quantity"] * frame["price"]
    frame["merchandise"] = frame["StockCode"].map(lambda s: product_kind(s) == "product")
    frame["first_of_kind"] = ~frame.duplicated(["InvoiceNo", "StockCode", "quantity", "UnitPrice"])
    return frame


@pytest.fixture(scope="module")
def vocabulary(refreshed: Refreshed) -> Vocabulary:
    with Session(refreshed[0]) as session:
        return load(session)


def ask(engine: Engine, vocabulary: Vocabulary, question: str) -> MetricAnswer:
    understood = read(question, vocabulary)
    assert understood.question is not None, (question, understood)
    with Session(engine) as session:
        return answer(session, understood.question)


def within(raw: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    mask = pd.Series(True, index=raw.index)
    if start:
        mask &= raw["at"] >= pd.Timestamp(start)
    if end:
        mask &= raw["at"] < pd.Timestamp(end)
    return raw[mask]


def net(frame: pd.DataFrame) -> float:
    return float(frame.loc[frame["kind"] != "adjustment", "value"].sum())


PERIODS = [  # each form of period in words, and the days it must cover (the sample ends 2011-12-09)
    ("revenue last month", "2011-11-01", "2011-12-01"),
    ("revenue this quarter", "2011-10-01", "2011-12-10"),
    ("revenue in november", "2011-11-01", "2011-12-01"),
    ("revenue in Q3 2011", "2011-07-01", "2011-10-01"),
    ("revenue since march", "2011-03-01", "2011-12-10"),
    ("revenue between 1 and 15 october", "2011-10-01", "2011-10-16"),
    ("revenue in the last 30 days", "2011-11-10", "2011-12-10"),
    ("revenue yesterday", "2011-12-08", "2011-12-09"),
    ("revenue today", "2011-12-09", "2011-12-10"),
    ("revenue this week", "2011-12-05", "2011-12-10"),
    ("revenue last week", "2011-11-28", "2011-12-05"),
    ("revenue in 2011", "2011-01-01", "2012-01-01"),
    ("revenue this year", "2011-01-01", "2011-12-10"),
    ("total revenue", None, None),
]


@pytest.mark.parametrize(("question", "start", "end"), PERIODS)
def test_every_period_form_covers_the_days_it_says(refreshed: Refreshed, vocabulary: Vocabulary, raw: pd.DataFrame,
                                                   question: str, start: str | None, end: str | None) -> None:
    result = ask(refreshed[0], vocabulary, question)
    assert result.total == pytest.approx(net(within(raw, start, end)), abs=0.005)
    if start:
        assert result.period is not None and f"{result.period.start:%Y-%m-%d}" == start
        assert f"{result.period.end:%Y-%m-%d}" == end


def test_every_line_metric_equals_pandas(refreshed: Refreshed, vocabulary: Vocabulary, raw: pd.DataFrame) -> None:
    engine = refreshed[0]
    month = within(raw, "2011-11-01", "2011-12-01")
    sales = month[month["kind"] == "sale"]
    assert ask(engine, vocabulary, "how many orders last month").total == sales["InvoiceNo"].nunique()
    assert ask(engine, vocabulary, "active customers last month").total == \
        sales.loc[sales["CustomerID"] != "", "CustomerID"].nunique()
    units = sales[sales["merchandise"] & (sales["quantity"] > 0) & sales["first_of_kind"]]["quantity"].sum()
    assert ask(engine, vocabulary, "units sold last month").total == units
    assert ask(engine, vocabulary, "average order value last month").total == pytest.approx(
        net(month) / sales["InvoiceNo"].nunique())
    credited = -month.loc[month["kind"] == "cancellation", "value"].sum()
    assert ask(engine, vocabulary, "return rate last month").total == pytest.approx(credited / sales["value"].sum())
    firsts = raw[(raw["kind"] == "sale") & (raw["CustomerID"] != "")].groupby("CustomerID")["at"].min()
    new = int(((firsts >= "2011-11-01") & (firsts < "2011-12-01")).sum())
    assert ask(engine, vocabulary, "new customers last month").total == new
    assert ask(engine, vocabulary, "how many customers do we have").total == raw.loc[raw["CustomerID"] != "",
                                                                                    "CustomerID"].nunique()


def test_dimensions_equal_pandas(refreshed: Refreshed, vocabulary: Vocabulary, raw: pd.DataFrame) -> None:
    engine = refreshed[0]
    month = within(raw, "2011-11-01", "2011-12-01")
    by_country = month[month["kind"] != "adjustment"].groupby("Country")["value"].sum().sort_values(ascending=False)
    result = ask(engine, vocabulary, "revenue last month by country")
    assert result.question.group_by == "country"
    got = dict(zip(result.rows["key"], result.rows["value"], strict=True))
    for country, value in by_country.head(5).items():
        assert got[country] == pytest.approx(value, abs=0.005)
    shares = ask(engine, vocabulary, "share of revenue by country last month")
    assert shares.rows.iloc[0]["value"] == pytest.approx(by_country.iloc[0] / by_country.sum())
    merchandise = month[(month["kind"] != "adjustment") & month["merchandise"]]
    top = merchandise.groupby("StockCode")["value"].sum().sort_values(ascending=False).head(3)
    products = ask(engine, vocabulary, "top 3 products in november")
    assert list(products.rows["key"]) == list(top.index)
    assert list(products.rows["value"]) == pytest.approx(list(top.values))
    customers = raw[(raw["kind"] != "adjustment") & (raw["CustomerID"] != "")].groupby("CustomerID")["value"].sum()
    best = ask(engine, vocabulary, "top 5 customers")
    assert list(best.rows["key"]) == list(customers.sort_values(ascending=False).head(5).index)
    monthly = raw[raw["kind"] != "adjustment"].groupby(raw["at"].dt.to_period("M"))["value"].sum()
    series = ask(engine, vocabulary, "revenue by month")
    assert list(series.rows["value"]) == pytest.approx(list(monthly.values))
    assert list(series.rows["label"])[:2] == ["December 2010", "January 2011"]
    germany = within(raw, "2011-07-01", "2011-10-01")
    assert ask(engine, vocabulary, "sales in germany in q3 2011").total == pytest.approx(
        net(germany[germany["Country"] == "Germany"]), abs=0.005)
    product = month[(month["StockCode"] == "85123A")]
    assert ask(engine, vocabulary, "units sold of 85123A last month").total == product.loc[
        (product["kind"] == "sale") & product["first_of_kind"], "quantity"].sum()


def test_comparisons_and_growth_equal_pandas(refreshed: Refreshed, vocabulary: Vocabulary, raw: pd.DataFrame) -> None:
    engine = refreshed[0]
    result = ask(engine, vocabulary, "revenue in november vs the same month last year")  # the data starts in Dec 2010
    assert result.compared_with is None and result.before is None
    assert result.note == "No comparison with November 2010 (2010-11-01 to 2010-11-30): the orders start on 2010-12-01."
    december = ask(engine, vocabulary, "revenue this month vs the same month last year")
    assert december.compared_with is not None and f"{december.compared_with.start:%Y-%m-%d}" == "2010-12-01"
    assert december.before == pytest.approx(net(within(raw, "2010-12-01", "2010-12-10")), abs=0.005)
    monthly = ask(engine, vocabulary, "revenue last month vs the month before")
    assert monthly.before == pytest.approx(net(within(raw, "2011-10-01", "2011-11-01")), abs=0.005)
    grew = ask(engine, vocabulary, "which country grew most this quarter?")
    now = within(raw, "2011-10-01", "2011-12-10")
    before = within(raw, "2011-07-23", "2011-10-01")
    change = (now[now["kind"] != "adjustment"].groupby("Country")["value"].sum()
              .sub(before[before["kind"] != "adjustment"].groupby("Country")["value"].sum(), fill_value=0))
    assert grew.rows.iloc[0]["key"] == change.idxmax()
    assert grew.rows.iloc[0]["change"] == pytest.approx(change.max(), abs=0.005)


def test_segment_and_snapshot_metrics_equal_pandas_over_the_stored_run(refreshed: Refreshed, vocabulary: Vocabulary,
                                                                      raw: pd.DataFrame) -> None:
    engine = refreshed[0]
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        assert run is not None
        members = pd.DataFrame(session.execute(
            select(Customer.external_id, CustomerScore.segment, CustomerLifetime.clv_micros, Customer.country)
            .join(CustomerScore, CustomerScore.customer_id == Customer.id)
            .join(CustomerLifetime, (CustomerLifetime.customer_id == Customer.id)
                  & (CustomerLifetime.run_id == CustomerScore.run_id))
            .where(CustomerScore.run_id == run.id)).all(), columns=["ref", "segment", "clv", "country"])
    champions = set(members.loc[members["segment"] == "Champions", "ref"])
    theirs = raw[raw["CustomerID"].isin(champions)]
    sales = theirs[theirs["kind"] == "sale"]
    assert ask(engine, vocabulary, "average order value of our champions").total == pytest.approx(
        net(theirs) / sales["InvoiceNo"].nunique())
    assert ask(engine, vocabulary, "expected value of customers in france").total == pytest.approx(
        members.loc[members["country"] == "France", "clv"].sum() / 1e6)
    assert ask(engine, vocabulary, "average clv of champions").total == pytest.approx(
        members.loc[members["segment"] == "Champions", "clv"].mean() / 1e6)


def test_what_the_data_cannot_answer_says_so(refreshed: Refreshed, vocabulary: Vocabulary) -> None:
    with pytest.raises(UserFacingError, match=r"no data for 2031 .*the orders run from 2010-12-01 to 2011-12-09"):
        ask(refreshed[0], vocabulary, "revenue in 2031")
    with pytest.raises(UserFacingError, match="per customer, not per product"):
        ask(refreshed[0], vocabulary, "new customers by product")
    assert datetime(2011, 12, 9).date() == vocabulary.latest
