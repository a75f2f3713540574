"""Customer look-ups the bot does: by external id, by e-mail, by a fragment of the name."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from db.models import Customer
from db.normalise import normalise_country


def by_external_id(session: Session, external_id: str) -> Customer | None:
    """The customer with this id in the business's own systems, if any."""
    return session.scalar(select(Customer).where(Customer.external_id == external_id.strip()))


def by_email(session: Session, email: str) -> list[Customer]:
    """Customers with this address (compared case-insensitively; B2B contacts may share one)."""
    return list(session.scalars(select(Customer).where(Customer.email == email.strip().lower())
                                .order_by(Customer.id)))


def search(session: Session, text: str, limit: int = 10) -> list[Customer]:
    """Customers whose id, e-mail or name contains ``text`` (case-insensitive), best first.

    Exact id matches come first, then e-mail, then name matches.  ``text`` is bound as a
    parameter; ``%`` and ``_`` in it match literally.
    """
    needle = text.strip().lower()
    if not needle:
        return []
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    rank = case((func.lower(Customer.external_id) == needle, 0), (Customer.email == needle, 1), else_=2)
    query = (
        select(Customer)
        .where(or_(func.lower(Customer.external_id).like(pattern, escape="\\"),
                   Customer.email.like(pattern, escape="\\"),
                   func.lower(Customer.name).like(pattern, escape="\\")))
        .order_by(rank, Customer.name, Customer.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def similar_names(session: Session, text: str, limit: int = 3) -> list[Customer]:
    """Customers whose name or id starts like ``text`` (a "did you mean" for a query with no match)."""
    needle = text.strip().lower()[:3]
    if len(needle) < 2:
        return []
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (select(Customer).where(or_(func.lower(Customer.name).like(f"{escaped}%", escape="\\"),
                                        func.lower(Customer.external_id).like(f"{escaped}%", escape="\\")))
             .order_by(Customer.name, Customer.external_id).limit(limit))
    return list(session.scalars(query))


def country_named(session: Session, text: str) -> str | None:
    """The stored country ``text`` means (``germany``, ``DE``, ``UK``, ``EIRE``), or ``None``.

    Read the way imports store countries (canonical English name, ISO code), so a user can
    type what they would write in an export.
    """
    name, code = normalise_country(text)
    if name is None:
        return None
    matches = [Customer.country == name, func.lower(Customer.country) == text.strip().lower()]
    if code is not None:
        matches.append(Customer.country_code == code)
    return session.scalar(select(Customer.country).where(or_(*matches)).limit(1))


def countries(session: Session) -> list[tuple[str, int]]:
    """Every stored country with its number of customers, most customers first."""
    rows = session.execute(select(Customer.country, func.count(Customer.id)).where(Customer.country.is_not(None))
                           .group_by(Customer.country).order_by(func.count(Customer.id).desc(), Customer.country))
    return [(str(name), int(n)) for name, n in rows]


def count(session: Session) -> int:
    """How many customers the store holds."""
    return int(session.scalar(select(func.count(Customer.id))) or 0)


def attribute_frame(session: Session) -> pd.DataFrame:
    """Every customer as a row: ``customer_id, external_id, country`` plus one column per attribute.

    Attributes are whatever extra columns customer files carried (kept verbatim as text), so
    the prediction builder can learn any of them.
    """
    rows = session.execute(select(Customer.id, Customer.external_id, Customer.country, Customer.attributes)
                           .order_by(Customer.id)).all()
    base = pd.DataFrame([(r[0], r[1], r[2]) for r in rows], columns=["customer_id", "external_id", "country"])
    extra = pd.DataFrame([r[3] or {} for r in rows], index=base.index)
    extra = extra.drop(columns=[c for c in extra.columns if c in base.columns])
    return pd.concat([base, extra], axis=1)
