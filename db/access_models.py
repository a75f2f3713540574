"""Who may see what, and who saw what: roles of Slack users and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

ROLES = ("admin", "manager", "rep", "marketer", "viewer")


class UserRole(Base):
    """A Slack user's role (users without a row get the configured default role)."""

    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role"),)


class AuditEntry(Base):
    """One thing that happened: a command, a disclosure of a customer's data, a role change, a post.

    Append-only: nothing in crm-bot deletes these rows.  The one change ever made is erasure's:
    an erased customer's id in earlier entries is replaced by their pseudonym (see
    ``ErasedCustomer``), so the log still shows who saw their data, when and where, without
    naming them.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    """``command``, ``disclosure``, ``role``, ``digest``, ``alert``."""
    what: Mapped[str] = mapped_column(String(200))
    customer_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ErasedCustomer(Base):
    """A customer erased on request: only a keyed hash of their id, so imports can keep them out.

    The hash is an HMAC of the customer id under this store's own key (``StoreKey``), so the
    list cannot be matched against another store's ids, and it holds nothing else about them.
    """

    __tablename__ = "erased_customers"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime)
    erased_by: Mapped[str] = mapped_column(String(64))
    removed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """How many rows of each kind the erasure removed, detached or pseudonymised."""


class StoreKey(Base):
    """Secrets this store generates for itself once (e.g. the key of erased customers' hashes)."""

    __tablename__ = "store_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
