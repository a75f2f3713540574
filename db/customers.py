"""Customer look-ups the bot does: by external id, by e-mail, by a fragment of the name."""

from __future__ import annotations

import re

import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import and_, case, func, or_, select
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
    pattern = f"%{_escape(needle)}%"
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
    escaped = _escape(needle)
    query = (select(Customer).where(or_(func.lower(Customer.name).like(f"{escaped}%", escape="\\"),
                                        func.lower(Customer.external_id).like(f"{escaped}%", escape="\\")))
             .order_by(Customer.name, Customer.external_id).limit(limit))
    return list(session.scalars(query))


MAX_ID_EDITS = 1
"""How far a typed id may be from a stored one to be offered: one slip (a digit wrong, missing,
extra or two swapped) is a typo; two are more likely another customer."""
ID_CANDIDATES = 20_000
"""At most this many stored ids are compared (the ones sharing the typed id's start or end)."""


def similar_ids(session: Session, text: str, limit: int = 3) -> list[Customer]:
    """Customers whose id is one slip away from ``text`` (``12784`` -> 12748), or whose id is the
    digits of ``text`` (``12748x`` -> 12748), closest first: a "did you mean", never an answer."""
    typed = text.strip().lower()
    if len(typed) < 3:
        return []
    digits = re.sub(r"\D", "", typed)
    ids = func.lower(Customer.external_id)
    near = and_(func.length(Customer.external_id).between(len(typed) - MAX_ID_EDITS, len(typed) + MAX_ID_EDITS),
                or_(ids.like(_escape(typed[:2]) + "%", escape="\\"), ids.like("%" + _escape(typed[-2:]), escape="\\")))
    stored = list(session.scalars(select(Customer.external_id).where(near).limit(ID_CANDIDATES)))
    near_ids = process.extract(typed, [s.lower() for s in stored], scorer=OSA.distance, score_cutoff=MAX_ID_EDITS,
                               limit=None)
    # Equally near ids: a swap of two characters (the commonest slip) first, then in id order, so the
    # answer never depends on the order the database returns rows in.
    ranked = [match for match, _, _ in sorted(near_ids, key=lambda m: (m[1], sorted(m[0]) != sorted(typed), m[0]))
              ][:limit]
    wanted = ([digits] if digits and digits != typed else []) + ranked
    found = {c.external_id.lower(): c for c in session.scalars(select(Customer).where(ids.in_(wanted)))}
    return [found[w] for w in dict.fromkeys(wanted) if w in found][:limit]


def _escape(text: str) -> str:
    """``text`` for a LIKE pattern, its ``%`` and ``_`` literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
