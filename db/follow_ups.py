"""Follow-ups and the claim protocol that delivers each reminder exactly once.

A reminder goes ``waiting`` -> ``claimed`` -> ``sent`` (or ``missed``, ``failed``).  ``claim_due``
claims a batch in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): of two schedulers
each reminder goes to one, and a claim whose lease ran out (its scheduler died, or gave up on a
transient error) is taken over with ``attempts`` + 1, so the taker looks for the token in the
owner's direct messages before posting again (``assistant.jobs.reminders``); ``fence`` checks the
claim is still held just before each post.  Snoozing starts a new reminder with a new token.  The
functions that deliver commit their own short transactions (``record_sent`` commits with its
audit entry); the ones a person's click calls (``add``, ``mark_done``, ``snooze``) leave the
commit to the caller, who audits in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from db.bulk import rows_affected
from db.models import Customer
from db.notes import add_once
from db.work_models import FollowUp


def add(session: Session, customer: Customer, owner: str, created_by: str, due_at: datetime, timezone: str,
        text: str, now: datetime, source_key: str) -> tuple[FollowUp, bool]:
    """Make the follow-up (flushed, committed by the caller) and True; or, when ``source_key``
    already made one (a form submitted twice), that one and False."""
    return add_once(session, FollowUp(customer_id=customer.id, owner=owner[:32], created_by=created_by[:32],
                                      created_at=now, due_at=due_at, timezone=timezone[:64], text=text,
                                      source_key=source_key[:80], state="open", reminder="waiting",
                                      token=str(uuid.uuid4()), attempts=0))


def open_of(session: Session, owner: str, limit: int, offset: int = 0) -> list[tuple[FollowUp, Customer]]:
    """The owner's open follow-ups, soonest (so the most overdue) first, with their customers."""
    return [(f, c) for f, c in session.execute(
        select(FollowUp, Customer).join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.owner == owner, FollowUp.state == "open")
        .order_by(FollowUp.due_at, FollowUp.id).limit(limit).offset(offset)).all()]


def open_count(session: Session, owner: str, before: datetime | None = None) -> int:
    """How many open follow-ups ``owner`` has (due before ``before``, if given: overdue ones)."""
    query = select(func.count(FollowUp.id)).where(FollowUp.owner == owner, FollowUp.state == "open")
    if before is not None:
        query = query.where(FollowUp.due_at < before)
    return int(session.scalar(query) or 0)


def of_customer(session: Session, customer_id: int) -> list[FollowUp]:
    """Every follow-up about the customer, oldest first (for the data-subject export)."""
    return list(session.scalars(select(FollowUp).where(FollowUp.customer_id == customer_id)
                                .order_by(FollowUp.created_at, FollowUp.id)))


def get(session: Session, follow_up_id: int) -> tuple[FollowUp, Customer] | None:
    """One follow-up with its customer, read fresh."""
    found = session.execute(select(FollowUp, Customer).join(Customer, Customer.id == FollowUp.customer_id)
                            .where(FollowUp.id == follow_up_id)
                            .execution_options(populate_existing=True)).first()
    return (found[0], found[1]) if found else None


def _claimable(now: datetime) -> ColumnElement[bool]:
    """A reminder a scheduler may take: due and waiting, or claimed by one whose lease ran out."""
    return and_(FollowUp.state == "open", FollowUp.due_at <= now,
                or_(FollowUp.reminder == "waiting",
                    and_(FollowUp.reminder == "claimed", FollowUp.lease_until <= now)))


def mark_missed(session: Session, due_before: datetime, why: str) -> list[int]:
    """Reminders still waiting although due before ``due_before`` (the scheduler was down): missed,
    with the reason, never sent late.  Their ids."""
    missed = session.execute(
        update(FollowUp).where(FollowUp.state == "open", FollowUp.reminder == "waiting",
                               FollowUp.due_at < due_before)
        .values(reminder="missed", detail=why[:500]).returning(FollowUp.id)
        .execution_options(synchronize_session=False)).scalars().all()
    session.commit()
    return list(missed)


@dataclass(frozen=True)
class ReminderClaim:
    """The right to send one reminder, as the claim left it."""

    id: int
    owner: str
    due_at: datetime
    token: str
    attempts: int
    first_claimed_at: datetime

    @property
    def must_reconcile(self) -> bool:
        """An earlier attempt may have posted: look in the owner's messages before posting."""
        return self.attempts > 1


