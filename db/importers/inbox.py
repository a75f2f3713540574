"""The inbox folder (``CRM_INBOX_DIR``): exports dropped there are recognised by their header,
imported, and moved to ``done/`` (with their reject report beside them) or ``failed/`` (with a
``.reason.txt`` saying what was wrong).

A file is only taken once it has stopped changing for ``settle_seconds``: a copy or an upload still
in progress keeps touching it, so a half-written file is never imported.  Imports are idempotent,
so a file dropped again, or a fixed file after a failure part-way, adds only what is missing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from db.clock import Clock, utc_now
from db.importers.customers import import_customer_file
from db.importers.formats import CUSTOMER_COLUMNS, GENERIC_ORDERS, ONLINE_RETAIL
from db.importers.platforms import SHOPIFY, WOOCOMMERCE, import_platform_file
from db.importers.report import ImportReport
from db.importers.runner import ImportOptions, import_order_file
from db.importers.source import ColumnSpec, ImportFileError, inspect_file, match_columns

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart")
"""Names uploaders and browsers give a file while it is still arriving."""

RECOGNISED: tuple[tuple[str, str, tuple[ColumnSpec, ...]], ...] = (
    # Most specific first: an Online Retail header also reads as generic orders, most as customers.
    ("shopify", "a Shopify order export", SHOPIFY.columns),
    ("woocommerce", "a WooCommerce order export", WOOCOMMERCE.columns),
    ("online-retail", "Online Retail", ONLINE_RETAIL.columns),
    ("orders", "generic orders", GENERIC_ORDERS.columns),
    ("customers", "generic customers", CUSTOMER_COLUMNS),
)


@dataclass
class InboxFile:
    """What became of one file: its format and import report, or why it failed; where it went."""

    name: str
    moved_to: Path
    source_format: str | None = None
    report: ImportReport | None = None
    error: str | None = None


_ORDER_COLUMNS = tuple(spec for spec in GENERIC_ORDERS.columns if spec.name in ("order_id", "quantity", "unit_price"))


def recognise(header: list[str]) -> str | None:
    """The format whose required columns the header has (the most specific one), or None.

    A header with order columns is never read as customers (it only needs a customer id): an
    order export of an unknown layout must fail, not become one attribute-laden customer per line.
    """
    for name, _, specs in RECOGNISED:
        if not match_columns(header, specs)[1]:
            if name == "customers" and match_columns(header, _ORDER_COLUMNS)[0]:
                return None
            return name
    return None


def waiting_files(inbox: Path, settle_seconds: float, now: float | None = None) -> Iterator[Path]:
    """Files in the inbox ready to import, oldest first: not hidden, not still arriving."""
    now = time.time() if now is None else now
    candidates = [path for path in inbox.iterdir() if path.is_file() and not path.name.startswith(".")
                  and not path.name.lower().endswith(IN_PROGRESS_SUFFIXES)]
    for path in sorted(candidates, key=lambda p: (p.stat().st_mtime, p.name)):
        if now - path.stat().st_mtime >= settle_seconds:
            yield path


def process_inbox(engine: Engine, inbox: Path, options: ImportOptions, settle_seconds: float = 60.0,
                  clock: Clock = utc_now) -> list[InboxFile]:
    """Import every settled file of ``inbox`` and move it on; returns what happened to each."""
    done, failed = inbox / "done", inbox / "failed"
    outcomes = []
    for path in waiting_files(inbox, settle_seconds):
        done.mkdir(exist_ok=True)
        failed.mkdir(exist_ok=True)
        try:
            header = inspect_file(path, options.encoding).header
            source_format = recognise(header)
            if source_format is None:
                raise ImportFileError(_unknown(path.name, header))
            report = _import(engine, source_format, path, options, clock)
        except ImportFileError as exc:
            target = _move(path, failed)
            written = "" if exc.nothing_written else (" Rows before the problem are stored; drop the fixed file in "
                                                      "the inbox again to import the rest.")
            target.with_name(target.name + ".reason.txt").write_text(f"{exc}{written}\n", encoding="utf-8")
            outcomes.append(InboxFile(path.name, target, error=str(exc)))
            continue
        target = _move(path, done)
        if report.reject_file is not None and report.reject_file.exists():
            shutil.move(report.reject_file, target.with_name(target.name + ".rejects.csv"))
            report.reject_file = target.with_name(target.name + ".rejects.csv")
        outcomes.append(InboxFile(path.name, target, source_format, report))
    return outcomes


def _import(engine: Engine, source_format: str, path: Path, options: ImportOptions, clock: Clock) -> ImportReport:
    if source_format == "customers":
        return import_customer_file(engine, path, options, None, clock)
    if source_format in ("shopify", "woocommerce"):
        return import_platform_file(engine, path, SHOPIFY if source_format == "shopify" else WOOCOMMERCE, options,
                                    None, clock)
    return import_order_file(engine, path, ONLINE_RETAIL if source_format == "online-retail" else GENERIC_ORDERS,
                             options, None, clock)


def _unknown(name: str, header: list[str]) -> str:
    needs = "; ".join(f"{what} needs {', '.join(s.name for s in specs if s.required)}"
                      for _, what, specs in RECOGNISED)
    return (f"{name} is not a format crm-bot knows: its header ({', '.join(header[:12])}"
            f"{', ...' if len(header) > 12 else ''}) has the columns of none of them ({needs}). Import it by hand "
            "with `crm-bot import orders|customers FILE --map FOUND=EXPECTED`.")


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` without overwriting an earlier file of the same name."""
    target = folder / path.name
    counter = 1
    while target.exists():
        target = folder / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    return Path(shutil.move(path, target))
