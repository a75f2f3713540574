"""How a refresh will split its work: customer partitions, the fitting sample, the basket sample.

The plan is made from three cheap reads (the customer ids, the sale-order count, the last sale)
and decides nothing about results: partitions only split the work, and the samples are fixed by
the seed and the data (``analytics.sampling``).  ``crm-bot refresh --explain-plan`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select

from analytics.sampling import candidate_bound
from assistant.jobs.refresh.inputs import NothingToAnalyse, RefreshParams
from db.frames import FrameIO
from db.histories import customer_ids
from db.models import Order
from db.orders import SALE_ORDER

LOWEST_ID, HIGHEST_ID = -(2**62), 2**62
"""The first partition starts, and the last ends, beyond any id: together they cover every customer."""


@dataclass(frozen=True)
class Partition:
    """One customer-id range: ``low <= id <= high``."""

    number: int
    low: int
    high: int
    customers: int
    """Customers in the store with an id in the range (with or without sales)."""


@dataclass(frozen=True)
class RefreshPlan:
    """What the refresh will do, before it does it."""

    as_of: datetime
    customers: int
    partitions: tuple[Partition, ...]
    fit_sample: int
    candidate_bound: float
    """A customer whose sample key is below this is read as a candidate of the fitting sample."""
    sale_orders: int
    basket_share: float
    """Share of sale orders mined for basket rules (1: all of them)."""
    engine: str
    """Where the partitioned steps run (in this process, or the Dask scheduler's address)."""

    def describe(self) -> list[str]:
        """The plan in lines, for ``--explain-plan`` and the log."""
        sizes = [p.customers for p in self.partitions]
        baskets = min(self.sale_orders, round(self.sale_orders * self.basket_share))
        return [
            f"as of {self.as_of:%Y-%m-%d %H:%M}, {self.customers:,} customers in the store",
            "1. read: each partition's sale orders and credits (totals for RFM, main countries, sample keys)",
            f"2. fit on samples: clusters, feature importance, lifetime and propensity models on "
            f"{min(self.fit_sample, self.customers):,} customers (seeded); basket rules on "
            + (f"all {self.sale_orders:,} sale orders" if self.basket_share >= 1 else
               f"about {baskets:,} of {self.sale_orders:,} sale orders ({self.basket_share:.1%}, seeded)"),
            f"3. score and write: {len(self.partitions)} partition(s) of up to {max(sizes, default=0):,} customers "
            f"(segments, clusters, lifetime values, propensity with reasons, recommendations)",
            "4. finish: segment and cluster tables, rules, pre-aggregated sales, then the run is marked completed",
            f"partitioned steps run {self.engine}",
        ]


def make_plan(io: FrameIO, params: RefreshParams, as_of: datetime, engine: str) -> RefreshPlan:
    """Split the store's customers into ranges of ``params.partition_customers`` and size the samples."""
    ids = customer_ids(io)
    if len(ids) == 0:
        raise NothingToAnalyse("the store has no customers yet: import orders first "
                               "(crm-bot import ... or crm-bot demo)")
    size = max(1, params.partition_customers)
    starts = np.arange(0, len(ids), size)
    partitions = []
    for number, start in enumerate(starts):
        chunk = ids[start:start + size]
        low = LOWEST_ID if number == 0 else int(chunk[0])
        high = HIGHEST_ID if number == len(starts) - 1 else int(ids[start + size] - 1)
        partitions.append(Partition(number, low, high, len(chunk)))
    sale_orders = int(io.read(select(func.count()).select_from(Order)
                              .where(SALE_ORDER, Order.ordered_at <= as_of), ["n"])["n"].iloc[0] or 0)
    basket_share = 1.0 if sale_orders <= params.basket_sample else params.basket_sample / sale_orders
    return RefreshPlan(as_of=as_of, customers=len(ids), partitions=tuple(partitions), fit_sample=params.fit_sample,
                       candidate_bound=candidate_bound(params.fit_sample, len(ids)), sale_orders=sale_orders,
                       basket_share=basket_share, engine=engine)
