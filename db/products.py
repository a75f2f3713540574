"""Product look-ups: by stock code, or by words of the description (most-sold first)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import OrderLine, Product

MAX_WORDS = 6


def by_sku(session: Session, sku: str) -> Product | None:
    """The product with this stock code (case-insensitive), if any."""
    code = sku.strip()
    return session.scalar(select(Product).where(func.upper(Product.sku) == code.upper()).limit(1)) if code else None


def by_description(session: Session, text: str, limit: int = 5) -> list[Product]:
    """Merchandise whose description holds every word of ``text``, the most-ordered first."""
    words = [w for w in text.lower().split() if len(w) > 1][:MAX_WORDS]
    if not words:
        return []
    query = select(Product, func.count(OrderLine.id).label("lines")).outerjoin(
        OrderLine, OrderLine.product_id == Product.id).where(Product.kind == "product")
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Product.description).like(f"%{escaped}%", escape="\\"))
    query = query.group_by(Product.id).order_by(func.count(OrderLine.id).desc(), Product.sku).limit(limit)
    return [row[0] for row in session.execute(query)]