def claim_due(session: Session, worker: str, now: datetime, lease: timedelta, limit: int) -> list[ReminderClaim]:
    """Claim up to ``limit`` reminders owed at ``now`` for ``worker`` in one statement, oldest due
    first.  On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so schedulers claiming at
    the same moment take different reminders; SQLite runs one writer at a time.  A reminder whose
    earlier claim ran out is taken over (``attempts`` + 1: the taker reconciles)."""
    owed = (select(FollowUp.id).where(_claimable(now)).order_by(FollowUp.due_at, FollowUp.id).limit(limit)
            .with_for_update(skip_locked=True))
    taken = session.execute(
        update(FollowUp).where(FollowUp.id.in_(owed.scalar_subquery()), _claimable(now))
        .values(reminder="claimed", claimed_by=worker, lease_until=now + lease, attempts=FollowUp.attempts + 1,
                first_claimed_at=func.coalesce(FollowUp.first_claimed_at, now))
        .returning(FollowUp.id, FollowUp.owner, FollowUp.due_at, FollowUp.token, FollowUp.attempts,
                   FollowUp.first_claimed_at)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    return sorted((ReminderClaim(i, owner, due, token, attempts, first or now)
                   for i, owner, due, token, attempts, first in taken), key=lambda c: (c.due_at, c.id))


def with_customers(session: Session, ids: list[int]) -> dict[int, tuple[FollowUp, Customer]]:
    """Follow-ups by id, each with its customer, in one query (those erased meanwhile are absent)."""
    return {f.id: (f, c) for f, c in session.execute(
        select(FollowUp, Customer).join(Customer, Customer.id == FollowUp.customer_id).where(FollowUp.id.in_(ids))
        .execution_options(populate_existing=True)).all()}


def _held(claim: ReminderClaim, worker: str) -> ColumnElement[bool]:
    return and_(FollowUp.id == claim.id, FollowUp.reminder == "claimed", FollowUp.attempts == claim.attempts,
                FollowUp.claimed_by == worker)


def fence(session: Session, claim: ReminderClaim, worker: str, lease_until: datetime) -> bool:
    """Immediately before posting: still ours?  Then extend the lease to ``lease_until``."""
    held = session.execute(update(FollowUp).where(_held(claim, worker)).values(lease_until=lease_until)
                           .execution_options(synchronize_session=False))
    session.commit()
    return rows_affected(held) == 1


def record_sent(session: Session, follow_up_id: int, channel: str, ts: str, now: datetime) -> None:
    """The reminder is in the owner's messages (idempotent; committed by the caller, with its audit entry)."""
    session.execute(update(FollowUp).where(FollowUp.id == follow_up_id)
                    .values(reminder="sent", message_channel=channel, message_ts=ts, sent_at=now, detail=None)
                    .execution_options(synchronize_session=False))


def release(session: Session, claim: ReminderClaim, worker: str, retry_at: datetime, why: str) -> None:
    """A transient failure: the claim may be taken again (and reconciled) from ``retry_at``."""
    session.execute(update(FollowUp).where(_held(claim, worker)).values(lease_until=retry_at, detail=why[:500])
                    .execution_options(synchronize_session=False))
    session.commit()


def give_up(session: Session, claim: ReminderClaim, worker: str, reminder: str, why: str) -> bool:
    """Mark the reminder ``missed`` or ``failed`` with the reason (the task stays open and listed),
    if ``worker`` still holds ``claim``."""
    done = session.execute(update(FollowUp).where(_held(claim, worker)).values(reminder=reminder, detail=why[:500])
                           .execution_options(synchronize_session=False))
    session.commit()
    return rows_affected(done) == 1


def mark_done(session: Session, follow_up_id: int, by: str, now: datetime) -> bool:
    """Close an open follow-up (a waiting reminder is not sent); True for the click that closed it."""
    closed = session.execute(update(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.state == "open")
                             .values(state="done", done_at=now, done_by=by[:32])
                             .execution_options(synchronize_session=False))
    return rows_affected(closed) == 1


def snooze(session: Session, follow_up_id: int, token: str, due_at: datetime) -> bool:
    """Remind again at ``due_at`` (a new reminder, a new token); only from the reminder whose
    ``token`` the button carries, once it was delivered or given up, so a second click changes nothing."""
    moved = session.execute(
        update(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.token == token, FollowUp.state == "open",
                               FollowUp.reminder.in_(("sent", "missed", "failed")))
        .values(due_at=due_at, reminder="waiting", token=str(uuid.uuid4()), attempts=0, claimed_by=None,
                first_claimed_at=None, lease_until=None, message_channel=None, message_ts=None, sent_at=None,
                detail=None)
        .execution_options(synchronize_session=False))
    return rows_affected(moved) == 1


def move_owner(session: Session, customer_id: int, previous: str | None, owner: str) -> int:
    """The previous owner's open follow-ups about an account go with it to its new owner."""
    if not previous or previous == owner:
        return 0
    return rows_affected(session.execute(
        update(FollowUp).where(FollowUp.customer_id == customer_id, FollowUp.owner == previous,
                               FollowUp.state == "open").values(owner=owner[:32])
        .execution_options(synchronize_session=False)))


def forget_customer(session: Session, customer_id: int) -> int:
    """Delete every follow-up about the customer (erasure)."""
    return rows_affected(session.execute(delete(FollowUp).where(FollowUp.customer_id == customer_id)))
