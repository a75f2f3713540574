"""CSV files for campaign tools, written row by row from a stream (never built in memory).

``write_csv_atomically`` is the terminal's (``crm-bot scores --csv``, ``segments --csv``, ``atrisk
--csv``): through a temporary file beside the target, so a failure leaves no half-written file.
``temporary_csv`` is Slack's: a private temporary file the upload reads and then deletes.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import UserFacingError


def _write(handle: int, header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> int:
    count = 0
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_csv_atomically(path: Path, header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> int:
    """Write ``rows`` under ``header`` to ``path`` through a temporary file beside it, so a failure
    never leaves a half-written file behind; the number of rows written."""
    if not path.parent.is_dir():
        raise UserFacingError(f"cannot write {path}: the folder {path.parent} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        count = _write(handle, header, rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def temporary_csv(header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> tuple[Path, int]:
    """The rows in a new temporary CSV file (readable by this user only); the caller deletes it."""
    handle, name = tempfile.mkstemp(prefix="crm-export-", suffix=".csv")
    try:
        return Path(name), _write(handle, header, rows)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
