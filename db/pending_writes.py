"""Previews of writes: kept until their Save or Cancel button is clicked, claimed exactly once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.work_models import PendingWrite

PREVIEW_LIFETIME = timedelta(hours=24)
"""A preview left unanswered this long is no longer saved: what it showed may have changed."""


def propose(session: Session, user_id: str, kind: str, customer_ref: str, payload: dict[str, Any],
            now: datetime) -> str:
    """Keep a preview (committed by the caller); returns the token its buttons carry."""
    token = secrets.token_hex(16)
    session.add(PendingWrite(token=token, user_id=user_id[:32], kind=kind, customer_ref=customer_ref,
                             payload=payload, created_at=now, status="pending"))
    return token


@dataclass(frozen=True)
class Decision:
    """What a click on Save or Cancel found: the preview (``None``: no such token for this user) and
    whether this click is the one that decided it."""

    preview: PendingWrite | None
    decided_now: bool
    expired: bool = False


def decide(session: Session, token: str, user_id: str, status: str, now: datetime) -> Decision:
    """Move the user's preview from ``pending`` to ``status`` in one statement, so of two clicks
    (or two replicas given the same click) exactly one decides; the caller writes in the same
    transaction and commits."""
    preview = session.scalar(select(PendingWrite).where(PendingWrite.token == token,
                                                        PendingWrite.user_id == user_id))
    if preview is None:
        return Decision(None, False)
    if preview.status == "pending" and preview.created_at < now - PREVIEW_LIFETIME:
        return Decision(preview, False, expired=True)
    claimed = rows_affected(session.execute(
        update(PendingWrite).where(PendingWrite.token == token, PendingWrite.status == "pending")
        .values(status=status, decided_at=now).execution_options(synchronize_session=False)))
    session.refresh(preview)
    return Decision(preview, claimed == 1)


def forget_customer(session: Session, customer_ref: str) -> int:
    """Delete every preview about the customer (erasure: a preview may hold a note's text)."""
    return rows_affected(session.execute(delete(PendingWrite).where(PendingWrite.customer_ref == customer_ref)))


def prune(session: Session, now: datetime) -> int:
    """Delete previews older than their lifetime (their text need not be kept)."""
    return rows_affected(session.execute(delete(PendingWrite).where(
        PendingWrite.created_at < now - PREVIEW_LIFETIME)))
