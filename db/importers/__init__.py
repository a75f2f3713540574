"""CSV -> store importers: Online Retail (I and II), generic customers and orders, Shopify and WooCommerce
order exports.

Use ``import_file``; the formats and cleaning rules are documented in docs/importing.md.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from db.clock import Clock, utc_now
from db.importers.customers import import_customer_file
from db.importers.formats import GENERIC_ORDERS, ONLINE_RETAIL
from db.importers.platforms import PLATFORMS, import_platform_file
from db.importers.report import ImportReport
from db.importers.runner import ImportOptions, Progress, import_order_file
from db.importers.source import ImportFileError

FORMATS = ("online-retail", "customers", "orders", *PLATFORMS)

__all__ = ["FORMATS", "ImportFileError", "ImportOptions", "ImportReport", "import_file"]


def import_file(engine: Engine, source_format: str, path: Path, options: ImportOptions | None = None,
                progress: Progress | None = None, clock: Clock = utc_now) -> ImportReport:
    """Import ``path`` in ``source_format`` (one of ``FORMATS``) into the store behind ``engine``."""
    options = options or ImportOptions()
    if source_format == "customers":
        return import_customer_file(engine, path, options, progress, clock)
    if source_format == "online-retail":
        return import_order_file(engine, path, ONLINE_RETAIL, options, progress, clock)
    if source_format == "orders":
        return import_order_file(engine, path, GENERIC_ORDERS, options, progress, clock)
    if source_format in PLATFORMS:
        return import_platform_file(engine, path, PLATFORMS[source_format], options, progress, clock)
    raise ValueError(f"unknown import format {source_format!r}; expected one of {', '.join(FORMATS)}")
