"""The refresh's parameters, the lock it holds, and its refusal when there is nothing to analyse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analytics.rules import RuleParams
from assistant.errors import UserFacingError

REFRESH_LOCK = "analytics-refresh"
"""The job lock every refresh holds (and erasure waits for), named here so holders need not load the refresh."""

PARTITION_CUSTOMERS = 50_000
"""Customers per partition: what one task reads, scores and writes at a time (about 500,000 order
lines and 150 MB of memory on the synthetic stores of docs/scaling.md)."""
FIT_SAMPLE = 200_000
"""Customers in the fitting sample (clusters, feature importance, lifetime and propensity models):
enough for every model's parameters; every customer is then scored with them."""
BASKET_SAMPLE = 500_000
"""Sale orders mined for basket rules at most (a seeded sample above this; supports are shares of
the sampled baskets, which estimate the shares of all baskets without bias)."""


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
    fit_sample: int = FIT_SAMPLE
    basket_sample: int = BASKET_SAMPLE
    partition_customers: int = PARTITION_CUSTOMERS
    """How the work is split; it never changes a result (tests prove one partition equals many)."""
