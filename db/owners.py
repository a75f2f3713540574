"""Account owners: hand a customer to a rep, one at a time or from a file, each change audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from db import access, follow_ups
from db.models import Customer

MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
"""A Slack member id (``U0123ABCD``; ``W...`` in Enterprise Grid): someone a direct message can reach
(not ``cli``, not a channel)."""
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_owner(owner: str) -> bool:
    """An owner is a Slack member id (alerts and reminders reach them by DM) or a rep's e-mail."""
    return bool(MEMBER_ID.match(owner) or EMAIL.match(owner))


def assign(session: Session, customer: Customer, owner: str, by: str, channel_id: str, now: datetime,
           how: str) -> str | None:
    """Make ``owner`` the customer's owner, audited (committed by the caller); returns the previous owner.
    The previous owner's open follow-ups about the account go to the new owner with it."""
    previous = customer.owner
    customer.owner = owner
    moved = follow_ups.move_owner(session, customer.id, previous, owner)
    access.record(session, at=now, user_id=by, channel_id=channel_id, action="assignment", what="owner changed",
                  customer_ref=customer.external_id,
                  detail={"from": previous, "to": owner, "how": how, "follow_ups_moved": moved})
    return previous
