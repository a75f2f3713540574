"""Database URLs: the drivers crm-bot ships with, and clear refusals for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import DatabaseUrlError, make_engine, normalise_database_url


@pytest.mark.parametrize("raw", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db"])
def test_postgres_urls_use_psycopg3(raw: str) -> None:
    assert normalise_database_url(raw).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(("raw", "message"), [
    ("mysql://u@h/db", "not supported"),
    ("sqlite://", "in-memory"),
    ("not a url at all", "not a database URL"),
])
def test_unusable_urls_are_explained(raw: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        normalise_database_url(raw)


def test_sqlite_gets_foreign_keys_and_its_folder(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'store.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / "new" / "dir").is_dir()
