"""SQLAlchemy 2.0 models of the customer store.

Every table keeps the natural key of the source system unique (customer id, stock code,
invoice number) so imports can upsert by it.  How rows of a source file map onto these
tables, and which rows analytics count as sales, is documented in docs/data-model.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so Alembic can alter them the same way on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_KINDS = ("sale", "cancellation", "return", "adjustment")
"""``sale``: goods sold.  ``cancellation``/``return``: a credit document or an order that did not
stand (see docs/data-model.md).  ``adjustment``: accounting entries such as bad-debt write-offs."""

PRODUCT_KINDS = ("product", "postage", "fee", "discount", "manual", "voucher", "adjustment", "sample")
"""Only ``product`` rows are merchandise; the others are kept out of product analytics."""


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __table__: ClassVar[Table]  # every model here maps one Table (SQLAlchemy types it as any FromClause)


class ImportRun(Base):
    """One run of an importer: what was read, how far it got, and how every row ended up."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_format: Mapped[str] = mapped_column(String(32))
    source_name: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_committed: Mapped[int] = mapped_column(Integer, default=0)
    """Data rows of the file whose outcome is committed: the resume point after a crash."""
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reject_file: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(3))
    """ISO 4217 code of the file's prices, where known (the format's, ``--currency``, or its price symbols)."""
    changed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether the run added or changed anything (a sync every few minutes mostly does not): only such
    runs make the rollups stale and call for a refresh."""

    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),
    )


class Customer(Base):
    """A customer, keyed by the id the business's own systems give it."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(80), index=True)
    """Canonical English country name (``EIRE`` is stored as ``Ireland``)."""
    country_code: Mapped[str | None] = mapped_column(String(2))
    """ISO 3166-1 alpha-2 code where the country is a recognised country."""
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    """When the source system created the customer, if it says."""
    owner: Mapped[str | None] = mapped_column(String(120), index=True)
    """The account owner: a Slack user id or an e-mail address of the rep."""
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Extra columns of a customers file, kept verbatim (e.g. ``churned``, ``plan``)."""
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Product(Base):
    """A catalogue item (or a non-product code such as postage), keyed by its stock code."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16), default="product")

    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in PRODUCT_KINDS) + ")", name="kind"
        ),
    )


class Order(Base):
    """An invoice or order document, keyed by its number in the source system."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    """``None`` for guest orders (no customer id in the source): kept for totals, not for
    customer analytics."""
    ordered_at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16), default="sale")
    status: Mapped[str | None] = mapped_column(String(32))
    """The status text of the source, where it had one."""
    country: Mapped[str | None] = mapped_column(String(80))
    currency: Mapped[str | None] = mapped_column(String(3))
    """ISO 4217 code of the order's prices: the source's own per order (Shopify, a sync), else its run's."""
    in_main_currency: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether the analytics count the order: its currency is the store's main one or unknown
    (``db.currencies``: amounts in other currencies are kept apart, never converted)."""
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))

    customer: Mapped[Customer | None] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order")

    __table_args__ = (
        Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
        Index("ix_orders_ordered_at", "ordered_at"),
        # only the few orders kept apart are indexed: "are any kept apart?" is answered instantly
        Index("ix_orders_kept_apart", "currency", postgresql_where=text("NOT in_main_currency"),
              sqlite_where=text("NOT in_main_currency")),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in ORDER_KINDS) + ")", name="kind"),
    )


class OrderLine(Base):
    """One line of an order: a quantity of a product at a unit price.

    Source files carry no line numbers, so a line's natural key is its content within the
    order plus ``occurrence``: 0 for the first identical line, 1 for a second identical one,
    and so on.  Re-importing a file, or a newer file that overlaps it, then adds nothing twice
    while lines that are truly repeated in the source stay countable.
    """

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    """Negative on cancellation and return documents."""
    unit_price_micros: Mapped[int] = mapped_column(BigInteger)
    """Unit price in millionths of the currency unit (see db/money.py)."""
    occurrence: Mapped[int] = mapped_column(SmallInteger, default=0)
    """> 0 marks a repeat of an identical line in the same order."""

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        UniqueConstraint("order_id", "product_id", "quantity", "unit_price_micros", "occurrence",
                         name="uq_order_lines_natural_key"),
    )
