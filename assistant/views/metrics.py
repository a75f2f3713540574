"""Answers to questions about numbers: a metric over a period, filtered, grouped, ranked or compared.

Slack-free: ``answer`` takes a ``MetricQuestion`` (what the understanding layer read) and returns a
``MetricAnswer`` view that says the number(s), the period they cover and what was counted.  The
SQL is ``db.semantic``'s; nothing here reads rows one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.views.digest import risk_key
from db import currencies, rollups, snapshots
from db.semantic import DIMENSIONS, METRICS, Filters, Measured, Metric, NotMeasurable, Rank, Snapshot, measure


@dataclass(frozen=True)
class Period:
    """Days [start, end), with how the question named them (``last month``, ``in Q3 2011``)."""

    start: date
    end: date
    said: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def words(self) -> str:
        """``November 2011 (2011-11-01 to 2011-11-30)``; a single day is said by its date alone."""
        last = self.end - timedelta(days=1)
        if self.days == 1:
            return self.said if f"{self.start:%Y-%m-%d}" in self.said else f"{self.said} ({self.start:%Y-%m-%d})"
        return f"{self.said} ({self.start:%Y-%m-%d} to {last:%Y-%m-%d})"

    def when(self) -> str:
        """The period as the end of a sentence: ``in November 2011 (...)``, ``since March 2011 (...)``."""
        lead = self.said.split(" ", 1)[0]
        return self.words() if lead in ("on", "since", "from", "this") else f"in {self.words()}"

    def shifted(self, compare: str) -> Period:
        """The period to compare with: the one just before (same length), or the same one a year earlier."""
        if compare == "year_ago":
            start, end = _year_earlier(self.start), _year_earlier(self.end)
            return Period(start, end, f"{start:%B %Y}" if start.day == 1 and end.day == 1 and self.days <= 31
                          else "the same days a year earlier")
        if self.start.day == 1 and self.end.day == 1 and self.days > 27:  # whole months: the months before
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
            start = _add_months(self.start, -months)
            return Period(start, self.start, "the month before" if months == 1 else f"the {months} months before")
        return Period(self.start - timedelta(days=self.days), self.start, f"the {self.days} days before")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year_earlier(day: date) -> date:
    return day.replace(year=day.year - 1) if not (day.month == 2 and day.day == 29) else date(day.year - 1, 2, 28)


@dataclass(frozen=True)
class MetricQuestion:
    """A question about numbers, as read: which metric, when, for whom, per what, ranked or compared."""

    metric: str
    period: Period | None = None
    """``None``: all the data."""
    filters: Filters = field(default_factory=Filters)
    group_by: str | None = None
    top: int | None = None
    bottom: bool = False
    """Rank from the lowest (``bottom 5 countries``)."""
    compare: str | None = None
    """``previous`` (the period just before) or ``year_ago``."""
    growth: bool = False
    """Rank the groups by their change against ``compare`` (``which country grew most``)."""


@dataclass
class MetricAnswer:
    """What to say: the headline number(s), the period, what was counted, and a table of rows."""

    question: MetricQuestion
    metric: Metric
    total: float | None
    period: Period | None
    coverage: tuple[date, date]
    """The first and last day with orders: what "all the data" means, and the range to quote."""
    currency: str | None
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    """``key, label, value`` (and ``before, change`` when compared), best first."""
    before: float | None = None
    compared_with: Period | None = None
    lists_customers: bool = False
    """The rows are customers: the customer policy applies (refused, masked or full)."""
    note: str = ""
    """Something the reader must know, such as a comparison the data cannot make."""
    snapshot: Snapshot | None = None
    """The analytics run it was measured against (segments, clusters, risk)."""


MAX_TOP = 50
ASKER = "<asker>"
"""``Filters.owner`` as read from "my customers": replaced by the asker's member id before measuring."""


def answer(session: Session, question: MetricQuestion) -> MetricAnswer:
    """Measure ``question`` against the store (the latest analytics run for segments and risk), saying
    which orders in other currencies it leaves out."""
    result = _answer(session, question)
    if result.metric.source != "customers":  # a count of the store's customers reads no order
        kept = currencies.kept_apart_words(currencies.kept_apart(session), result.currency)
        if kept:
            result.note = " ".join(part for part in (result.note, kept[0].upper() + kept[1:] + ".") if part)
    return result


