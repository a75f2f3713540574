"""Roles of Slack users and the audit log: the queries the policy and the admin commands need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import erased
from db.access_models import ROLES, AuditEntry, UserRole


def role_of(session: Session, user_id: str) -> str | None:
    """The role stored for ``user_id``, or ``None`` (then the default role applies)."""
    return session.scalar(select(UserRole.role).where(UserRole.user_id == user_id))


def group_roles(session: Session) -> dict[str, str]:
    """Roles granted to Slack user groups (their ids start with ``S``)."""
    return dict(session.execute(select(UserRole.user_id, UserRole.role).where(UserRole.user_id.startswith("S"))).all())


def grant(session: Session, user_id: str, role: str, by: str, now: datetime) -> str | None:
    """Give ``user_id`` the role; returns the role they had before (``None``: the default)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    row = session.get(UserRole, user_id)
    before = row.role if row is not None else None
    if row is None:
        session.add(UserRole(user_id=user_id, role=role, granted_by=by, granted_at=now))
    else:
        row.role, row.granted_by, row.granted_at = role, by, now
    return before


def revoke(session: Session, user_id: str) -> str | None:
    """Remove the user's stored role (back to the default); returns what it was."""
    row = session.get(UserRole, user_id)
    if row is None:
        return None
    session.delete(row)
    return row.role


def roles(session: Session) -> list[UserRole]:
    """Every stored role, admins first."""
    rows = list(session.scalars(select(UserRole)))
    return sorted(rows, key=lambda r: (ROLES.index(r.role), r.user_id))


def record(session: Session, *, at: datetime, user_id: str, channel_id: str, action: str, what: str,
           customer_ref: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append one audit entry (committed with the caller's transaction)."""
    session.add(AuditEntry(at=at, user_id=user_id[:32], channel_id=channel_id[:32], action=action, what=what[:200],
                           customer_ref=customer_ref, detail=detail or {}))


def audit(session: Session, user_id: str | None = None, customer_ref: str | None = None,
          since: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
    """Audit entries, newest first, filtered by who, which customer and since when.

    A customer erased on request is found by their id too: the log knows them by pseudonym.
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if customer_ref is not None:
        query = query.where(AuditEntry.customer_ref.in_(erased.audit_refs(session, customer_ref)))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return list(session.scalars(query))
