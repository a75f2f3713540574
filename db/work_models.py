"""What people write about customers from Slack: notes, follow-ups, and the previews awaiting Save or Cancel.

Notes belong to the customer they are about: erasure deletes them, export includes them.  A
preview (``PendingWrite``) holds what a Save button would write, so the button's value is only
a token and a note longer than a button's 2,000 characters still fits; it is claimed once
(``status`` goes from ``pending`` to ``saved`` or ``cancelled`` in one statement), so two
clicks, or two bot replicas receiving the same click, write once.

A follow-up (``FollowUp``) is a task with a due time; its reminder is delivered to the owner's
direct messages exactly once, with the claim protocol of digests (``assistant.jobs.claims``):
``reminder`` goes ``waiting`` -> ``claimed`` -> ``sent`` (or ``missed`` / ``failed``), and a
snooze starts a new reminder (a new ``token``) for the same task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

NOTE_CHARS = 3000
"""The longest note: Slack's limit for a modal's text input and for one section of a message."""

WRITE_KINDS = ("note", "assign", "follow_up")
WRITE_STATUSES = ("pending", "saved", "cancelled")


class CustomerNote(Base):
    """One note about a customer: who wrote it, when, and its text."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    author: Mapped[str] = mapped_column(String(32))
    """A Slack member id, or ``cli`` for the command line."""
    written_at: Mapped[datetime] = mapped_column(DateTime)
    text: Mapped[str] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    """What wrote it (``view:V0123`` for a modal, ``preview:TOKEN`` for a Save button): the same
    submission delivered twice finds its note already written."""

    __table_args__ = (Index("ix_customer_notes_customer_id_written_at", "customer_id", "written_at"),)


class PendingWrite(Base):
    """A write shown as a preview, waiting for its Save (or Cancel) button."""

    __tablename__ = "pending_writes"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    """Only the person who asked may save it."""
    kind: Mapped[str] = mapped_column(String(16))
    customer_ref: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What to write: ``{"text": ...}`` for a note, ``{"owner": ..., "previous": ...}`` for an owner."""
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in WRITE_KINDS) + ")", name="kind"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in WRITE_STATUSES) + ")", name="status"),
    )


FOLLOW_UP_STATES = ("open", "done", "cancelled")
REMINDER_STATES = ("waiting", "claimed", "sent", "missed", "failed")


class FollowUp(Base):
    """Something to do about a customer by a time, and the state of its reminder."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    owner: Mapped[str] = mapped_column(String(32))
    """The Slack member reminded (who asked; the new owner after the account is handed over)."""
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    """UTC.  The time was read in ``timezone``, the asker's Slack time zone."""
    timezone: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    """What to do ("call about the spring catalogue"); never logged."""
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    """What made it (``preview:TOKEN``, ``view:V0123``): the same submission twice makes one."""
    state: Mapped[str] = mapped_column(String(16), default="open")
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[str | None] = mapped_column(String(32))
    reminder: Mapped[str] = mapped_column(String(16), default="waiting")
    token: Mapped[str] = mapped_column(String(36))
    """The current reminder's token, in its message's metadata (a taker finds a post that landed)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    first_claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    message_channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    detail: Mapped[str | None] = mapped_column(Text)
    """Why a reminder was missed or could not be sent, in words."""

    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in FOLLOW_UP_STATES) + ")", name="state"),
        CheckConstraint("reminder IN (" + ", ".join(f"'{s}'" for s in REMINDER_STATES) + ")", name="reminder"),
        Index("ix_follow_ups_reminder_due_at", "reminder", "due_at"),
        Index("ix_follow_ups_owner_state_due_at", "owner", "state", "due_at"),
    )