def _answer(session: Session, question: MetricQuestion) -> MetricAnswer:
    metric = METRICS[question.metric]
    first, last = snapshots.first_sale_at(session), snapshots.last_sale_at(session)
    if first is None or last is None:
        raise UserFacingError("the store holds no orders yet: import some (`crm-bot import ...`) first")
    coverage = (first.date(), last.date())
    period = question.period
    if period is not None and (period.end <= coverage[0] or period.start > coverage[1]):
        raise UserFacingError(f"there is no data for {period.words()}: the orders run from {coverage[0]:%Y-%m-%d} "
                              f"to {coverage[1]:%Y-%m-%d}")
    if question.group_by is not None and question.group_by not in DIMENSIONS:
        raise UserFacingError(f"cannot group by {question.group_by}")
    snapshot = _snapshot(session)
    buckets = _buckets(question, period, coverage)
    try:
        measured = _measure(session, question, period, snapshot, buckets)
        rows = _series(measured.rows, question, buckets) if buckets else _ranked(measured, question)
        result = MetricAnswer(question, metric, measured.total, period, coverage, snapshots.store_currency(session),
                              rows, lists_customers=question.group_by == "customer", snapshot=snapshot)
        if question.compare and period is not None:
            other = period.shifted(question.compare)
            if other.end <= coverage[0]:  # nothing to compare with: say so, never "up 100% from 0"
                result.note = (f"No comparison with {other.words()}: the orders start on {coverage[0]:%Y-%m-%d}.")
                return result
            if other.start < coverage[0]:
                result.note = (f"The data covers {other.words()} only from {coverage[0]:%Y-%m-%d}: the comparison "
                               "is with that part.")
            earlier = _measure(session, question, other, snapshot, [])
            result.before, result.compared_with = earlier.total, other
            if question.group_by is not None and question.group_by not in ("month", "week"):
                result.rows = _changes(measured, earlier, question)
    except NotMeasurable as exc:
        raise UserFacingError(str(exc)) from None
    return result


def _snapshot(session: Session) -> Snapshot | None:
    """The latest run, and how it measures churn risk (``views.digest.risk_key``, as the digest does)."""
    run = snapshots.latest_run(session)
    if run is None:
        return None
    run_id, model_id, from_p_alive = risk_key(session, run)
    return Snapshot(run_id, model_id, from_p_alive, rollups=rollups.is_current(session, run_id, model_id))


def _at(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day) if day is not None else None


def _measure(session: Session, question: MetricQuestion, period: Period | None, snapshot: Snapshot | None,
             buckets: list[tuple[datetime, datetime]]) -> Measured:
    # a ranking of customers brings only its first rows; a comparison needs every group's value
    rank = Rank(min(question.top or 10, MAX_TOP), question.bottom) if not question.compare else None
    return measure(session, question.metric, _at(period.start) if period else None,
                   _at(period.end) if period else None, question.filters, question.group_by, snapshot, buckets,
                   rank)


def _buckets(question: MetricQuestion, period: Period | None, coverage: tuple[date, date]) -> list[tuple[datetime,
                                                                                                         datetime]]:
    """The months or weeks of a series over the period (all the data when none was named)."""
    if question.group_by not in ("month", "week"):
        return []
    start = period.start if period else coverage[0]
    end = period.end if period else coverage[1] + timedelta(days=1)
    out: list[tuple[datetime, datetime]] = []
    if question.group_by == "month":
        cursor = date(start.year, start.month, 1)
        while cursor < end:
            following = _add_months(cursor, 1)
            out.append((_at(max(cursor, start)), _at(min(following, end))))  # type: ignore[arg-type]
            cursor = following
    else:
        cursor = start - timedelta(days=start.weekday())
        while cursor < end:
            following = cursor + timedelta(days=7)
            out.append((_at(max(cursor, start)), _at(min(following, end))))  # type: ignore[arg-type]
            cursor = following
    return out[-120:]


