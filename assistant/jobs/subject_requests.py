"""Data subject requests: an export that is on record, an erasure that never races a refresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.jobs.refresh.inputs import REFRESH_LOCK
from db import access, erasure, locks
from db.clock import Clock, store_time, utc_now

ERASE_LEASE = timedelta(minutes=10)
"""An erasure takes seconds; a crashed one blocks the next refresh at most this long."""


class ErasureBusy(UserFacingError):
    """A refresh is writing scores: erasing now would fail on the missing customer, or score them again."""


def export_on_record(session: Session, external_id: str, by: str, channel_id: str,
                     clock: Clock = utc_now) -> dict[str, Any]:
    """Everything held about the customer, and an audit entry saying who exported it (committed together)."""
    held = erasure.export_customer(session, external_id, store_time(clock()))
    access.record(session, at=store_time(clock()), user_id=by, channel_id=channel_id, action="export",
                  what="data subject export", customer_ref=external_id, detail={"orders": len(held["orders"])})
    session.commit()
    return held


def erase_when_no_refresh(session: Session, external_id: str, by: str, clock: Clock = utc_now) -> erasure.Erasure:
    """Erase the customer holding the store's refresh lock; ``ErasureBusy`` names the refresh running."""
    try:
        with locks.held(session.get_bind(), REFRESH_LOCK, locks.process_name(), store_time(clock()),
                        ERASE_LEASE):
            return erasure.erase_customer(session, external_id, by, store_time(clock()))
    except locks.LockHeld as exc:
        raise ErasureBusy(f"nothing erased: a refresh {exc.running}; erase when it has finished") from None
