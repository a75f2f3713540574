"""What the store holds, in a few numbers: printed by ``crm-bot demo`` and ``crm-bot stats``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Customer, ImportRun, Order, OrderLine, Product
from db.money import from_micros
from db.orders import CREDIT_LINE, SALES_LINE
from db.sample import ONLINE_RETAIL_SAMPLE
from db.snapshot_models import AnalyticsRun


@dataclass
class StoreSummary:
    """Counts and totals over the whole store."""

    customers: int
    products: int
    non_products: int
    orders_by_kind: dict[str, int]
    guest_orders: int
    lines: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    gross_line_value: Decimal
    """Sum of quantity x price over every stored line (a checksum against the source)."""
    sales_value: Decimal
    credit_value: Decimal
    countries: int
    imports: list[tuple[int, str, str, str]] = field(default_factory=list)
    """Recent import runs: (id, format, status, source)."""

    @property
    def orders(self) -> int:
        return sum(self.orders_by_kind.values())


def _line_value(session: Session, *conditions: object) -> Decimal:
    query = (select(func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_micros), 0))
             .join(Order, OrderLine.order_id == Order.id).join(Product, OrderLine.product_id == Product.id))
    for condition in conditions:
        query = query.where(condition)  # type: ignore[arg-type]
    return from_micros(session.scalar(query))


def store_summary(session: Session) -> StoreSummary:
    """Summarise the store with a handful of aggregate queries."""
    orders_by_kind = dict(session.execute(select(Order.kind, func.count(Order.id)).group_by(Order.kind)).all())
    first, last = session.execute(select(func.min(Order.ordered_at), func.max(Order.ordered_at))).one()
    imports = session.execute(select(ImportRun.id, ImportRun.source_format, ImportRun.status,
                                     ImportRun.source_name).order_by(ImportRun.id.desc()).limit(5)).all()
    return StoreSummary(
        customers=int(session.scalar(select(func.count(Customer.id))) or 0),
        products=int(session.scalar(select(func.count(Product.id)).where(Product.kind == "product")) or 0),
        non_products=int(session.scalar(select(func.count(Product.id)).where(Product.kind != "product")) or 0),
        orders_by_kind={str(k): int(v) for k, v in orders_by_kind.items()},
        guest_orders=int(session.scalar(select(func.count(Order.id)).where(Order.customer_id.is_(None))) or 0),
        lines=int(session.scalar(select(func.count(OrderLine.id))) or 0),
        first_order_at=first,
        last_order_at=last,
        gross_line_value=_line_value(session),
        sales_value=_line_value(session, SALES_LINE),
        credit_value=-_line_value(session, CREDIT_LINE),
        countries=int(session.scalar(select(func.count(func.distinct(Customer.country)))) or 0),
        imports=[(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in imports],
    )


def last_completed_import(session: Session) -> ImportRun | None:
    """The newest import that finished (its counts say how many rows were read and rejected)."""
    return session.scalar(select(ImportRun).where(ImportRun.status == "completed").order_by(ImportRun.id.desc())
                          .limit(1))


def changed_since_latest_run(session: Session) -> bool:
    """Whether an import or sync changed the store after the latest completed analytics run began
    (or the store has data and no run yet): then a refresh has something new to say."""
    started = session.scalar(select(func.max(AnalyticsRun.started_at)).where(AnalyticsRun.status == "completed"))
    query = select(ImportRun.id).where(ImportRun.changed, ImportRun.finished_at.is_not(None))
    if started is not None:
        query = query.where(ImportRun.finished_at > started)
    return session.scalar(query.limit(1)) is not None


def recorded_currency(session: Session) -> str | None:
    """The currency of the latest completed import that recorded one (``None``: never said)."""
    return session.scalar(select(ImportRun.currency).where(ImportRun.status == "completed",
                                                          ImportRun.currency.is_not(None))
                          .order_by(ImportRun.id.desc()).limit(1))


def holds_only_the_sample(session: Session) -> bool:
    """Whether everything imported is the bundled demo sample (historical data: 2010-12 .. 2011-12)."""
    names = list(session.scalars(select(ImportRun.source_name).where(ImportRun.status == "completed").distinct()))
    return bool(names) and all(Path(name).name == ONLINE_RETAIL_SAMPLE.name for name in names)
