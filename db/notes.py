"""Notes about customers: write one (once per submission), page through them, count them; and
``add_once``, which makes any write keyed by its ``source_key`` happen once."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Customer
from db.work_models import CustomerNote, FollowUp

Written = TypeVar("Written", CustomerNote, FollowUp)


def add_once(session: Session, row: Written) -> tuple[Written, bool]:
    """Add ``row`` (flushed, committed by the caller) and True; or, when its ``source_key`` already
    wrote one (a form submitted twice, a Save clicked twice), that row and False."""
    kind = type(row)
    earlier = session.scalar(select(kind).where(kind.source_key == row.source_key))
    if earlier is not None:
        return earlier, False
    try:
        with session.begin_nested():  # a concurrent twin commits first: the unique key decides
            session.add(row)
    except IntegrityError:
        found = session.scalar(select(kind).where(kind.source_key == row.source_key))
        if found is None:
            raise
        return found, False
    return row, True


def add_note(session: Session, customer: Customer, author: str, text: str, now: datetime,
             source_key: str) -> tuple[CustomerNote, bool]:
    """Write the note and True; or the note ``source_key`` wrote before and False (``add_once``)."""
    return add_once(session, CustomerNote(customer_id=customer.id, author=author[:32], written_at=now, text=text,
                                          source_key=source_key[:80]))


def notes_of(session: Session, customer_id: int, limit: int, offset: int = 0) -> list[CustomerNote]:
    """The customer's notes, newest first."""
    return list(session.scalars(select(CustomerNote).where(CustomerNote.customer_id == customer_id)
                                .order_by(CustomerNote.written_at.desc(), CustomerNote.id.desc())
                                .limit(limit).offset(offset)))


def note_count(session: Session, customer_id: int) -> int:
    """How many notes the customer has."""
    return int(session.scalar(select(func.count(CustomerNote.id))
                              .where(CustomerNote.customer_id == customer_id)) or 0)