def _series(rows: pd.DataFrame, question: MetricQuestion, buckets: list[tuple[datetime, datetime]]) -> pd.DataFrame:
    """A month or week series in time order, every bucket present (0 where nothing happened), named."""
    names = [f"{start:%B %Y}" if question.group_by == "month" else f"week of {start:%Y-%m-%d}" for start, _ in buckets]
    values = dict(zip(rows["key"].astype(int), rows["value"], strict=True)) if not rows.empty else {}
    return pd.DataFrame({"key": range(len(buckets)), "label": names,
                         "value": [values.get(i, 0.0) for i in range(len(buckets))]})


def _ranked(measured: Measured, question: MetricQuestion) -> pd.DataFrame:
    rows = measured.rows
    if rows.empty:
        return rows
    if question.bottom:
        rows = rows.sort_values(["value", "key"], ascending=[True, True], key=lambda c: c if c.name == "value"
                                else c.astype(str))
    return rows.head(min(question.top or 10, MAX_TOP)).reset_index(drop=True)


def _changes(now: Measured, before: Measured, question: MetricQuestion) -> pd.DataFrame:
    """Each group's value now and before, and the change, ranked by the change when asked for growth."""
    merged = now.rows.merge(before.rows[["key", "value"]].rename(columns={"value": "before"}), on="key", how="outer")
    merged["label"] = merged["label"].fillna(merged["key"])
    merged[["value", "before"]] = merged[["value", "before"]].fillna(0.0)
    merged["change"] = merged["value"] - merged["before"]
    order = "change" if question.growth else "value"
    merged = merged.sort_values([order, "key"], ascending=[question.bottom, True],
                                key=lambda c: c if c.name == order else c.astype(str))
    return merged.head(min(question.top or 10, MAX_TOP)).reset_index(drop=True)


def for_asker(question: MetricQuestion, user_id: str) -> MetricQuestion:
    """"My customers" are the accounts ``user_id`` owns."""
    if question.filters.owner != ASKER:
        return question
    return replace(question, filters=replace(question.filters, owner=user_id))


def customers_behind(session: Session, result: MetricAnswer) -> tuple[int, pd.Series]:
    """How many customers the answer describes in all, and per group: a channel is not told about
    groups so small they could identify people (``CRM_MIN_GROUP_SIZE``)."""
    question, metric, snapshot = result.question, result.metric, result.snapshot
    period = question.period
    group = question.group_by if question.group_by not in ("month", "week") else None
    counted = "active_customers" if metric.source == "lines" else "new_customers" if metric.source == "firsts" \
        else "customers"
    try:
        measured = measure(session, counted, _at(period.start) if period and counted != "customers" else None,
                           _at(period.end) if period and counted != "customers" else None,
                           replace(question.filters, product=None) if counted == "customers" else question.filters,
                           group, snapshot)
    except NotMeasurable:
        return 0, pd.Series(dtype="float64")
    per_group = measured.rows.set_index("key")["value"] if not measured.rows.empty else pd.Series(dtype="float64")
    return int(measured.total or 0), per_group


def to_record(question: MetricQuestion) -> dict[str, Any]:
    """``question`` as JSON-ready data (kept between the turns of a conversation)."""
    record: dict[str, Any] = {"metric": question.metric, "filters": {k: v for k, v in vars(question.filters).items()
                                                                         if v is not None},
                                 "group_by": question.group_by, "top": question.top, "bottom": question.bottom,
                                 "compare": question.compare, "growth": question.growth}
    if question.period is not None:
        record["period"] = {"start": question.period.start.isoformat(), "end": question.period.end.isoformat(),
                            "said": question.period.said}
    return record


def from_record(record: dict[str, Any]) -> MetricQuestion | None:
    """The question ``to_record`` kept (``None`` if it no longer reads: a metric since renamed)."""
    try:
        if record["metric"] not in METRICS:
            return None
        period = record.get("period")
        return MetricQuestion(
            metric=str(record["metric"]), filters=Filters(**record["filters"]),
            period=Period(date.fromisoformat(period["start"]), date.fromisoformat(period["end"]), str(period["said"]))
            if period else None,
            group_by=record.get("group_by"), top=record.get("top"), bottom=bool(record.get("bottom")),
            compare=record.get("compare"), growth=bool(record.get("growth")))
    except (KeyError, TypeError, ValueError):
        return None
