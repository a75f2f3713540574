"""The digest's chart: revenue per period with the trailing median, as a PNG.

Drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot global state, so
charts can be drawn from several threads (scheduler, commands) at once.
"""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analytics import words
from analytics.digest import TRAILING
from assistant.views.digest import Digest


def trend_chart(digest: Digest) -> bytes:
    """PNG bytes: bars of net revenue per period (this one highlighted) and the trailing median."""
    revenue = digest.kpis["net_revenue"].to_numpy(dtype=float)
    labels = [f"{(end - timedelta(days=1)):%d %b}" for _, end in digest.periods]
    median = np.array([np.median(revenue[max(0, i - TRAILING):i]) if i >= 3 else np.nan
                       for i in range(len(revenue))])
    figure = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(figure)
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
