"""Who may see what, where: the one place that decides disclosure (roles x channel type).

| where the answer goes     | admin, manager | rep (own customers / others) | marketer | viewer     |
|---------------------------|----------------|------------------------------|----------|------------|
| ephemeral reply or DM     | full           | full / masked                | masked   | aggregates |
| private channel           | masked         | masked / masked              | masked   | aggregates |
| public or shared channel  | aggregates     | aggregates                   | aggregates | aggregates |

A person's role: admin if in ``CRM_ADMINS``; else the role granted to them; else the most
privileged role granted to one of their Slack user groups (admin, manager, rep, marketer,
viewer, in that order); else ``CRM_DEFAULT_ROLE``.

*full*: names, ids and contact details; *masked*: names and ids, e-mail ``j***@example.com``,
phone only its last two digits; *aggregates*: counts and shares, no names or ids.  Notes are
read at *full* only: where a customer is masked, the answer says how many notes there are.

Who may write (wherever they ask; previews and forms are seen by the asker only):

| write                         | admin, manager | rep                       | marketer, viewer |
|-------------------------------|----------------|---------------------------|------------------|
| a note about a customer       | yes            | on the accounts they own  | no               |
| a customer's owner            | yes            | to hand over their own    | no               |
| a follow-up (a reminder)      | yes            | on the accounts they own  | no               |

A follow-up reminds the person who set it, in their direct messages; when the account is handed
over, the previous owner's open follow-ups go with it.  Done and Snooze belong to the person
reminded (and to managers and admins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from db import access
from db.access_models import ROLES

FULL, MASKED, AGGREGATES = "full", "masked", "aggregates"
PRIVATE_PLACES = ("ephemeral", "im")
"""Only the asker sees the answer."""


@dataclass(frozen=True)
class Viewer:
    """Who is asking, with which role, and where the answer will be seen."""

    user_id: str
    role: str
    place: str = "ephemeral"
    """``ephemeral``, ``im``, ``private``, ``public`` or ``shared`` (Slack Connect)."""


def resolve_role(session: Session, user_id: str, admins: frozenset[str], default_role: str,
                 groups: Callable[[], frozenset[str]] = frozenset) -> str:
    """Configured admins are admins; others have the role granted to them, else the most
    privileged role granted to one of their Slack user groups (``groups``: asked only then),
    else the default one."""
    if user_id in admins:
        return "admin"
    own = access.role_of(session, user_id)
    if own is not None:
        return own
    by_group = access.group_roles(session)
    if by_group:
        theirs = [by_group[g] for g in groups() if g in by_group]
        if theirs:
            return min(theirs, key=ROLES.index)
    return default_role


def customer_level(viewer: Viewer, owner: str | None) -> str:
    """How much of one customer's data the viewer may see here."""
    if viewer.place in ("public", "shared") or viewer.role == "viewer":
        return AGGREGATES
    if viewer.role in ("admin", "manager") or (viewer.role == "rep" and owner == viewer.user_id):
        return FULL if viewer.place in PRIVATE_PLACES else MASKED
    return MASKED


def list_level(viewer: Viewer) -> str:
    """How much of a list of customers (segment members, accounts at risk) the viewer may see."""
    if viewer.place in ("public", "shared") or viewer.role == "viewer":
        return AGGREGATES
    return MASKED if viewer.place == "private" else FULL


def require_individuals(viewer: Viewer, level: str, admins: list[str]) -> None:
    """Refuse, in words, an answer about individual customers the viewer may not have here."""
    if level != AGGREGATES:
        return
    if viewer.place in ("public", "shared"):
        raise UserFacingError("customer details are not shown in a public or shared channel: ask me in a direct "
                              "message, or use the slash command (only you see its answer)")
    raise UserFacingError(f"your role ({viewer.role}) sees aggregates only; a customer's details need the rep, "
                          f"manager or admin role. Ask {admins_phrase(admins)}.")


def require_admin(viewer: Viewer, admins: Iterable[str], what: str = "this") -> None:
    """Refuse, saying who the admins are, unless the viewer is one."""
    if viewer.role != "admin":
        raise UserFacingError(f"{what} needs the admin role; ask {admins_phrase(admins)}")


def admins_phrase(admins: Iterable[str]) -> str:
    """Whom to ask for what needs an admin, as Slack mentions."""
    return ", ".join(f"<@{a}>" for a in sorted(admins)) or "your crm-bot admins (CRM_ADMINS)"


def group_floor(viewer: Viewer, min_group: int) -> int:
    """The smallest group (segment, cohort, rule) that may be described here: any size when only
    the asker sees it, ``min_group`` in a channel (smaller groups could identify people)."""
    return 1 if viewer.place in PRIVATE_PLACES else min_group


def merge_small_groups(table: pd.DataFrame, size_column: str, floor: int, label_column: str) -> pd.DataFrame:
    """Rows describing fewer than ``floor`` customers merged into one "other" row (sizes summed)."""
    small = table[size_column] < floor
    if floor <= 1 or not small.any():
        return table
    sums = table[small].sum(numeric_only=True)
    # Text columns (e.g. a suggested action) say nothing for the merged row.
    other = {c: (sums[c] if c in sums.index else "") for c in table.columns}
    other[label_column] = f"Other ({int(small.sum())} groups under {floor})"
    merged = pd.concat([table[~small], pd.DataFrame([other])], ignore_index=True)
    for column in table.columns:
        if pd.api.types.is_integer_dtype(table[column]):
            merged[column] = merged[column].astype("int64")
    return merged


def mask_email(email: str | None) -> str | None:
    """``jane.doe@example.com`` -> ``j***@example.com``."""
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """Only the last two digits: ``+44 20 7946 0958`` -> ``******58``."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    return "******" + "".join(digits[-2:])


def require_writer(viewer: Viewer, owner: str | None, admins: Iterable[str], what: str) -> None:
    """Refuse, in words, a write about a customer the viewer may not make (the table above)."""
    if viewer.role in ("admin", "manager") or (viewer.role == "rep" and owner == viewer.user_id):
        return
    if viewer.role == "rep":
        raise UserFacingError(f"{what} is for the account's owner, managers and admins; this account is "
                              f"{'not yours' if owner else 'not assigned to you'}. Ask a manager, or "
                              f"{admins_phrase(admins)}.")
    raise UserFacingError(f"your role ({viewer.role}) cannot write to the CRM; {what} needs the rep (on own "
                          f"accounts), manager or admin role. Ask {admins_phrase(admins)}.")
