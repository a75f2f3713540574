"""Pre-aggregated sales, written with each analytics run, so questions about numbers stay fast on
large stores (``db.semantic`` reads them when they are current, the order lines otherwise).

Each table sums the same facts ``db.semantic`` sums from order lines (net, sold and credited
value, merchandise units, sale orders), at the coarsest grain that still answers its questions:

* ``sales_rollup``: day x order country x segment x cluster (the run's): totals, by country,
  segment, cluster, month or week;
* ``product_sales_rollup``: day x order country x product: a product's figures, top products;
* ``customer_sales_rollup``: day x customer x order country (+ segment, cluster): active customers
  (distinct), rankings of customers over a period, "my customers";
* ``customer_total_rollup``: each customer over all the data: all-time rankings of customers;
* ``new_customer_rollup``: first-sale day x customer country x segment x cluster: new customers;
* ``customer_figure_rollup``: customer country x segment x cluster: churn risk and 12-month value
  sums of the run.

``rollup_runs`` records what the rollups cover (the newest order and line, import run and the
number of erased customers at build time): any import or erasure since makes them stale, and
answers read the order lines again until the next refresh.

The three large tables (sales, product sales, customer sales) declare no foreign keys: their rows
are derived by one ``INSERT ... SELECT`` from rows that exist, and deleted by explicit statements
with their run (``db.snapshots.prune_runs``) or their customer (``db.erasure``), never by cascade.
Checking every written row against its parents took a third of the build.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

RUN = "analytics_runs.id"


class RollupRun(Base):
    """What one run's rollups cover."""

    __tablename__ = "rollup_runs"

    run_id: Mapped[int] = mapped_column(ForeignKey(RUN, ondelete="CASCADE"), primary_key=True)
    built_at: Mapped[datetime] = mapped_column(DateTime)
    max_order_id: Mapped[int] = mapped_column(BigInteger)
    max_line_id: Mapped[int] = mapped_column(BigInteger)
    max_import_run_id: Mapped[int] = mapped_column(Integer)
    erased_customers: Mapped[int] = mapped_column(Integer)
    propensity_model_id: Mapped[int | None] = mapped_column(Integer)
    """The model whose probabilities ``customer_figure_rollup.propensity_risk`` sums."""


class SalesFacts:
    """The sums every sales rollup holds, as ``db.semantic`` defines them over order lines."""

    net_micros: Mapped[int] = mapped_column(BigInteger)
    sold_micros: Mapped[int] = mapped_column(BigInteger)
    credited_micros: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)
    sale_orders: Mapped[int] = mapped_column(Integer)


class SalesRollup(SalesFacts, Base):
    """Sales per day, order country and the customer's segment and cluster in the run."""

    __tablename__ = "sales_rollup"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see the module's docstring
    day: Mapped[date] = mapped_column(Date)
    country: Mapped[str | None] = mapped_column(String(80))
    segment: Mapped[str | None] = mapped_column(String(32))
    """``None``: guest orders, and customers the run did not score."""
    cluster: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_sales_rollup_run_day", "run_id", "day"),)


class ProductSalesRollup(SalesFacts, Base):
    """Sales per day, order country and product."""

    __tablename__ = "product_sales_rollup"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see the module's docstring
    day: Mapped[date] = mapped_column(Date)
    country: Mapped[str | None] = mapped_column(String(80))
    product_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_product_sales_rollup_run_day", "run_id", "day"),
                      Index("ix_product_sales_rollup_run_product", "run_id", "product_id", "day"))


class CustomerSalesRollup(SalesFacts, Base):
    """Sales per day, customer and order country (guest orders have no customer)."""

    __tablename__ = "customer_sales_rollup"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see the module's docstring
    day: Mapped[date] = mapped_column(Date)
    customer_id: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(80))
    segment: Mapped[str | None] = mapped_column(String(32))
    cluster: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_customer_sales_rollup_run_day", "run_id", "day"),
                      Index("ix_customer_sales_rollup_customer", "customer_id"))


class CustomerTotalRollup(SalesFacts, Base):
    """Each customer's sales over all the data (every country): all-time rankings of customers."""

    __tablename__ = "customer_total_rollup"

    run_id: Mapped[int] = mapped_column(ForeignKey(RUN, ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    segment: Mapped[str | None] = mapped_column(String(32))
    cluster: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_customer_total_rollup_run_net", "run_id", "net_micros"),)


class NewCustomerRollup(Base):
    """Customers by the day of their first sale order, their country, segment and cluster."""

    __tablename__ = "new_customer_rollup"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey(RUN, ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    country: Mapped[str | None] = mapped_column(String(80))
    segment: Mapped[str | None] = mapped_column(String(32))
    cluster: Mapped[int | None] = mapped_column(Integer)
    customers: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_new_customer_rollup_run_day", "run_id", "day"),)


class CustomerFigureRollup(Base):
    """The run's churn risk and 12-month value summed per customer country, segment and cluster."""

    __tablename__ = "customer_figure_rollup"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey(RUN, ondelete="CASCADE"), index=True)
    country: Mapped[str | None] = mapped_column(String(80))
    segment: Mapped[str | None] = mapped_column(String(32))
    cluster: Mapped[int | None] = mapped_column(Integer)
    lifetimes: Mapped[int] = mapped_column(Integer)
    """Customers with a lifetime row (what the averages divide by)."""
    p_alive_risk: Mapped[float] = mapped_column(Float)
    """Sum of 1 - P(alive)."""
    clv_micros: Mapped[int] = mapped_column(BigInteger)
    predicted: Mapped[int] = mapped_column(Integer)
    """Of those, customers with a probability from the run's propensity model."""
    propensity_risk: Mapped[float] = mapped_column(Float)
    """Sum of 1 - the propensity model's probability."""


ROLLUP_TABLES = (SalesRollup, ProductSalesRollup, CustomerSalesRollup, CustomerTotalRollup, NewCustomerRollup,
                 CustomerFigureRollup, RollupRun)
"""Every table a run's rollups live in (deleted with the run)."""
