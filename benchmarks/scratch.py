"""A throw-away store for a benchmark run: a SQLite file or a fresh PostgreSQL database, removed after."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_store(backend: str) -> Iterator[tuple[str, Path]]:
    """Yield (database URL, working folder); both are deleted afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    if backend == "sqlite":
        try:
            yield f"sqlite:///{workdir / 'bench.db'}", workdir
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), workdir
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
