"""What an import did, row by row, and where the rejected rows went."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from db.importers.order_lines import Rejection
from db.importers.rules import CUSTOMER_OUTCOMES, LINE_CATEGORIES, NOTES, REJECT_REASONS


@dataclass
class ImportReport:
    """Counts of one import.  ``rows_read`` always equals accepted + rejected rows."""

    source_format: str
    source_name: str
    run_id: int | None = None
    rows_read: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    """Accepted rows by category (order formats) or by outcome (customers)."""
    rejected: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    """Things worth knowing that did not stop a row: guest orders, repeated lines, ..."""
    stored_new: int = 0
    """Rows that added something to the store (new lines or customers)."""
    already_stored: int = 0
    """Rows whose content was already in the store: a re-import changes nothing for them."""
    updated: int = 0
    new_customers: int = 0
    new_products: int = 0
    new_orders: int = 0
    reject_file: Path | None = None
    status: str = "running"
    """running, completed, failed, or skipped (this exact file was imported before)."""
    previous_run_id: int | None = None
    previous_finished_at: datetime | None = None
    currency: str | None = None
    """ISO code of the prices, where the format, ``--currency`` or the price symbols say."""

    @property
    def accepted(self) -> int:
        return sum(self.categories.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def is_balanced(self) -> bool:
        """Every row read is accounted for exactly once."""
        if self.status == "skipped":
            return True
        return self.rows_read == self.accepted + self.rejected_total \
            and self.accepted == self.stored_new + self.updated + self.already_stored

    def as_counts(self) -> dict[str, Any]:
        """A JSON-ready summary, stored on the import run."""
        return {
            "rows_read": self.rows_read,
            "categories": dict(self.categories),
            "rejected": dict(self.rejected),
            "notes": dict(self.notes),
            "stored_new": self.stored_new,
            "already_stored": self.already_stored,
            "updated": self.updated,
            "new_customers": self.new_customers,
            "new_products": self.new_products,
            "new_orders": self.new_orders,
        }

    @staticmethod
    def describe_category(code: str) -> str:
        return {**LINE_CATEGORIES, **CUSTOMER_OUTCOMES}.get(code, code.replace("_", " "))

    @staticmethod
    def describe_note(code: str) -> str:
        return NOTES.get(code, code.replace("_", " "))

    @staticmethod
    def describe_reason(code: str) -> str:
        return REJECT_REASONS.get(code, code.replace("_", " "))


class RejectWriter:
    """Writes rejected rows (line, reason, detail, then the row as read) to a CSV file.

    The file is only created when the first rejection arrives, so a clean import leaves
    nothing behind.
    """

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._header = header
        self._handle: IO[str] | None = None
        self._writer: Any = None
        self.count = 0

    def write(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "reason", "detail", *self._header])
        for rejection in sorted(rejections, key=lambda r: r.line):
            self._writer.writerow([rejection.line, REJECT_REASONS.get(rejection.reason, rejection.reason),
                                   rejection.detail, *rejection.fields])
        self._handle.flush()
        self.count += len(rejections)

    def close(self) -> Path | None:
        """Close the file; returns its path if anything was written."""
        if self._handle is not None:
            self._handle.close()
            return self.path
        return None
