"""What a conversation with the bot was last about, so a follow-up ("and in France?") can refine it.

Kept in the store, not in a process, so any bot replica can continue a thread; one row per place
(a thread, a direct message, a person's slash commands in a channel), replaced by each answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base


class Conversation(Base):
    """The last question about numbers asked in one place, and when."""

    __tablename__ = "conversations"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``im:D0123`` (a direct message), ``C0123:1700000000.000100`` (a thread), ``C0123:user:U0123``."""
    user_id: Mapped[str] = mapped_column(String(32))
    question: Mapped[dict[str, Any]] = mapped_column(JSON)
    asked_at: Mapped[datetime] = mapped_column(DateTime, index=True)
