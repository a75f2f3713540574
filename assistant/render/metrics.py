"""Answers about numbers as Slack messages: the sentence with the number(s), then a table, then
what was counted and the period the data covers."""

from __future__ import annotations

import math

import pandas as pd

from analytics import words
from assistant.render.blocks import Chart, Message, context, section, sections
from assistant.render.chart import series_chart
from assistant.views.metrics import MetricAnswer
from db.semantic import DIMENSIONS, Metric


def value_words(metric: Metric, value: float | None, currency: str | None) -> str:
    """A metric's value as people read it: money with its currency, a share as a percentage."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric.unit == "money":
        return words.money(value, currency, 2 if 0 < abs(value) < 100 else 0)
    if metric.unit == "rate":
        return f"{value:.1%}"
    if metric.unit == "risk":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _change(metric: Metric, now: float | None, before: float | None, currency: str | None) -> str:
    if now is None or before is None:
        return "n/a"
    if metric.unit in ("rate", "risk"):
        points = (now - before) * (100 if metric.unit == "rate" else 1)
        return f"{points:+.1f} points" if metric.unit == "rate" else f"{points:+.2f}"
    relative = words.change((now - before) / before) if before else "new"
    difference = now - before
    said = value_words(metric, abs(difference), currency)
    return f"{'up' if difference > 0 else 'down' if difference < 0 else 'flat'} {said} ({relative})" \
        if difference else "no change"


def headline(answer: MetricAnswer) -> str:
    """"Net revenue of Champions customers in France in November 2011 (2011-11-01 to 2011-11-30): £4,210."""
    q, metric = answer.question, answer.metric
    who = " ".join(q.filters.said())
    when = answer.period.when() if answer.period else (f"over all the data ({answer.coverage[0]:%Y-%m-%d} to "
                                                        f"{answer.coverage[1]:%Y-%m-%d})")
    if metric.source in ("snapshot", "customers"):
        when = "now" if metric.source == "customers" else "in the latest analytics run"
    subject = metric.label[0].upper() + metric.label[1:] + (f" of {who}" if who and not who.startswith("in ")
                                                           else f" {who}" if who else "")
    if q.group_by is not None and answer.rows.empty:
        owned = (" (accounts are yours when the `owner` column of `crm-bot import customers` holds your Slack "
                 "member id)") if q.filters.owner else ""
        return f"Nothing to rank by {DIMENSIONS[q.group_by].label} for {subject.lower()} {when}{owned}."
    if q.group_by is not None:
        dimension = DIMENSIONS[q.group_by].label
        if q.growth and answer.compared_with is not None:
            verb = "fell most" if q.bottom else "grew most"
            return (f"{subject}: the {dimension} that {verb} {when} against {answer.compared_with.words()} is "
                    f"{answer.rows.iloc[0]['label']}.")
        if q.group_by in ("month", "week") or q.top is None:
            return (f"{subject} by {dimension}, {when}{_overall(answer)}"
                    + ("" if answer.compared_with is None else f", against {answer.compared_with.words()}") + ".")
        rank = "Lowest" if q.bottom else "Top"
        return (f"{rank} {len(answer.rows)} {_plural(dimension, len(answer.rows))} by {metric.label} {when}"
                + (f" ({who})" if who else "") + ".")
    text = f"{subject} {when}: {value_words(metric, answer.total, answer.currency)}"
    if answer.compared_with is not None:
        text += (f", against {value_words(metric, answer.before, answer.currency)} in "
                 f"{answer.compared_with.words()}: {_change(metric, answer.total, answer.before, answer.currency)}")
    return text + "."


def _overall(answer: MetricAnswer) -> str:
    """``: £1,698,547 in all`` for amounts and counts, ``: 0.38 overall`` for rates and averages."""
    if answer.metric.name == "revenue_share" or answer.total is None:
        return ""
    additive = answer.metric.unit in ("money", "count") and not answer.metric.name.startswith("average")
    return f": {value_words(answer.metric, answer.total, answer.currency)} {'in all' if additive else 'overall'}"


def _plural(noun: str, n: int) -> str:
    if n == 1:
        return noun
    return "countries" if noun == "country" else noun + "s"


def _row(answer: MetricAnswer, i: int, row: pd.Series) -> str:
    metric, currency = answer.metric, answer.currency
    key, label = str(row["key"]), "" if row["label"] is None else str(row["label"])
    if answer.question.group_by in ("product", "customer"):
        label = key + (f" ({label})" if label and label != key else "")
    line = f"{i}. {label or key}: {value_words(metric, row['value'], currency)}"
    if "before" in row and answer.compared_with is not None:
        line += (f", {_change(metric, row['value'], row['before'], currency)} from "
                 f"{value_words(metric, row['before'], currency)}")
    elif metric.name == "net_revenue" and answer.total and answer.question.group_by not in ("month", "week"):
        line += f" ({row['value'] / answer.total:.0%})"
    return line


def answer_message(answer: MetricAnswer, hidden: int = 0) -> Message:
    """The answer: the sentence, the rows (when grouped), what was counted and the data's range;
    ``hidden`` groups were too small to describe where this answer is seen."""
    text = headline(answer)
    blocks = [section(f"*{text}*")]
    if not answer.rows.empty:
        blocks += sections([_row(answer, i, row) for i, (_, row) in enumerate(answer.rows.iterrows(), 1)])
    if answer.note:
        blocks.append(context(answer.note))
    if hidden:
        blocks.append(context(f"{words.count(hidden, 'smaller group')} of fewer customers than this channel may see "
                              "described are left out; ask me in a direct message."))
    definition = answer.metric.definition
    blocks.append(context(f"{definition[0].upper() + definition[1:]}. Orders in the store run from "
                          f"{answer.coverage[0]:%Y-%m-%d} to {answer.coverage[1]:%Y-%m-%d}."))
    chart = None
    if answer.question.group_by in ("month", "week") and len(answer.rows) >= 2:
        png = series_chart(answer, lambda value: value_words(answer.metric, value, answer.currency))
        chart = Chart(png, f"{answer.metric.name}-by-{answer.question.group_by}.png", text)
    return Message(text=text, blocks=blocks, chart=chart)
