"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class DatabaseUrlError(ValueError):
    """A database URL this product cannot use; the message says why and how to fix it."""


def normalise_database_url(raw: str) -> URL:
    """Parse ``raw`` and pick the driver this product ships with.

    ``postgres://`` and ``postgresql://`` (as printed by most hosting providers) become
    ``postgresql+psycopg://``: psycopg 3 is the PostgreSQL driver installed with crm-bot.
    """
    try:
        url = make_url(raw.strip())
    except Exception as exc:
        raise DatabaseUrlError(
            f"{raw!r} is not a database URL; expected e.g. sqlite:///crm-bot.db or "
            "postgresql://user@host:5432/crm"
        ) from exc
    backend = url.get_backend_name()
    if backend == "postgres":
        url = url.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseUrlError(
            f"database backend {backend!r} is not supported; use sqlite:///PATH or postgresql://..."
        )
    if backend == "postgresql" and url.drivername in ("postgresql", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and not url.database:
        raise DatabaseUrlError(
            "an in-memory SQLite database would lose everything on exit; give a file path, "
            "e.g. sqlite:///crm-bot.db"
        )
    return url


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the bot read while an import writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(database_url: str | URL, **kwargs: Any) -> Engine:
    """Create the engine for ``database_url`` with the settings each backend needs."""
    url = normalise_database_url(str(database_url) if isinstance(database_url, str) else
                                 database_url.render_as_string(hide_password=False))
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (runners read them afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """One round trip to the database; raises SQLAlchemy's error if it cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
