"""Charts as PNGs: the digest's revenue per period with the trailing median, and a series answer.

Drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot global state, so
charts can be drawn from several threads (scheduler, commands) at once.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from analytics import words
from analytics.digest import TRAILING
from assistant.views.digest import Digest
from assistant.views.metrics import MetricAnswer

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure() -> Figure:
    """A bare 800x320 figure on the Agg canvas (matplotlib is loaded here, when a chart is drawn:
    it takes a while to import and most answers have no chart)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def trend_chart(digest: Digest) -> bytes:
    """PNG bytes: bars of net revenue per period (this one highlighted) and the trailing median."""
    revenue = digest.kpis["net_revenue"].to_numpy(dtype=float)
    labels = [f"{(end - timedelta(days=1)):%d %b}" for _, end in digest.periods]
    median = np.array([np.median(revenue[max(0, i - TRAILING):i]) if i >= 3 else np.nan
                       for i in range(len(revenue))])
    figure = _figure()
    axes = figure.add_subplot()
    colours = ["#9db4d0"] * (len(revenue) - 1) + ["#1f4e89"]
    axes.bar(range(len(revenue)), revenue, color=colours, label=f"net revenue per {digest.unit}")
    axes.plot(range(len(revenue)), median, color="#d9822b", linestyle="--", marker=".",
              label=f"median of the previous {TRAILING} {digest.unit}s")
    axes.set_xticks(range(len(revenue)), labels, fontsize=8, rotation=0 if digest.cadence == "weekly" else 45)
    axes.yaxis.set_major_formatter(lambda value, _pos: words.money(value, digest.currency))
    axes.tick_params(axis="y", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    axes.set_title(f"Net revenue per {digest.unit}{' - ' + digest.segment if digest.segment else ''}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def series_chart(answer: MetricAnswer, say: Callable[[float], str]) -> bytes:
    """PNG bytes: a metric per month or week (the answer's rows, in time order), latest highlighted;
    ``say`` writes an axis value as the answer does (money, a share, a count)."""
    values = answer.rows["value"].to_numpy(dtype=float)
    labels = [str(label).replace("week of ", "") for label in answer.rows["label"]]
    figure = _figure()
    axes = figure.add_subplot()
    axes.bar(range(len(values)), values, color=["#9db4d0"] * (len(values) - 1) + ["#1f4e89"])
    step = max(1, len(labels) // 12)  # at most a dozen labels, so they stay readable
    axes.set_xticks(range(0, len(labels), step), labels[::step], fontsize=8, rotation=45, ha="right")
    metric = answer.metric
    axes.yaxis.set_major_formatter(lambda value, _pos: say(value))
    axes.tick_params(axis="y", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(f"{metric.label[0].upper() + metric.label[1:]} by {answer.question.group_by}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
