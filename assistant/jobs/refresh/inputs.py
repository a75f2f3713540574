"""The refresh's read: its parameters, and everything it reads from the store as of one date.

Reading happens once, here, so the steps that follow are pure functions over these frames (and a
partitioned refresh can hand each partition its share of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from analytics.rules import RuleParams
from assistant.errors import UserFacingError
from db import orders, snapshots, stats

REFRESH_LOCK = "analytics-refresh"
"""The job lock every refresh holds (and erasure waits for), named here so holders need not load the refresh."""


class NothingToAnalyse(UserFacingError):
    """The store holds no sales (yet); the message says what to do."""


@dataclass(frozen=True)
class RefreshParams:
    """Everything that decides a refresh's result (stored with the run)."""

    as_of: datetime | None = None
    """Default: the last sale order in the store (the sample ends 2011-12-09)."""
    random_state: int = 42
    top_n: int = 5
    horizon_days: int = 90
    clv_months: int = 12
    annual_discount: float = 0.10
    rules: RuleParams = field(default_factory=RuleParams)
    currency: str | None = None
    """ISO code money is written in (``CRM_CURRENCY``); default: the one the imports recorded."""


@dataclass(frozen=True)
class RefreshInputs:
    """What one refresh reads, all as of ``as_of`` (nothing later is visible)."""

    as_of: datetime
    totals: pd.DataFrame
    """Per customer: orders, first and last order, sales and credit value (``orders.customer_order_totals``)."""
    totals_at_cutoff: pd.DataFrame
    """The same as of ``as_of - horizon``: the features of the next-purchase target (no leakage)."""
    lines: pd.DataFrame
    """Sales lines: order, customer, product, quantity, value."""
    sale_orders: pd.DataFrame
    """One row per sale order: customer, date, value."""
    credit_orders: pd.DataFrame
    """Dated credit notes, so features as of a cutoff see only the credits issued by then."""
    credited_products: pd.DataFrame
    """(customer, product) pairs a customer returned: never recommended to them again."""
    product_names: dict[str, str]
    previous_run_id: int | None
    previous_segments: pd.Series
    """Segment per customer in the previous completed run (empty on the first run)."""
    currency: str | None = None
    """The currency amounts are in (``RefreshParams.currency``, else the imports'; ``None``: unknown)."""

    def sizes(self, customers_with_sales: int) -> dict[str, int]:
        """The input sizes stored with the run."""
        return {"customers_with_sales": customers_with_sales, "sales_lines": len(self.lines),
                "sale_orders": int(self.lines["order_id"].nunique()), "products": int(self.lines["sku"].nunique())}


def read_inputs(session: Session, params: RefreshParams) -> RefreshInputs:
    """Read everything the refresh needs as of ``params.as_of`` (default: the last sale)."""
    as_of = params.as_of or snapshots.last_sale_at(session)
    if as_of is None:
        raise NothingToAnalyse("the store has no sales to analyse yet: import orders first "
                               "(crm-bot import ... or crm-bot demo)")
    previous = snapshots.latest_run(session)
    previous_segments = pd.Series(snapshots.segments_of_run(session, previous.id), dtype=object) \
        if previous else pd.Series(dtype=object)
    return RefreshInputs(
        as_of=as_of,
        totals=orders.customer_order_totals(session, as_of),
        totals_at_cutoff=orders.customer_order_totals(session, as_of - timedelta(days=params.horizon_days)),
        lines=orders.sales_lines(session, as_of),
        sale_orders=orders.sale_orders(session, as_of),
        credit_orders=orders.credit_orders(session, as_of),
        credited_products=orders.credited_products(session, as_of),
        product_names=snapshots.product_names(session),
        previous_run_id=previous.id if previous else None,
        previous_segments=previous_segments,
        currency=params.currency or stats.recorded_currency(session))
