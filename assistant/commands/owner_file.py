"""``crm-bot import owners PATH``: hand many accounts to their owners from a CSV, all or nothing.

The file has a ``customer_id`` and an ``owner`` column (a Slack member id, or a rep's e-mail);
other columns are ignored.  Every row is checked first (the customer exists and was not erased,
the owner is a valid, active person where Slack can be asked); rows that fail are reported with
their line and reason and change nothing, the rest are applied in one transaction, one audit
entry per changed account.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.commands.base import Context
from assistant.commands.owners import new_owner
from assistant.errors import UserFacingError
from db import erased, owners
from db.models import Customer
from db.normalise import SPREADSHEET_FLOAT_ID

REQUIRED = ("customer_id", "owner")
BATCH = 1000


@dataclass
class OwnerImport:
    """What an owners file did."""

    changed: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    """(line of the file, customer id as written, why)."""


def _rows(path: Path) -> Iterator[tuple[int, str, str]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserFacingError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise UserFacingError(f"{path.name} has no {' and no '.join(missing)} column; the file needs "
                                  f"customer_id,owner (found: {', '.join(columns) or 'no header'})")
        for row in reader:
            ref = re.sub(SPREADSHEET_FLOAT_ID, r"\1", (row.get(columns["customer_id"]) or "").strip())
            yield reader.line_num, ref, (row.get(columns["owner"]) or "").strip()


def _batches(rows: Iterator[tuple[int, str, str]]) -> Iterator[list[tuple[int, str, str]]]:
    batch: list[tuple[int, str, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_owners(session: Session, path: Path, context: Context, by: str, now: datetime,
                  check_owner: Callable[[Context, str], str] | None = None) -> OwnerImport:
    """Apply the file's owners (see the module docstring); committed only when the whole file was read."""
    check = check_owner or (lambda ctx, owner: new_owner(ctx, owner, allow_email=True))
    report = OwnerImport()
    for batch in _batches(_rows(path)):
        found = {c.external_id: c for c in session.scalars(
            select(Customer).where(Customer.external_id.in_({ref for _, ref, _ in batch})))}
        for line, ref, written in batch:
            customer = found.get(ref)
            if customer is None:
                gone = erased.erased_at(session, ref) if ref else None
                report.rejected.append((line, ref, "no customer_id" if not ref else
                                        f"erased on {gone:%Y-%m-%d}" if gone else "no such customer"))
                continue
            try:
                owner = check(context, written) if written else ""
            except UserFacingError as exc:
                report.rejected.append((line, ref, str(exc)))
                continue
            if not owner:
                report.rejected.append((line, ref, "no owner (leave the row out to keep the current owner)"))
            elif customer.owner == owner:
                report.unchanged += 1
            else:
                owners.assign(session, customer, owner, by, "cli", now, "import")
                report.changed += 1
    session.commit()
    return report
