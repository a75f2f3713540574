"""Migrations build the schema the models describe, on both databases, and can be undone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect

from db import migrate
from db.schema import metadata


def test_models_and_migrations_agree(engine: Engine) -> None:
    # `engine` is already at head; alembic check raises if autogenerate would emit anything.
    assert migrate.is_up_to_date(engine)
    migrate.check(engine)


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_migration_files_are_date_prefixed() -> None:
    names = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert names, "no migrations shipped"
    for name in names:
        date = name[:10]
        assert date.replace("_", "").isdigit() and len(date) == 10, name


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    from db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
