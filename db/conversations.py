"""Remembering and recalling the last question asked in a place (see ``conversation_models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.conversation_models import Conversation


def remember(session: Session, key: str, user_id: str, question: dict[str, Any], now: datetime) -> None:
    """Keep ``question`` as what ``key`` is about now (replacing the previous one); commits."""
    session.execute(delete(Conversation).where(Conversation.key == key))
    session.add(Conversation(key=key, user_id=user_id, question=question, asked_at=now))
    session.commit()


def recall(session: Session, key: str, since: datetime) -> dict[str, Any] | None:
    """The question ``key`` was about, if asked after ``since`` (older conversations have ended)."""
    return session.scalar(select(Conversation.question).where(Conversation.key == key,
                                                              Conversation.asked_at >= since))


def forget_before(session: Session, before: datetime) -> int:
    """Delete conversations idle since before ``before``; returns how many (commits)."""
    deleted = rows_affected(session.execute(delete(Conversation).where(Conversation.asked_at < before)))
    session.commit()
    return deleted
