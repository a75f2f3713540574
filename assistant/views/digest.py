"""The insight digest: what changed this period, who needs attention, what to do.

``build_digest`` reads SQL aggregates (``db.kpis``) and the latest two analytics snapshots; no
model is trained or scored here, so a digest costs seconds even on a large store.  The period
ends with the store's latest sale (or ``as_of``): a store whose data stopped arriving gets the
last period that has data, with a data-quality line saying how old it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from analytics import words
from analytics.digest import (
    Driver,
    KpiChange,
    RuleChange,
    is_quiet,
    kpi_changes,
    revenue_driver,
    rule_changes,
    with_average_order,
)
from analytics.rfm import SEGMENTS
from assistant.errors import UserFacingError
from db import currencies, customers, kpis, predictions, snapshots, stats, sync_states
from db.clock import store_time, utc_now
from db.snapshot_models import AnalyticsRun

PERIOD_DAYS = {"weekly": 7, "daily": 1}
UNIT = {"weekly": "week", "daily": "day"}
CHART_PERIODS = 12
"""Periods read: the chart shows 12; the comparison uses the last 1 + 1 + 8."""
MIN_PERIODS_WITH_ORDERS = 3


@dataclass
class Digest:
    """Everything a digest says, before rendering (so the CLI, Slack and tests share it)."""

    cadence: str
    segment: str | None
    periods: list[tuple[datetime, datetime]]
    kpis: pd.DataFrame
    changes: list[KpiChange]
    driver: Driver | None = None
    run: AnalyticsRun | None = None
    previous_run: AnalyticsRun | None = None
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    moved_total: int = 0
    risk_jumps: pd.DataFrame = field(default_factory=pd.DataFrame)
    risk_jump_total: int = 0
    risk_meaning: str = ""
    rules: list[RuleChange] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    quality: list[str] = field(default_factory=list)
    freshness: list[str] = field(default_factory=list)
    quiet: bool = False
    currency: str | None = None
    """ISO code of the amounts (the run's, else the imports'), for the words."""

    @property
    def start(self) -> datetime:
        return self.periods[-1][0]

    @property
    def end(self) -> datetime:
        return self.periods[-1][1]

    @property
    def unit(self) -> str:
        return UNIT[self.cadence]


def period_bounds(end: datetime, cadence: str, count: int = CHART_PERIODS) -> list[tuple[datetime, datetime]]:
    """``count`` consecutive periods ending at ``end`` (exclusive), oldest first."""
    length = timedelta(days=PERIOD_DAYS[cadence])
    return [(end - length * (count - i), end - length * (count - i - 1)) for i in range(count)]


def data_end(session: Session, as_of: datetime | None, now: datetime) -> datetime:
    """Midnight after the last day the digest covers: ``as_of``'s day, else the latest sale's
    (never later than today)."""
    last = snapshots.last_sale_at(session)
    if last is None:
        raise UserFacingError("the store has no orders yet: import some with `crm-bot import` first")
    day = min(as_of or last, now)
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


def _runs(session: Session) -> tuple[AnalyticsRun | None, AnalyticsRun | None]:
    run = snapshots.latest_run(session)
    return run, (snapshots.latest_run(session, before_run=run.id) if run is not None else None)


def risk_key(session: Session, run: AnalyticsRun) -> tuple[int, int | None, bool]:
    """How a run measures churn risk: (run id, its propensity model id or None, risk from P(alive))."""
    lifetime = run.results.get("lifetime", {})
    horizon = run.params.get("horizon_days", 90)
    model = predictions.latest_model(session, predictions.propensity_target(horizon), run.id)
    return run.id, model.id if model else None, bool(lifetime.get("dropout_identified", True))


def _quality(session: Session, now: datetime, cadence: str) -> list[str]:
    lines = []
    last_import = stats.last_completed_import(session)
    if last_import is not None:
        counts = last_import.counts or {}
        read = int(counts.get("rows_read", 0))
        rejected = sum(int(n) for n in (counts.get("rejected") or {}).values())
        guests = int((counts.get("notes") or {}).get("guest_lines", 0))
        line = f"Last import ({last_import.source_format}, {last_import.finished_at:%Y-%m-%d}): {read:,} rows read"
        line += f", {rejected:,} rejected" if rejected else ", none rejected"
        if read and guests:
            line += f"; {guests / read:.0%} of lines have no customer id (in revenue, not in customer figures)"
        lines.append(line + ".")
    mixed = currencies.mixed_currencies(session)
    if mixed:
        lines.append(mixed[0].upper() + mixed[1:] + ".")
    for state in sync_states.failing(session):
        lines.append(f"Source {state.source} ({state.part}) has failed to sync since "
                     f"{state.failing_since:%Y-%m-%d %H:%M} UTC: its new orders are not in this digest "
                     "(`crm-bot doctor` says why).")
    latest = snapshots.last_sale_at(session)
    if latest is not None and (now - latest).days > 2 * PERIOD_DAYS[cadence]:
        sample = stats.holds_only_the_sample(session)
        said = words.data_age(latest, now, sample)
        lines.append(said[0].upper() + said[1:] + ": this digest covers the last period with data"
                     + ("." if sample else "; check that imports are still running."))
    return lines


def _freshness(session: Session, run: AnalyticsRun | None, now: datetime) -> list[str]:
    if run is None:
        return ["No analytics yet: run `crm-bot refresh` for segments, churn risk and basket rules."]
    lines = [f"Analytics run {run.id} as of {run.as_of:%Y-%m-%d}, computed {run.finished_at:%Y-%m-%d %H:%M} "
             f"({(now - (run.finished_at or now)).days} days ago)."]
    for model in predictions.latest_models(session):
        if model.status != "trained":
            continue
        best = next((m for m in model.metrics if m.get("model") == model.model_name), {})
        auc = f", ROC AUC {best['roc_auc']:.2f} out of time" if "roc_auc" in best else ""
        lines.append(f"Model {model.target}: {model.model_name}, trained {model.trained_at:%Y-%m-%d}{auc}.")
    return lines


def build_digest(session: Session, cadence: str = "weekly", segment: str | None = None,
                 as_of: datetime | None = None, now: datetime | None = None) -> Digest:
    """The digest for the period ending at the store's latest sale (or ``as_of``)."""
    if cadence not in PERIOD_DAYS:
        raise UserFacingError(f"no {cadence!r} digest; choose weekly or daily")
    if segment is not None and segment not in SEGMENTS:
        raise UserFacingError(f"no segment called {segment!r}; the segments are: {', '.join(SEGMENTS)}")
    now = store_time(now or utc_now())
    periods = period_bounds(data_end(session, as_of, now), cadence)
    run, previous_run = _runs(session)
    if segment is not None and run is None:
        raise UserFacingError("a segment digest needs analytics: run `crm-bot refresh` first")
    table = with_average_order(kpis.period_kpis(session, periods, run.id if run else None, segment))
    with_orders = int((table["orders"] > 0).sum())
    if with_orders < MIN_PERIODS_WITH_ORDERS:
        raise UserFacingError(f"too little history for a {cadence} digest: {with_orders} of the last "
                              f"{len(periods)} {UNIT[cadence]}s have orders; it needs at least "
                              f"{MIN_PERIODS_WITH_ORDERS}")
    digest = Digest(cadence, segment, periods, table, kpi_changes(table), run=run, previous_run=previous_run,
                    currency=snapshots.store_currency(session))
    digest.quality = _quality(session, now, cadence)
    digest.freshness = _freshness(session, run, now)
    if run is not None:
        digest.driver = revenue_driver(kpis.revenue_by_segment(session, periods, run.id), len(periods))
    if run is not None and previous_run is not None:
        moves = kpis.segment_moves(session, run.id)
        if segment is not None:
            moves = moves[(moves["from_segment"] == segment) | (moves["to_segment"] == segment)]
        digest.moves, digest.moved_total = moves.head(5), int(moves["customers"].sum())
        if "refused" not in run.results.get("lifetime", {}) and "refused" not in previous_run.results.get(
                "lifetime", {}):
            now_key, before_key = risk_key(session, run), risk_key(session, previous_run)
            digest.risk_jumps = kpis.risk_jumps(session, now_key, before_key)
            digest.risk_jump_total = int(digest.risk_jumps.attrs.get("total", 0))
            digest.risk_meaning = ("chance they have stopped buying" if now_key[2] or now_key[1] is None else
                                   f"chance of no order in the next {run.params.get('horizon_days', 90)} days")
        digest.rules = rule_changes(kpis.rules_of_run(session, run.id), kpis.rules_of_run(session, previous_run.id))
        skus = {s for r in digest.rules for s in (*r.antecedent, r.consequent)}
        digest.names = snapshots.product_names(session, sorted(skus)) if skus else {}
    digest.quiet = is_quiet(digest.changes, digest.moved_total, digest.risk_jump_total, len(digest.rules),
                            customers.count(session))
    return digest
