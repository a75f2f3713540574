"""Orders in several currencies: which one the analytics count, and the others kept apart.

Amounts are never converted (a rate chosen by crm-bot would be a guess presented as a fact), so a
store whose orders are in several currencies analyses one of them: its *main currency*, the one
``CRM_CURRENCY`` names when the store holds orders in it, else the one most orders are in.  Orders
of unknown currency are taken to be in it.  ``orders.in_main_currency`` records the choice per
order, so every query that sums money (``db.orders.SALES_LINE``, the semantic layer, the KPIs, the
rollups) leaves the others out with one plain column test.  Imports re-mark after each run that
changed the store, the refresh before it reads; the orders kept apart are counted and said.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from db.models import Order
from db.snapshot_models import AnalyticsRun

Executor = Connection | Session


def order_currencies(db: Executor) -> dict[str, int]:
    """Orders by the currency they were recorded in (orders of unknown currency left out), most first."""
    rows = db.execute(select(Order.currency, func.count()).where(Order.currency.is_not(None))
                      .group_by(Order.currency).order_by(func.count().desc(), Order.currency)).all()
    return {str(code): int(count) for code, count in rows}


def _preferred_by_latest_run(db: Executor) -> str | None:
    """The ``CRM_CURRENCY`` the latest completed refresh ran with: imports, which do not read the
    settings, keep the choice the refresh made rather than flip it back and forth."""
    results: Any = db.scalar(select(AnalyticsRun.results).where(AnalyticsRun.status == "completed")
                             .order_by(AnalyticsRun.id.desc()).limit(1))
    wanted = (results or {}).get("currency_setting")
    return str(wanted) if wanted else None


def main_currency(db: Executor, setting: str | None = None, *, setting_known: bool = False) -> str | None:
    """The currency the analytics count; ``None`` when no order says.

    ``setting`` (``CRM_CURRENCY``) when orders are held in it, else the one most orders are in.
    Callers that do not read the settings (imports) leave ``setting_known`` false: the setting
    the latest refresh ran with is tried after ``setting``."""
    counts = order_currencies(db)
    wanted = [setting] if setting_known else [setting, _preferred_by_latest_run(db)]
    return next((code for code in wanted if code in counts), next(iter(counts), None))


def mark_main_currency(connection: Connection, setting: str | None = None, *,
                       setting_known: bool = False) -> str | None:
    """Set ``orders.in_main_currency`` for the main currency (``main_currency``'s arguments; only
    orders whose mark changes are written) and return that currency."""
    main = main_currency(connection, setting, setting_known=setting_known)
    counted = true() if main is None else or_(Order.currency.is_(None), Order.currency == main)
    table = Order.__table__
    connection.execute(update(table).where(table.c.in_main_currency.is_(true()), ~counted)
                       .values(in_main_currency=False))
    connection.execute(update(table).where(table.c.in_main_currency.is_(false()), counted)
                       .values(in_main_currency=True))
    return main


def kept_apart(db: Executor) -> dict[str, int]:
    """Orders left out of the analytics because they are in another currency, by currency, most first
    (read through a partial index: instant when there are none)."""
    rows = db.execute(select(Order.currency, func.count()).where(Order.in_main_currency.is_(false()))
                      .group_by(Order.currency).order_by(func.count().desc(), Order.currency)).all()
    return {str(code): int(count) for code, count in rows}


def _orders(count: int) -> str:
    return f"{count:,} order{'s' if count != 1 else ''}"


def kept_apart_words(kept: dict[str, int], main: str | None) -> str | None:
    """What the figures leave out, in words (``None`` when nothing is kept apart)."""
    if not kept:
        return None
    listed = ", ".join(f"{_orders(count)} in {code}" for code, count in kept.items())
    return (f"figures count the {main or 'main-currency'} orders only: {listed} "
            f"{'are' if sum(kept.values()) != 1 else 'is'} kept apart (amounts are never converted)")


def mixed_currencies(db: Executor) -> str | None:
    """A warning in words when the store holds orders in several currencies, else None."""
    currencies = order_currencies(db)
    if len(currencies) < 2:
        return None
    main = db.scalar(select(Order.currency).where(Order.in_main_currency.is_(true()), Order.currency.is_not(None))
                     .limit(1))
    listed = ", ".join(f"{code} {count:,}" for code, count in currencies.items())
    kept = kept_apart_words(kept_apart(db), main)
    said = f": {kept}" if kept else ": money figures add their amounts as if they were one currency"
    return f"the store holds orders in {len(currencies)} currencies ({listed} orders){said}"
