"""The sources file (``CRM_SOURCES_FILE``, TOML): the databases ``crm-bot sync`` reads.

    [sources.shop]
    url = "env:SHOP_DATABASE_URL"      # any SQLAlchemy URL, by reference only: env:NAME or file:PATH
    customers = "SELECT id AS customer_id, email, ... , updated_at FROM customers"
    orders = "SELECT o.id AS order_id, ... , o.updated_at FROM orders o JOIN order_items l ON ..."
    watermark = "updated_at"
    statuses = { paid = "sale", refunded = "return", cancelled = "cancellation" }

Secrets never sit in the file: a URL written out with a password is refused, so the file can be
kept in version control and shown in a review.  docs/syncing.md documents every key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import URL, make_url

from assistant.errors import UserFacingError
from db.importers.sql_source import SourceQuery
from db.importers.sync import SyncOptions
from db.models import ORDER_KINDS

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SourcesFileError(UserFacingError):
    """The sources file cannot be used as written; the message names the key and the fix."""


class _SourceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="env:NAME, file:PATH, or a URL without a password (a local SQLite file).")
    customers: str | None = None
    orders: str | None = None
    watermark: str | None = None
    customers_watermark: str | None = None
    orders_watermark: str | None = None
    statuses: dict[str, str] = Field(default_factory=dict)
    overlap_minutes: float = Field(10, ge=0, le=7 * 24 * 60)
    timeout_seconds: float = Field(300, gt=0, le=86_400)
    batch_rows: int = Field(5_000, ge=100, le=1_000_000)
    currency: str | None = Field(None, pattern="^[A-Za-z]{3}$")

    @field_validator("statuses")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for status, kind in value.items():
            if kind not in ORDER_KINDS:
                raise ValueError(f"status {status!r} is mapped to {kind!r}; map it to one of {', '.join(ORDER_KINDS)}")
        return value

    @field_validator("watermark", "customers_watermark", "orders_watermark")
    @classmethod
    def _column_name(cls, value: str | None) -> str | None:
        if value and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a column name (letters, digits and _)")
        return value


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, _SourceEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """One database to sync from, with its secret already resolved (never printed: see ``shown``)."""

    name: str
    url: URL
    reference: str
    """How the file names the URL (``env:SHOP_DATABASE_URL``): what messages and the doctor show."""
    queries: tuple[SourceQuery, ...]
    options: SyncOptions


def load_sources(path: Path, environ: Mapping[str, str] | None = None) -> list[Source]:
    """Every source of the file, checked; ``SourcesFileError`` says what is wrong and how to fix it."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourcesFileError(f"CRM_SOURCES_FILE={path}: no such file.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesFileError(f"CRM_SOURCES_FILE={path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SourcesFileError(f"{path} is not valid TOML: {exc}.") from exc
    _refuse_written_passwords(raw, path)
    try:
        parsed = _SourcesFile.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise SourcesFileError(f"{path}: {where}: {problem['msg']}.") from exc
    if not parsed.sources:
        raise SourcesFileError(f"{path} names no source: add a [sources.NAME] table with url and an orders or "
                               "customers query (docs/syncing.md).")
    return [_source(name, entry, path, environ) for name, entry in parsed.sources.items()]


def _refuse_written_passwords(raw: dict[str, object], path: Path) -> None:
    sources = raw.get("sources")
    if not isinstance(sources, dict):
        return
    for name, entry in sources.items():
        if not isinstance(entry, dict):
            continue
        for key in entry:
            if key.lower() in ("password", "passwd", "secret", "token"):
                raise SourcesFileError(f"{path}: sources.{name}.{key}: secrets are not written in the sources file; "
                                       "put the whole URL in an environment variable and write "
                                       f'url = "env:{_env_name(name)}" (or url = "file:/run/secrets/{name}_url").')
        url = entry.get("url")
        if isinstance(url, str) and not url.startswith(("env:", "file:")):
            try:
                password = make_url(url).password
            except Exception:  # noqa: S112 - not a URL: the check of the parsed entry says so
                continue
            if password:
                raise SourcesFileError(f"{path}: sources.{name}.url holds a password; the file must not. Put the URL "
                                       f'in an environment variable and write url = "env:{_env_name(name)}", or '
                                       f'in a file only the service can read and write url = "file:PATH".')


def _env_name(source: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", source.upper()) + "_DATABASE_URL"


def _resolve(reference: str, name: str, environ: Mapping[str, str]) -> str:
    if reference.startswith("env:"):
        variable = reference.removeprefix("env:").strip()
        value = environ.get(variable, "").strip()
        if not value:
            raise SourcesFileError(f"source {name!r}: the environment variable {variable} (its url) is not set.")
        return value
    if reference.startswith("file:"):
        secret = Path(reference.removeprefix("file:").strip())
        try:
            value = secret.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourcesFileError(f"source {name!r}: its url file {secret} cannot be read ({exc.strerror}).") from exc
        if not value:
            raise SourcesFileError(f"source {name!r}: its url file {secret} is empty.")
        return value
    return reference


def _source(name: str, entry: _SourceEntry, path: Path, environ: Mapping[str, str]) -> Source:
    if not _IDENTIFIER.match(name) or len(name) > 48:
        raise SourcesFileError(f"{path}: [sources.{name}]: a source name is letters, digits and _ (at most 48).")
    if not entry.customers and not entry.orders:
        raise SourcesFileError(f"{path}: sources.{name} has neither a customers nor an orders query.")
    try:
        url = make_url(_resolve(entry.url, name, environ))
    except SourcesFileError:
        raise
    except Exception as exc:
        raise SourcesFileError(f"source {name!r}: {entry.url} does not give a database URL "
                               "(e.g. postgresql://user@host/shop or sqlite:///shop.db).") from exc
    queries = []
    for part, sql, own, key in (("customers", entry.customers, entry.customers_watermark, "customer_id"),
                                ("orders", entry.orders, entry.orders_watermark, "order_id")):
        if sql:  # a part's own watermark wins; "" there: that query is read whole every time
            watermark = (own if own is not None else entry.watermark) or None
            queries.append(SourceQuery(source=name, part=part, sql=sql, watermark=watermark, key=key))
    options = SyncOptions(batch_rows=entry.batch_rows, overlap=timedelta(minutes=entry.overlap_minutes),
                          timeout_seconds=entry.timeout_seconds, statuses=entry.statuses,
                          currency=entry.currency.upper() if entry.currency else None)
    reference = entry.url if entry.url.startswith(("env:", "file:")) else url.render_as_string(hide_password=True)
    return Source(name=name, url=url, reference=reference, queries=tuple(queries), options=options)
