"""Alembic environment: runs migrations on the engine handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from db.engine import make_engine
from db.schema import metadata

config = context.config
target_metadata = metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is None:  # e.g. the plain `alembic` CLI with -x or sqlalchemy.url set
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    return engine


def run_migrations_online() -> None:
    """Run migrations in a transaction; batch mode lets SQLite alter tables."""
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
